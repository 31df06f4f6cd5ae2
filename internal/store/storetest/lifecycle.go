package storetest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/store"
)

func testOpen(t *testing.T, s *suite) {
	ctx := context.Background()
	t.Run("AgainKeepsEverything", func(t *testing.T) {
		url := s.b.NewURL(t)
		first, err := store.Open(ctx, store.Config{URL: url, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		org := newOrg(t, first)
		if err := first.Close(ctx); err != nil {
			t.Fatal(err)
		}
		again := s.openURL(t, store.Config{URL: url}) // migrations already applied: nothing to do
		if _, _, err := again.Collections(ctx, org, store.Page{}); err != nil {
			t.Fatal(err)
		}
		if n, err := again.CountOrganisations(ctx); err != nil || n != 1 {
			t.Errorf("organisations after reopening = %d (%v), want 1", n, err)
		}
	})
	if s.b.Clustered {
		t.Run("NodesStartingTogether", func(t *testing.T) {
			url := s.b.NewURL(t)
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i := range errs {
				wg.Go(func() {
					st, err := store.Open(ctx, store.Config{URL: url, MaxConns: 2})
					if err == nil {
						err = st.Close(ctx)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Errorf("nodes opening one database at once: %v", err)
			}
		})
	}
	t.Run("Refused", func(t *testing.T) {
		for _, c := range []struct {
			url, want, hidden string
		}{
			{"mysql://u:pw@localhost/x", "must start with sqlite: or postgres://", "pw"},
			{"", "must start with sqlite: or postgres://", ""},
			{"sqlite:", "empty path", ""},
			{"sqlite:" + t.TempDir(), "sqlite", ""}, // a directory
			{"postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=5", "postgres", "hunter2"},
		} {
			st, err := store.Open(ctx, store.Config{URL: c.url})
			if err == nil {
				st.Close(ctx)
				t.Errorf("Open(%q) succeeded", c.url)
				continue
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open(%q) = %v, want it to say %q", c.url, err, c.want)
			}
			if c.hidden != "" && strings.Contains(err.Error(), c.hidden) {
				t.Errorf("Open(%q) = %v: shows the password", c.url, err)
			}
		}
	})
}

func testSchemaID(t *testing.T, s *suite) {
	a, err := store.SchemaID()
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.SchemaID()
	if err != nil {
		t.Fatal(err)
	}
	if a != b || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a) {
		t.Errorf("SchemaID = %q then %q, want the same 16 hex digits", a, b)
	}
}

func testKind(t *testing.T, s *suite) {
	if got := s.shared.Kind(); got != s.b.Name {
		t.Errorf("Kind = %q, want %q", got, s.b.Name)
	}
}

func testNow(t *testing.T, s *suite) {
	ctx := context.Background()
	clock := time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.FixedZone("UTC+1", 3600))
	st := s.open(t, store.Config{Now: func() time.Time { return clock }})
	want := time.Date(2030, 1, 2, 2, 4, 5, 678901000, time.UTC)
	if got := st.Now(); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Now = %v, want %v (UTC, whole microseconds)", got, want)
	}
	var org *store.Organisation
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		if got := tx.Now(); !got.Equal(want) {
			t.Errorf("Tx.Now = %v, want %v", got, want)
		}
		var err error
		org, err = tx.CreateOrganisation(ctx, "A")
		return err
	})
	orgs, _, err := st.Organisations(ctx, store.Page{})
	if err != nil || len(orgs) != 1 {
		t.Fatalf("organisations = %v, %v", orgs, err)
	}
	if !org.CreatedAt.Equal(want) || !orgs[0].CreatedAt.Equal(want) {
		t.Errorf("stamped %v, read back %v; want %v", org.CreatedAt, orgs[0].CreatedAt, want)
	}
}

// recorder is a node's workers that report every run job they work.
type recorder struct {
	workers *river.Workers
	jobs    chan store.RunJob
	// block, if not nil, holds every job until it is closed.
	block chan struct{}
	done  atomic.Int32
}

func newRecorder(block chan struct{}) *recorder {
	r := &recorder{workers: river.NewWorkers(), jobs: make(chan store.RunJob, 1000), block: block}
	work := func(ctx context.Context, runs ...store.RunJob) error {
		for _, j := range runs {
			r.jobs <- j
		}
		if r.block != nil {
			<-r.block
		}
		r.done.Add(1)
		return nil
	}
	river.AddWorker(r.workers, river.WorkFunc(func(ctx context.Context, j *river.Job[store.RunJob]) error { return work(ctx, j.Args) }))
	river.AddWorker(r.workers, river.WorkFunc(func(ctx context.Context, j *river.Job[store.RunBatchJob]) error { return work(ctx, j.Args.Runs...) }))
	return r
}

func enqueue(t *testing.T, st *store.Store, at time.Time, jobs ...store.RunJob) {
	t.Helper()
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		for _, j := range jobs {
			tx.EnqueueRun(j, at)
		}
		return nil
	})
}

func start(t *testing.T, st *store.Store) {
	t.Helper()
	if err := st.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
}

func testStart(t *testing.T, s *suite) {
	rec := newRecorder(nil)
	st := s.open(t, store.Config{Workers: rec.workers})
	before := store.RunJob{OrgID: "org_a", RunID: "run_before", Seq: 1}
	enqueue(t, st, time.Time{}, before)
	start(t, st)
	if got := recv(t, "the job enqueued before Start", rec.jobs); got != before {
		t.Errorf("worked %+v, want %+v", got, before)
	}
	after := store.RunJob{OrgID: "org_a", RunID: "run_after", Seq: 2}
	enqueue(t, st, time.Time{}, after)
	if got := recv(t, "the job enqueued after Start", rec.jobs); got != after {
		t.Errorf("worked %+v, want %+v", got, after)
	}
	// A job scheduled a moment ahead is worked at its time, not before
	// (and not at River's next 5 s pass: the promoter).
	due := time.Now().Add(300 * time.Millisecond)
	later := store.RunJob{OrgID: "org_a", RunID: "run_later", Seq: 3}
	enqueue(t, st, due, later)
	if got := recv(t, "the scheduled job", rec.jobs); got != later {
		t.Errorf("worked %+v, want %+v", got, later)
	}
	if early := time.Until(due); early > time.Millisecond {
		t.Errorf("the scheduled job was worked %v early", early)
	}
	waitFor(t, "worked jobs leave the queue", func() bool {
		m, err := st.CountJobsByState(context.Background())
		return err == nil && len(m) == 0
	})
}

func testStop(t *testing.T, s *suite) {
	ctx := context.Background()
	t.Run("NeverStarted", func(t *testing.T) {
		if err := s.shared.Stop(ctx); err != nil {
			t.Errorf("Stop of a store never started: %v", err)
		}
	})
	t.Run("WaitsForJobsInFlight", func(t *testing.T) {
		release := make(chan struct{})
		rec := newRecorder(release)
		st := s.open(t, store.Config{Workers: rec.workers})
		enqueue(t, st, time.Time{}, store.RunJob{OrgID: "org_a", RunID: "run_a", Seq: 1})
		start(t, st)
		recv(t, "the job", rec.jobs)
		stopped := make(chan int32)
		go func() {
			if err := st.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
			stopped <- rec.done.Load()
		}()
		close(release)
		if done := recv(t, "Stop returning", stopped); done != 1 {
			t.Errorf("Stop returned with %d jobs finished, want 1: it must wait for the job in flight", done)
		}
		if err := st.Stop(ctx); err != nil {
			t.Errorf("a second Stop: %v", err)
		}
	})
}

func testClose(t *testing.T, s *suite) {
	ctx := context.Background()
	url := s.b.NewURL(t)
	st, err := store.Open(ctx, store.Config{URL: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	org := newOrg(t, st)
	// Writers busy as Close comes: each Write is answered, committed or
	// refused as unavailable (store.ErrClosed), never left hanging, and
	// Close waits for the writes it let in.
	const writers = 8
	results := make(chan error, writers)
	started := make(chan struct{}, writers)
	for i := range writers {
		go func() {
			for n := 0; ; n++ {
				err := try(st, func(ctx context.Context, tx *store.Tx) error {
					return tx.SetMeta(ctx, fmt.Sprintf("close-%d", i), strconv.Itoa(n))
				})
				if n == 0 {
					started <- struct{}{}
				}
				if err != nil {
					results <- err
					return
				}
			}
		}()
	}
	for range writers {
		recv(t, "a writer's first write", started)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	for range writers {
		if err := recv(t, "a writer's answer once closed", results); !errors.Is(err, store.ErrClosed) || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a write as the store closes: %v, want store.ErrClosed, an ErrUnavailable", err)
		}
	}
	done := make(chan error)
	go func() { done <- try(st, func(ctx context.Context, tx *store.Tx) error { return nil }) }()
	if err := recv(t, "Write after Close", done); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Write after Close: %v, want store.ErrClosed", err)
	}
	if _, _, err := st.Collections(ctx, org, store.Page{}); err == nil {
		t.Error("a read after Close succeeded")
	}
}

func testResumeOrphanedJobs(t *testing.T, s *suite) {
	ctx := context.Background()
	url := s.b.NewURL(t)
	release := make(chan struct{})
	// Nodes whose jobs stay running, as a process that died leaves them;
	// one worker each, so each node holds one job.
	nodes := []string{"node-1"}
	if s.b.Clustered {
		nodes = append(nodes, "node-2")
	}
	var running []*recorder
	for _, id := range nodes {
		rec := newRecorder(release)
		st := s.openURL(t, store.Config{URL: url, Workers: rec.workers, NodeID: id, Queue: store.QueueConfig{MaxWorkers: 1}})
		enqueue(t, st, time.Time{}, store.RunJob{OrgID: "org_a", RunID: "run_" + id, Seq: 1})
		start(t, st)
		recv(t, "the job of "+id, rec.jobs)
		running = append(running, rec)
	}
	t.Cleanup(func() { close(release) }) // before the nodes close
	restarted := s.openURL(t, store.Config{URL: url})
	if s.b.Clustered {
		for _, other := range []string{"", "node-3"} {
			if n, err := restarted.ResumeOrphanedJobs(ctx, other); err != nil || n != 0 {
				t.Errorf("ResumeOrphanedJobs(%q) = %d, %v; want 0: those jobs are other nodes'", other, n, err)
			}
		}
	}
	n, err := restarted.ResumeOrphanedJobs(ctx, "node-1")
	if err != nil || n != 1 {
		t.Fatalf("ResumeOrphanedJobs(node-1) = %d, %v; want 1", n, err)
	}
	m, err := restarted.CountJobsByState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"available": 1}
	if s.b.Clustered {
		want["running"] = 1 // node-2's job stays with node-2
	}
	if m["available"] != want["available"] || m["running"] != want["running"] {
		t.Errorf("jobs = %v, want %v", m, want)
	}
}

// testStats: every statement of a write counts; a PostgreSQL store takes
// round trips (at least one per write), SQLite none.
func testStats(t *testing.T, s *suite) {
	st := s.open(t, store.Config{})
	before := st.Stats()
	newOrg(t, st)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.CountOrganisations(ctx)
		return err
	})
	after := st.Stats()
	if got := after.Statements - before.Statements; got < 2 {
		t.Errorf("statements counted for two writes = %d, want at least 2", got)
	}
	trips := after.RoundTrips - before.RoundTrips
	switch {
	case s.b.Clustered && trips < 2:
		t.Errorf("round trips for two writes = %d, want at least 2", trips)
	case !s.b.Clustered && trips != 0:
		t.Errorf("round trips on an in-process database = %d, want 0", trips)
	}
}

// testCountStatementTexts: off, Stats has no texts; on, every statement
// counted from then on is counted under its text (whitespace folded), and
// the texts add up to the statements.
func testCountStatementTexts(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.open(t, store.Config{})
	org := newOrg(t, st)
	if got := st.Stats().ByText; got != nil {
		t.Fatalf("ByText before CountStatementTexts = %v, want nil", got)
	}
	st.CountStatementTexts()
	before := st.Stats()
	for range 3 {
		if _, err := st.CountRuns(ctx, org, store.RunFilter{}, 10); err != nil {
			t.Fatal(err)
		}
	}
	after := st.Stats()
	var sum int64
	for q, n := range after.ByText {
		if strings.Join(strings.Fields(q), " ") != q {
			t.Errorf("text %q: whitespace not folded", q)
		}
		sum += n - before.ByText[q]
	}
	if total := after.Statements - before.Statements; sum != total || total < 3 {
		t.Errorf("texts add up to %d statements, counted %d; want the same, at least 3", sum, total)
	}
	found := false
	for q, n := range after.ByText {
		if strings.Contains(q, "COUNT(*)") && strings.Contains(q, "runs") && n-before.ByText[q] >= 3 {
			found = true
		}
	}
	if !found {
		t.Errorf("the three counts of runs are not under their text: %v", after.ByText)
	}
}

// testSizeBytes: the database has a size, and it grows with what is stored.
func testSizeBytes(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.open(t, store.Config{})
	before, err := st.SizeBytes(ctx)
	if err != nil || before <= 0 {
		t.Fatalf("SizeBytes = %d, %v; want a positive size", before, err)
	}
	big := strings.Repeat("x", 4000)
	for range 200 {
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			_, err := tx.CreateOrganisation(ctx, big)
			return err
		})
	}
	after, err := st.SizeBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("SizeBytes after storing 800 kB = %d, before %d: want it to grow", after, before)
	}
}
