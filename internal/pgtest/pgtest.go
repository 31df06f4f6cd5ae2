// Package pgtest provides throwaway PostgreSQL databases for tests: each
// test gets a fresh database, dropped when it ends. Without a reachable
// server the test is skipped with a message — except under CI (CI=true),
// where that is a failure, so that a missing service cannot pass unseen.
//
// A database from NewDatabase already holds Autohook's schema: it is cloned
// (CREATE DATABASE … TEMPLATE) from a template migrated once per schema and
// shared by every test process on the server, which costs a fraction of
// migrating each database. The template is named by store.SchemaID, so
// branches with other migrations use other templates, and it is built under
// an advisory lock and published by a rename, so test processes starting
// together build it once and never clone a half-built one.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/store"
)

// DefaultURL is the server tests use unless AUTOHOOK_TEST_DATABASE_URL says
// otherwise.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var counter atomic.Int64

// ServerURL returns the URL of the test server.
func ServerURL() string {
	if u := os.Getenv("AUTOHOOK_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates a database for t holding Autohook's schema (cloned
// from the migrated template) and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// NewEmptyDatabase creates an empty database for t and returns its URL: for
// tests of migrating itself (several nodes starting on a new database).
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
	create := "CREATE DATABASE %s"
	if migrated {
		tmpl, err := template(ctx, conn)
		if err != nil {
			t.Fatalf("template database: %v", err)
		}
		create += " TEMPLATE " + tmpl
	}
	name := fmt.Sprintf("autohook_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, counter.Add(1))
	if _, err := conn.Exec(ctx, fmt.Sprintf(create, name)); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
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

// The template of this process, once made or found.
var (
	templateMu   sync.Mutex
	templateName string
)

// templateLock is the advisory lock (on the server's admin database) that
// test processes take to build a template.
const templateLock = 0x6168746d706c // "ahtmpl"

// buildPrefix names templates being built: one left by a process that died
// while building is dropped by the next build.
const buildPrefix = "autohook_tmpl_build_"

// template returns the name of the migrated template for this code's
// schema, building it if no process has yet.
func template(ctx context.Context, conn *pgx.Conn) (string, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	if templateName != "" {
		return templateName, nil
	}
	id, err := store.SchemaID()
	if err != nil {
		return "", err
	}
	name := "autohook_tmpl_" + id
	exists := func() (bool, error) {
		var n int
		err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
		return n > 0, err
	}
	ok, err := exists()
	if err != nil {
		return "", err
	}
	if !ok {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLock)); err != nil {
			return "", fmt.Errorf("lock: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(templateLock)) //nolint:errcheck // the lock goes with the connection anyway
		if ok, err = exists(); err != nil {
			return "", err
		}
		if !ok {
			if err := build(ctx, conn, name); err != nil {
				return "", err
			}
		}
	}
	templateName = name
	return name, nil
}

// build migrates a new database and publishes it as the template name: it is
// renamed only when complete, and no one can connect to it afterwards (a
// template must have no connections to be cloned). The caller holds the
// template lock.
func build(ctx context.Context, conn *pgx.Conn, name string) error {
	rs, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", buildPrefix)
	if err != nil {
		return err
	}
	stale, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, s := range stale {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop unfinished template %s: %w", s, err)
		}
	}
	tmp := fmt.Sprintf("%s%d", buildPrefix, os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+tmp); err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Config{URL: databaseURL(conn.Config().ConnString(), tmp), MaxConns: 2})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := st.Close(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+tmp+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return err
	}
	// A closed connection's server process may take a moment to leave; the
	// rename waits a few seconds for it, and is retried beyond that.
	for try := 1; ; try++ {
		_, err := conn.Exec(ctx, "ALTER DATABASE "+tmp+" RENAME TO "+name)
		if err == nil {
			return nil
		}
		if try == 3 || !strings.Contains(err.Error(), "being accessed by other users") {
			return fmt.Errorf("publish %s: %w", name, err)
		}
	}
}
