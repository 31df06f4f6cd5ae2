package server_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
	"github.com/autohook/autohook/internal/store"
)

// A run is worked by one job at a time: two jobs of one run's generation
// (seq) must never both send its request. After a kill -9, a batch job
// resumed at the restart still listed the runs it had handed back to the
// queue as jobs of their own, at the same generation: both jobs worked such
// a run at once, its request arrived twice after the restart and the
// second attempt's insert failed "UNIQUE constraint failed: attempts"
// (TestCrashLosesNothing, under load). These cases make those two jobs
// without a crash or load.
func TestOneJobPerRunGeneration(t *testing.T) {
	for _, c := range []struct {
		name string
		test func(t *testing.T, db func(*server.Config))
	}{
		{"a second job of the generation while the first sends", testSecondJobOfAGeneration},
		{"a batch that handed a run back is worked again", testBatchWorkedAgain},
	} {
		t.Run(c.name, func(t *testing.T) { eachDB(t, c.test) })
	}
}

func testSecondJobOfAGeneration(t *testing.T, db func(*server.Config)) {
	{
		g := newGenerationFixture(t, 1, db)
		rec := g.createRecord()
		g.rcv.Next(t) // the first job's request, held
		runs := g.runs(rec)
		if len(runs) != 1 {
			t.Fatalf("%d runs, want 1", len(runs))
		}
		r := runs[0]
		// What a resumed or rescued job is: another job of the run's
		// generation while its first job still works it.
		g.write(func(tx *store.Tx) error {
			tx.EnqueueRun(store.RunJob{OrgID: g.org, RunID: r.ID, Seq: r.Seq}, time.Time{})
			return nil
		})
		g.waitQueueHoldsOnlyTheHeldJob()
		g.release()
		g.checkEachSentOnce(rec, 1)
	}
}

func testBatchWorkedAgain(t *testing.T, db func(*server.Config)) {
	{
		// One worker: a record that fires two automations makes one batch
		// job of two runs; the second finds no room (the first is held at
		// the receiver) and is handed back to the queue.
		g := newGenerationFixture(t, 2, db, func(c *server.Config) { c.MaxWorkers = 1 })
		rec := g.createRecord()
		g.rcv.Next(t)
		runs := g.runs(rec)
		if len(runs) != 2 {
			t.Fatalf("%d runs, want 2", len(runs))
		}
		// The handed-back run is at its next generation, so the batch's
		// copy of it is stale.
		deadline := time.Now().Add(15 * time.Second)
		for {
			runs = g.runs(rec)
			if runs[0].Seq == 2 || runs[1].Seq == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("runs at seq %d and %d 15 s after the batch began, want one handed back at seq 2: the batch, worked again, would work it alongside its own job",
					runs[0].Seq, runs[1].Seq)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The batch worked again (resumed after a crash, retried): its
		// runs at the generation it had.
		g.write(func(tx *store.Tx) error {
			for _, r := range runs {
				tx.EnqueueRun(store.RunJob{OrgID: g.org, RunID: r.ID, Seq: 1}, time.Time{})
			}
			return nil
		})
		g.release()
		g.checkEachSentOnce(rec, 2)
	}
}

// generationFixture is a node whose automations, each a call_api step
// fired by a new record, send to a receiver that holds the first request
// until release.
type generationFixture struct {
	t       *testing.T
	nd      *node
	rcv     *servertest.Receiver
	org     string
	autos   []string
	release func()
}

func newGenerationFixture(t *testing.T, automations int, options ...func(*server.Config)) *generationFixture {
	nd := flNode(t, options...)
	held := make(chan struct{})
	var once sync.Once
	var n atomic.Int64
	g := &generationFixture{t: t, nd: nd, release: func() { once.Do(func() { close(held) }) }}
	g.rcv = servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-held:
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	t.Cleanup(g.release) // before the receiver closes
	for i := range automations {
		var a map[string]any
		nd.must(201, "POST", "/api/v1/automations", map[string]any{
			"name": "send " + string(rune('a'+i)), "collection": "leads", "enabled": true,
			"trigger": map[string]any{"type": "record_added"},
			"steps":   []any{map[string]any{"id": "send", "type": "call_api", "method": "POST", "url": g.rcv.URL + "/leads"}},
		}, &a)
		g.autos = append(g.autos, a["id"].(string))
	}
	orgs, _, err := nd.Server.Store.Organisations(context.Background(), store.Page{})
	if err != nil || len(orgs) != 1 {
		t.Fatalf("organisations: %v, %v; want one", orgs, err)
	}
	g.org = orgs[0].ID
	return g
}

func (g *generationFixture) createRecord() string {
	var rec map[string]any
	g.nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Ada"}}, &rec)
	return rec["id"].(string)
}

// runs returns the record's runs as stored.
func (g *generationFixture) runs(recordID string) []*automation.Run {
	g.t.Helper()
	runs, _, err := g.nd.Server.Store.Runs(context.Background(), g.org, store.RunFilter{RecordID: recordID}, store.Page{})
	if err != nil {
		g.t.Fatal(err)
	}
	return runs
}

func (g *generationFixture) write(fn func(tx *store.Tx) error) {
	g.t.Helper()
	if err := g.nd.Server.Store.Write(context.Background(), fn); err != nil {
		g.t.Fatal(err)
	}
}

// waitQueueHoldsOnlyTheHeldJob waits until the queue's only unfinished
// job is the one held at the receiver (the others were worked), or a
// second request arrived.
func (g *generationFixture) waitQueueHoldsOnlyTheHeldJob() {
	g.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := g.nd.Server.Store.CountJobsByState(context.Background())
		if err != nil {
			g.t.Fatal(err)
		}
		if m["running"] == 1 && m["available"]+m["scheduled"]+m["retryable"] == 0 || g.rcv.Count() > 1 {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("jobs by state %v after 15 s, want only the one held at the receiver", m)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkEachSentOnce waits until the record's n runs succeeded, then checks
// that each run's request arrived once and its step has one attempt.
func (g *generationFixture) checkEachSentOnce(recordID string, n int) {
	g.t.Helper()
	var runs []*automation.Run
	deadline := time.Now().Add(servertest.WaitLimit)
	for {
		runs = g.runs(recordID)
		done := 0
		for _, r := range runs {
			if r.Status.Finished() {
				done++
			}
		}
		if len(runs) == n && done == n {
			break
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%d of %d runs finished after %v", done, n, servertest.WaitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	arrivals := map[string]int{}
	for _, r := range g.rcv.Requests() {
		arrivals[r.Header.Get("Idempotency-Key")]++
	}
	for _, r := range runs {
		full, err := g.nd.Server.Store.RunWithAttempts(context.Background(), g.org, r.ID)
		if err != nil {
			g.t.Fatal(err)
		}
		key := r.ID + ".send"
		if full.Status != automation.StatusSucceeded || len(full.Steps[0].Attempts) != 1 || arrivals[key] != 1 {
			g.t.Errorf("run %s: %s with %d attempts, its request arrived %d times; want succeeded, sent and recorded once (%+v)",
				r.ID, full.Status, len(full.Steps[0].Attempts), arrivals[key], full.Error)
		}
	}
}
