package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// What stops a job.
//
// A queue job that returns an error is retried by River on River's own
// schedule, out of sight: no history, no error class, the run showing
// `queued` meanwhile. That is right for one reason only — the database is
// unavailable (or the node is stopping), so nothing can be recorded now —
// and even then the worker first waits for the database itself, so that a
// request already sent is recorded rather than sent again. Every other
// reason is one a retry cannot fix, and becomes the run's visible outcome:
// the step it stopped at fails with a class and a message in history
// (docs/RELIABILITY.md lists them):
//
//   - a secret or the automation's signing secret does not open with the
//     node's keys: class secret, at the step that needs it (callAPI);
//   - the automation version cannot be loaded or compiled, or does not
//     match the run's steps; the run cannot be read; a panic: class
//     internal (settle).

// execute works one run from its next step and settles the outcome,
// unless another job of this node works the run's generation (claim).
func (e *Engine) execute(ctx context.Context, job store.RunJob) error {
	release, ok := e.claim(ctx, job)
	if !ok {
		return nil
	}
	defer release()
	return e.executeClaimed(ctx, job)
}

// executeClaimed is execute for a job that holds its claim.
func (e *Engine) executeClaimed(ctx context.Context, job store.RunJob) (err error) {
	var run *automation.Run
	defer func() {
		if p := recover(); p != nil {
			e.log.ErrorContext(ctx, "panic working a run", "run", job.RunID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = &fault{class: retry.Internal, msg: fmt.Sprintf("Autohook failed while working this run (a bug; the server log has the details): %v", p)}
		}
		err = e.settle(ctx, job, run, err)
	}()
	var x *execution
	var isPaused bool
	err = e.untilAvailable(ctx, func() error {
		var err error
		x, run, err = e.load(ctx, job)
		if err != nil || x == nil {
			return err
		}
		// No step starts while the automation is paused (a call_api
		// step checks again just before its request: callAPI).
		if _, remote := x.stepAt(run.NextStep()).(*automation.CallAPI); remote {
			return nil
		}
		isPaused, err = e.st.AutomationPaused(ctx, job.OrgID, run.AutomationID)
		return err
	})
	if err != nil || x == nil {
		return err
	}
	if isPaused {
		err := x.write(ctx, func(tx *store.Tx) error {
			next, d := transition(x.run, x.comp.Steps, stepResult{Kind: paused, Step: x.run.NextStep()}, e.cfg.Now().UTC(), e.policy())
			return e.save(ctx, tx, job.OrgID, next, d, x.run.Seq)
		})
		if errors.Is(err, store.ErrConflict) {
			// a person retried or cancelled it meanwhile: seen once the
			// write returns, since on PostgreSQL the run's conflict may
			// fail the write at its commit (store.UpdateRun)
			return nil
		}
		return err
	}
	if notStarted(run) {
		e.cfg.Metrics.RunStarted()
	}
	return x.step(ctx)
}

// fault is a failure no retry can fix, with the class history shows.
type fault struct {
	class retry.Class
	msg   string
}

func (f *fault) Error() string { return string(f.class) + ": " + f.msg }

// transient reports whether err is worth River's retry: the database is
// unavailable or the node is stopping.
func transient(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// settle turns what stopped a job into its outcome: nil, a transient error
// for River to retry, or — for any other error — the run failed visibly
// (then nil: there is nothing left for the queue to do).
func (e *Engine) settle(ctx context.Context, job store.RunJob, run *automation.Run, err error) error {
	if err == nil || transient(ctx, err) {
		return err
	}
	if errors.Is(err, store.ErrConflict) {
		// The run moved on without this job (a person retried or
		// cancelled it, another job recorded its step): nothing to do.
		e.log.InfoContext(ctx, "run moved on while its job worked it; the job leaves it", "run", job.RunID, "seq", job.Seq)
		return nil
	}
	var f *fault
	if !errors.As(err, &f) {
		f = &fault{class: retry.Internal, msg: "Autohook cannot execute this run: " + err.Error()}
	}
	e.log.ErrorContext(ctx, "run failed: it cannot be executed", "run", job.RunID, "class", f.class, "err", err)
	ferr := e.untilAvailable(ctx, func() error { return e.failRun(ctx, job, run, f) })
	if ferr != nil {
		return errors.Join(err, ferr) // not recorded: River tries the job again
	}
	return nil
}

// failRun records f as the failure of the run's next step, and fails the
// run. A run that moved on meanwhile is left alone.
func (e *Engine) failRun(ctx context.Context, job store.RunJob, run *automation.Run, f *fault) error {
	var kept func(tx *store.Tx) error
	err := e.st.Write(ctx, func(tx *store.Tx) error {
		if run == nil {
			_, err := tx.FailRun(ctx, job.OrgID, job.RunID, job.Seq, f.class, f.msg)
			return err
		}
		now := e.cfg.Now().UTC()
		i := run.NextStep()
		if i >= len(run.Steps) {
			_, err := tx.FailRun(ctx, job.OrgID, job.RunID, job.Seq, f.class, f.msg)
			return err
		}
		a := &automation.Attempt{N: run.Steps[i].AttemptCount + 1, StartedAt: now, Error: &automation.AttemptError{Class: f.class, Message: f.msg}}
		r := stepResult{Kind: local, Step: i, Attempt: a.N, Failure: &retry.Failure{Class: f.class, Message: f.msg}}
		next, d := transition(run, nil, r, now, e.policy())
		// The run first: if it moved on meanwhile (a person retried or
		// cancelled it, another job recorded the step), history keeps the
		// failure unless its attempt number was taken. On PostgreSQL that
		// conflict may fail the write only at its commit (store.UpdateRun):
		// the attempt is kept in a write of its own, once this one failed.
		kept = func(tx *store.Tx) error {
			_, err := tx.KeepAttempt(ctx, run.ID, i, a)
			return err
		}
		if err := e.save(ctx, tx, job.OrgID, next, d, job.Seq); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, run.ID, i, a)
	})
	if errors.Is(err, store.ErrRunChanged) && kept != nil {
		err = e.st.Write(ctx, kept)
	}
	return err
}

// untilAvailable runs f again while it fails because the database is
// unavailable, waiting a little longer each time (up to 2 s), until it
// works, fails otherwise, or ctx ends (River's job timeout bounds it).
func (e *Engine) untilAvailable(ctx context.Context, f func() error) error {
	wait := 50 * time.Millisecond
	for {
		err := f()
		if !errors.Is(err, store.ErrUnavailable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}
