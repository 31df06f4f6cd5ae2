package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/store"
)

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exists(t testing.TB, name string) bool {
	t.Helper()
	var n int
	if err := connect(t, ServerURL()).QueryRow(context.Background(), "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func nameOf(t testing.TB, url string) string {
	t.Helper()
	var name string
	if err := connect(t, url).QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestKeptDatabasesAreEmptied: a database given back is emptied and handed
// to the next test, migrated; one still in use when its test ends is
// dropped instead.
func TestKeptDatabasesAreEmptied(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("fill", func(t *testing.T) {
		url := NewDatabase(t)
		first = nameOf(t, url)
		st, err := store.Open(ctx, store.Config{URL: url, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close(ctx)
		if err := st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.CreateOrganisation(ctx, "left behind")
			tx.EnqueueRun(store.RunJob{OrgID: "o", RunID: "r", Seq: 1}, time.Time{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reuse", func(t *testing.T) {
		url := NewDatabase(t)
		if got := nameOf(t, url); got != first {
			t.Fatalf("got database %s, want %s again", got, first)
		}
		st, err := store.Open(ctx, store.Config{URL: url, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close(ctx)
		orgs, err := st.CountOrganisations(ctx)
		if err != nil || orgs != 0 {
			t.Errorf("organisations in a reused database: %d, %v", orgs, err)
		}
		if jobs, err := st.CountJobs(ctx); err != nil || jobs != 0 {
			t.Errorf("jobs in a reused database: %d, %v", jobs, err)
		}
	})
	var busy string
	t.Run("left connected", func(t *testing.T) {
		var conn *pgx.Conn
		t.Cleanup(func() { conn.Close(ctx) }) // after the database is given back
		url := NewDatabase(t)
		busy = nameOf(t, url)
		var err error
		if conn, err = pgx.Connect(ctx, url); err != nil {
			t.Fatal(err)
		}
	})
	if exists(t, busy) {
		t.Errorf("a database still in use when its test ended was kept: %s", busy)
	}
}

// TestSweepDropsEndedProcessesDatabases: the databases of an owner whose
// lock is free go; those of a live owner stay.
func TestSweepDropsEndedProcessesDatabases(t *testing.T) {
	ctx := context.Background()
	NewDatabase(t) // the server is there, and this process started
	admin := connect(t, ServerURL())
	live := connect(t, ServerURL())
	const liveOwner, endedOwner = int64(0x1234567890abc), int64(0x1234567890abd)
	if _, err := live.Exec(ctx, "SELECT pg_advisory_lock($1)", liveOwner); err != nil {
		t.Fatal(err)
	}
	names := map[int64]string{}
	for _, owner := range []int64{liveOwner, endedOwner} {
		names[owner] = fmt.Sprintf("%s%x_1", testPrefix, owner)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+names[owner]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Exec(ctx, "DROP DATABASE IF EXISTS "+names[owner]) }) //nolint:errcheck
	}
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLock)); err != nil {
		t.Fatal(err)
	}
	err := sweep(ctx, admin)
	admin.Exec(ctx, "SELECT pg_advisory_unlock($1)", int64(templateLock)) //nolint:errcheck
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, names[liveOwner]) {
		t.Error("a live process's database was dropped")
	}
	if exists(t, names[endedOwner]) {
		t.Error("an ended process's database was kept")
	}
}

// BenchmarkNewDatabase is the cost of a test's PostgreSQL database: taken,
// opened by a store (which migrates what needs it), closed and given back.
func BenchmarkNewDatabase(b *testing.B) {
	for _, c := range []struct {
		name string
		new  func(testing.TB) string
	}{
		{"kept", NewDatabase},
		{"empty-then-migrated", NewEmptyDatabase}, // what every test paid before the template
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				test := &scope{TB: b}
				st, err := store.Open(ctx, store.Config{URL: c.new(test), MaxConns: 2})
				if err != nil {
					b.Fatal(err)
				}
				st.Close(ctx)
				test.end()
			}
		})
	}
}

// scope is one test's lifetime inside a benchmark: its cleanups run at end.
type scope struct {
	testing.TB
	cleanups []func()
}

func (s *scope) Helper() {}

func (s *scope) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }

func (s *scope) end() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}
