package faulttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// Postgres is a PostgreSQL server of the test's own, on a port of its own,
// so that restarting it breaks no other test: initdb into a temporary
// directory, then pg_ctl. As root, PostgreSQL's binaries run as the
// "postgres" user (they refuse root).
type Postgres struct {
	// URL is its "postgres" database as the superuser postgres.
	URL string

	bin, dir, port string
	asUser         string // run the binaries as this user ("" as ourselves)
}

// StartPostgres initialises and starts a server for t, stopped and removed
// when t ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			bins = []string{p}
		}
	}
	if len(bins) == 0 {
		unavailable(t, "no pg_ctl (PostgreSQL's server binaries) on this machine")
	}
	sort.Slice(bins, func(i, j int) bool { return pgVersion(bins[i]) < pgVersion(bins[j]) })
	p := &Postgres{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "autohook-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "running as root, and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = "postgres"
	}
	p.port = freePort(t)
	if _, err := p.ctl(filepath.Join(p.bin, "initdb"), "-D", p.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		unavailable(t, "initdb: %v", err)
	}
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nmax_connections = 200\nfsync = on\n", p.port, dir)
	if err := appendFile(filepath.Join(p.data(), "postgresql.conf"), conf); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ctl(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-l", p.logFile(), "-w", "-t", "60", "start"); err != nil {
		t.Fatalf("start PostgreSQL: %v\n%s", err, p.Log())
	}
	t.Cleanup(func() {
		_, _ = p.ctl(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-m", "immediate", "-w", "stop")
		if t.Failed() {
			t.Logf("--- PostgreSQL log ---\n%s", tail(p.Log(), 8<<10))
		}
	})
	p.URL = "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
	return p
}

// Restart restarts the server with pg_ctl: mode "fast" (sessions are ended,
// a clean shutdown) or "immediate" (no shutdown: crash recovery at start).
func (p *Postgres) Restart(t testing.TB, mode string) {
	t.Helper()
	if _, err := p.ctl(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-l", p.logFile(), "-m", mode, "-w", "-t", "60", "restart"); err != nil {
		t.Fatalf("restart PostgreSQL (%s): %v\n%s", mode, err, p.Log())
	}
}

// Stop stops the server (mode as for Restart); Start starts it again.
func (p *Postgres) Stop(t testing.TB, mode string) {
	t.Helper()
	if _, err := p.ctl(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-m", mode, "-w", "stop"); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
}

func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if _, err := p.ctl(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-l", p.logFile(), "-w", "-t", "60", "start"); err != nil {
		t.Fatalf("start PostgreSQL: %v\n%s", err, p.Log())
	}
}

// Log is the server's log so far.
func (p *Postgres) Log() string {
	b, _ := os.ReadFile(p.logFile())
	return string(b)
}

func (p *Postgres) data() string    { return filepath.Join(p.dir, "data") }
func (p *Postgres) logFile() string { return filepath.Join(p.dir, "postgres.log") }

// ctl runs one of PostgreSQL's binaries, as p.asUser when set.
func (p *Postgres) ctl(bin string, args ...string) (string, error) {
	if p.asUser != "" {
		return run("runuser", append([]string{"-u", p.asUser, "--", bin}, args...)...)
	}
	return run(bin, args...)
}

// pgVersion is the major version in /usr/lib/postgresql/N/bin.
func pgVersion(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(bin))))
	return n
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}
