package retry

import (
	"math"
	"net/http"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

var retryAfterCases = []struct {
	in     string
	want   time.Duration
	wantOK bool
}{
	{"120", 2 * time.Minute, true},
	{"0", 0, true},
	{" 7 ", 7 * time.Second, true},
	{"007", 7 * time.Second, true},
	{"-5", 0, true},
	{"-0", 0, true},
	{"9223372036", 9223372036 * time.Second, true},
	{"9223372037", math.MaxInt64, true},
	{"99999999999999999999999999999999", math.MaxInt64, true},
	{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
	{"Sat, 14 Mar 2026 16:09:26 GMT", time.Hour, true},
	{"Saturday, 14-Mar-26 15:10:26 GMT", time.Minute, true}, // RFC 850
	{"Sat Mar 14 15:09:36 2026", 10 * time.Second, true},    // ANSI C asctime
	{"Sat, 14 Mar 2026 15:00:00 GMT", 0, true},              // in the past
	{"Mon, 01 Jan 0001 00:00:00 GMT", 0, true},
	{"Fri, 31 Dec 9999 23:59:59 GMT", math.MaxInt64, true}, // saturates
	{"", 0, false},
	{"   ", 0, false},
	{"soon", 0, false},
	{"1.5", 0, false},
	{"+5", 0, false},
	{"5s", 0, false},
	{"--5", 0, false},
	{"-", 0, false},
	{"0x10", 0, false},
	{"2026-03-14T15:10:00Z", 0, false},
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range retryAfterCases {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, tc := range retryAfterCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, want no negative wait", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when not ok", v, d)
		}
		if ok {
			if got := (Policy{}).Next(1, d); d > 0 && (got < MinRetryAfter || got > DefaultMaxRetryAfter) {
				t.Fatalf("Next(1, %v) = %v, outside [%v, %v]", d, got, MinRetryAfter, DefaultMaxRetryAfter)
			}
		}
	})
}
