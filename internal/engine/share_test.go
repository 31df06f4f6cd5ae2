package engine

import (
	"context"
	"testing"
	"time"
)

// TestSlotsFairShare: alone, an organisation may fill nine tenths of the
// node; the tenth kept free lets a second organisation start at once, and
// the first gets no new slot until it is back under its share.
func TestSlotsFairShare(t *testing.T) {
	t.Parallel()
	s := newSlots(100, 0)
	take := func(org string, n int) (got int, last outcome) {
		for range n {
			if last, _ = s.tryTake(org); last != taken {
				return got, last
			}
			got++
		}
		return got, taken
	}
	if got, last := take("a", 200); got != 90 || last != overShare {
		t.Fatalf("alone: a took %d (then %v), want 90 then overShare", got, last)
	}
	// b is not busy yet: its share counts it, and the reserve is free.
	if got, last := take("b", 200); got != 10 || last != nodeFull {
		t.Fatalf("b took %d (then %v), want the 10 kept free, then nodeFull", got, last)
	}
	// Half of a's runs finish: the share of two busy organisations is
	// 90/2 = 45 each, and the tenth stays free for a third.
	for range 50 {
		s.give("a")
	}
	if got, last := take("a", 200); got != 5 || last != overShare {
		t.Fatalf("a, at 40: took %d (then %v), want 5 then overShare", got, last)
	}
	if got, last := take("b", 200); got != 35 || last != overShare {
		t.Fatalf("b, at 10: took %d (then %v), want 35 then overShare", got, last)
	}
	if got, last := take("c", 200); got != 10 || last != nodeFull {
		t.Fatalf("c: took %d (then %v), want the 10 kept free", got, last)
	}
	if total, a := s.inFlight("a"); total != 100 || a != 45 {
		t.Errorf("in flight %d, of a %d; want 100, 45", total, a)
	}
}

func TestSlotsShareRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		max, perOrg int
		busy        []string // organisations holding one run each
		org         string
		want        int
	}{
		{name: "alone", max: 500, org: "a", want: 450},
		{name: "alone, holding runs", max: 500, busy: []string{"a"}, org: "a", want: 450},
		{name: "second", max: 500, busy: []string{"a"}, org: "b", want: 225},
		{name: "third", max: 500, busy: []string{"a", "b"}, org: "c", want: 150},
		{name: "many", max: 20, busy: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}, org: "z", want: 1},
		{name: "small node keeps nothing free", max: 8, org: "a", want: 8},
		{name: "fixed cap", max: 500, perOrg: 40, busy: []string{"a", "b"}, org: "a", want: 40},
		{name: "no cap", max: 500, perOrg: -1, busy: []string{"a", "b"}, org: "a", want: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlots(tc.max, tc.perOrg)
			for _, o := range tc.busy {
				if out, _ := s.tryTake(o); out != taken {
					t.Fatalf("setup: tryTake(%s) = %v", o, out)
				}
			}
			if got := s.share(tc.org); got != tc.want {
				t.Errorf("share(%s) = %d, want %d", tc.org, got, tc.want)
			}
		})
	}
}

// TestSlotsAcquireWaits: a run waits for a slot given back while the node
// is full (until its deadline), and not at all when its organisation holds
// its share.
func TestSlotsAcquireWaits(t *testing.T) {
	t.Parallel()
	s := newSlots(2, -1)
	ctx := context.Background()
	far := time.Now().Add(time.Minute)
	s.tryTake("a")
	s.tryTake("a")
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.give("a")
	}()
	if out := s.acquire(ctx, "b", far); out != taken {
		t.Fatalf("acquire while full, a slot given back later = %v, want taken", out)
	}
	if out := s.acquire(ctx, "b", time.Now().Add(30*time.Millisecond)); out != nodeFull {
		t.Fatalf("acquire while full until the deadline = %v, want nodeFull", out)
	}

	s = newSlots(10, 2)
	s.tryTake("a")
	s.tryTake("a")
	start := time.Now()
	if out := s.acquire(ctx, "a", far); out != overShare {
		t.Fatalf("acquire over the share = %v, want overShare", out)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("over the share, acquire waited %v: want no wait", d)
	}
	s.give("a")
	if out := s.acquire(ctx, "a", far); out != taken {
		t.Fatalf("back under the share = %v, want taken", out)
	}
	s = newSlots(1, -1)
	s.tryTake("a")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if out := s.acquire(cancelled, "b", far); out != nodeFull {
		t.Fatalf("acquire with a cancelled context on a full node = %v, want nodeFull", out)
	}
}

func TestOverShareDelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		meta string
		want time.Duration // drawn from [want/2, want*3/2)
	}{
		{"", time.Second},
		{"{}", time.Second},
		{`{"snoozes":1}`, 2 * time.Second},
		{`{"snoozes":2}`, 4 * time.Second},
		{`{"snoozes":3}`, 8 * time.Second},
		{`{"snoozes":400}`, 8 * time.Second},
		{`{"snoozes":-3}`, time.Second},
	} {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 200 {
			got := overShareDelay([]byte(tc.meta))
			lo, hi = min(lo, got), max(hi, got)
		}
		if lo < tc.want/2 || hi >= tc.want*3/2 || hi-lo < tc.want/2 {
			t.Errorf("overShareDelay(%s) drew from [%v, %v], want spread over [%v, %v)", tc.meta, lo, hi, tc.want/2, tc.want*3/2)
		}
	}
}
