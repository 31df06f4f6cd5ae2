package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/server"
)

// WaitLimit is how long WaitRun, WaitRuns and WaitIdle wait before they
// fail the test.
const WaitLimit = 15 * time.Second

// pollEvery is how often they look again.
const pollEvery = 20 * time.Millisecond

// Finished reports whether a run status is final: succeeded, failed,
// cancelled or skipped (automation.Status.Finished).
func Finished(status any) bool {
	return status == "succeeded" || status == "failed" || status == "cancelled" || status == "skipped"
}

// WaitRun waits until run id has status want and returns the run as GET
// /api/v1/runs/{id} answers it. It fails the test at once when the run
// finishes with another status, and after WaitLimit.
func WaitRun(t testing.TB, c *Client, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		var run map[string]any
		c.Must(t, 200, "GET", "/api/v1/runs/"+id, nil, &run)
		switch s := run["status"]; {
		case s == want:
			return run
		case Finished(s):
			t.Fatalf("run %s finished %v, want %s: %v", id, s, want, run)
		case time.Now().After(deadline):
			t.Fatalf("run %s is %v after %v, want %s: %v", id, s, WaitLimit, want, run)
		}
		time.Sleep(pollEvery)
	}
}

// Runs lists an automation's runs (the first 500, newest first).
func Runs(t testing.TB, c *Client, automationID string) []map[string]any {
	t.Helper()
	var list struct{ Items []map[string]any }
	c.Must(t, 200, "GET", "/api/v1/automations/"+automationID+"/runs?limit=500", nil, &list)
	return list.Items
}

// WaitRuns waits until an automation has n runs, all finished, and returns
// them (newest first). More than n fails the test at once.
func WaitRuns(t testing.TB, c *Client, automationID string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		runs := Runs(t, c, automationID)
		done := len(runs) == n
		for _, r := range runs {
			if !Finished(r["status"]) {
				done = false
			}
		}
		switch {
		case done:
			return runs
		case len(runs) > n:
			t.Fatalf("automation %s: %d runs, want %d: %v", automationID, len(runs), n, runs)
		case time.Now().After(deadline):
			t.Fatalf("automation %s: %d runs %v after %v, want %d finished", automationID, len(runs), runs, WaitLimit, n)
		}
		time.Sleep(pollEvery)
	}
}

// WaitIdle waits until node n has nothing to work: no queue job available
// to a worker or running, none the engine is working. Every run due by
// then has been worked, and every run its steps caused too (they are
// enqueued in the same transaction); runs waiting for a retry time stay
// scheduled. After it, "nothing more happened" can be asserted without a
// sleep.
func WaitIdle(t testing.TB, n *server.Node) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		busy, err := Busy(context.Background(), n)
		switch {
		case err != nil:
			t.Fatalf("wait idle: %v", err)
		case busy == 0:
			return
		case time.Now().After(deadline):
			t.Fatalf("the node still has %d queue jobs to work after %v", busy, WaitLimit)
		}
		time.Sleep(pollEvery)
	}
}

// Busy returns how many queue jobs node n has to work now: available,
// running or retryable in the queue, or being worked by its engine.
func Busy(ctx context.Context, n *server.Node) (int, error) {
	counts, err := n.Store.CountJobsByState(ctx)
	if err != nil {
		return 0, err
	}
	return counts["available"] + counts["running"] + counts["retryable"] + len(n.Engine.WorkingJobs()), nil
}
