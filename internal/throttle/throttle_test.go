package throttle

import (
	"net/http/httptest"
	"net/netip"
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
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{remote: "192.0.2.1:1234", want: "192.0.2.1"},
		{remote: "[::ffff:192.0.2.1]:1234", want: "192.0.2.1"},
		{remote: "[2001:db8:1:2:3:4:5:6]:80", want: "2001:db8:1:2::/64"},
		{remote: "[::1]:80", want: "::/64"},
		{remote: "not an address", want: "not an address"},
		// Forwarding headers count only from a trusted proxy.
		{remote: "192.0.2.1:1234", xff: "198.51.100.9", want: "192.0.2.1"},
		{remote: "10.1.2.3:1234", xff: "198.51.100.9", want: "10.1.2.3"},
		{remote: "10.1.2.3:1234", xff: "198.51.100.9", trusted: proxies, want: "198.51.100.9"},
		// The client is the last hop that is not a trusted proxy: what the
		// client itself wrote in front of it does not count.
		{remote: "10.1.2.3:1234", xff: "6.6.6.6, 198.51.100.9, 10.9.9.9", trusted: proxies, want: "198.51.100.9"},
		{remote: "10.1.2.3:1234", xff: "2001:db8:5::1", trusted: proxies, want: "2001:db8:5::/64"},
		{remote: "[fd00::1]:80", xff: "203.0.113.4", trusted: proxies, want: "203.0.113.4"},
		// Nothing usable: the proxy itself.
		{remote: "10.1.2.3:1234", trusted: proxies, want: "10.1.2.3"},
		{remote: "10.1.2.3:1234", xff: "garbage", trusted: proxies, want: "10.1.2.3"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := ClientKey(r, tc.trusted); got != tc.want {
			t.Errorf("ClientKey(%q, X-Forwarded-For %q) = %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}
