// Package throttle limits how often a key (an API key, a client address)
// may do something: a token bucket per key, on an injectable clock, in
// bounded memory.
//
// It is built on golang.org/x/time/rate; what this package adds is the
// table of buckets (least recently used keys forgotten first) and the two
// ways they are used: Allow, where every request takes a token (a per-key
// request rate), and Begin/end, where only failures take one (failed
// sign-ins and unknown API keys from one address).
package throttle

import (
	"container/list"
	"context"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds the keys kept. Past it the least recently used key
// without a check in flight is forgotten: an address that spent its budget
// moments ago stays refused however many others come and go.
const maxKeys = 100000

// maxCheckWait bounds how long Begin waits for checks in flight to end.
// A check is a key lookup or a password hash: far shorter.
const maxCheckWait = 5 * time.Second

// Limiter holds one token bucket per key. A nil *Limiter allows everything.
type Limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	lru     list.List // of *entry, the most recently used first
}

// entry is one key's bucket and the checks of it in flight.
type entry struct {
	key      string
	bucket   *rate.Limiter
	checking int           // Begin calls not yet ended
	ended    chan struct{} // closed when one of them ends; nil when nobody waits
	elem     *list.Element
}

// New returns a Limiter that lets each key act burst times at once, then
// perSecond times a second; nil (no limit) when perSecond is not positive.
// now is the clock; nil means time.Now.
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Max(1, perSecond))
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, now: now, entries: map[string]*entry{}}
}

// entry returns key's entry, made if need be, as the most recently used;
// l.mu must be held. A full table first forgets the least recently used
// key that has no check in flight (one that has can be many: they are
// requests being served).
func (l *Limiter) entry(key string) *entry {
	if e, ok := l.entries[key]; ok {
		l.lru.MoveToFront(e.elem)
		return e
	}
	if len(l.entries) >= maxKeys {
		for el := l.lru.Back(); el != nil; el = el.Prev() {
			if old := el.Value.(*entry); old.checking == 0 {
				l.lru.Remove(el)
				delete(l.entries, old.key)
				break
			}
		}
	}
	e := &entry{key: key, bucket: rate.NewLimiter(l.rate, l.burst)}
	e.elem = l.lru.PushFront(e)
	l.entries[key] = e
	return e
}

// Allow takes a token for key; when there is none it takes nothing and
// reports how long until there is one.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	b := l.entry(key).bucket
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Begin starts an attempt that only a failure pays for (a sign-in, an API
// key check). end must be called with whether the attempt failed; a failure
// takes a token, a success takes nothing.
//
// An attempt being checked holds one of key's tokens until it ends, so
// that many wrong guesses at once cannot all be checked: past the budget,
// the next attempt waits for one of them to end (a success gives its token
// back) rather than being refused. So a client with many right requests in
// flight is never refused, and parallel wrong guesses beyond the budget are:
// Begin refuses (end nil, with how long to wait) only when key's failures
// have spent its budget, or when its checks in flight do not end within
// maxCheckWait or before ctx is done.
func (l *Limiter) Begin(ctx context.Context, key string) (end func(failed bool), wait time.Duration) {
	if l == nil {
		return func(bool) {}, 0
	}
	deadline := time.Now().Add(maxCheckWait)
	l.mu.Lock()
	defer l.mu.Unlock()
	var e *entry
	for {
		e = l.entry(key)
		free := e.bucket.TokensAt(l.now()) - float64(e.checking)
		if free >= 1 {
			break
		}
		if e.checking == 0 { // failures spent the budget
			d := time.Duration((1 - free) / float64(l.rate) * float64(time.Second))
			return nil, max(d.Round(time.Millisecond), time.Millisecond) // float noise off; never 0
		}
		if e.ended == nil {
			e.ended = make(chan struct{})
		}
		ended := e.ended
		l.mu.Unlock()
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ended:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		l.mu.Lock()
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return nil, time.Second
		}
	}
	e.checking++
	var once sync.Once
	return func(failed bool) {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			e.checking--
			if failed {
				e.bucket.AllowN(l.now(), 1)
			}
			if e.ended != nil {
				close(e.ended)
				e.ended = nil
			}
		})
	}, 0
}

// RetryAfter is a Retry-After header value for d: whole seconds, at least 1.
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds()))))
}

// ClientKey names the client of r for per-address limits: its IP address,
// or for IPv6 its /64, since one host commonly has a whole /64 to rotate
// through. When the connection comes from a trusted proxy (an address in
// trusted), the client is the last address in X-Forwarded-For that is not
// itself a trusted proxy; otherwise forwarding headers are ignored, since
// anyone can send them.
func ClientKey(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: stop at the proxy we know
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
