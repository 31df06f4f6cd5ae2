package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// update_record steps: planned before the write transaction (every
// assignment evaluated, the runs the change fires planned), applied in it
// (local.go says when).

// localPlan is the plan of the update_record steps from one index on.
type localPlan struct {
	now   time.Time // the engine's: attempts, and now in expressions
	at    time.Time // the store's: the time of the record's changes
	steps []localStep
	// the generation of the collection and automations the steps were
	// planned with, checked in the transaction (catalog.Stamp)
	stamp catalog.Stamp
}

// localStep is one planned update_record step.
type localStep struct {
	i       int
	fields  map[string]any // the attempt's fields: what the step sets
	failure *retry.Failure // the step fails (nothing is written)
	skipped bool           // its if was false: nothing is written
	next    *record.Record // the record to write (Version: the one read); nil when nothing changes
	after   *record.Record // next as it will be stored
	env     map[string]any // after.Env(): the run's record snapshot from this step on
	plan    *trigger.Plan  // the runs the change fires
}

// planLocal plans the update_record steps from index i on, as they will
// run after the remote step's result (captured fields) is recorded. When
// giveUp is set the record kept changing: the first step fails instead.
func (x *execution) planLocal(ctx context.Context, i int, remote *pending, giveUp bool) (*localPlan, error) {
	coll, cands, err := x.e.fire.CollectionAndCandidates(ctx, x.job.OrgID, x.run.Collection)
	if err != nil {
		return nil, err
	}
	run := x.run
	fields := maps.Clone(run.Fields)
	if fields == nil {
		fields = map[string]any{}
	}
	if remote != nil {
		maps.Copy(fields, remote.fields)
	}
	lp := &localPlan{now: x.e.cfg.Now().UTC(), at: x.e.st.Now(), stamp: cands.Stamp()}
	if giveUp {
		// The steps fail whatever the definitions say: nothing to check,
		// so that giving up ends the tries (record) even while another
		// node keeps changing them.
		lp.stamp = catalog.Stamp{}
	}
	snapshot := run.Record
	steps := run.StepsEnv() // steps.<id>: the outcomes so far, this plan's included
	if remote != nil && i > 0 {
		steps[run.Steps[i-1].ID] = remoteOutcome(remote)
	}
	var cur *record.Record // read when the first step needs it
	for ; i < len(x.comp.Steps); i++ {
		s, ok := x.comp.Steps[i].(*automation.UpdateRecord)
		if !ok {
			break
		}
		ls := localStep{i: i}
		switch {
		case giveUp:
			ls.failure = &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("record %s kept changing while the step updated it (%d tries)", run.RecordID, maxLocalTries)}
		case coll == nil:
			ls.failure = &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("collection %q no longer exists", run.Collection)}
		case cur == nil && x.rec != nil:
			// read with the run: if it changed since, its version
			// says so at the commit, and the plan is made again from
			// the record read then (local.go)
			cur, x.rec, x.recUsed = x.rec, nil, true
		case cur == nil:
			cur, err = x.e.st.Record(ctx, x.job.OrgID, run.Collection, run.RecordID)
			if errors.Is(err, store.ErrNotFound) {
				ls.failure = &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("record %s no longer exists", run.RecordID)}
			} else if err != nil {
				return nil, err
			}
		}
		env := x.env(snapshot, fields, lp.now)
		env[render.RootSteps] = steps
		if ls.failure == nil {
			ls.skipped, ls.failure = skip(s, env)
		}
		if ls.failure == nil && !ls.skipped {
			ls.failure = x.planUpdate(ctx, &ls, coll, cands, s, cur, env, lp.at)
		}
		lp.steps = append(lp.steps, ls)
		steps[s.ID] = ls.outcome()
		if ls.failure != nil && !s.Continue {
			break
		}
		if ls.after != nil {
			cur, snapshot = ls.after, ls.env
		}
	}
	return lp, nil
}

// outcome is what later steps see of the planned step as steps.<id>.
func (ls *localStep) outcome() map[string]any { return outcomeOf(ls.skipped, ls.failure, 0) }

// remoteOutcome is what later steps see of a remote step's result.
func remoteOutcome(p *pending) map[string]any {
	status := 0
	if p.attempt != nil && p.attempt.Response != nil {
		status = p.attempt.Response.Status
	}
	return outcomeOf(p.skipped, p.failure, status)
}

// outcomeOf is steps.<id> of a step not yet recorded: skipped, failed with
// f, or succeeded; status is its HTTP status (0: none).
func outcomeOf(skipped bool, f *retry.Failure, status int) map[string]any {
	st := automation.StepState{Status: automation.StepSucceeded}
	switch {
	case skipped:
		st.Status = automation.StepSkipped
	case f != nil:
		st.Status = automation.StepFailed
		st.Error = &automation.AttemptError{Class: f.Class, Message: f.Message}
	}
	if status != 0 {
		st.HTTPStatus = &status
	}
	return st.Outcome()
}

// stepAt returns step i, nil past the last.
func (x *execution) stepAt(i int) automation.Step {
	if i < 0 || i >= len(x.comp.Steps) {
		return nil
	}
	return x.comp.Steps[i]
}

// planUpdate evaluates one update_record step against the record cur and
// plans the runs its change, made at at, fires.
func (x *execution) planUpdate(ctx context.Context, ls *localStep, coll *record.Collection, cands *trigger.Candidates, s *automation.UpdateRecord, cur *record.Record, env render.Env, at time.Time) *retry.Failure {
	changes, stage, f := EvalUpdate(coll, s, env, cur.Stage)
	if f != nil {
		return f
	}
	ls.fields = map[string]any{}
	maps.Copy(ls.fields, changes)
	if stage != cur.Stage {
		ls.fields["stage"] = stage
	}
	next := *cur
	next.Fields = record.Merge(cur.Fields, changes)
	next.Stage = stage
	if len(record.Diff(cur.Fields, next.Fields)) == 0 && next.Stage == cur.Stage {
		return nil // nothing changes: no write, no trigger
	}
	after := next
	after.Version, after.UpdatedAt = cur.Version+1, at
	plan, err := x.e.fire.Plan(ctx, trigger.Change{OrgID: x.job.OrgID, Record: &after, Previous: cur, Depth: x.run.Depth + 1, At: at, Candidates: cands})
	if err != nil {
		return &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("trigger automations: %v", err)}
	}
	ls.next, ls.after, ls.env, ls.plan = &next, &after, after.Env(), plan
	return nil
}

// applyLocal records a planned update_record step in tx: its change and
// runs when it has one. It returns what became of the step and its
// attempt, which the caller inserts once the run is written (commit), or
// errRecordMoved when the record is no longer at the version planned.
func (x *execution) applyLocal(ctx context.Context, tx *store.Tx, ls localStep, lp *localPlan) (stepResult, *automation.Attempt, error) {
	if ls.skipped {
		return stepResult{Kind: skipped, Step: ls.i}, nil, nil
	}
	now := lp.now
	a := &automation.Attempt{N: x.run.Steps[ls.i].AttemptCount + 1, StartedAt: now, Fields: ls.fields}
	r := stepResult{Kind: local, Step: ls.i, Attempt: a.N}
	f := ls.failure
	if f == nil && ls.next != nil {
		next := *ls.next
		err := tx.UpdateRecordAt(ctx, x.job.OrgID, &next, lp.at)
		switch {
		case abandons(err) != nil:
			return stepResult{}, nil, abandons(err)
		case err != nil:
			f = &retry.Failure{Class: retry.Record, Message: err.Error()}
		default:
			// On PostgreSQL the record's version is checked with the
			// transaction's next statement (store.UpdateRecordAt): its
			// conflict may show here, or fail the write later (record).
			if _, err := ls.plan.Apply(ctx, tx); abandons(err) != nil {
				return stepResult{}, nil, abandons(err)
			} else if err != nil {
				f = &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("trigger automations: %v", err)}
			} else {
				r.Record = ls.env
			}
		}
	}
	a.DurationMs = ms(x.e.cfg.Now().Sub(now))
	if f != nil {
		a.Error = &automation.AttemptError{Class: f.Class, Message: x.sec.redact.String(f.Message)}
	}
	if f != nil {
		r.Failure = &retry.Failure{Class: f.Class, Message: x.sec.redact.String(f.Message)}
	}
	return r, a, nil
}

// abandons is the error that abandons the step's transaction when err is
// one, to plan the steps again (record): the record changed since the plan
// (errRecordMoved), or, on PostgreSQL, the definitions did
// (store.ErrStaleDefs, from the check held since commit began). Both may
// show at any statement of the transaction there.
func abandons(err error) error {
	switch {
	case errors.Is(err, store.ErrRecordChanged):
		return errRecordMoved
	case errors.Is(err, store.ErrStaleDefs):
		return err
	}
	return nil
}

// EvalUpdate evaluates an update_record step's assignments against a
// collection: the field changes, normalised, and the stage (stage when the
// step does not set it).
func EvalUpdate(coll *record.Collection, s *automation.UpdateRecord, env render.Env, stage string) (map[string]any, string, *retry.Failure) {
	changes := map[string]any{}
	for _, as := range s.Set {
		v, err := as.Value.Eval(env)
		if err != nil {
			return nil, "", &retry.Failure{Class: retry.Render, Message: fmt.Sprintf("set %s: %v", as.Field, err)}
		}
		if as.Field == "stage" {
			stage = render.Stringify(v)
			if perr := coll.CheckStage("stage", stage); perr != nil {
				return nil, "", &retry.Failure{Class: retry.Render, Message: fmt.Sprintf("set stage: %v", perr)}
			}
			continue
		}
		f, ok := coll.Field(as.Field)
		if !ok {
			return nil, "", &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("collection %q has no field %q any more", coll.Key, as.Field)}
		}
		v, err = convertForField(f.Type, v)
		if err != nil {
			return nil, "", &retry.Failure{Class: retry.Render, Message: fmt.Sprintf("set %s: %v", as.Field, err)}
		}
		changes[as.Field] = v
	}
	norm, err := coll.CheckFields(changes)
	if err != nil {
		return nil, "", &retry.Failure{Class: retry.Render, Message: err.Error()}
	}
	return norm, stage, nil
}

// convertForField converts an evaluated value to what a record field of type
// t holds.
func convertForField(t record.FieldType, v any) (any, error) {
	switch t {
	case record.Number:
		return render.Convert(v, "number")
	case record.Boolean:
		return render.Convert(v, "boolean")
	case record.JSON:
		return render.Convert(v, "json")
	case record.Text, record.Date, record.DateTime:
		if v == nil {
			return nil, nil
		}
		return render.Stringify(v), nil
	}
	return v, nil
}
