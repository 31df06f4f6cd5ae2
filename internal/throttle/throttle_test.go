package throttle

import (
	"net/http/httptest"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestAllow(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(2, 2, c.now)
	for i, want := range []bool{true, true, false, false} {
		if ok, wait := l.Allow("k"); ok != want || (!ok && wait != 500*time.Millisecond) {
			t.Errorf("request %d: Allow = %v, %v; want %v (wait 500ms when refused)", i+1, ok, wait, want)
		}
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Error("another key was refused")
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := l.Allow("k"); !ok {
		t.Error("half a second later: refused, want one token back")
	}
}

func TestBegin(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(0.1, 2, c.now) // one every 10 s
	begin := func(want bool) func(bool) {
		t.Helper()
		end, wait := l.Begin("k")
		if (end != nil) != want || (end == nil && wait <= 0) {
			t.Fatalf("Begin = %v, %v; want allowed %v (and a wait when refused)", end != nil, wait, want)
		}
		return end
	}
	// Attempts still being checked count as failures: two at once, not
	// three.
	e1, e2 := begin(true), begin(true)
	begin(false)
	e1(false) // a success gives its place back
	e1(true)  // a second end is ignored
	e3 := begin(true)
	e2(true)
	e3(true)
	if _, wait := l.Begin("k"); wait != 10*time.Second {
		t.Errorf("budget spent: wait %v, want 10s", wait)
	}
	if end, _ := l.Begin("other"); end == nil {
		t.Error("another key was refused")
	}
	c.t = c.t.Add(4 * time.Second)
	if _, wait := l.Begin("k"); wait != 6*time.Second {
		t.Errorf("4 s later: wait %v, want 6s", wait)
	}
	c.t = c.t.Add(6 * time.Second)
	begin(true)
}

func TestNilLimiter(t *testing.T) {
	l := New(0, 10, nil)
	if l != nil {
		t.Fatal("New(0, …) is not nil")
	}
	if ok, _ := l.Allow("k"); !ok {
		t.Error("nil Limiter refused")
	}
	end, wait := l.Begin("k")
	if end == nil || wait != 0 {
		t.Fatalf("nil Limiter: Begin = %v, %v", end != nil, wait)
	}
	end(true)
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "1"}, {time.Millisecond, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {6 * time.Second, "6"}} {
		if got := RetryAfter(tc.d); got != tc.want {
			t.Errorf("RetryAfter(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:80", "2001:db8:1:2::/64"},
		{"[::1]:80", "::/64"},
		{"not an address", "not an address"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if got := ClientKey(r); got != tc.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
