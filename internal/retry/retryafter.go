package retry

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// ParseRetryAfter reads a Retry-After header value (RFC 9110, section
// 10.2.3): delta-seconds or an HTTP-date, the latter relative to now. A
// negative number or a date in the past gives 0, true; a number too large for
// a time.Duration gives the largest one (callers cap it, as Next does);
// anything else gives 0, false.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if digits, negative := strings.CutPrefix(v, "-"); isDigits(digits) {
		if negative {
			return 0, true
		}
		return seconds(digits), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true // Sub saturates rather than overflowing
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// seconds converts a string of digits to a Duration, saturating.
func seconds(digits string) time.Duration {
	const limit = math.MaxInt64 / int64(time.Second)
	var n int64
	for i := range len(digits) {
		n = n*10 + int64(digits[i]-'0')
		if n > limit {
			return math.MaxInt64
		}
	}
	return time.Duration(n) * time.Second
}
