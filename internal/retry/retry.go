// Package retry provides the retry rules for outbound calls: the backoff
// schedule with jitter, honouring a server's Retry-After, and which failure
// classes are retried.
package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// DefaultSchedule is the wait after each failed attempt: after the first
// failure about 10 s, after the second about 30 s, and so on; the last entry
// repeats for attempts beyond it. Treat it as read-only.
var DefaultSchedule = []time.Duration{
	10 * time.Second,
	30 * time.Second,
	2 * time.Minute,
	10 * time.Minute,
	30 * time.Minute,
	time.Hour,
	3 * time.Hour,
	6 * time.Hour,
}

// DefaultMaxRetryAfter caps how long a server's Retry-After can make us wait.
const DefaultMaxRetryAfter = time.Hour

// MinRetryAfter is the shortest wait a Retry-After leads to, so that
// "Retry-After: 0" does not turn into a tight loop.
const MinRetryAfter = time.Second

// Policy computes the wait before the next attempt. The zero value uses
// DefaultSchedule, DefaultMaxRetryAfter and math/rand/v2.
type Policy struct {
	Schedule      []time.Duration // waits after attempts 1, 2, ...; empty means DefaultSchedule
	MaxRetryAfter time.Duration   // cap on Retry-After; 0 means DefaultMaxRetryAfter
	Rand          func() float64  // uniform in [0, 1); nil means rand.Float64
}

// Delay returns the wait before attempt n+1 after attempt n failed; n starts
// at 1 (smaller n counts as 1) and beyond the schedule its last entry repeats.
//
// The jitter is "equal-ish": uniform in [entry/2, entry*3/2), so retries from
// many runs that failed together spread out, yet a wait is never zero (which
// full jitter allows) nor more than half as long again as the schedule says.
// A Rand value outside [0, 1) counts as 0.5, giving the entry itself.
func (p Policy) Delay(n int) time.Duration {
	schedule := p.Schedule
	if len(schedule) == 0 {
		schedule = DefaultSchedule
	}
	n = min(max(n, 1), len(schedule))
	entry := schedule[n-1]
	if entry <= 0 {
		return 0
	}
	random := p.Rand
	if random == nil {
		random = rand.Float64
	}
	r := random()
	if !(r >= 0 && r < 1) { // also catches NaN
		r = 0.5
	}
	// r*entry can round up to entry itself; keep the bound exclusive. The
	// comparison also keeps the conversion below in range.
	jitter := entry - 1
	if f := r * float64(entry); f < float64(entry) {
		jitter = min(time.Duration(f), entry-1)
	}
	lower := entry - entry/2 // half, rounded up, so a positive entry never gives 0
	if lower > math.MaxInt64-jitter {
		return math.MaxInt64
	}
	return lower + jitter
}

// Next returns the wait before attempt n+1 after attempt n failed, given the
// server's Retry-After (0 when there was none or it does not count, see
// HonoursRetryAfter). A positive retryAfter replaces the schedule: the wait
// is retryAfter, at least MinRetryAfter, at most MaxRetryAfter.
func (p Policy) Next(n int, retryAfter time.Duration) time.Duration {
	if retryAfter <= 0 {
		return p.Delay(n)
	}
	limit := p.MaxRetryAfter
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	return min(max(retryAfter, MinRetryAfter), limit)
}
