package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// The update_record steps that follow a remote step (or start a run) run
// in the transaction that records the step's result. No user expression
// runs inside it: before the transaction, the steps are planned against
// the record as the read pool has it (every assignment evaluated, every
// change's runs planned, conditions included), and the transaction writes
// the changes only if the record is still at the version the plan read.
// The writers of one record on one node take turns (store.LockRecord); if
// a write from another node came in between, the transaction is abandoned
// and the steps are planned again (at most maxLocalTries times; then the
// step fails with class record).

// record writes the result of step i (remote, or nil when the step is
// local) and the update_record steps that follow, planned first, while
// holding their record against the other writers of this node.
func (x *execution) record(ctx context.Context, i int, remote *pending) error {
	if next := x.nextLocal(i, remote); next >= 0 {
		unlock, err := x.e.st.LockRecord(ctx, x.job.OrgID, x.run.RecordID)
		if err != nil {
			return err
		}
		defer unlock()
	}
	for try := 1; ; try++ {
		// While the database is unavailable the reads are tried again,
		// and the write (outcome.go): the request is not sent again.
		if err := x.e.untilAvailable(ctx, func() error { return x.prepare(ctx, i, remote, try > maxLocalTries) }); err != nil {
			return err
		}
		err := x.write(ctx, func(tx *store.Tx) error { return x.commit(ctx, tx, i, remote) })
		if errors.Is(err, errRecordMoved) {
			// The commit changed the run in memory: start again from
			// the stored run, which the abandoned transaction left as
			// it was.
			var stale bool
			err := x.e.untilAvailable(ctx, func() (err error) { stale, err = x.reload(ctx); return err })
			if err != nil || stale {
				if err == nil && remote != nil && !x.unsure {
					err = x.write(ctx, func(tx *store.Tx) error { return tx.InsertAttempt(ctx, x.run.ID, i, remote.attempt) })
				}
				return err
			}
			continue
		}
		if errors.Is(err, store.ErrConflict) && remote != nil && !x.unsure {
			// A person retried or cancelled the run while the request was in
			// flight: their change stands, but history keeps the attempt.
			return x.write(ctx, func(tx *store.Tx) error {
				return tx.InsertAttempt(ctx, x.run.ID, i, remote.attempt)
			})
		}
		return err
	}
}

// nextLocal is the index of the update_record step that runs after step
// i in the same transaction, or -1.
func (x *execution) nextLocal(i int, remote *pending) int {
	if remote != nil {
		if remote.failure != nil {
			return -1
		}
		i++
	}
	if _, ok := x.stepAt(i).(*automation.UpdateRecord); !ok {
		return -1
	}
	return i
}

// prepare plans, before the write transaction, the update_record steps
// that will run in it: with giveUp, their record kept changing and the
// first of them fails.
func (x *execution) prepare(ctx context.Context, i int, remote *pending, giveUp bool) error {
	x.local = nil
	next := x.nextLocal(i, remote)
	if next < 0 {
		return nil
	}
	lp, err := x.planLocal(ctx, next, remote, giveUp)
	x.local = lp
	return err
}

// reload reads the run again; stale when it moved on meanwhile (retried
// or cancelled by a person).
func (x *execution) reload(ctx context.Context) (stale bool, err error) {
	run, err := x.e.st.Run(ctx, x.job.OrgID, x.run.ID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if run.Seq != x.job.Seq || run.Status.Finished() {
		return true, nil
	}
	x.run = run
	return false, nil
}

// localPlan is the plan of the update_record steps from one index on.
type localPlan struct {
	now   time.Time // the engine's: attempts, and now in expressions
	at    time.Time // the store's: the time of the record's changes
	steps []localStep
}

// localStep is one planned update_record step.
type localStep struct {
	i       int
	fields  map[string]any // the attempt's fields: what the step sets
	failure *retry.Failure // the step fails (nothing is written)
	next    *record.Record // the record to write (Version: the one read); nil when nothing changes
	after   *record.Record // next as it will be stored
	env     map[string]any // after.Env(): the run's record snapshot from this step on
	plan    *trigger.Plan  // the runs the change fires
}

// maxLocalTries bounds how many times the update_record steps are planned
// again because another node changed their record before their
// transaction (the writers of this node take turns: store.LockRecord).
const maxLocalTries = 5

// errRecordMoved abandons a step's transaction whose update_record step
// found its record changed since it was planned.
var errRecordMoved = errors.New("the record changed since the update was planned")

// planLocal plans the update_record steps from index i on, as they will
// run after the remote step's result (captured fields) is recorded. When
// giveUp is set the record kept changing: the first step fails instead.
func (x *execution) planLocal(ctx context.Context, i int, remote *pending, giveUp bool) (*localPlan, error) {
	coll, err := x.e.cat.Collection(ctx, x.job.OrgID, x.run.Collection)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	cands, err := x.e.fire.Candidates(ctx, x.job.OrgID, x.run.Collection)
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
	lp := &localPlan{now: x.e.cfg.Now().UTC(), at: x.e.st.Now()}
	snapshot := run.Record
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
		case cur == nil:
			cur, err = x.e.st.Record(ctx, x.job.OrgID, run.Collection, run.RecordID)
			if errors.Is(err, store.ErrNotFound) {
				ls.failure = &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("record %s no longer exists", run.RecordID)}
			} else if err != nil {
				return nil, err
			}
		}
		if ls.failure == nil {
			env := render.NewEnv(snapshot, run.Previous, fields, x.secrets,
				map[string]any{"type": run.Trigger.Type, "at": run.Trigger.At.Format(time.RFC3339Nano)},
				map[string]any{"id": run.ID, "automationId": run.AutomationID}, lp.now)
			ls.failure = x.planUpdate(ctx, &ls, coll, cands, s, cur, env, lp.at)
		}
		lp.steps = append(lp.steps, ls)
		if ls.failure != nil {
			break
		}
		if ls.after != nil {
			cur, snapshot = ls.after, ls.env
		}
	}
	return lp, nil
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

// applyLocal records a planned update_record step in tx: its attempt, and
// its change and runs when it has one. It returns the step's failure, or
// errRecordMoved when the record is no longer at the version planned.
func (x *execution) applyLocal(ctx context.Context, tx *store.Tx, ls localStep, lp *localPlan) (*retry.Failure, error) {
	now := lp.now
	state := &x.run.Steps[ls.i]
	a := &automation.Attempt{N: state.AttemptCount + 1, StartedAt: now, Fields: ls.fields}
	state.AttemptCount = a.N
	f := ls.failure
	if f == nil && ls.next != nil {
		next := *ls.next
		err := tx.UpdateRecordAt(ctx, x.job.OrgID, &next, lp.at)
		switch {
		case errors.Is(err, store.ErrConflict):
			return nil, errRecordMoved
		case err != nil:
			f = &retry.Failure{Class: retry.Record, Message: err.Error()}
		default:
			if _, err := ls.plan.Apply(ctx, tx); err != nil {
				f = &retry.Failure{Class: retry.Record, Message: fmt.Sprintf("trigger automations: %v", err)}
			} else {
				x.run.Record = ls.env
			}
		}
	}
	a.DurationMs = ms(x.e.cfg.Now().Sub(now))
	if f != nil {
		a.Error = &automation.AttemptError{Class: f.Class, Message: x.redact.String(f.Message)}
	} else {
		state.Status = automation.StepSucceeded
	}
	if err := tx.InsertAttempt(ctx, x.run.ID, ls.i, a); err != nil {
		return &retry.Failure{Class: retry.Record, Message: err.Error()}, nil
	}
	return f, nil
}
