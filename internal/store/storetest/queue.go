package storetest

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/store"
)

func testEnqueueRun(t *testing.T, s *suite) {
	ctx := context.Background()
	rec := newRecorder(nil)
	st := s.open(t, store.Config{Workers: rec.workers})
	count := func() int {
		n, err := st.CountJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// One run for now is one job; runs for now enqueued together are
	// merged into jobs of up to 64 runs; a run for later keeps a job of its
	// own, scheduled.
	enqueue(t, st, time.Time{}, store.RunJob{OrgID: "org_a", RunID: "single", Seq: 1})
	if n := count(); n != 1 {
		t.Errorf("%d jobs for one run, want 1", n)
	}
	want := map[string]bool{"single": true}
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		for i := range 130 {
			id := fmt.Sprint("merged-", i)
			tx.EnqueueRun(store.RunJob{OrgID: "org_a", RunID: id, Seq: 1}, time.Time{})
			want[id] = true
		}
		tx.EnqueueRun(store.RunJob{OrgID: "org_a", RunID: "later", Seq: 2}, time.Now().Add(time.Hour))
		return nil
	})
	if n := count(); n != 1+3+1 {
		t.Errorf("%d jobs, want 5: one, three for 130 runs, one scheduled", n)
	}
	if m, err := st.CountJobsByState(ctx); err != nil || m["available"] != 4 || m["scheduled"] != 1 {
		t.Errorf("jobs by state = %v (%v), want 4 available and 1 scheduled", m, err)
	}
	start(t, st)
	worked := map[string]bool{}
	for range want {
		j := recv(t, "the runs for now", rec.jobs)
		if j.Seq != 1 || j.OrgID != "org_a" {
			t.Errorf("worked %+v", j)
		}
		worked[j.RunID] = true
	}
	if !maps.Equal(worked, want) {
		t.Errorf("worked %d runs, want %d: %v", len(worked), len(want), worked)
	}
}

func testCountJobs(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	if n, err := st.CountJobs(ctx); err != nil || n != 0 {
		t.Errorf("jobs of a new store = %d, %v", n, err)
	}
	enqueue(t, st, time.Time{}, store.RunJob{OrgID: "org_a", RunID: "a", Seq: 1})
	enqueue(t, st, time.Now().Add(time.Hour), store.RunJob{OrgID: "org_a", RunID: "b", Seq: 1})
	if n, err := st.CountJobs(ctx); err != nil || n != 2 {
		t.Errorf("jobs = %d, %v; want 2", n, err)
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		tx.EnqueueRun(store.RunJob{OrgID: "org_a", RunID: "c", Seq: 1}, time.Time{})
		if n, err := tx.CountJobs(ctx); err != nil || n != 2 {
			t.Errorf("jobs inside the transaction = %d, %v; want 2: jobs are inserted at its end", n, err)
		}
		return nil
	})
	if n, err := st.CountJobs(ctx); err != nil || n != 3 {
		t.Errorf("jobs = %d, %v; want 3", n, err)
	}
}

func testCountJobsByState(t *testing.T, s *suite) {
	ctx := context.Background()
	rec := newRecorder(nil)
	st := s.open(t, store.Config{Workers: rec.workers})
	if m, err := st.CountJobsByState(ctx); err != nil || len(m) != 0 {
		t.Errorf("jobs of a new store = %v, %v", m, err)
	}
	enqueue(t, st, time.Now().Add(time.Hour), store.RunJob{OrgID: "org_a", RunID: "later", Seq: 1})
	enqueue(t, st, time.Time{}, store.RunJob{OrgID: "org_a", RunID: "now", Seq: 1})
	if m, err := st.CountJobsByState(ctx); err != nil || !maps.Equal(m, map[string]int{"available": 1, "scheduled": 1}) {
		t.Errorf("jobs by state = %v, %v; want one available, one scheduled", m, err)
	}
	// Worked jobs are finished: no longer counted.
	start(t, st)
	recv(t, "the job for now", rec.jobs)
	waitFor(t, "the worked job finished", func() bool {
		m, err := st.CountJobsByState(ctx)
		return err == nil && maps.Equal(m, map[string]int{"scheduled": 1})
	})
}

func testJobKinds(t *testing.T, s *suite) {
	// Kinds are stored with every job: a new name would orphan the jobs
	// already queued when a node is upgraded.
	if k := (store.RunJob{}).Kind(); k != "autohook.run" {
		t.Errorf("RunJob kind %q", k)
	}
	if k := (store.RunBatchJob{}).Kind(); k != "autohook.runs" {
		t.Errorf("RunBatchJob kind %q", k)
	}
}

func testJobInsertOpts(t *testing.T, s *suite) {
	// River's attempts only cover infrastructure failures (runs keep their
	// own retry schedule), so many.
	for _, o := range []int{(store.RunJob{}).InsertOpts().MaxAttempts, (store.RunBatchJob{}).InsertOpts().MaxAttempts} {
		if o != 25 {
			t.Errorf("MaxAttempts %d, want 25", o)
		}
	}
}
