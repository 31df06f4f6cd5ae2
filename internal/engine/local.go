package engine

import (
	"context"
	"errors"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
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
// step fails with class record). So they are when the collection or its
// automations changed on another node since the plan (catalog.Stamp).

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
		// Definitions changed on another node since the plan: planned
		// again from the new ones, like a record that moved (bounded: past
		// maxLocalTries the steps give up, a plan that checks nothing:
		// planLocal).
		stale := x.e.cat.Stale(x.job.OrgID, err)
		if stale && try > maxLocalTries {
			return err
		}
		// On PostgreSQL a record changed meanwhile may show at any later
		// statement of the transaction, or at its commit
		// (store.UpdateRecordAt), not only as errRecordMoved; so may
		// definitions changed meanwhile (catalog.Stamp).
		if errors.Is(err, errRecordMoved) || errors.Is(err, store.ErrRecordChanged) || stale {
			if x.recUsed {
				// planned from the record read with the run, before
				// the request: the next plan, from the record read
				// now, is the first try
				x.recUsed = false
				try--
			}
			// The commit changed the run in memory: start again from
			// the stored run, which the abandoned transaction left as
			// it was.
			var stale bool
			err := x.e.untilAvailable(ctx, func() (err error) { stale, err = x.reload(ctx); return err })
			if err != nil || stale {
				if err == nil && remote != nil && !x.unsure {
					err = x.keep(ctx, i, remote)
				}
				return err
			}
			continue
		}
		if errors.Is(err, store.ErrConflict) && remote != nil && !x.unsure {
			// A person retried or cancelled the run while the request was in
			// flight (or another job recorded the step): their change
			// stands, but history keeps the attempt.
			return x.keep(ctx, i, remote)
		}
		return err
	}
}

// nextLocal is the index of the update_record step that runs after step
// i in the same transaction, or -1.
func (x *execution) nextLocal(i int, remote *pending) int {
	if remote != nil {
		// A failed step goes on to the next only with onError
		// "continue" (when it is not retried: then the plan goes unused).
		if remote.failure != nil && !continues(x.comp.Steps, i) {
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
	if !current(run, x.job.Seq) {
		return true, nil
	}
	x.run = run
	return false, nil
}

// maxLocalTries bounds how many times the update_record steps are planned
// again because another node changed their record before their
// transaction (the writers of this node take turns: store.LockRecord).
const maxLocalTries = 5

// errRecordMoved abandons a step's transaction whose update_record step
// found its record changed since it was planned.
var errRecordMoved = errors.New("the record changed since the update was planned")
