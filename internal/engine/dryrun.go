package engine

import (
	"context"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/webhook"
)

// Test runs a compiled automation against a record without writing
// anything: each call_api step's request is rendered (and sent only when
// send is true); each update_record step shows the values it would set.
// Later steps see the fields earlier steps captured. It stops at the first
// error.
func (e *Engine) Test(ctx context.Context, orgID string, comp *automation.Compiled, coll *record.Collection, rec *record.Record, send bool) ([]automation.TestStep, error) {
	sec, err := e.openSecrets(ctx, orgID)
	if err != nil {
		return nil, err
	}
	redact := sec.redact
	now := e.cfg.Now().UTC()
	recEnv := rec.Env()
	fields := map[string]any{}
	out := make([]automation.TestStep, 0, len(comp.Steps))
	steps := map[string]any{}
	for _, step := range comp.Steps {
		env := render.NewEnv(recEnv, nil, fields, sec.env,
			map[string]any{"type": "test", "at": now.Format(time.RFC3339Nano)},
			map[string]any{"id": "test", "automationId": comp.ID}, now)
		env[render.RootSteps] = steps
		ts := automation.TestStep{ID: step.StepID(), Type: step.StepType(), Fields: map[string]any{}}
		state := automation.StepState{Status: automation.StepSucceeded}
		skipIt, failure := skip(step, env)
		if skipIt {
			ts.Skipped = true
			state.Status = automation.StepSkipped
			steps[step.StepID()] = state.Outcome()
			out = append(out, ts)
			continue
		}
		switch s := step.(type) {
		case *automation.CallAPI:
			if failure != nil {
				break
			}
			if f := secretFailure(comp, sec.broken, s); f != nil {
				failure = f
				break
			}
			req, f := e.web.Build(s, env, IdempotencyKey("test", s.ID), comp.Signer, now)
			req.Org = orgID
			redact := redact.With(req.Derived...)
			if f != nil {
				f.Message = redact.String(f.Message)
			}
			failure = f
			if f == nil {
				ts.Request = webhook.HistoryRequest(req, redact, e.cfg.HistoryBodyLimit)
				if send {
					res := e.web.Do(ctx, s, req)
					redact = redact.With(res.Derived...)
					ts.Request.Redirects = webhook.HistoryRedirects(req, redact)
					if res.Status != 0 {
						ts.Response = webhook.HistoryResponse(res, redact, e.cfg.HistoryBodyLimit)
						status := res.Status
						state.HTTPStatus = &status
					}
					if res.Failure != nil {
						res.Failure.Message = redact.String(res.Failure.Message)
					}
					failure = res.Failure
					for k, v := range redactFields(redact, res.Fields) {
						ts.Fields[k] = v
						fields[k] = v
					}
				}
			}
		case *automation.UpdateRecord:
			if failure != nil {
				break
			}
			changes, stage, f := EvalUpdate(coll, s, env, rec.Stage)
			failure = f
			for k, v := range changes {
				ts.Fields[k] = redactValue(redact, v)
				recEnv[k] = v
			}
			if f == nil && stage != rec.Stage {
				ts.Fields["stage"] = stage
				recEnv["stage"] = stage
			}
		}
		if failure != nil {
			ts.Error = &automation.AttemptError{Class: failure.Class, Message: redact.String(failure.Message)}
			if !step.StepFlow().Continue {
				out = append(out, ts)
				break
			}
			ts.Continued = true
			state.Status, state.Error = automation.StepFailed, ts.Error
		}
		steps[step.StepID()] = state.Outcome()
		out = append(out, ts)
	}
	return out, nil
}
