package throttle

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
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
	ctx := context.Background()
	begin := func(want bool) func(bool) {
		t.Helper()
		end, wait := l.Begin(ctx, "k")
		if (end != nil) != want || (end == nil && wait <= 0) {
			t.Fatalf("Begin = %v, %v; want allowed %v (and a wait when refused)", end != nil, wait, want)
		}
		return end
	}
	// Attempts being checked hold the budget: a third waits for one of
	// them, and goes ahead when it succeeds (a success gives its token
	// back).
	e1, e2 := begin(true), begin(true)
	third := make(chan func(bool))
	go func() {
		end, _ := l.Begin(ctx, "k")
		third <- end
	}()
	select {
	case <-third:
		t.Fatal("a third attempt went ahead while two were being checked with a budget of two")
	case <-time.After(50 * time.Millisecond):
	}
	e1(false) // a success gives its place back
	e1(true)  // a second end is ignored
	e3 := <-third
	if e3 == nil {
		t.Fatal("the waiting attempt was refused after a success")
	}
	e2(true)
	e3(true)
	if _, wait := l.Begin(ctx, "k"); wait != 10*time.Second {
		t.Errorf("budget spent: wait %v, want 10s", wait)
	}
	if end, _ := l.Begin(ctx, "other"); end == nil {
		t.Error("another key was refused")
	}
	c.t = c.t.Add(4 * time.Second)
	if _, wait := l.Begin(ctx, "k"); wait != 6*time.Second {
		t.Errorf("4 s later: wait %v, want 6s", wait)
	}
	c.t = c.t.Add(6 * time.Second)
	begin(true)
}

// TestBeginWaiterRefusedAfterFailures: attempts that wait for checks in
// flight are refused when those checks fail and spend the budget.
func TestBeginWaiterRefusedAfterFailures(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(0.1, 2, c.now)
	ctx := context.Background()
	e1, _ := l.Begin(ctx, "k")
	e2, _ := l.Begin(ctx, "k")
	waiting := make(chan time.Duration)
	go func() {
		end, wait := l.Begin(ctx, "k")
		if end != nil {
			end(true)
		}
		waiting <- wait
	}()
	time.Sleep(20 * time.Millisecond)
	e1(true)
	e2(true)
	if wait := <-waiting; wait <= 0 {
		t.Errorf("after two failures spent the budget, the waiting attempt went ahead")
	}
	// A cancelled wait is refused too.
	l2 := New(0.1, 1, c.now)
	e1, _ = l2.Begin(ctx, "k")
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if end, wait := l2.Begin(cctx, "k"); end != nil || wait <= 0 {
		t.Errorf("Begin with its context done while waiting = %v, %v; want refused", end != nil, wait)
	}
	e1(false)
}

// TestBeginManyRightAtOnce: 64 attempts at once from one key, all right,
// are never refused (issue 18, finding 8); 64 wrong ones at once are
// checked at most burst times.
func TestBeginManyRightAtOnce(t *testing.T) {
	for _, failed := range []bool{false, true} {
		l := New(1/6.0, 10, (&clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}).now)
		var refused, checked atomic.Int64
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for range 20 {
					end, _ := l.Begin(context.Background(), "192.0.2.1")
					if end == nil {
						refused.Add(1)
						continue
					}
					checked.Add(1)
					time.Sleep(time.Millisecond) // the key lookup
					end(failed)
				}
			})
		}
		wg.Wait()
		if !failed && refused.Load() != 0 {
			t.Errorf("right keys: %d of 1280 refused, want none", refused.Load())
		}
		if failed && checked.Load() > 10 {
			t.Errorf("wrong keys: %d checked, want at most the burst of 10", checked.Load())
		}
	}
}

// TestTableFull: past maxKeys the least recently used key is forgotten,
// not every key: an address refused a moment ago stays refused
// (issue 18, finding 9), and the table stays bounded.
func TestTableFull(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(0.1, 1, c.now)
	ctx := context.Background()
	spend := func(key string) {
		if end, _ := l.Begin(ctx, key); end != nil {
			end(true)
		}
	}
	spend("old")
	spend("guesser")
	for i := range maxKeys {
		if i%1000 == 0 {
			spend("guesser") // still guessing, so recently used
		}
		spend(strconv.Itoa(i))
	}
	if end, _ := l.Begin(ctx, "guesser"); end != nil {
		t.Error("the guessing address was forgotten when the table filled")
	}
	if end, _ := l.Begin(ctx, "old"); end == nil {
		t.Error("the least recently used address is still remembered, want it forgotten")
	}
	l.mu.Lock()
	n := len(l.entries)
	l.mu.Unlock()
	if n > maxKeys {
		t.Errorf("%d keys kept, want at most %d", n, maxKeys)
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
	end, wait := l.Begin(context.Background(), "k")
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
