package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/problem"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"sqlite disk full", sqlite3.Error{Code: sqlite3.ErrFull}, true},
		{"sqlite read-only", sqlite3.Error{Code: sqlite3.ErrReadonly}, true},
		{"sqlite I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr, ExtendedCode: sqlite3.ErrIoErrWrite}, true},
		{"sqlite busy after the timeout", sqlite3.Error{Code: sqlite3.ErrBusy}, true},
		{"sqlite constraint", sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{"sqlite syntax error", sqlite3.Error{Code: sqlite3.ErrError}, false},
		{"sqlite disk full, wrapped", fmt.Errorf("insert record: %w", sqlite3.Error{Code: sqlite3.ErrFull}), true},
		{"sqlite disk full, joined", errors.Join(errors.New("insert"), fmt.Errorf("rollback: %w", sqlite3.Error{Code: sqlite3.ErrFull})), true},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"postgres starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"postgres too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"postgres disk full", &pgconn.PgError{Code: "53100"}, true},
		{"postgres unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"postgres deadlock", &pgconn.PgError{Code: "40P01"}, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", fmt.Errorf("query: %w", io.ErrUnexpectedEOF), true},
		{"pgx conn closed", fmt.Errorf("update run: %w", errors.New("conn closed")), true},
		{"context canceled", context.Canceled, false},
		{"deadline exceeded", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
		{"not found", ErrNotFound, false},
		{"conflict", ErrConflict, false},
		{"validation problem", problem.New("x", "bad"), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		err := classify(tc.err)
		if got := errors.Is(err, ErrUnavailable); got != tc.want {
			t.Errorf("%s: classify(%v) is ErrUnavailable: %v, want %v", tc.name, tc.err, got, tc.want)
		}
		if tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("%s: classify(%v) = %v, which no longer wraps the original", tc.name, tc.err, err)
		}
	}
	// Classifying twice wraps once.
	once := classify(sqlite3.Error{Code: sqlite3.ErrFull})
	if twice := classify(once); twice != once {
		t.Errorf("classify of a classified error = %v, want it unchanged", twice)
	}
}

// fakeBatch is a batch transaction that records its statements and fails
// the one named "FAIL" as SQLite does when the disk is full.
type fakeBatch struct {
	stmts               []string
	committed, rolledBk bool
	lost                func(int, error)
	lose                map[int]error // flush: these calls' held statements failed so
}

func (f *fakeBatch) querier() querier { return fakeQuerier{f} }
func (f *fakeBatch) exec(ctx context.Context, stmt string) error {
	_, err := fakeQuerier{f}.exec(ctx, stmt)
	return err
}
func (f *fakeBatch) execLater(ctx context.Context, stmt string) error { return f.exec(ctx, stmt) }
func (f *fakeBatch) startCall(_ int, lost func(int, error))           { f.lost = lost }
func (f *fakeBatch) flush(context.Context) error {
	for i, err := range f.lose {
		f.lost(i, err)
	}
	return nil
}
func (f *fakeBatch) insert(context.Context, []river.InsertManyParams) error { return nil }
func (f *fakeBatch) commit(context.Context) error                           { f.committed = true; return nil }
func (f *fakeBatch) rollback(context.Context) error                         { f.rolledBk = true; return nil }

type fakeQuerier struct{ f *fakeBatch }

func (q fakeQuerier) exec(_ context.Context, query string, _ ...any) (int64, error) {
	q.f.stmts = append(q.f.stmts, query)
	if query == "FAIL" {
		return 0, sqlite3.Error{Code: sqlite3.ErrFull}
	}
	return 1, nil
}
func (q fakeQuerier) execLater(ctx context.Context, query string, args ...any) error {
	return q.execExpect(ctx, nil, query, args...)
}
func (q fakeQuerier) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	return expectNow(ctx, q, failAs, query, args...)
}
func (q fakeQuerier) query(context.Context, string, ...any) (rows, error) { return emptyRows{}, nil }
func (q fakeQuerier) queryRow(context.Context, string, ...any) row {
	return errRow{errors.New("no rows")}
}

type emptyRows struct{}

func (emptyRows) Next() bool        { return false }
func (emptyRows) Scan(...any) error { return errors.New("no rows") }
func (emptyRows) Err() error        { return nil }
func (emptyRows) Close() error      { return nil }

// After a statement fails because the database is unavailable, no other
// statement of the batch reaches the database (SQLite may have rolled the
// transaction back by itself: they would commit one by one), no call of the
// batch succeeds, and the batch is rolled back, not committed.
func TestBatchGuardAbortsTheBatch(t *testing.T) {
	t.Parallel()
	fb := &fakeBatch{}
	var outcome error
	c := &combiner{
		begin:       func(context.Context) (batchTx, error) { return fb, nil },
		afterCommit: func([]river.InsertManyParams) { t.Error("afterCommit ran for a batch that failed") },
		outcome:     func(err error) { outcome = err },
	}
	calls := []string{"A", "FAIL", "C"}
	batch := make([]*writeReq, len(calls))
	for i, stmt := range calls {
		batch[i] = &writeReq{ctx: context.Background(), done: make(chan writeResult, 1), fn: func(tx *Tx) error {
			if _, err := tx.q.exec(context.Background(), stmt); err != nil {
				return err
			}
			_, err := tx.q.exec(context.Background(), stmt+" again") // a careless fn goes on
			return err
		}}
	}
	c.run(batch, func(q querier) *Tx { return &Tx{ops: ops{q: q, clock: time.Now}} })
	for i, r := range batch {
		res := <-r.done
		if !errors.Is(res.err, ErrUnavailable) {
			t.Errorf("call %d (%s): %v, want ErrUnavailable", i, calls[i], res.err)
		}
	}
	failAt := slices.Index(fb.stmts, "FAIL")
	if failAt < 0 {
		t.Fatalf("statements %q: FAIL never ran", fb.stmts)
	}
	if after := fb.stmts[failAt+1:]; len(after) > 0 {
		t.Errorf("statements after the failure reached the database: %q", after)
	}
	if fb.committed || !fb.rolledBk {
		t.Errorf("committed %v, rolled back %v; want rolled back only", fb.committed, fb.rolledBk)
	}
	if !errors.Is(outcome, ErrUnavailable) {
		t.Errorf("the batch's outcome = %v, want ErrUnavailable (for readiness)", outcome)
	}
}

// A call whose held statement (PostgreSQL's pipeline) lost a deadlock once
// the call had returned may be tried again (ErrUnavailable), the deadlock
// kept in its error; any other failure stays as it is, and the others
// commit.
func TestLostDeadlockMayBeTriedAgain(t *testing.T) {
	t.Parallel()
	deadlock, dup := &pgconn.PgError{Code: "40P01"}, &pgconn.PgError{Code: "23505"}
	fb := &fakeBatch{lose: map[int]error{1: deadlock, 2: dup}}
	c := &combiner{
		begin:       func(context.Context) (batchTx, error) { return fb, nil },
		afterCommit: func([]river.InsertManyParams) {},
	}
	batch := make([]*writeReq, 3)
	for i := range batch {
		batch[i] = &writeReq{ctx: context.Background(), done: make(chan writeResult, 1), fn: func(tx *Tx) error {
			_, err := tx.q.exec(context.Background(), "A")
			return err
		}}
	}
	c.run(batch, func(q querier) *Tx { return &Tx{ops: ops{q: q, clock: time.Now}} })
	got := make([]error, len(batch))
	for i, r := range batch {
		got[i] = (<-r.done).err
	}
	if got[0] != nil {
		t.Errorf("the call that did not fail: %v", got[0])
	}
	if !errors.Is(got[1], ErrUnavailable) || !errors.Is(got[1], deadlock) {
		t.Errorf("the call that lost a deadlock: %v, want ErrUnavailable and the deadlock", got[1])
	}
	if errors.Is(got[2], ErrUnavailable) || !errors.Is(got[2], dup) {
		t.Errorf("the call whose insert was refused: %v, want that refusal alone", got[2])
	}
	if !fb.committed {
		t.Error("the batch was not committed")
	}
}

// A failed write makes the store not ready; the prober's write, which
// works, makes it ready again without anyone else writing.
func TestReadyAfterFailedWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := Open(ctx, Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "autohook.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	if err := st.Ready(ctx); err != nil {
		t.Fatalf("Ready of a fresh store: %v", err)
	}
	st.health.outcome(classify(sqlite3.Error{Code: sqlite3.ErrFull}))
	if err := st.Ready(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ready after a write failed with a full disk = %v, want ErrUnavailable", err)
	}
	deadline := time.Now().Add(10 * ProbeEvery)
	for st.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("still not ready %v after the failure: %v", 10*ProbeEvery, st.Ready(ctx))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, err := st.Meta(ctx, "probe"); err != nil || v == "" {
		t.Errorf("the probe row = %q, %v; want the prober's write", v, err)
	}
}
