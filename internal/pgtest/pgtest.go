// Package pgtest provides throwaway PostgreSQL databases for tests: each
// test gets a database of its own for its duration. Without a reachable
// server the test is skipped with a message — except under CI (CI=true),
// where that is a failure, so that a missing service cannot pass unseen.
//
// Making a database is the slow part of a PostgreSQL test, so:
//
//   - A database from NewDatabase holds Autohook's schema already: it is
//     cloned (CREATE DATABASE … TEMPLATE) from a template migrated once per
//     schema and shared by every test process on the server. The template
//     is named by store.SchemaID, so branches with other migrations use
//     other templates; it is built under an advisory lock and published by
//     a rename, so processes starting together build it once and never
//     clone a half-built one. Its collation is ICU's en-US where the server
//     has ICU, so that text ordered by PostgreSQL in a language's order
//     rather than by bytes (as SQLite does) shows.
//   - When its test ends, a database is emptied (every table but the
//     migrations') and kept for the process's next test, unless a
//     connection to it is still open: then it is dropped.
//   - A process's databases carry its owner id, and it holds an advisory
//     lock of that id while it lives; a process starting drops the
//     databases of owners whose lock is free (processes that ended).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/store"
)

// DefaultURL is the server tests use unless AUTOHOOK_TEST_DATABASE_URL says
// otherwise.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerURL returns the URL of the test server.
func ServerURL() string {
	if u := os.Getenv("AUTOHOOK_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase returns the URL of a database for t holding Autohook's
// schema and nothing else.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// NewEmptyDatabase returns the URL of an empty database for t, dropped when
// t ends: for tests of migrating itself (several nodes starting on a new
// database).
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	admin := ServerURL()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required under CI and unreachable at %s: %v", admin, err)
		}
		t.Skipf("PostgreSQL unreachable at %s (set AUTOHOOK_TEST_DATABASE_URL): %v", admin, err)
	}
	defer conn.Close(context.Background())
	p, err := start(ctx, conn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name, err := p.take(ctx, conn, migrated)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.give(ctx, admin, name, migrated); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return databaseURL(admin, name)
}

func databaseURL(admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		panic(fmt.Sprintf("pgtest: server URL %q: %v", admin, err)) // pgx.Connect parsed it already
	}
	u.Path = "/" + name
	return u.String()
}

// pool is this process's databases.
type pool struct {
	owner    int64     // this process; its databases are named by it
	alive    *pgx.Conn // holds the advisory lock of owner while the process lives
	template string

	mu   sync.Mutex
	free []string // emptied, for the next test
	made int
}

var (
	startMu sync.Mutex
	started *pool
)

// start makes the process's pool once: the owner lock taken, databases of
// ended processes dropped, the template found or built.
func start(ctx context.Context, conn *pgx.Conn) (*pool, error) {
	startMu.Lock()
	defer startMu.Unlock()
	if started != nil {
		return started, nil
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	p := &pool{owner: int64(binary.BigEndian.Uint64(b[:]) >> 1)}
	alive, err := pgx.ConnectConfig(ctx, conn.Config())
	if err != nil {
		return nil, err
	}
	if _, err := alive.Exec(ctx, "SELECT pg_advisory_lock($1)", p.owner); err != nil {
		alive.Close(ctx)
		return nil, fmt.Errorf("owner lock: %w", err)
	}
	p.alive = alive
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLock)); err != nil {
		return nil, fmt.Errorf("template lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(templateLock)) //nolint:errcheck // the lock goes with the connection anyway
	if err := sweep(ctx, conn); err != nil {
		return nil, err
	}
	if p.template, err = template(ctx, conn); err != nil {
		return nil, fmt.Errorf("template database: %w", err)
	}
	started = p
	return p, nil
}

// Database names.
const (
	testPrefix   = "autohook_test_o" // + owner in hex + "_" + a number
	buildPrefix  = "autohook_tmpl_build_"
	templateName = "autohook_tmpl_2_" // + store.SchemaID(); 2: the second recipe (ICU collation)
)

// templateLock is the advisory lock (on the server's admin database) under
// which a process builds the template and drops the databases of ended
// processes.
const templateLock = 0x6168746d706c // "ahtmpl"

// sweep drops the databases of processes that ended, and any half-built
// template (its builder died). The caller holds templateLock.
func sweep(ctx context.Context, conn *pgx.Conn) error {
	rs, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1) OR starts_with(datname, $2)", testPrefix, buildPrefix)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return err
	}
	ended := map[string]bool{} // owner -> its lock is free
	for _, name := range names {
		if owner, ok := strings.CutPrefix(name, testPrefix); ok {
			owner, _, _ = strings.Cut(owner, "_")
			done, seen := ended[owner]
			if !seen {
				var id int64
				if _, err := fmt.Sscanf(owner, "%x", &id); err != nil {
					continue // not one of ours
				}
				if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&done); err != nil {
					return err
				}
				if done {
					if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", id); err != nil {
						return err
					}
				}
				ended[owner] = done
			}
			if !done {
				continue
			}
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop %s: %w", name, err)
		}
	}
	return nil
}

// template returns the name of the migrated template for this code's
// schema, building it if no process has yet. The caller holds templateLock.
func template(ctx context.Context, conn *pgx.Conn) (string, error) {
	id, err := store.SchemaID()
	if err != nil {
		return "", err
	}
	name := templateName + id
	var n int
	if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil || n > 0 {
		return name, err
	}
	// Migrate a new database, then publish it under the template's name:
	// renamed only when complete, and no one can connect to it afterwards
	// (a template must have no connections to be cloned).
	tmp := fmt.Sprintf("%s%d", buildPrefix, os.Getpid())
	// A language's collation, as many servers have, rather than the test
	// server's (often C): text that SQLite orders by its bytes must not
	// come out of PostgreSQL in another order. Without ICU, the server's.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+tmp+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"); err != nil {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+tmp); err != nil {
			return "", err
		}
	}
	st, err := store.Open(ctx, store.Config{URL: databaseURL(conn.Config().ConnString(), tmp), MaxConns: 2})
	if err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	if err := st.Close(ctx); err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+tmp+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return "", err
	}
	// The rename waits a few seconds for the closed connections' server
	// processes to leave; beyond that, it is tried again.
	for try := 1; ; try++ {
		_, err := conn.Exec(ctx, "ALTER DATABASE "+tmp+" RENAME TO "+name)
		if err == nil {
			return name, nil
		}
		if try == 3 || !strings.Contains(err.Error(), "being accessed by other users") {
			return "", fmt.Errorf("publish %s: %w", name, err)
		}
	}
}

// take returns a database for a test: a kept one, or a new clone of the
// template (or, not migrated, a new empty one).
func (p *pool) take(ctx context.Context, conn *pgx.Conn, migrated bool) (string, error) {
	p.mu.Lock()
	if migrated && len(p.free) > 0 {
		name := p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.mu.Unlock()
		return name, nil
	}
	p.made++
	name := fmt.Sprintf("%s%x_%d", testPrefix, p.owner, p.made)
	p.mu.Unlock()
	create := "CREATE DATABASE " + name
	if migrated {
		create += " TEMPLATE " + p.template
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	return name, nil
}

// give takes a test's database back: emptied and kept if nothing is
// connected to it any more, else dropped.
func (p *pool) give(ctx context.Context, admin, name string, migrated bool) error {
	if migrated {
		err := empty(ctx, databaseURL(admin, name))
		if err == nil {
			p.mu.Lock()
			p.free = append(p.free, name)
			p.mu.Unlock()
			return nil
		}
		if err != errInUse {
			return fmt.Errorf("empty %s: %w", name, err)
		}
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return nil
}

var errInUse = fmt.Errorf("still in use")

// empty deletes every row but the migrations' from the database at url, if
// no one else is connected to it (the test's store closed its connections;
// their server processes may take a moment to leave).
func empty(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for try := 0; ; try++ {
		var others int
		if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").Scan(&others); err != nil {
			return err
		}
		if others == 0 {
			break
		}
		if try == 50 {
			return errInUse
		}
		time.Sleep(20 * time.Millisecond)
	}
	rs, err := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT IN ('autohook_migrations', 'river_migration')")
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return err
	}
	// DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes
	// new files for every table and index (ten times slower).
	b := &pgx.Batch{}
	for _, tbl := range tables {
		b.Queue("DELETE FROM " + pgx.Identifier{tbl}.Sanitize())
	}
	return conn.SendBatch(ctx, b).Close()
}

// EachStore runs f, as a parallel subtest named after the database, on a
// store of its own on each database: SQLite in a temporary file, and
// PostgreSQL (NewDatabase; skipped as it is). The store is closed when f
// returns.
func EachStore(t *testing.T, f func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url := "sqlite:" + filepath.Join(t.TempDir(), "autohook.db")
			if name == "postgres" {
				url = NewDatabase(t)
			}
			ctx := context.Background()
			st, err := store.Open(ctx, store.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close(ctx)
			f(t, st)
		})
	}
}
