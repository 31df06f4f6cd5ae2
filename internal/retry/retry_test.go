package retry

import (
	"math"
	"testing"
	"time"
)

func constant(r float64) func() float64 { return func() float64 { return r } }

func TestDelayBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n          int
		lower      time.Duration // Rand 0
		upperBound time.Duration // Rand 0.999 lands just below it
	}{
		{-3, 5 * time.Second, 15 * time.Second},
		{0, 5 * time.Second, 15 * time.Second},
		{1, 5 * time.Second, 15 * time.Second},
		{2, 15 * time.Second, 45 * time.Second},
		{3, time.Minute, 3 * time.Minute},
		{4, 5 * time.Minute, 15 * time.Minute},
		{5, 15 * time.Minute, 45 * time.Minute},
		{6, 30 * time.Minute, 90 * time.Minute},
		{7, 90 * time.Minute, 270 * time.Minute},
		{8, 3 * time.Hour, 9 * time.Hour},
		{9, 3 * time.Hour, 9 * time.Hour}, // the last entry repeats
		{1000, 3 * time.Hour, 9 * time.Hour},
		{math.MaxInt, 3 * time.Hour, 9 * time.Hour},
	}
	for _, tc := range tests {
		if got := (Policy{Rand: constant(0)}).Delay(tc.n); got != tc.lower {
			t.Errorf("Delay(%d) with Rand 0 = %v, want %v", tc.n, got, tc.lower)
		}
		got := (Policy{Rand: constant(0.999)}).Delay(tc.n)
		if want := tc.upperBound - tc.upperBound/1000; got < want || got >= tc.upperBound {
			t.Errorf("Delay(%d) with Rand 0.999 = %v, want in [%v, %v)", tc.n, got, want, tc.upperBound)
		}
		mid := (Policy{Rand: constant(0.5)}).Delay(tc.n)
		if want := (tc.lower + tc.upperBound) / 2; mid != want {
			t.Errorf("Delay(%d) with Rand 0.5 = %v, want the schedule entry %v", tc.n, mid, want)
		}
	}
}

func TestDelayCustomSchedule(t *testing.T) {
	t.Parallel()
	p := Policy{Schedule: []time.Duration{time.Second, 4 * time.Second}, Rand: constant(0)}
	for n, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: 2 * time.Second, 3: 2 * time.Second} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestDelayOddValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy Policy
		want   time.Duration
	}{
		{"rand 1 counts as 0.5", Policy{Rand: constant(1)}, 10 * time.Second},
		{"negative rand", Policy{Rand: constant(-0.1)}, 10 * time.Second},
		{"nan rand", Policy{Rand: constant(math.NaN())}, 10 * time.Second},
		{"zero entry", Policy{Schedule: []time.Duration{0}, Rand: constant(0.7)}, 0},
		{"negative entry", Policy{Schedule: []time.Duration{-time.Second}, Rand: constant(0.7)}, 0},
		{"huge entry saturates", Policy{Schedule: []time.Duration{math.MaxInt64}, Rand: constant(0.9)}, math.MaxInt64},
		{"largest rand stays below 1.5x", Policy{Schedule: []time.Duration{time.Hour}, Rand: constant(math.Nextafter(1, 0))}, 90*time.Minute - 1},
		{"largest rand, 1ns entry", Policy{Schedule: []time.Duration{1}, Rand: constant(math.Nextafter(1, 0))}, 1},
		{"zero rand, 1ns entry", Policy{Schedule: []time.Duration{1}, Rand: constant(0)}, 1},
	}
	for _, tc := range tests {
		if got := tc.policy.Delay(1); got != tc.want {
			t.Errorf("%s: Delay(1) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDelayDefaultRand(t *testing.T) {
	t.Parallel()
	var p Policy
	for range 1000 {
		if got := p.Delay(2); got < 15*time.Second || got >= 45*time.Second {
			t.Fatalf("Delay(2) = %v, want in [15s, 45s)", got)
		}
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		policy     Policy
		n          int
		retryAfter time.Duration
		want       time.Duration
	}{
		{"no retry-after uses the schedule", Policy{Rand: constant(0)}, 2, 0, 15 * time.Second},
		{"negative retry-after uses the schedule", Policy{Rand: constant(0)}, 2, -time.Minute, 15 * time.Second},
		{"retry-after replaces the schedule", Policy{Rand: constant(0)}, 8, 2 * time.Minute, 2 * time.Minute},
		{"shorter than the schedule", Policy{Rand: constant(0)}, 3, 5 * time.Second, 5 * time.Second},
		{"floor", Policy{}, 1, time.Millisecond, time.Second},
		{"default cap", Policy{}, 1, 5 * time.Hour, time.Hour},
		{"custom cap", Policy{MaxRetryAfter: 10 * time.Minute}, 1, 5 * time.Hour, 10 * time.Minute},
		{"huge", Policy{}, 1, math.MaxInt64, time.Hour},
	}
	for _, tc := range tests {
		if got := tc.policy.Next(tc.n, tc.retryAfter); got != tc.want {
			t.Errorf("%s: Next(%d, %v) = %v, want %v", tc.name, tc.n, tc.retryAfter, got, tc.want)
		}
	}
}
