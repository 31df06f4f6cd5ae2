package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/secret"
)

// opened is an organisation's secrets as a run (or a dry run) uses them.
type opened struct {
	env    map[string]any   // by name: secrets.NAME in expressions
	broken []string         // the names of those that do not open with the node's keys
	redact *secret.Redactor // hides their values wherever they would show
}

// openSecrets loads an organisation's secrets and opens them with the
// node's keys (secret.Box.OpenSecrets). The error is the store's.
func (e *Engine) openSecrets(ctx context.Context, orgID string) (opened, error) {
	sealed, err := e.st.SealedSecrets(ctx, orgID)
	if err != nil {
		return opened{}, fmt.Errorf("load secrets: %w", err)
	}
	return e.openSealed(orgID, sealed), nil
}

// secretsWith returns an organisation's secrets, opened: read reads what
// the caller needs with the organisation's generation, and its secrets
// unless have says they are held here at that generation (then sealed is
// nil). Opened secrets are kept per generation (catalog.PerOrg): they are
// read and opened again only after a change (to secrets, or sealed again
// with another key: both move the generation on).
func (e *Engine) secretsWith(orgID string, read func(have func(gen int64) bool) (gen int64, sealed map[string]string, err error)) (opened, error) {
	held, heldGen, since, ok := e.secrets.Get(orgID, struct{}{})
	gen, sealed, err := read(func(gen int64) bool { return ok && gen == heldGen })
	if err != nil {
		return opened{}, err
	}
	if sealed == nil {
		return held, nil
	}
	o := e.openSealed(orgID, sealed)
	e.secrets.Put(orgID, struct{}{}, gen, since, o)
	return o, nil
}

// openSealed opens an organisation's sealed secrets (see openSecrets).
func (e *Engine) openSealed(orgID string, sealed map[string]string) opened {
	plain, broken := e.box.OpenSecrets(orgID, sealed)
	o := opened{env: make(map[string]any, len(plain)), broken: broken}
	values := make([]string, 0, len(plain))
	for k, v := range plain {
		o.env[k] = v
		values = append(values, v)
	}
	o.redact = secret.NewRedactor(values...)
	return o
}

// secretFailure is why step s of comp cannot be sent on this node, if it
// cannot: it is signed and the signing secret does not open, or it uses
// secrets and some (broken) do not open.
func secretFailure(comp *automation.Compiled, broken []string, s *automation.CallAPI) *retry.Failure {
	const why = "with this node's keys: sealed with another AUTOHOOK_SECRET_KEY, or damaged. Start the node with the key the database uses (docs/OPERATIONS.md, \"Keys\"), or save it again, then retry the run"
	switch {
	case comp.SignerErr != nil:
		return &retry.Failure{Class: retry.Secret, Message: "the automation's signing secret does not open " + why}
	case len(broken) == 0 || !usesSecrets(s):
		return nil
	case len(broken) == 1:
		return &retry.Failure{Class: retry.Secret, Message: "secret " + broken[0] + " does not open " + why}
	}
	return &retry.Failure{Class: retry.Secret, Message: "secrets " + strings.Join(broken, ", ") + " do not open " + why}
}

// usesSecrets reports whether a step's request is built from secrets.
func usesSecrets(s *automation.CallAPI) bool {
	if s.URL != nil && s.URL.Uses("secrets") || s.Text != nil && s.Text.Uses("secrets") {
		return true
	}
	for _, h := range s.Headers {
		if h.Value != nil && h.Value.Uses("secrets") {
			return true
		}
	}
	for _, f := range s.JSONFields {
		if f.Value != nil && f.Value.Uses("secrets") {
			return true
		}
	}
	return false
}

// redactFields returns fields with secret values hidden in its strings.
func redactFields(r *secret.Redactor, fields map[string]any) map[string]any {
	if len(fields) == 0 {
		return fields
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		out[k] = redactValue(r, v)
	}
	return out
}

func redactValue(r *secret.Redactor, v any) any {
	switch t := v.(type) {
	case string:
		return r.String(t)
	case map[string]any:
		return redactFields(r, t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactValue(r, e)
		}
		return out
	}
	return v
}
