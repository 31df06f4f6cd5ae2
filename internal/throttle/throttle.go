// Package throttle limits how often a key (an API key, a client address)
// may do something: a token bucket per key, on an injectable clock, in
// bounded memory.
//
// It is built on golang.org/x/time/rate; what this package adds is the map
// of buckets and the two ways they are used: Allow, where every request
// takes a token (a per-key request rate), and Wait/Fail, where only failures
// take one (failed sign-ins and unknown API keys from one address).
package throttle

import (
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

// maxKeys bounds the buckets kept. Past it they are all forgotten, which
// only forgives: no key is ever refused for another's use.
const maxKeys = 100000

// Limiter holds one token bucket per key. A nil *Limiter allows everything.
type Limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time

	mu       sync.Mutex
	buckets  map[string]*rate.Limiter
	checking map[string]int // Begin calls not yet ended, per key
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
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, now: now, buckets: map[string]*rate.Limiter{}, checking: map[string]int{}}
}

// bucket returns key's bucket; l.mu must be held.
func (l *Limiter) bucket(key string) *rate.Limiter {
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxKeys {
			l.buckets = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(l.rate, l.burst)
		l.buckets[key] = b
	}
	return b
}

// Allow takes a token for key; when there is none it takes nothing and
// reports how long until there is one.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	b := l.bucket(key)
	l.mu.Unlock()
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Begin starts an attempt that only a failure pays for (a sign-in): it is
// refused, with how long to wait, when key's failures have spent its
// budget — counting the attempts of key still being checked as failures, so
// that many at once cannot all slip through. Otherwise end must be called
// with whether the attempt failed; a failure takes a token.
func (l *Limiter) Begin(key string) (end func(failed bool), wait time.Duration) {
	if l == nil {
		return func(bool) {}, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key)
	if free := b.TokensAt(l.now()) - float64(l.checking[key]); free < 1 {
		d := time.Duration((1 - free) / float64(l.rate) * float64(time.Second))
		return nil, max(d.Round(time.Millisecond), time.Millisecond) // float noise off; never 0
	}
	l.checking[key]++
	var once sync.Once
	return func(failed bool) {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.checking[key]--; l.checking[key] <= 0 {
				delete(l.checking, key)
			}
			if failed {
				b.AllowN(l.now(), 1)
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
