package engine

import (
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
)

// Fixtures of the state machine's tests (transition_test.go): a run, the
// failures it meets, and the states they lead to, on a fake clock.

// t0 is the fake clock's now: with microseconds, which the stored times keep.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// threeSteps: a call_api step with the server's attempts, an update_record
// step, a call_api step of 2 attempts.
var threeSteps = []automation.Step{
	&automation.CallAPI{ID: "notify"},
	&automation.UpdateRecord{ID: "save"},
	&automation.CallAPI{ID: "crm", MaxAttempts: 2},
}

// continueSteps: threeSteps with onError "continue" on both call_api steps.
var continueSteps = []automation.Step{
	&automation.CallAPI{ID: "notify", Flow: automation.Flow{Continue: true}},
	&automation.UpdateRecord{ID: "save"},
	&automation.CallAPI{ID: "crm", MaxAttempts: 2, Flow: automation.Flow{Continue: true}},
}

func ptr[T any](v T) *T { return &v }

// testPolicy: 3 attempts; waits of 10 s then 30 s with the jitter drawn at a
// quarter: 7.5 s, then 22.5 s (and 22.5 s again after that).
var testPolicy = policy{MaxAttempts: 3, Retry: retry.Policy{
	Schedule: []time.Duration{10 * time.Second, 30 * time.Second},
	Rand:     func() float64 { return 0.25 },
}}

// queuedRun is a run of threeSteps as its first job finds it.
func queuedRun() *automation.Run {
	return &automation.Run{
		ID: "run_1", AutomationID: "aut_1", Status: automation.StatusQueued, Seq: 1,
		Fields: map[string]any{"kept": "yes"},
		Record: map[string]any{"id": "rec_1", "title": "old"},
		Steps: []automation.StepState{
			{ID: "notify", Type: "call_api", Status: automation.StepPending},
			{ID: "save", Type: "update_record", Status: automation.StepPending},
			{ID: "crm", Type: "call_api", Status: automation.StepPending},
		},
	}
}

// answered is the failure of an HTTP answer with a Retry-After header, as
// the webhook package makes it at t0.
func answered(status int, retryAfter string) *retry.Failure {
	f := &retry.Failure{Class: retry.HTTP4xx, Message: fmt.Sprintf("the receiver answered %d", status), Status: status}
	if status >= 500 {
		f.Class = retry.HTTP5xx
	}
	if retry.HonoursRetryAfter(status) {
		if d, ok := retry.ParseRetryAfter(retryAfter, t0); ok {
			f.RetryAfter = d
		}
	}
	return f
}

func runError(f *retry.Failure) *automation.AttemptError {
	return &automation.AttemptError{Class: f.Class, Message: f.Message}
}

// retrying is the run after attempt n of step i failed with f, to be tried
// again after wait.
func retrying(i, n int, f *retry.Failure, wait time.Duration) func(*automation.Run) {
	return func(r *automation.Run) {
		r.Seq++
		r.Status, r.NextAttemptAt, r.Error = automation.StatusRetrying, at(wait), runError(f)
		r.Steps[i].Status, r.Steps[i].AttemptCount, r.Steps[i].NextAttemptAt = automation.StepRetrying, n, at(wait)
		r.Steps[i].Error = runError(f)
	}
}

// failedAt is the run after attempt n of step i failed with f for good.
func failedAt(i, n int, f *retry.Failure) func(*automation.Run) {
	return func(r *automation.Run) {
		r.Status, r.FinishedAt, r.NextAttemptAt, r.Error = automation.StatusFailed, at(0), nil, runError(f)
		r.Steps[i].Status, r.Steps[i].AttemptCount, r.Steps[i].NextAttemptAt = automation.StepFailed, n, nil
		r.Steps[i].Error = runError(f)
		for j := i + 1; j < len(r.Steps); j++ {
			r.Steps[j].Status = automation.StepCancelled
		}
	}
}

// done marks steps succeeded after one attempt each.
func done(steps ...int) func(*automation.Run) {
	return func(r *automation.Run) {
		for _, i := range steps {
			r.Steps[i].Status, r.Steps[i].AttemptCount = automation.StepSucceeded, 1
		}
	}
}

func then(fs ...func(*automation.Run)) func(*automation.Run) {
	return func(r *automation.Run) {
		for _, f := range fs {
			f(r)
		}
	}
}

var (
	err429in3  = answered(429, "3")
	err429now  = answered(429, "0")
	err429late = answered(429, "7200")
	err503in3  = answered(503, "3")
	err500     = answered(500, "")
	err502     = answered(502, "")
	err404     = answered(404, "")
	err408     = answered(408, "")
	errRender  = &retry.Failure{Class: retry.Render, Message: "url: unknown name nope"}
	errRecord  = &retry.Failure{Class: retry.Record, Message: "record rec_1 no longer exists"}
	errFault   = &retry.Failure{Class: retry.Internal, Message: "automation aut_1 v1 does not compile"}
)
