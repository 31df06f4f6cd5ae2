package engine

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
)

// TestTransitionWalk takes a run through its life on a fake clock: each job
// comes at the time the one before decided; the seq moves on with every
// job, and the run ends succeeded with each step's attempts counted.
func TestTransitionWalk(t *testing.T) {
	t.Parallel()
	run, now := queuedRun(), t0
	steps := []struct {
		result stepResult
		want   decision
		wait   time.Duration // from now to the next job
	}{
		{stepResult{Kind: deferred, Step: 0}, decision{Enqueue: true, At: t0.Add(250 * time.Millisecond)}, 250 * time.Millisecond},
		{stepResult{Kind: sent, Step: 0, Attempt: 1, Failure: err429in3}, decision{Enqueue: true, At: t0.Add(3250 * time.Millisecond), Retrying: true}, 3 * time.Second},
		{stepResult{Kind: sent, Step: 0, Attempt: 2, Failure: err500}, decision{Enqueue: true, At: t0.Add(25750 * time.Millisecond), Retrying: true}, 22500 * time.Millisecond},
		{stepResult{Kind: sent, Step: 0, Attempt: 3, Fields: map[string]any{"crmId": "42"}}, decision{Local: true, Next: 1}, 0},
		{stepResult{Kind: local, Step: 1, Attempt: 1, Record: map[string]any{"id": "rec_1", "title": "new"}}, decision{Enqueue: true}, 0},
		{stepResult{Kind: sent, Step: 2, Attempt: 1, Failure: err503in3}, decision{Enqueue: true, At: t0.Add(28750 * time.Millisecond), Retrying: true}, 3 * time.Second},
		{stepResult{Kind: sent, Step: 2, Attempt: 2}, decision{Finished: automation.StatusSucceeded}, 0},
	}
	for n, s := range steps {
		var d decision
		run, d = transition(run, threeSteps, s.result, now, testPolicy)
		if diff := cmp.Diff(s.want, d); diff != "" {
			t.Fatalf("job %d (at +%v): decision (-want +got):\n%s", n+1, now.Sub(t0), diff)
		}
		now = now.Add(s.wait)
	}
	if run.Seq != 6 || run.Status != automation.StatusSucceeded || run.Error != nil || run.NextAttemptAt != nil ||
		run.FinishedAt == nil || !run.FinishedAt.Equal(t0.Add(28750*time.Millisecond)) {
		t.Errorf("run ended seq %d, %s, error %v, next %v, finished %v; want seq 6, succeeded at +28.75s, no error", run.Seq, run.Status, run.Error, run.NextAttemptAt, run.FinishedAt)
	}
	var counts []int
	for _, st := range run.Steps {
		if st.Status != automation.StepSucceeded || st.NextAttemptAt != nil || st.Deferrals != 0 {
			t.Errorf("step %s ended %+v, want succeeded", st.ID, st)
		}
		counts = append(counts, st.AttemptCount)
	}
	if diff := cmp.Diff([]int{3, 1, 2}, counts); diff != "" {
		t.Errorf("attempts per step (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"kept": "yes", "crmId": "42"}, run.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

// TestCurrent: a job works its run only at the run's seq and while the run
// is not finished; retried, cancelled, continued and finished runs make
// every older job stale.
func TestCurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status automation.Status
		seq    int64
		jobSeq int64
		want   bool
	}{
		{automation.StatusQueued, 1, 1, true},
		{automation.StatusRunning, 4, 4, true},
		{automation.StatusRetrying, 3, 3, true},
		{automation.StatusRetrying, 3, 2, false}, // a retry scheduled since
		{automation.StatusQueued, 5, 4, false},   // retried by a person
		{automation.StatusCancelled, 2, 2, false},
		{automation.StatusCancelled, 3, 2, false},
		{automation.StatusSucceeded, 2, 2, false},
		{automation.StatusFailed, 1, 1, false},
		{automation.StatusQueued, 1, 2, false}, // a job from the future: not this run's
	} {
		run := &automation.Run{Status: tc.status, Seq: tc.seq}
		if got := current(run, tc.jobSeq); got != tc.want {
			t.Errorf("current(run %s at seq %d, job seq %d) = %v, want %v", tc.status, tc.seq, tc.jobSeq, got, tc.want)
		}
	}
}

// BenchmarkTransition: the cost of one step's result taken through the
// state machine (the run copied, then changed), per run at thousands of
// runs per second.
func BenchmarkTransition(b *testing.B) {
	run := queuedRun()
	r := stepResult{Kind: sent, Step: 0, Attempt: 1, Fields: map[string]any{"crmId": "42"}}
	b.ReportAllocs()
	for b.Loop() {
		transition(run, threeSteps, r, t0, testPolicy)
	}
}
