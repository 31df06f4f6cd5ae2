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

func TestWaitAndFail(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(0.1, 2, c.now) // one every 10 s
	for i := range 2 {
		if w := l.Wait("k"); w != 0 {
			t.Fatalf("before failure %d: Wait = %v, want 0", i+1, w)
		}
		l.Fail("k")
	}
	if w := l.Wait("k"); w != 10*time.Second {
		t.Errorf("budget spent: Wait = %v, want 10s", w)
	}
	l.Fail("k") // no token: spends nothing more
	c.t = c.t.Add(4 * time.Second)
	if w := l.Wait("k"); w != 6*time.Second {
		t.Errorf("4 s later: Wait = %v, want 6s", w)
	}
	c.t = c.t.Add(6 * time.Second)
	if w := l.Wait("k"); w != 0 {
		t.Errorf("10 s later: Wait = %v, want 0", w)
	}
}

func TestNilLimiter(t *testing.T) {
	l := New(0, 10, nil)
	if l != nil {
		t.Fatal("New(0, …) is not nil")
	}
	if ok, _ := l.Allow("k"); !ok {
		t.Error("nil Limiter refused")
	}
	l.Fail("k")
	if w := l.Wait("k"); w != 0 {
		t.Errorf("nil Limiter: Wait = %v", w)
	}
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
