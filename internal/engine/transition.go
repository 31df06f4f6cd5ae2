package engine

import (
	"maps"
	"slices"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
)

// The run state machine. What became of a step (a result) takes a run from
// one state to the next, and says what the queue does after: work the next
// update_record step in the same transaction, enqueue a job (a retry, a
// deferral, the next call_api step), or nothing (the run finished). It is a
// pure function of the run, the result, the time and the policy: no I/O, no
// clock; the engine reads the clock, makes the attempt, and writes what the
// function decided (execution.go, commit).

// policy is how many attempts a step gets and the waits between them.
type policy struct {
	MaxAttempts int          // a step's attempts unless it sets its own (call_api maxAttempts)
	Retry       retry.Policy // the wait before each further attempt
}

// resultKind says what a stepResult reports.
type resultKind int

const (
	// resumed: nothing was attempted in this job yet; the run goes on
	// from its step (the steps before it succeeded).
	resumed resultKind = iota
	// deferred: a call_api request was not sent (its destination was
	// busy, or the step's rate slot is far); no attempt counts.
	deferred
	// sent: a call_api attempt, sent or stopped before sending (render,
	// secrets); it ends the step's deferrals and rate slot.
	sent
	// local: an update_record step's attempt, or a failure recorded at
	// the step for a run that cannot be executed (outcome.go).
	local
	// skipped: the step's if was false; nothing was attempted.
	skipped
	// paused: the run's automation is paused; the run ends skipped
	// before its step starts (nothing sent), to be retried later.
	paused
)

// stepResult is what became of step Step: the state machine's input.
type stepResult struct {
	Kind     resultKind
	Step     int
	RateSlot time.Time      // deferred: the rate slot reserved (zero: a busy destination)
	Attempt  int            // sent, local: the attempt's number
	Status   int            // sent: the response's HTTP status (0: none)
	Failure  *retry.Failure // the attempt failed; its message is safe to show (redacted)
	Fields   map[string]any // a success: the fields the step sets for the steps after it
	Record   map[string]any // local: the run's record snapshot from here on (the step changed it)
}

// decision is what follows a transition.
type decision struct {
	Local    bool              // work update_record step Next in this transaction, then transition again
	Next     int               // with Local
	Enqueue  bool              // a job for the run at its new Seq
	At       time.Time         // the job's time; zero: at once
	Retrying bool              // the step failed and is attempted again at At
	Finished automation.Status // the run ended: succeeded, failed or skipped (paused); "" while it goes on
}

// transition applies r to run (which it does not change) and returns the
// run's new state with what follows. steps are the automation version's
// (nil when it could not be loaded); now is the engine's clock.
func transition(run *automation.Run, steps []automation.Step, r stepResult, now time.Time, p policy) (*automation.Run, decision) {
	run = cloneRun(run)
	if r.Kind == resumed {
		return run, advance(run, steps, r.Step, now)
	}
	state := &run.Steps[r.Step]
	switch r.Kind {
	case paused:
		run.Status = automation.StatusSkipped
		run.FinishedAt = &now
		run.NextAttemptAt = nil
		for j := range run.Steps {
			if st := &run.Steps[j]; !st.Done() && st.Status != automation.StepFailed {
				st.Status, st.NextAttemptAt = automation.StepPending, nil
			}
		}
		return run, decision{Finished: automation.StatusSkipped}
	case skipped:
		state.Status = automation.StepSkipped
		state.NextAttemptAt = nil
		return run, advance(run, steps, r.Step+1, now)
	case deferred:
		at := deferUntil(state, r.RateSlot, now)
		run.Seq++
		return run, decision{Enqueue: true, At: at}
	case sent:
		state.Deferrals = 0
		state.RateSlot, state.RateMisses = nil, 0
		state.NextAttemptAt = nil
	}
	state.AttemptCount = r.Attempt
	state.HTTPStatus = nil
	if r.Status != 0 {
		status := r.Status
		state.HTTPStatus = &status
	}
	state.Error = nil
	if r.Record != nil {
		run.Record = r.Record
	}
	if r.Failure != nil {
		state.Error = &automation.AttemptError{Class: r.Failure.Class, Message: r.Failure.Message}
		was := run.Status
		d := failed(run, steps, r.Step, r.Failure, now, p)
		if d.Finished != automation.StatusFailed || !continues(steps, r.Step) {
			return run, d
		}
		// onError "continue": the step failed for good, the run goes on
		// (with what the schema captured from the error response).
		state.Continued = true
		run.Status, run.FinishedAt, run.Error = was, nil, nil
		for j := r.Step + 1; j < len(run.Steps); j++ {
			run.Steps[j].Status = automation.StepPending
		}
		mergeFields(run, r.Fields)
		run.ContinuedAfterFailure = run.Continuations()
		return run, advance(run, steps, r.Step+1, now)
	}
	state.Status = automation.StepSucceeded
	mergeFields(run, r.Fields)
	return run, advance(run, steps, r.Step+1, now)
}

// mergeFields sets the fields a step captured in the run's fields.
func mergeFields(run *automation.Run, fields map[string]any) {
	if len(fields) > 0 && run.Fields == nil {
		run.Fields = make(map[string]any, len(fields))
	}
	maps.Copy(run.Fields, fields)
}

// continues reports whether step i has onError "continue".
func continues(steps []automation.Step, i int) bool {
	return i < len(steps) && steps[i].StepFlow().Continue
}

// advance goes on from step i, the steps before it done: an update_record
// step runs in the same transaction; a call_api step gets a job of its own,
// so that every job is bounded by one request's timeout; after the last
// step the run succeeded.
func advance(run *automation.Run, steps []automation.Step, i int, now time.Time) decision {
	if i < len(steps) {
		if _, ok := steps[i].(*automation.UpdateRecord); ok {
			return decision{Local: true, Next: i}
		}
		run.Seq++
		run.Status = automation.StatusRunning
		run.NextAttemptAt = nil
		return decision{Enqueue: true}
	}
	run.Status = automation.StatusSucceeded
	run.FinishedAt = &now
	run.NextAttemptAt = nil
	run.Error = nil
	return decision{Finished: automation.StatusSucceeded}
}

// failed records a failed attempt's consequence: a retry when the class is
// retryable and attempts remain (since the last manual retry), else the
// run fails and its later steps are cancelled.
func failed(run *automation.Run, steps []automation.Step, i int, f *retry.Failure, now time.Time, p policy) decision {
	state := &run.Steps[i]
	maxAttempts := p.attempts(0)
	if i < len(steps) {
		if s, ok := steps[i].(*automation.CallAPI); ok {
			maxAttempts = p.attempts(s.MaxAttempts)
		}
	}
	run.Error = &automation.AttemptError{Class: f.Class, Message: f.Message}
	made := state.AttemptCount - state.RetryBase
	if f.Retryable() && made < maxAttempts {
		next := now.Add(p.Retry.Next(made, f.RetryAfter))
		state.Status = automation.StepRetrying
		state.NextAttemptAt = &next
		run.Status = automation.StatusRetrying
		run.NextAttemptAt = &next
		run.Seq++
		return decision{Enqueue: true, At: next, Retrying: true}
	}
	state.Status = automation.StepFailed
	state.NextAttemptAt = nil
	run.Status = automation.StatusFailed
	run.FinishedAt = &now
	run.NextAttemptAt = nil
	for j := i + 1; j < len(run.Steps); j++ {
		run.Steps[j].Status = automation.StepCancelled
	}
	return decision{Finished: automation.StatusFailed}
}

// deferUntil records in state why the step waits and returns when its run
// is to be worked again: just before its reserved rate slot (rate.go), or
// after a busy destination's backoff (deferDelay).
func deferUntil(state *automation.StepState, rateSlot, now time.Time) time.Time {
	if !rateSlot.IsZero() {
		slot := rateSlot.UTC()
		state.RateSlot = &slot
		state.NextAttemptAt = &slot
		return slot.Add(-rateLead(state.RateMisses))
	}
	state.Deferrals++
	return now.Add(deferDelay(state.Deferrals - 1))
}

// deferDelay is how long a run waits before it tries a busy destination
// again: 250 ms, doubling with each deferral in a row, at most 30 s.
func deferDelay(n int) time.Duration {
	d := 250 * time.Millisecond << min(n, 7)
	return min(d, 30*time.Second)
}

// current reports whether a job of generation seq may work run: the run has
// not moved on without it (retried, cancelled, continued, deferred) and has
// not finished. A stale job does nothing.
func current(run *automation.Run, seq int64) bool {
	return run.Seq == seq && !run.Status.Finished()
}

// cloneRun copies what a transition changes in a run.
func cloneRun(r *automation.Run) *automation.Run {
	c := *r
	c.Steps = slices.Clone(r.Steps)
	c.Fields = maps.Clone(r.Fields)
	return &c
}

// notStarted reports whether no job has begun run's first step yet: it is
// queued, and its first step has neither an attempt nor a deferral.
func notStarted(run *automation.Run) bool {
	if run.Status != automation.StatusQueued || len(run.Steps) == 0 {
		return run.Status == automation.StatusQueued
	}
	s := run.Steps[0]
	return s.Status == automation.StepPending && s.AttemptCount == 0 && s.Deferrals == 0 && s.RateSlot == nil
}
