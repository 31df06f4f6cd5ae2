package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		steps  []automation.Step // threeSteps when nil and not noSteps
		before func(*automation.Run)
		result stepResult
		after  func(*automation.Run) // the run decided, as changes to the run before
		want   decision
	}{{
		name:   "429 with Retry-After: 3 is attempted again exactly 3 s later",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err429in3},
		after:  retrying(0, 1, err429in3, 3*time.Second),
		want:   decision{Enqueue: true, At: t0.Add(3 * time.Second), Retrying: true},
	}, {
		name:   "503 with Retry-After: 3 likewise",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err503in3},
		after:  retrying(0, 1, err503in3, 3*time.Second),
		want:   decision{Enqueue: true, At: t0.Add(3 * time.Second), Retrying: true},
	}, {
		name:   "Retry-After: 0 counts as none: the schedule's wait",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err429now},
		after:  retrying(0, 1, err429now, 7500*time.Millisecond),
		want:   decision{Enqueue: true, At: t0.Add(7500 * time.Millisecond), Retrying: true},
	}, {
		name:   "Retry-After over the cap waits the cap",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err429late},
		after:  retrying(0, 1, err429late, retry.DefaultMaxRetryAfter),
		want:   decision{Enqueue: true, At: t0.Add(retry.DefaultMaxRetryAfter), Retrying: true},
	}, {
		name:   "500 waits the schedule's first entry, jittered",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err500},
		after:  retrying(0, 1, err500, 7500*time.Millisecond),
		want:   decision{Enqueue: true, At: t0.Add(7500 * time.Millisecond), Retrying: true},
	}, {
		name:   "502 on the second attempt waits the second entry, jittered",
		before: retrying(0, 1, err500, -time.Second),
		result: stepResult{Kind: sent, Step: 0, Attempt: 2, Failure: err502},
		after:  retrying(0, 2, err502, 22500*time.Millisecond),
		want:   decision{Enqueue: true, At: t0.Add(22500 * time.Millisecond), Retrying: true},
	}, {
		name:   "408 is retried",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err408},
		after:  retrying(0, 1, err408, 7500*time.Millisecond),
		want:   decision{Enqueue: true, At: t0.Add(7500 * time.Millisecond), Retrying: true},
	}, {
		name:   "max attempts reached: the run failed, the later steps cancelled",
		before: retrying(0, 2, err500, -time.Second),
		result: stepResult{Kind: sent, Step: 0, Attempt: 3, Failure: err503in3},
		after:  failedAt(0, 3, err503in3),
		want:   decision{Finished: automation.StatusFailed},
	}, {
		name: "a manual retry gives the step a fresh budget",
		before: func(r *automation.Run) {
			r.Steps[0].AttemptCount, r.Steps[0].RetryBase = 3, 3
		},
		result: stepResult{Kind: sent, Step: 0, Attempt: 4, Failure: err500},
		after:  retrying(0, 4, err500, 7500*time.Millisecond),
		want:   decision{Enqueue: true, At: t0.Add(7500 * time.Millisecond), Retrying: true},
	}, {
		name:   "the step's own maxAttempts beats the policy's",
		before: then(done(0, 1), retrying(2, 1, err500, -time.Second)),
		result: stepResult{Kind: sent, Step: 2, Attempt: 2, Failure: err500},
		after:  failedAt(2, 2, err500),
		want:   decision{Finished: automation.StatusFailed},
	}, {
		name:   "404 is not retried: failed at once",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err404},
		after:  failedAt(0, 1, err404),
		want:   decision{Finished: automation.StatusFailed},
	}, {
		name:   "a render failure is not retried",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: errRender},
		after:  failedAt(0, 1, errRender),
		want:   decision{Finished: automation.StatusFailed},
	}, {
		name:   "success: the update_record step that follows runs in this transaction",
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Fields: map[string]any{"crmId": "42"}},
		after: then(done(0), func(r *automation.Run) {
			r.Fields = map[string]any{"kept": "yes", "crmId": "42"}
		}),
		want: decision{Local: true, Next: 1},
	}, {
		name: "a sent attempt ends the step's deferrals and rate slot",
		before: func(r *automation.Run) {
			r.Steps[0].Deferrals, r.Steps[0].RateSlot, r.Steps[0].RateMisses, r.Steps[0].NextAttemptAt = 3, at(-time.Second), 2, at(-time.Second)
		},
		result: stepResult{Kind: sent, Step: 0, Attempt: 1},
		after: then(done(0), func(r *automation.Run) {
			r.Steps[0].Deferrals, r.Steps[0].RateSlot, r.Steps[0].RateMisses, r.Steps[0].NextAttemptAt = 0, nil, 0, nil
		}),
		want: decision{Local: true, Next: 1},
	}, {
		name:   "update_record success: the next call_api step gets a job of its own",
		before: done(0),
		result: stepResult{Kind: local, Step: 1, Attempt: 1, Record: map[string]any{"id": "rec_1", "title": "new"}},
		after: then(done(1), func(r *automation.Run) {
			r.Seq, r.Status, r.Record = 2, automation.StatusRunning, map[string]any{"id": "rec_1", "title": "new"}
		}),
		want: decision{Enqueue: true},
	}, {
		name:   "update_record failure: the run failed at once",
		before: done(0),
		result: stepResult{Kind: local, Step: 1, Attempt: 1, Failure: errRecord},
		after:  failedAt(1, 1, errRecord),
		want:   decision{Finished: automation.StatusFailed},
	}, {
		name:   "the last step succeeds: the run succeeded, its last error cleared",
		before: then(done(0, 1), retrying(2, 1, err500, -time.Second)),
		result: stepResult{Kind: sent, Step: 2, Attempt: 2, Fields: map[string]any{"ok": true}},
		after: func(r *automation.Run) {
			r.Status, r.FinishedAt, r.NextAttemptAt, r.Error = automation.StatusSucceeded, at(0), nil, nil
			r.Steps[2].Status, r.Steps[2].AttemptCount, r.Steps[2].NextAttemptAt = automation.StepSucceeded, 2, nil
			r.Steps[2].Error = nil
			r.Fields = map[string]any{"kept": "yes", "ok": true}
		},
		want: decision{Finished: automation.StatusSucceeded},
	}, {
		name: "a run that cannot be executed fails at its step, deferrals kept (no version: the server's attempts)",
		before: func(r *automation.Run) {
			r.Steps[0].Deferrals = 2
		},
		steps:  []automation.Step{},
		result: stepResult{Kind: local, Step: 0, Attempt: 1, Failure: errFault},
		after:  failedAt(0, 1, errFault),
		want:   decision{Finished: automation.StatusFailed},
	}, {
		name:   "deferred by a busy destination: back after 250 ms, no attempt",
		result: stepResult{Kind: deferred, Step: 0},
		after: func(r *automation.Run) {
			r.Seq, r.Steps[0].Deferrals = 2, 1
		},
		want: decision{Enqueue: true, At: t0.Add(250 * time.Millisecond)},
	}, {
		name:   "deferred a third time in a row: back after 1 s",
		before: func(r *automation.Run) { r.Steps[0].Deferrals = 2 },
		result: stepResult{Kind: deferred, Step: 0},
		after: func(r *automation.Run) {
			r.Seq, r.Steps[0].Deferrals = 2, 3
		},
		want: decision{Enqueue: true, At: t0.Add(time.Second)},
	}, {
		name:   "deferred for a far rate slot: the slot kept, back a lead before it",
		before: func(r *automation.Run) { r.Steps[0].RateMisses = 1 },
		result: stepResult{Kind: deferred, Step: 0, RateSlot: t0.Add(2 * time.Second)},
		after: func(r *automation.Run) {
			r.Seq, r.Steps[0].RateSlot, r.Steps[0].NextAttemptAt = 2, at(2*time.Second), at(2*time.Second)
		},
		want: decision{Enqueue: true, At: t0.Add(1800 * time.Millisecond)},
	}, {
		name:   "onError continue: a 404 for good goes on with the next step, its status and error kept, the error body's capture merged",
		steps:  continueSteps,
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Status: 404, Failure: err404, Fields: map[string]any{"reason": "no such customer"}},
		after: func(r *automation.Run) {
			r.Steps[0].Status, r.Steps[0].AttemptCount, r.Steps[0].Continued = automation.StepFailed, 1, true
			r.Steps[0].HTTPStatus, r.Steps[0].Error = ptr(404), runError(err404)
			r.Fields = map[string]any{"kept": "yes", "reason": "no such customer"}
			r.ContinuedAfterFailure = []string{"notify"}
		},
		want: decision{Local: true, Next: 1},
	}, {
		name:   "onError continue on a retryable failure: retried first, like any step",
		steps:  continueSteps,
		result: stepResult{Kind: sent, Step: 0, Attempt: 1, Status: 500, Failure: err500},
		after: then(retrying(0, 1, err500, 7500*time.Millisecond), func(r *automation.Run) {
			r.Steps[0].HTTPStatus = ptr(500)
		}),
		want: decision{Enqueue: true, At: t0.Add(7500 * time.Millisecond), Retrying: true},
	}, {
		name:   "onError continue at the last step: the run succeeded, marked as continued after a failure",
		steps:  continueSteps,
		before: done(0, 1),
		result: stepResult{Kind: sent, Step: 2, Attempt: 1, Failure: err404},
		after: then(done(0, 1), func(r *automation.Run) {
			r.Status, r.FinishedAt = automation.StatusSucceeded, at(0)
			r.Steps[2].Status, r.Steps[2].AttemptCount, r.Steps[2].Continued, r.Steps[2].Error = automation.StepFailed, 1, true, runError(err404)
			r.ContinuedAfterFailure = []string{"crm"}
		}),
		want: decision{Finished: automation.StatusSucceeded},
	}, {
		name:   "if false: the step is skipped, the next one runs",
		result: stepResult{Kind: skipped, Step: 0},
		after:  func(r *automation.Run) { r.Steps[0].Status = automation.StepSkipped },
		want:   decision{Local: true, Next: 1},
	}, {
		name:   "if false at the last step: the run succeeded",
		before: done(0, 1),
		result: stepResult{Kind: skipped, Step: 2},
		after: func(r *automation.Run) {
			r.Status, r.FinishedAt = automation.StatusSucceeded, at(0)
			r.Steps[2].Status = automation.StepSkipped
		},
		want: decision{Finished: automation.StatusSucceeded},
	}, {
		name:   "resumed at an update_record step: it runs in this transaction",
		before: done(0),
		result: stepResult{Kind: resumed, Step: 1},
		want:   decision{Local: true, Next: 1},
	}, {
		name:   "resumed at a call_api step: a job for it",
		result: stepResult{Kind: resumed, Step: 0},
		after:  func(r *automation.Run) { r.Seq, r.Status = 2, automation.StatusRunning },
		want:   decision{Enqueue: true},
	}, {
		name:   "resumed past the last step: the run succeeded",
		before: done(0, 1, 2),
		result: stepResult{Kind: resumed, Step: 3},
		after: func(r *automation.Run) {
			r.Status, r.FinishedAt = automation.StatusSucceeded, at(0)
		},
		want: decision{Finished: automation.StatusSucceeded},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			build := func() *automation.Run {
				r := queuedRun()
				if tc.before != nil {
					tc.before(r)
				}
				return r
			}
			in, want := build(), build()
			if tc.after != nil {
				tc.after(want)
			}
			steps := tc.steps
			if steps == nil {
				steps = threeSteps
			}
			got, d := transition(in, steps, tc.result, t0, testPolicy)
			if diff := cmp.Diff(tc.want, d); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("run (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(build(), in); diff != "" {
				t.Errorf("transition changed the run it was given (-before +after):\n%s", diff)
			}
			if d.At.UnixMicro() != tc.want.At.UnixMicro() {
				t.Errorf("job at %d µs, want %d µs", d.At.UnixMicro(), tc.want.At.UnixMicro())
			}
		})
	}
}
