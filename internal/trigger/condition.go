package trigger

import (
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
)

// conditionEnv is what a condition sees: the record (and the previous
// version of it), the trigger, no captured fields and no secrets.
func conditionEnv(recEnv, prevEnv map[string]any, triggerType string, at time.Time) render.Env {
	return render.NewEnv(recEnv, prevEnv, map[string]any{}, map[string]any{},
		map[string]any{"type": triggerType, "at": at.UTC().Format(time.RFC3339Nano)}, map[string]any{}, at)
}

// Condition evaluates comp's condition for rec (prev: the record before
// the change, or nil) as a trigger of triggerType firing at at would: nil
// when it holds or there is none, ErrConditionFalse when it does not, else
// the evaluation error (a run would be recorded as failed with it). The dry
// run uses it to say whether the automation would run.
func Condition(comp *automation.Compiled, rec, prev *record.Record, triggerType string, at time.Time) error {
	if comp.Condition == nil {
		return nil
	}
	ok, err := comp.Condition.EvalBool(conditionEnv(rec.Env(), prev.Env(), triggerType, at))
	switch {
	case err != nil:
		return err
	case !ok:
		return ErrConditionFalse
	}
	return nil
}
