//go:build chaos

package faulttest_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/faulttest"
)

// The faults do what they say, seen from a client on the host.
func TestNetnsFaults(t *testing.T) {
	n := faulttest.NewNetns(t)
	t.Logf("faults by %s", n.Mode())
	l := n.Listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + l.Addr().String() + "/"
	if !strings.HasPrefix(l.Addr().String(), n.IP+":") {
		t.Fatalf("listener on %s, want the namespace's address %s", l.Addr(), n.IP)
	}
	get := func() error {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := c.Get(url)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("no fault: %v", err)
	}
	n.Reset(t)
	if err := get(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("reset: %v, want connection refused", err)
	}
	n.Clear(t)
	n.Blackhole(t)
	var ne net.Error
	if err := get(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("blackhole: %v, want a timeout", err)
	}
	n.Clear(t)
	for _, fault := range []func(){func() { n.Loss(t, 20) }, func() { n.Delay(t, 50*time.Millisecond, 10*time.Millisecond) }, func() { n.Reorder(t) }} {
		fault()
		ok := 0
		for range 5 {
			if get() == nil {
				ok++
			}
		}
		if ok == 0 {
			t.Errorf("no request got through a degraded link")
		}
		n.Clear(t)
	}
	if err := get(); err != nil {
		t.Errorf("after Clear: %v", err)
	}
}

func TestDisk(t *testing.T) {
	d := faulttest.MountDisk(t, 8<<20)
	f := filepath.Join(d.Dir, "x")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := d.Fill(t); n < 7<<20 {
		t.Errorf("Fill wrote %d bytes of 8 MiB", n)
	}
	if err := os.WriteFile(f, make([]byte, 64<<10), 0o600); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write to a full disk: %v, want ENOSPC", err)
	}
	d.Free(t)
	if free := d.FreeBytes(t); free < 7<<20 {
		t.Errorf("%d bytes free after Free", free)
	}
}

func TestPostgresRestart(t *testing.T) {
	p := faulttest.StartPostgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	p.Restart(t, "fast")
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection from before the restart still works")
	}
	again, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		t.Fatalf("connect after the restart: %v", err)
	}
	again.Close(ctx)
}
