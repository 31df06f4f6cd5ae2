package service

import (
	"context"
	"errors"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	secretpkg "github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/trigger"
)

// Tester runs the steps of a compiled automation against a record without
// writing anything (engine.Engine.Test), and sends their requests when send
// is true; MaxAttempts is how many attempts a call_api step with maxAttempts
// stepMax gets (engine.Engine.MaxAttempts), for the run page.
type Tester interface {
	Test(ctx context.Context, orgID string, comp *automation.Compiled, coll *record.Collection, rec *record.Record, send bool) ([]automation.TestStep, error)
	MaxAttempts(stepMax int) int
}

// TestAutomation compiles a document and shows what each step would do for
// the record, without saving or writing anything.
func (s *Service) TestAutomation(ctx context.Context, orgID string, in autohook.TestInput) (*autohook.TestResult, []problem.Problem, error) {
	a := in.Automation
	if a == nil {
		return nil, nil, problemAt("automation", "is required")
	}
	coll, err := s.st.Collection(ctx, orgID, a.Collection)
	if errors.Is(err, autohook.ErrNotFound) {
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
		if errors.Is(err, autohook.ErrNotFound) {
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
	out := &autohook.TestResult{ConditionMet: true}
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
