package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// execution is the state of one Work call.
type execution struct {
	e      *Engine
	job    store.RunJob
	run    *automation.Run
	comp   *automation.Compiled
	sec    opened // the organisation's secrets
	unsure bool   // a commit failed in a way that may have hidden its success
	// the update_record steps that run in the write transaction, planned
	// before it (local.go)
	local *localPlan
	// Read with the run (store.RunToWork): whether its automation was
	// paused then, and when; its record then, until a plan uses it
	// (update.go: a plan made again reads the record anew).
	paused   bool
	loadedAt time.Time
	rec      *record.Record
	recUsed  bool // the update_record steps were planned from rec
}

// load reads what a job needs to work its run: nil when there is nothing
// to do (the run is gone, finished, or moved on without the job). The run
// comes back even with an error when it was read.
func (e *Engine) load(ctx context.Context, job store.RunJob) (*execution, *automation.Run, error) {
	// The run (with its automation's pause and its record) and its
	// organisation's generation in one statement; the secrets only when
	// those opened here are of another generation.
	loadedAt := e.cfg.Now()
	var w *store.RunToWork
	sec, err := e.secretsWith(job.OrgID, func(have func(int64) bool) (gen int64, sealed map[string]string, err error) {
		w, gen, sealed, err = e.st.RunAndSealedSecrets(ctx, job.OrgID, job.RunID, have)
		return gen, sealed, err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil // deleted or pruned
	}
	if err != nil {
		return nil, nil, err
	}
	run := w.Run
	if !current(run, job.Seq) {
		return nil, nil, nil // a stale job: the run moved on without it
	}
	comp, err := e.cat.Get(ctx, job.OrgID, run.AutomationID, run.AutomationVersion)
	if err != nil {
		return nil, run, err
	}
	if len(comp.Steps) != len(run.Steps) {
		return nil, run, fmt.Errorf("run %s has %d steps, automation %s v%d has %d", run.ID, len(run.Steps), comp.ID, comp.Version, len(comp.Steps))
	}
	return &execution{e: e, job: job, run: run, comp: comp, sec: sec, paused: w.Paused, loadedAt: loadedAt, rec: w.Record}, run, nil
}

// env is what a step's expressions see at now, with the run's record as
// record and its fields as fields.
func (x *execution) env(record, fields map[string]any, now time.Time) render.Env {
	r := x.run
	env := render.NewEnv(record, r.Previous, fields, x.sec.env,
		map[string]any{"type": r.Trigger.Type, "at": r.Trigger.At.Format(time.RFC3339Nano)},
		map[string]any{"id": r.ID, "automationId": r.AutomationID}, now)
	env[render.RootSteps] = r.StepsEnv()
	return env
}

// skip reports whether step s's if is false in env; an if that cannot be
// evaluated is the step's failure (class render).
func skip(s automation.Step, env render.Env) (bool, *retry.Failure) {
	cond := s.StepFlow().If
	if cond == nil {
		return false, nil
	}
	b, err := cond.EvalBool(env)
	if err != nil {
		return false, &retry.Failure{Class: retry.Render, Message: fmt.Sprintf("if: %v", err)}
	}
	return !b, nil
}

// step runs the next remote step (if the next step is remote), then, in one
// transaction, records it and runs the local steps that follow.
func (x *execution) step(ctx context.Context) error {
	i := x.run.NextStep()
	var remote *pending
	if i < len(x.comp.Steps) {
		if s, ok := x.comp.Steps[i].(*automation.CallAPI); ok {
			remote = x.callAPIIf(ctx, i, s)
			if remote == nil {
				return ctx.Err() // shutting down: the job will run again
			}
		}
	}
	if remote != nil && (remote.deferred || remote.paused) {
		return x.write(ctx, func(tx *store.Tx) error { return x.commit(ctx, tx, i, remote) })
	}
	return x.record(ctx, i, remote)
}

// commit records the remote attempt (if any) of step i and the local steps
// that follow, each taken through the state machine (transition.go), and
// writes what it decided: the run, and another job, a retry, or the end.
func (x *execution) commit(ctx context.Context, tx *store.Tx, i int, remote *pending) error {
	now := x.e.cfg.Now().UTC()
	expectSeq := x.run.Seq
	r := stepResult{Kind: resumed, Step: i}
	if remote != nil {
		r = remote.result(i, x.sec.redact)
	}
	type stepAttempt struct {
		step int
		a    *automation.Attempt
	}
	var attempts []stepAttempt
	if remote != nil && remote.sent() {
		attempts = append(attempts, stepAttempt{i, remote.attempt})
	}
	var d decision
	x.run, d = transition(x.run, x.comp.Steps, r, now, x.e.policy())
	if d.Local && x.local != nil {
		// What the local steps do depends on the collection and the
		// automations they were planned with (their writes, their runs,
		// and their failures too): they must still be current.
		if err := x.local.stamp.Check(ctx, tx); err != nil {
			return err
		}
	}
	// Local steps, planned before this transaction, are written in it.
	for n := 0; d.Local; n++ {
		if x.local == nil || n >= len(x.local.steps) || x.local.steps[n].i != d.Next {
			return fmt.Errorf("run %s: update_record step %d was not planned", x.run.ID, d.Next)
		}
		r, a, err := x.applyLocal(ctx, tx, x.local.steps[n], x.local)
		if err != nil {
			return err
		}
		if a != nil { // a skipped step has none
			attempts = append(attempts, stepAttempt{d.Next, a})
		}
		x.run, d = transition(x.run, x.comp.Steps, r, now, x.e.policy())
	}
	// The run before the attempts: a run that moved on without this job
	// is a conflict (record keeps the remote attempt then), never an
	// attempt's number found taken.
	if err := x.e.save(ctx, tx, x.job.OrgID, x.run, d, expectSeq); err != nil {
		return err
	}
	for _, sa := range attempts {
		if err := tx.InsertAttempt(ctx, x.run.ID, sa.step, sa.a); err != nil {
			return err
		}
	}
	return nil
}

// keep records the attempt of step i whose run moved on without this job,
// in history, unless its number was taken (by the job that moved it on).
func (x *execution) keep(ctx context.Context, i int, remote *pending) error {
	if !remote.sent() {
		return nil
	}
	return x.write(ctx, func(tx *store.Tx) error {
		kept, err := tx.KeepAttempt(ctx, x.run.ID, i, remote.attempt)
		if err == nil && !kept {
			x.e.log.WarnContext(ctx, "another job recorded this attempt of the step first", "run", x.run.ID, "step", i, "attempt", remote.attempt.N)
		}
		return err
	})
}

// save writes a run's new state in tx (if it is still at expectSeq, else
// store.ErrConflict) with the job its transition decided on.
func (e *Engine) save(ctx context.Context, tx *store.Tx, orgID string, run *automation.Run, d decision, expectSeq int64) error {
	if d.Enqueue {
		tx.EnqueueRun(store.RunJob{OrgID: orgID, RunID: run.ID, Seq: run.Seq}, d.At)
	}
	if err := tx.UpdateRun(ctx, orgID, run, expectSeq); err != nil {
		return err
	}
	switch {
	case d.Retrying:
		tx.OnCommit(e.cfg.Metrics.RunRetrying)
	case d.Finished != "":
		tx.OnCommit(func() { e.cfg.Metrics.RunFinished(d.Finished) })
		if d.Finished == automation.StatusFailed && run.Error != nil {
			class := run.Error.Class
			tx.OnCommit(func() { e.cfg.Metrics.RunFailed(class) })
		}
	}
	if d.Finished == automation.StatusSucceeded || d.Finished == automation.StatusFailed {
		return e.countOutcome(ctx, tx, orgID, run, d.Finished == automation.StatusFailed)
	}
	return nil
}

// countOutcome counts a finished run towards its automation's failure
// streak, in the run's own transaction (store.CountRunOutcome): the
// failure that reaches pauseAfterFailures pauses the automation.
func (e *Engine) countOutcome(ctx context.Context, tx *store.Tx, orgID string, run *automation.Run, failed bool) error {
	lastError := ""
	if run.Error != nil {
		lastError = string(run.Error.Class) + " " + run.Error.Message
	}
	c, err := tx.CountRunOutcome(ctx, orgID, run.AutomationID, failed, tx.Now(), lastError, autohook.AlertThrottle)
	if err != nil {
		return err
	}
	ref := autohook.AlertRef{ID: run.AutomationID, Name: run.AutomationName}
	failure := &autohook.AlertRun{ID: run.ID, Error: run.Error}
	if c.Alert {
		ev := &autohook.AlertEvent{Event: autohook.EventRunFailed, Automation: ref, Run: failure, Count: c.AlertCount}
		if _, err := tx.RaiseAlert(ctx, orgID, ev, ""); err != nil {
			return err
		}
	}
	if c.Paused {
		ev := &autohook.AlertEvent{Event: autohook.EventAutomationPaused, Automation: ref, Run: failure, Count: c.Streak}
		if _, err := tx.RaiseAlert(ctx, orgID, ev, ""); err != nil {
			return err
		}
		// the audit log says who paused it: Autohook itself, and why
		why, _ := json.Marshal(map[string]any{"failures": c.Streak, "runId": run.ID, "reason": lastError})
		if err := tx.InsertAudit(ctx, &store.AuditEntry{OrgID: orgID, Actor: autohook.Actor{Type: autohook.ActorSystem, Name: "autohook"},
			Action: autohook.AuditAutomationPaused, Target: autohook.AuditTarget{Type: "automation", ID: run.AutomationID, Name: run.AutomationName}, Details: why}); err != nil {
			return err
		}
		streak, runID, autoID := c.Streak, run.ID, run.AutomationID
		tx.OnCommit(func() {
			// once committed: a transaction tried again (the database
			// was unavailable) or rolled back does not log a pause
			e.cfg.Metrics.AutomationPaused()
			e.log.InfoContext(ctx, "automation paused", "automation", autoID, "failures", streak, "run", runID)
		})
	}
	return nil
}

// write runs fn, which changes x.run, in a write transaction. While the
// database is unavailable it tries again, from the run as it was: the
// request is not sent again for want of a place to record it. A commit whose
// outcome is unknown (the connection dropped during it) leaves x.unsure set:
// a conflict that follows may be that commit's own doing.
func (x *execution) write(ctx context.Context, fn func(tx *store.Tx) error) error {
	saved := cloneRun(x.run)
	first := true
	return x.e.untilAvailable(ctx, func() error {
		if !first {
			x.run = cloneRun(saved)
			x.unsure = true
		}
		first = false
		return x.e.st.Write(ctx, fn)
	})
}
