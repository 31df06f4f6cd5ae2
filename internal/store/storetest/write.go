package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

var errBoom = errors.New("boom")

func testWrite(t *testing.T, s *suite) {
	ctx := context.Background()
	t.Run("AllOrNothing", func(t *testing.T) {
		st := s.shared
		org := newOrg(t, st)
		err := try(st, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.CreateCollection(ctx, org, leads()); err != nil {
				return err
			}
			if err := tx.InsertRecord(ctx, org, &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{}}); err != nil {
				return err
			}
			tx.EnqueueRun(store.RunJob{OrgID: org, RunID: "run_x", Seq: 1}, time.Time{})
			return fmt.Errorf("after three writes: %w", errBoom)
		})
		wantErr(t, "Write", err, errBoom)
		if _, err := st.Collection(ctx, org, "leads"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the collection of a failed Write: %v, want ErrNotFound", err)
		}
		if recs, _, err := st.Records(ctx, org, "leads", store.RecordFilter{}, store.Page{}); err != nil || len(recs) != 0 {
			t.Errorf("records of a failed Write: %d (%v), want none", len(recs), err)
		}
	})
	t.Run("Panic", func(t *testing.T) {
		st := s.shared
		org := newOrg(t, st)
		got := func() (p any) {
			defer func() { p = recover() }()
			_ = try(st, func(ctx context.Context, tx *store.Tx) error {
				if err := tx.CreateCollection(ctx, org, leads()); err != nil {
					return err
				}
				panic("boom")
			})
			return nil
		}()
		if got != "boom" {
			t.Errorf("Write's caller recovered %v, want the function's panic", got)
		}
		if _, err := st.Collection(ctx, org, "leads"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the collection of a panicking Write: %v, want ErrNotFound", err)
		}
		newCollection(t, st, org) // and the store goes on
	})
	t.Run("BatchRollsBackAFailingCallAlone", func(t *testing.T) {
		rec := newRecorder(nil)
		st := s.open(t, store.Config{Writers: 1, Workers: rec.workers})
		// Each call adds a record, a run job for now and one for an hour
		// from now; the odd ones then fail, one of them by panicking.
		var org string
		b := inOneBatch(t, st, func() scenario {
			org = newOrg(t, st)
			newCollection(t, st, org)
			calls := make([]call, 6)
			for i := range calls {
				calls[i] = call{ctx: ctx, fn: func(ctx context.Context, tx *store.Tx) error {
					r := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"name": fmt.Sprint(i)}}
					if err := tx.InsertRecord(ctx, org, r); err != nil {
						return err
					}
					tx.EnqueueRun(store.RunJob{OrgID: org, RunID: fmt.Sprint("now-", i), Seq: 1}, time.Time{})
					tx.EnqueueRun(store.RunJob{OrgID: org, RunID: fmt.Sprint("later-", i), Seq: 1}, time.Now().Add(time.Hour))
					switch {
					case i == 3:
						panic("boom")
					case i%2 == 1:
						return errBoom
					}
					return nil
				}}
			}
			return scenario{calls: calls}
		})
		for i, r := range b.results {
			switch {
			case i == 3:
				if r.panicked != "boom" || r.err != nil {
					t.Errorf("call %d: %v, panic %v; want its panic", i, r.err, r.panicked)
				}
			case i%2 == 1:
				wantErr(t, fmt.Sprint("call ", i), r.err, errBoom)
			default:
				wantErr(t, fmt.Sprint("call ", i), r.err, nil)
			}
		}
		if committed := slices.Sorted(slices.Values(b.committed)); !slices.Equal(committed, []int{0, 2, 4}) {
			t.Errorf("OnCommit ran for calls %v, want 0, 2 and 4", b.committed)
		}
		if names := recordNames(t, st, org); !slices.Equal(names, []string{"0", "2", "4"}) {
			t.Errorf("records %v, want those of calls 0, 2 and 4", names)
		}
		// The jobs of the failed calls went with them: three scheduled,
		// and the three runs for now merged into one job.
		m, err := st.CountJobsByState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m["scheduled"] < 3 || m["scheduled"]%3 != 0 || m["available"] < 1 {
			t.Errorf("jobs %v, want 3 scheduled and 1 available (per try)", m)
		}
		if worked, want := workedRuns(t, st, rec, org, 3), map[string]bool{"now-0": true, "now-2": true, "now-4": true}; !maps.Equal(worked, want) {
			t.Errorf("worked %v, want the runs of calls 0, 2 and 4", worked)
		}
	})
	t.Run("AStatementFailingInTheDatabaseFailsItsCallAlone", func(t *testing.T) {
		// PostgreSQL sends a call's inserts with a later statement
		// (pipelining): the database's refusal of one (here a duplicate
		// id) must still fail that call alone.
		rec := newRecorder(nil)
		st := s.open(t, store.Config{Writers: 1, Workers: rec.workers})
		var dup *record.Record
		org, b := oddCallsFail(t, st, func(org string) {
			dup = newRecord(t, st, org, map[string]any{"name": "taken"})
		}, nil, func(ctx context.Context, tx *store.Tx, org string, i int) error {
			again := &record.Record{ID: dup.ID, Collection: "leads", Stage: "New", Fields: map[string]any{"name": fmt.Sprint("dup-", i)}}
			return tx.InsertRecord(ctx, org, again)
		})
		wantOddCallsFailed(t, st, org, b, "taken", func(i int, err error) {
			if err == nil {
				t.Errorf("call %d, whose insert the database refused: no error", i)
			}
		})
		if worked, want := workedRuns(t, st, rec, org, 3), map[string]bool{"now-0": true, "now-2": true, "now-4": true}; !maps.Equal(worked, want) {
			t.Errorf("worked %v, want the runs of calls 0, 2 and 4: a failed call's job goes with it", worked)
		}
	})
	t.Run("ACheckedWriteMatchingNoRowFailsItsCallAlone", func(t *testing.T) {
		// PostgreSQL holds a write that must match a row (UpdateRecord's
		// version check) and sends it with a later statement, the
		// database refusing it when no row matched: the call's error must
		// still be the conflict, and that call alone fail. The even
		// calls' checked writes match, and commit.
		st := s.open(t, store.Config{Writers: 1})
		var target *record.Record
		org, b := oddCallsFail(t, st, func(org string) {
			target = newRecord(t, st, org, map[string]any{"name": "target"})
		}, func(ctx context.Context, tx *store.Tx, org string, r *record.Record) error {
			r.Stage = "Won"
			return tx.UpdateRecord(ctx, org, r)
		}, func(ctx context.Context, tx *store.Tx, org string, i int) error {
			stale := *target
			stale.Version, stale.Fields = 7, map[string]any{"name": fmt.Sprint("stale-", i)}
			return tx.UpdateRecord(ctx, org, &stale)
		})
		wantOddCallsFailed(t, st, org, b, "target", func(i int, err error) {
			wantErr(t, fmt.Sprint("call ", i, ", whose update was stale"), err, store.ErrRecordChanged)
			if want := fmt.Sprintf("record %s changed meanwhile", target.ID); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("call %d: %v, want an error saying %q", i, err, want)
			}
		})
		recs, _, err := st.Records(ctx, org, "leads", store.RecordFilter{}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if want := map[bool]int64{true: 1, false: 2}[r.ID == target.ID]; r.Version != want {
				t.Errorf("record %v at version %d, want %d", r.Fields["name"], r.Version, want)
			}
		}
	})
	t.Run("CallerCancelledBeforeItsTurn", func(t *testing.T) {
		st := s.open(t, store.Config{Writers: 1})
		var org string
		b := inOneBatch(t, st, func() scenario {
			org = newOrg(t, st)
			cctx, cancel := context.WithCancel(ctx)
			return scenario{calls: []call{
				{ctx: ctx, fn: func(ctx context.Context, tx *store.Tx) error { return tx.CreateCollection(ctx, org, leads()) }},
				{ctx: cctx, fn: func(ctx context.Context, tx *store.Tx) error {
					t.Error("the function of a cancelled caller ran")
					return nil
				}},
			}, queued: cancel}
		})
		wantErr(t, "the cancelled call", b.results[1].err, context.Canceled)
		wantErr(t, "the other call", b.results[0].err, nil)
		if _, err := st.Collection(ctx, org, "leads"); err != nil {
			t.Errorf("the other call's collection: %v", err)
		}
	})
	t.Run("CallerCancelledDuringItsTurn", func(t *testing.T) {
		// A caller that gives up while its function runs fails alone: the
		// batch's other calls, before and after it, commit.
		st := s.open(t, store.Config{Writers: 1})
		var org string
		b := inOneBatch(t, st, func() scenario {
			org = newOrg(t, st)
			newCollection(t, st, org)
			cctx, cancel := context.WithCancel(ctx)
			return scenario{calls: []call{
				{ctx: ctx, fn: insertNamed(org, "before")},
				{ctx: cctx, fn: func(ctx context.Context, tx *store.Tx) error {
					if err := insertNamed(org, "cancelled")(ctx, tx); err != nil {
						return err
					}
					cancel()
					return insertNamed(org, "cancelled")(ctx, tx)
				}},
				{ctx: ctx, fn: insertNamed(org, "after")},
			}}
		})
		wantErr(t, "the cancelled call", b.results[1].err, context.Canceled)
		wantErr(t, "the call before it", b.results[0].err, nil)
		wantErr(t, "the call after it", b.results[2].err, nil)
		if names := recordNames(t, st, org); !slices.Equal(names, []string{"after", "before"}) {
			t.Errorf("records %v, want those of the calls before and after", names)
		}
	})
	if s.b.Clustered {
		t.Run("CallerCancelledWhileWaitingOnALock", func(t *testing.T) {
			// The cancelled call's statement is in flight (waiting for a
			// row another node holds) when its caller gives up; the other
			// node lets go a moment later.
			url := s.b.NewURL(t)
			st := s.openURL(t, store.Config{URL: url, Writers: 1})
			other := s.openURL(t, store.Config{URL: url})
			lockOrg := newOrg(t, st)
			newCollection(t, st, lockOrg)
			locked := newRecord(t, st, lockOrg, map[string]any{"name": "locked"})
			held, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			holder := make(chan error, 1)
			go func() {
				holder <- try(other, func(ctx context.Context, tx *store.Tx) error {
					if _, err := tx.RecordForUpdate(ctx, lockOrg, "leads", locked.ID); err != nil {
						return err
					}
					close(held)
					<-release
					return nil
				})
			}()
			defer releaseOnce.Do(func() { close(release) })
			recv(t, "the other node's lock", held)
			var org string
			b := inOneBatch(t, st, func() scenario {
				org = newOrg(t, st)
				newCollection(t, st, org)
				cctx, cancel := context.WithCancel(ctx)
				waiting := make(chan struct{})
				go func() {
					<-waiting
					time.Sleep(100 * time.Millisecond) // let the statement reach the lock
					cancel()
					time.Sleep(100 * time.Millisecond)
					releaseOnce.Do(func() { close(release) })
				}()
				return scenario{calls: []call{
					{ctx: ctx, fn: insertNamed(org, "before")},
					{ctx: cctx, fn: func(ctx context.Context, tx *store.Tx) error {
						if err := insertNamed(org, "cancelled")(ctx, tx); err != nil {
							return err
						}
						close(waiting)
						_, err := tx.RecordForUpdate(ctx, lockOrg, "leads", locked.ID)
						return err
					}},
					{ctx: ctx, fn: insertNamed(org, "after")},
				}}
			})
			if err := recv(t, "the other node", holder); err != nil {
				t.Error(err)
			}
			wantErr(t, "the cancelled call", b.results[1].err, context.Canceled)
			wantErr(t, "the call before it", b.results[0].err, nil)
			wantErr(t, "the call after it", b.results[2].err, nil)
			if names := recordNames(t, st, org); !slices.Equal(names, []string{"after", "before"}) {
				t.Errorf("records %v, want those of the calls before and after", names)
			}
		})
	}
}

// insertNamed inserts a record named name into org's leads.
func insertNamed(org, name string) func(ctx context.Context, tx *store.Tx) error {
	return func(ctx context.Context, tx *store.Tx) error {
		return tx.InsertRecord(ctx, org, &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"name": name}})
	}
}

// oddCallsFail runs six calls in one batch, in a new organisation with
// leads (and what setup adds). Each call inserts a record named after it
// and enqueues a run "now-i"; then the even calls run even (if any) on
// that record, and the odd ones spoil, which fails in the database. On
// PostgreSQL, which sends a statement with a later one (pipelining), the
// failure shows while the call runs (call 3 reads after it), after the call
// returned (at a later call's statement: call 1), or at the commit (call 5,
// the last).
func oddCallsFail(t *testing.T, st *store.Store, setup func(org string),
	even func(ctx context.Context, tx *store.Tx, org string, r *record.Record) error,
	spoil func(ctx context.Context, tx *store.Tx, org string, i int) error) (string, batch) {
	t.Helper()
	var org string
	b := inOneBatch(t, st, func() scenario {
		org = newOrg(t, st)
		newCollection(t, st, org)
		setup(org)
		calls := make([]call, 6)
		for i := range calls {
			calls[i] = call{ctx: context.Background(), fn: func(ctx context.Context, tx *store.Tx) error {
				r := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"name": fmt.Sprint(i)}}
				if err := tx.InsertRecord(ctx, org, r); err != nil {
					return err
				}
				tx.EnqueueRun(store.RunJob{OrgID: org, RunID: fmt.Sprint("now-", i), Seq: 1}, time.Time{})
				if i%2 == 0 {
					if even == nil {
						return nil
					}
					return even(ctx, tx, org, r)
				}
				if err := spoil(ctx, tx, org, i); err != nil {
					return err
				}
				if i == 3 { // a read after the failing statement
					_, _, err := tx.Records(ctx, org, "leads", store.RecordFilter{}, store.Page{})
					return err
				}
				return nil
			}}
		}
		return scenario{calls: calls}
	})
	return org, b
}

// wantOddCallsFailed checks oddCallsFail's batch: the even calls committed,
// and they alone (besides before, a record setup wrote); odd checks each
// odd call's error.
func wantOddCallsFailed(t *testing.T, st *store.Store, org string, b batch, before string, odd func(i int, err error)) {
	t.Helper()
	for i, r := range b.results {
		if i%2 == 1 {
			odd(i, r.err)
			continue
		}
		wantErr(t, fmt.Sprint("call ", i), r.err, nil)
	}
	if committed := slices.Sorted(slices.Values(b.committed)); !slices.Equal(committed, []int{0, 2, 4}) {
		t.Errorf("OnCommit ran for calls %v, want 0, 2 and 4", b.committed)
	}
	if names := recordNames(t, st, org); !slices.Equal(names, []string{"0", "2", "4", before}) {
		t.Errorf("records %v, want %q and those of calls 0, 2 and 4", names, before)
	}
}

// recordNames lists the names of org's leads, sorted.
// workedRuns starts st's workers and returns the runs of org they worked,
// once they have worked n.
func workedRuns(t *testing.T, st *store.Store, rec *recorder, org string, n int) map[string]bool {
	t.Helper()
	start(t, st)
	worked := map[string]bool{}
	waitFor(t, "the batch's runs worked", func() bool {
		for {
			select {
			case j := <-rec.jobs:
				if j.OrgID == org {
					worked[j.RunID] = true
				}
			default:
				return len(worked) >= n
			}
		}
	})
	return worked
}

func recordNames(t *testing.T, st *store.Store, org string) []string {
	t.Helper()
	recs, _, err := st.Records(context.Background(), org, "leads", store.RecordFilter{}, store.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, r := range recs {
		names = append(names, fmt.Sprint(r.Fields["name"]))
	}
	slices.Sort(names)
	return names
}

func testOnCommit(t *testing.T, s *suite) {
	st := s.shared
	org := newOrg(t, st)
	var ran []string
	var seen error = errors.New("not run")
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.CreateCollection(ctx, org, leads()); err != nil {
			return err
		}
		tx.OnCommit(func() {
			ran = append(ran, "first")
			_, seen = st.Collection(ctx, org, "leads") // through the read pool: committed
		})
		tx.OnCommit(func() { ran = append(ran, "second") })
		if len(ran) != 0 {
			t.Error("OnCommit ran a function before the commit")
		}
		return nil
	})
	if !slices.Equal(ran, []string{"first", "second"}) {
		t.Errorf("ran %v by the time Write returned, want [first second]", ran)
	}
	if seen != nil {
		t.Errorf("a function registered with OnCommit did not see the commit: %v", seen)
	}
	err := try(st, func(ctx context.Context, tx *store.Tx) error {
		tx.OnCommit(func() { t.Error("OnCommit ran a function of a failed Write") })
		return errBoom
	})
	wantErr(t, "the failed Write", err, errBoom)
}

func testLockCluster(t *testing.T, s *suite) {
	if !s.b.Clustered {
		// One writer: every transaction has the cluster to itself.
		write(t, s.shared, func(ctx context.Context, tx *store.Tx) error { return tx.LockCluster(ctx, "bootstrap") })
		return
	}
	url := s.b.NewURL(t)
	a, b := s.openURL(t, store.Config{URL: url}), s.openURL(t, store.Config{URL: url})
	// The second node takes the lock after the first node's transaction,
	// so it sees the organisation that transaction made.
	holdsUntilCommit(t, a, b,
		func(ctx context.Context, tx *store.Tx) error {
			if err := tx.LockCluster(ctx, "bootstrap"); err != nil {
				return err
			}
			_, err := tx.CreateOrganisation(ctx, "first")
			return err
		},
		func(ctx context.Context, tx *store.Tx) error {
			if err := tx.LockCluster(ctx, "bootstrap"); err != nil {
				return err
			}
			if n, err := tx.CountOrganisations(ctx); err != nil || n != 1 {
				return fmt.Errorf("the second holder counts %d organisations (%v), want the first holder's", n, err)
			}
			return nil
		})
	// Another name is another lock: taken while the first is held.
	took, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- try(a, func(ctx context.Context, tx *store.Tx) error {
			if err := tx.LockCluster(ctx, "one"); err != nil {
				return err
			}
			close(took)
			<-release
			return nil
		})
	}()
	recv(t, "the first lock", took)
	other := make(chan error, 1)
	go func() {
		other <- try(b, func(ctx context.Context, tx *store.Tx) error { return tx.LockCluster(ctx, "another") })
	}()
	if err := recv(t, "another lock while the first is held", other); err != nil {
		t.Error(err)
	}
	close(release)
	if err := recv(t, "the first holder", done); err != nil {
		t.Error(err)
	}
}

// holdsUntilCommit runs first in a transaction of node a and, while that
// transaction is still open, then in a transaction of node b: then must
// find what first took held until first's transaction committed (then sees
// its writes). It proves something only if then reaches the lock before
// first lets go, which a short pause makes likely; it never fails a store
// that holds the lock.
func holdsUntilCommit(t *testing.T, a, b *store.Store, first, then func(ctx context.Context, tx *store.Tx) error) {
	t.Helper()
	took, release := make(chan struct{}), make(chan struct{})
	firstDone, thenDone := make(chan error, 1), make(chan error, 1)
	go func() {
		firstDone <- try(a, func(ctx context.Context, tx *store.Tx) error {
			if err := first(ctx, tx); err != nil {
				return err
			}
			close(took)
			<-release
			return nil
		})
	}()
	select {
	case <-took:
	case err := <-firstDone:
		t.Fatalf("first: %v", err)
	}
	go func() { thenDone <- try(b, then) }()
	time.Sleep(100 * time.Millisecond) // let then reach the lock
	close(release)
	if err := recv(t, "first", firstDone); err != nil {
		t.Errorf("first: %v", err)
	}
	if err := recv(t, "then", thenDone); err != nil {
		t.Errorf("then: %v", err)
	}
}

// call is one Write call of a batch.
type call struct {
	ctx context.Context
	fn  func(ctx context.Context, tx *store.Tx) error
}

type callResult struct {
	err      error
	panicked any
}

type batch struct {
	results   []callResult
	committed []int // the calls whose OnCommit functions ran, in the order they ran
}

// scenario is what inOneBatch runs: calls, and a function to call once
// every call waits for the writer.
type scenario struct {
	calls  []call
	queued func()
}

// inOneBatch runs a scenario's calls concurrently so that the store combines
// them in one transaction, and returns what each call returned. The store
// must have one writer (Config.Writers 1): a first call holds it until
// every call waits, so the next batch takes them all. That they shared one
// transaction is checked: every call's function ran before the first
// OnCommit function (batches run one after another, each running its
// OnCommit functions before the next begins). If the scheduler was slow to
// queue a call, a new scenario is built and run.
func inOneBatch(t *testing.T, st *store.Store, build func() scenario) batch {
	t.Helper()
	for try := 1; ; try++ {
		sc := build()
		if sc.queued == nil {
			sc.queued = func() {}
		}
		b, shared := runBatch(t, st, sc.calls, sc.queued)
		if shared {
			return b
		}
		if try == 5 {
			t.Fatalf("the calls never ran in one batch in %d tries", try)
		}
		t.Logf("the calls did not run in one batch; again")
	}
}

func runBatch(t *testing.T, st *store.Store, calls []call, queued func()) (batch, bool) {
	t.Helper()
	var (
		mu     sync.Mutex
		events []int // i+1: call i's function ran; -(i+1): its OnCommit ran
	)
	event := func(e int) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	held, release := make(chan struct{}), make(chan struct{})
	gate := make(chan error, 1)
	go func() {
		gate <- st.Write(context.Background(), func(tx *store.Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	recv(t, "the writer", held)
	b := batch{results: make([]callResult, len(calls))}
	var wg sync.WaitGroup
	queuedUp := make(chan struct{}, len(calls))
	for i, c := range calls {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					b.results[i].panicked = p
				}
			}()
			queuedUp <- struct{}{}
			b.results[i].err = st.Write(c.ctx, func(tx *store.Tx) error {
				event(i + 1)
				tx.OnCommit(func() { event(-(i + 1)) })
				return c.fn(c.ctx, tx)
			})
		})
	}
	for range calls {
		<-queuedUp
	}
	time.Sleep(20 * time.Millisecond) // from queuing up to waiting on the writer
	queued()
	close(release)
	if err := recv(t, "the first call", gate); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	shared, committing := true, false
	for _, e := range events {
		if e < 0 {
			committing = true
			b.committed = append(b.committed, -e-1)
		} else if committing {
			shared = false
		}
	}
	return b, shared
}
