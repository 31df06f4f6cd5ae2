package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/store"
)

// spacingSlack is how far apart from the interval two consecutive slots may
// be: a slot is timed on the database's clock (PostgreSQL) or in the
// transaction (SQLite) and handed to the node as a wait, so each carries
// the jitter of its commit and answer (tens of milliseconds under the race
// detector on a busy machine).
const spacingSlack = 100 * time.Millisecond

func reserve(t *testing.T, st *store.Store, org, aut, step string, interval time.Duration) time.Time {
	t.Helper()
	slot, err := st.ReserveRate(context.Background(), org, aut, step, interval)
	if err != nil {
		t.Fatalf("ReserveRate: %v", err)
	}
	return slot
}

// checkSpacing fails t unless the slots, in time order, are interval apart.
func checkSpacing(t *testing.T, slots []time.Time, interval time.Duration) {
	t.Helper()
	slots = slices.Clone(slots)
	slices.SortFunc(slots, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(slots); i++ {
		if d := slots[i].Sub(slots[i-1]); d < interval-spacingSlack || d > interval+spacingSlack {
			t.Errorf("slot %d is %v after slot %d, want %v ± %v", i, d, i-1, interval, spacingSlack)
		}
	}
}

// testReserveRate: slots of one step are an interval apart, in the order
// asked, concurrent callers and (clustered) nodes included; every
// organisation, automation and step has its own budget; an idle step saves
// nothing up; a new interval starts afresh; deleting the automation drops
// its rates; and a run keeps the slot it reserved.
func testReserveRate(t *testing.T, s *suite) {
	st := s.shared
	org, other := newOrg(t, st), newOrg(t, st)
	const interval = time.Second

	before := time.Now()
	slots := []time.Time{reserve(t, st, org, "aut_1", "crm", interval)}
	after := time.Now()
	if slots[0].Before(before.Add(-time.Millisecond)) || slots[0].After(after) {
		t.Errorf("the first slot of an idle step is %v after the call began, which took %v; want it within the call", slots[0].Sub(before), after.Sub(before))
	}
	for range 3 {
		slots = append(slots, reserve(t, st, org, "aut_1", "crm", interval))
	}
	checkSpacing(t, slots, interval)

	for _, k := range [][3]string{{org, "aut_1", "other"}, {org, "aut_2", "crm"}, {other, "aut_1", "crm"}} {
		if d := time.Until(reserve(t, st, k[0], k[1], k[2], interval)); d > spacingSlack {
			t.Errorf("%v: first slot %v ahead, want now: the budget is per organisation, automation and step", k[1:], d)
		}
	}
	if d := time.Until(reserve(t, st, org, "aut_1", "crm", interval/2)); d > spacingSlack {
		t.Errorf("after the interval changed the slot is %v ahead, want now", d)
	}

	// Concurrent callers, on two nodes when the database has several.
	const n, fast = 12, 300 * time.Millisecond
	url := s.b.NewURL(t)
	nodes := []*store.Store{s.openURL(t, store.Config{URL: url})}
	if s.b.Clustered {
		nodes = append(nodes, s.openURL(t, store.Config{URL: url}))
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var concurrent []time.Time
	for i := range n {
		wg.Go(func() {
			slot, err := nodes[i%len(nodes)].ReserveRate(context.Background(), org, "aut_9", "s", fast)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			concurrent = append(concurrent, slot)
			mu.Unlock()
		})
	}
	wg.Wait()
	checkSpacing(t, concurrent, fast)

	// An idle step does not save up: after a pause the next slot is now,
	// the one after it an interval later.
	first := reserve(t, st, org, "aut_3", "s", fast)
	time.Sleep(3 * fast)
	b, c := reserve(t, st, org, "aut_3", "s", fast), reserve(t, st, org, "aut_3", "s", fast)
	if d := time.Until(b); d > spacingSlack || b.Sub(first) < 3*fast {
		t.Errorf("after a pause: slot %v ahead, %v after the previous; want now", d, b.Sub(first))
	}
	checkSpacing(t, []time.Time{b, c}, fast)

	doc := newAutomation(t, st, org, callAPI("rated", "record_added"))
	reserve(t, st, org, doc.ID, "crm", time.Hour)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAutomation(ctx, org, doc.ID) })
	if d := time.Until(reserve(t, st, org, doc.ID, "crm", time.Hour)); d > spacingSlack {
		t.Errorf("after the automation was deleted its step's slot is %v ahead, want now", d)
	}

	// The slot a run reserved before stepping back into the queue is
	// stored with it, for whichever node works it next.
	r := newRun(t, st, org, "rec_rate")
	slot := at(time.Now().Add(3 * time.Second))
	for i, want := range []*time.Time{&slot, nil} {
		r.Steps[0].RateSlot, r.Steps[0].RateMisses = want, i+1
		seq := r.Seq
		r.Seq++
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRun(ctx, org, r, seq) })
		got, err := st.Run(context.Background(), org, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g := got.Steps[0].RateSlot; (g == nil) != (want == nil) || g != nil && !g.Equal(*want) || got.Steps[0].RateMisses != i+1 {
			t.Errorf("stored rate slot %v, misses %d; want %v, %d", g, got.Steps[0].RateMisses, want, i+1)
		}
	}
}
