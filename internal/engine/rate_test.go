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
