package engine

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"time"
)

// slots bounds the runs in flight on a node, and each organisation's share
// of them, so that no organisation can hold every worker: one whose runs
// hang on receivers that never answer leaves room for the others.
//
// The share (perOrg 0, the default) adapts to how many organisations are
// busy: the node's bound, less a tenth kept free for organisations that have
// nothing in flight yet, divided by the organisations with runs in flight
// (the one asking included). Alone, an organisation may use nine tenths of
// the node; when a second one starts, it finds the tenth free at once, and
// the first gets no new slot until it is back under half of nine tenths. A
// fixed cap (perOrg > 0) or none (perOrg < 0) can be configured instead.
type slots struct {
	max     int
	reserve int // kept free for organisations with nothing in flight
	perOrg  int // > 0: a fixed cap; 0: the fair share; < 0: no cap

	mu    sync.Mutex
	total int
	orgs  map[string]int // runs in flight per organisation, only those with some
	freed chan struct{}  // closed, and replaced, whenever a slot is given back
}

func newSlots(max, perOrg int) *slots {
	return &slots{max: max, reserve: max / 10, perOrg: perOrg, orgs: map[string]int{}, freed: make(chan struct{})}
}

// outcome is what an attempt to take a slot came to.
type outcome int

const (
	taken     outcome = iota
	nodeFull          // every slot of the node is taken
	overShare         // the organisation holds its share
)

// share is how many runs org may have in flight, s.mu held.
func (s *slots) share(org string) int {
	switch {
	case s.perOrg > 0:
		return s.perOrg
	case s.perOrg < 0:
		return s.max
	}
	busy := len(s.orgs)
	if s.orgs[org] == 0 {
		busy++
	}
	return max(1, (s.max-s.reserve)/busy)
}

// tryTake takes a slot for org if the node and org's share allow, and
// returns what came of it with the channel that is closed when a slot is
// next given back.
func (s *slots) tryTake(org string) (outcome, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.total >= s.max:
		return nodeFull, s.freed
	case s.orgs[org] >= s.share(org):
		return overShare, s.freed
	}
	s.total++
	s.orgs[org]++
	return taken, nil
}

// give returns org's slot.
func (s *slots) give(org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.orgs[org]--; s.orgs[org] <= 0 {
		delete(s.orgs, org)
	}
	close(s.freed)
	s.freed = make(chan struct{})
}

// inFlight returns the runs in flight, in all and of org (tests).
func (s *slots) inFlight(org string) (total, ofOrg int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.orgs[org]
}

// acquire takes a slot for a run of org, waiting while the node is full
// until deadline at most. A run whose organisation holds its share does not
// wait: it should step back into the queue at once, so that it does not
// hold a queue worker that another organisation's run could use (the
// queue is one for all: an organisation's runs waiting for their share
// stand before others' in it, and each must be fetched and put back).
func (s *slots) acquire(ctx context.Context, org string, deadline time.Time) outcome {
	for {
		out, freed := s.tryTake(org)
		if out != nodeFull {
			return out
		}
		wait := time.Until(deadline)
		if wait <= 0 || ctx.Err() != nil {
			return out
		}
		t := time.NewTimer(wait)
		select {
		case <-freed:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// overShareDelay is how long a job whose organisation held its share
// steps back: 1 s, doubling with each time the job has been snoozed, at
// most 8 s, each drawn from half to one and a half times that. The queue is
// one for all organisations, and every time a waiting run is fetched and
// put back costs a write: so hundreds of runs waiting for their
// organisation's share cost a few dozen writes a second, spread out, and
// stand before few of another organisation's runs.
func overShareDelay(metadata []byte) time.Duration {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m) // no metadata: no snooze yet
	d := min(time.Second<<min(max(m.Snoozes, 0), 3), 8*time.Second)
	return d/2 + rand.N(d)
}
