// Package faulttest is for tests only: it makes the faults the chaos suite
// puts Autohook through, each owned by the test that makes it and undone
// when the test ends (even when it fails): a PostgreSQL server of the
// test's own to restart (Postgres), a small file system to fill (Disk), and network namespaces whose links lose, delay, reorder
// or reset traffic (Netns).
//
// These need root (mounts, namespaces) or PostgreSQL's binaries. Where the
// machine does not allow them, the test is skipped with a message that says
// what is missing — except under CI (CI=true), where that is a failure, so
// that a fault the suite claims to survive cannot go untested unseen.
package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// unavailable skips the test (or fails it under CI) because the machine
// cannot make a fault.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("faulttest: %s (required under CI)", msg)
	}
	t.Skipf("faulttest: %s; skipped", msg)
}

// requireRoot skips the test (fails it under CI) unless it runs as root.
func requireRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "%s needs root", what)
	}
}

// run runs a command, bounded in time, and returns its combined output.
func run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// must runs a command and fails the test if it fails.
func must(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := run(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
