package autohook

import (
	"context"
	"errors"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/engine"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	secretpkg "github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/trigger"
)

// TestInput is a dry run request: an automation document (saved or not), a
// record (stored, by id, or given inline) and whether to really send.
type TestInput struct {
	Automation *automation.Automation
	RecordID   string
	Fields     map[string]any
	Stage      string
	Send       bool
}

// TestResult is what a dry run shows: whether the automation's condition
// holds for the record (a run would start), and what each step would do.
// The steps are shown either way, so that a condition that excludes the
// record does not hide the requests.
type TestResult struct {
	ConditionMet bool `json:"conditionMet"`
	// ConditionError is why the condition could not be evaluated for the
	// record (a run would be recorded as failed); ConditionMet is false.
	ConditionError string            `json:"conditionError,omitempty"`
	Steps          []engine.TestStep `json:"steps"`
}

// TestAutomation compiles a document and shows what each step would do for
// the record, without saving or writing anything.
func (s *Service) TestAutomation(ctx context.Context, orgID string, in TestInput) (*TestResult, []problem.Problem, error) {
	a := in.Automation
	if a == nil {
		return nil, nil, problemAt("automation", "is required")
	}
	coll, err := s.st.Collection(ctx, orgID, a.Collection)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, problemAt("automation.collection", "unknown collection %q", a.Collection)
	}
	if err != nil {
		return nil, nil, err
	}
	secret := ""
	if a.Signing != nil {
		secret = a.Signing.Secret
		if secret == automation.SecretRedacted && a.ID != "" {
			old, err := s.st.Automation(ctx, orgID, a.ID)
			if err != nil {
				return nil, nil, err
			}
			if secret, err = s.cat.OpenSigningSecret(orgID, old); errors.Is(err, secretpkg.ErrOpen) {
				return nil, nil, problemAt("automation.signing.secret", "the stored secret does not open with this node's keys (it was sealed with another AUTOHOOK_SECRET_KEY): give the secret (whsec_...) to test with")
			} else if err != nil {
				return nil, nil, err
			}
		}
	}
	comp, warnings, err := automation.Compile(a, coll, secret, s.cat.Options())
	if err != nil {
		return nil, warnings, problem.Prefix("automation", err)
	}
	var rec *record.Record
	switch {
	case in.RecordID != "":
		rec, err = s.st.Record(ctx, orgID, coll.Key, in.RecordID)
		if errors.Is(err, ErrNotFound) {
			return nil, warnings, problemAt("recordId", "collection %q has no record %q", coll.Key, in.RecordID)
		}
		if err != nil {
			return nil, warnings, err
		}
	default:
		fields, err := coll.CheckFields(in.Fields)
		if err != nil {
			return nil, warnings, problem.Prefix("record", err)
		}
		stage := in.Stage
		if stage == "" {
			stage = coll.DefaultStage()
		}
		now := s.now().UTC()
		rec = &record.Record{ID: "rec_test", Collection: coll.Key, Stage: stage, Fields: fields, CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	out := &TestResult{ConditionMet: true}
	if err := trigger.Condition(comp, rec, nil, comp.Trigger.Type, s.now()); err != nil {
		out.ConditionMet = false
		if !errors.Is(err, trigger.ErrConditionFalse) {
			out.ConditionError = err.Error()
		}
	}
	out.Steps, err = s.eng.Test(ctx, orgID, comp, coll, rec, in.Send)
	if err != nil {
		return nil, warnings, err
	}
	return out, warnings, nil
}
