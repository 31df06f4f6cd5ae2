package engine

import (
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
)

func TestRateInterval(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		perSecond float64
		interval  time.Duration
		late      time.Duration
	}{
		{10, 100 * time.Millisecond, 100 * time.Millisecond},
		{0.5, 2 * time.Second, 2 * time.Second},
		{20, 50 * time.Millisecond, 50 * time.Millisecond},
		{1000, time.Millisecond, rateLateMin},
	} {
		got := rateInterval(&automation.CallAPI{MaxPerSecond: tt.perSecond})
		if got != tt.interval || rateLate(got) != tt.late {
			t.Errorf("maxPerSecond %v: interval %v, late %v; want %v, %v", tt.perSecond, got, rateLate(got), tt.interval, tt.late)
		}
	}
}

// TestDeferUntil: a run waiting for its rate slot keeps it and comes
// back rateLead before it, without counting a deferral; a run waiting for
// a busy destination backs off.
func TestDeferUntil(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	slot := now.Add(3 * time.Second)
	for misses, lead := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond} {
		state := automation.StepState{RateMisses: misses}
		at := deferUntil(&state, slot, now)
		if !at.Equal(slot.Add(-lead)) || state.RateSlot == nil || !state.RateSlot.Equal(slot) || state.Deferrals != 0 ||
			state.NextAttemptAt == nil || !state.NextAttemptAt.Equal(slot) {
			t.Errorf("rate deferral after %d misses: back at %v, state %+v; want at %v, the slot kept and shown, no deferral counted", misses, at, state, slot.Add(-lead))
		}
		// Brought back on time, the run waits for its slot in the worker.
		if near := rateNearFor(misses); near < lead || near > lead+rateNear {
			t.Errorf("after %d misses a run is brought back %v early but waits in the worker only for slots within %v", misses, lead, near)
		}
	}
	var state automation.StepState
	state = automation.StepState{}
	for n, want := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second} {
		at := deferUntil(&state, time.Time{}, now)
		if at.Sub(now) != want || state.Deferrals != n+1 {
			t.Errorf("busy destination, deferral %d: back after %v (deferrals %d), want %v", n+1, at.Sub(now), state.Deferrals, want)
		}
	}
}
