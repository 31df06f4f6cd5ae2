package engine

import (
	"context"
	"time"

	"github.com/autohook/autohook/internal/automation"
)

// A call_api step with maxPerSecond sends its requests, cluster-wide, in
// slots one interval (1 s / maxPerSecond) apart, reserved in the database
// (store.ReserveRate) in the order runs ask. Waiting for a slot is not an
// attempt, and a run never holds a worker for long while it waits: when
// its slot is near it waits in the worker, else it steps back into the
// queue, scheduled a lead before its slot, and keeps the slot.
//
// A run the queue brings back too late for its slot (a loaded node) loses
// it and reserves another; so that it does not miss that one too, each
// miss doubles its lead (100 ms, 200, 400, at most 800) and the wait in
// the worker that goes with it. Only runs that missed hold a worker longer.

const (
	// rateNear: a slot at most this far ahead is waited for in the worker
	// (plus the extra lead of a run that missed, see rateLead).
	rateNear = 250 * time.Millisecond
	// rateLeadBase: a run that stepped back is worked this long before its
	// slot, so that the queue's own delay does not make it late.
	rateLeadBase = 100 * time.Millisecond
	// rateMaxDoublings bounds the lead's growth: 800 ms.
	rateMaxDoublings = 3
	// rateLateMin is the least a kept slot may be missed by and still be
	// used (see rateLate).
	rateLateMin = 10 * time.Millisecond
)

// rateLead is how long before its slot a run that stepped back is worked,
// after misses slots missed in a row.
func rateLead(misses int) time.Duration {
	return rateLeadBase << min(misses, rateMaxDoublings)
}

// rateNearFor is how far ahead a slot is waited for in the worker, for a
// run with misses: its extra lead on top of rateNear.
func rateNearFor(misses int) time.Duration {
	return rateNear + rateLead(misses) - rateLeadBase
}

// rateLate is how late a run that stepped back may come for its slot and
// still use it: one interval (at least rateLateMin). A request is then sent
// within one interval of its slot, so any one second holds at most
// maxPerSecond + 1 of the step's requests (slots are an interval apart; up
// to 100 per second). A run later than that reserves a new slot.
func rateLate(interval time.Duration) time.Duration { return max(interval, rateLateMin) }

// rateInterval is the time between two slots of a step.
func rateInterval(s *automation.CallAPI) time.Duration {
	return time.Duration(float64(time.Second) / s.MaxPerSecond)
}

// awaitRate holds step i's request until its rate slot. It returns nil when
// the request may go now; a deferred pending when the slot is far and the
// run steps back into the queue; ok false with a nil pending when the
// node is shutting down.
func (x *execution) awaitRate(ctx context.Context, i int, s *automation.CallAPI) (p *pending, ok bool) {
	if s.MaxPerSecond <= 0 {
		return nil, true
	}
	e, state := x.e, &x.run.Steps[i]
	interval := rateInterval(s)
	var slot time.Time
	if kept := state.RateSlot; kept != nil && time.Since(*kept) < rateLate(interval) {
		slot = *kept // reserved before the run stepped back
	} else {
		if kept != nil {
			state.RateMisses++ // committed with the deferral or the attempt
		}
		var err error
		slot, err = e.st.ReserveRate(ctx, x.job.OrgID, x.run.AutomationID, s.ID, interval)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false
			}
			// Without the shared budget the request cannot know it may
			// go: it waits like for a busy destination.
			e.log.WarnContext(ctx, "reserve a rate slot", "run", x.run.ID, "step", s.ID, "err", err)
			return &pending{deferred: true}, false
		}
	}
	d := time.Until(slot)
	if d > rateNearFor(state.RateMisses) {
		return &pending{deferred: true, rateSlot: slot}, false
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, false
		}
	}
	return nil, true
}
