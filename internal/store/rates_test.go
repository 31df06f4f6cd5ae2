package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/pgtest"
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
	at, err := st.ReserveRate(context.Background(), org, aut, step, interval)
	if err != nil {
		t.Fatalf("ReserveRate: %v", err)
	}
	return at
}

func checkSpacing(t *testing.T, slots []time.Time, interval time.Duration) {
	t.Helper()
	slices.SortFunc(slots, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(slots); i++ {
		if d := slots[i].Sub(slots[i-1]); d < interval-spacingSlack || d > interval+spacingSlack {
			t.Errorf("slot %d is %v after slot %d, want %v ± %v", i, d, i-1, interval, spacingSlack)
		}
	}
}

func TestReserveRate(t *testing.T) {
	forEachDB(t, func(t *testing.T, st *store.Store) {
		const interval = time.Second
		before := time.Now()
		slots := []time.Time{reserve(t, st, "org_a", "aut_1", "crm", interval)}
		after := time.Now()
		if slots[0].Before(before.Add(-time.Millisecond)) || slots[0].After(after) {
			t.Errorf("the first slot of an idle step is %v after the call began, which took %v; want it within the call", slots[0].Sub(before), after.Sub(before))
		}
		for range 3 {
			slots = append(slots, reserve(t, st, "org_a", "aut_1", "crm", interval))
		}
		checkSpacing(t, slots, interval)

		// Other steps, automations and organisations have budgets of
		// their own.
		for _, k := range [][3]string{{"org_a", "aut_1", "other"}, {"org_a", "aut_2", "crm"}, {"org_b", "aut_1", "crm"}} {
			if d := time.Until(reserve(t, st, k[0], k[1], k[2], interval)); d > spacingSlack {
				t.Errorf("%v: first slot %v ahead, want now: the budget is per organisation, automation and step", k, d)
			}
		}

		// A new maxPerSecond starts the step afresh.
		if d := time.Until(reserve(t, st, "org_a", "aut_1", "crm", interval/2)); d > spacingSlack {
			t.Errorf("after the interval changed the slot is %v ahead, want now", d)
		}

		// Concurrent reservations get distinct slots, one interval apart.
		const n = 12
		const fast = 300 * time.Millisecond
		var mu sync.Mutex
		var wg sync.WaitGroup
		concurrent := make([]time.Time, 0, n)
		for range n {
			wg.Go(func() {
				at, err := st.ReserveRate(context.Background(), "org_c", "aut_9", "s", fast)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				concurrent = append(concurrent, at)
				mu.Unlock()
			})
		}
		wg.Wait()
		checkSpacing(t, concurrent, fast)

		// An idle step's budget does not pile up: after a pause the next
		// slot is now, and the one after it an interval later (no burst
		// beyond one request).
		time.Sleep(3 * fast)
		a := reserve(t, st, "org_d", "aut_1", "s", fast)
		time.Sleep(3 * fast)
		b, c := reserve(t, st, "org_d", "aut_1", "s", fast), reserve(t, st, "org_d", "aut_1", "s", fast)
		if d := time.Until(b); d > spacingSlack || b.Sub(a) < 3*fast {
			t.Errorf("after a pause: slot %v ahead, %v after the previous; want now", d, b.Sub(a))
		}
		checkSpacing(t, []time.Time{b, c}, fast)

		// Deleting the automation drops its rates.
		org := newOrg(t, st, "R")
		aut := &automation.Automation{Name: "a", Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: automation.Manual}}
		write(t, st, func(tx *store.Tx) error { return tx.SaveAutomation(context.Background(), org, aut, "") })
		reserve(t, st, org, aut.ID, "s", time.Hour)
		write(t, st, func(tx *store.Tx) error { return tx.DeleteAutomation(context.Background(), org, aut.ID) })
		if d := time.Until(reserve(t, st, org, aut.ID, "s", time.Hour)); d > spacingSlack {
			t.Errorf("after the automation was deleted its step's slot is %v ahead, want now", d)
		}
	})
}

// TestReserveRateSharedByNodes: two nodes (two stores on one PostgreSQL
// database) draw from one budget.
func TestReserveRateSharedByNodes(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	var nodes []*store.Store
	for range 2 {
		st, err := store.Open(context.Background(), store.Config{URL: url})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { st.Close(context.Background()) })
		nodes = append(nodes, st)
	}
	const interval = 200 * time.Millisecond
	var slots []time.Time
	for i := range 6 {
		slots = append(slots, reserve(t, nodes[i%2], "org", "aut", "crm", interval))
	}
	checkSpacing(t, slots, interval)
}

// TestRunKeepsItsRateSlot: the slot a run reserved before stepping back
// into the queue is stored with it, for whichever node works it next.
func TestRunKeepsItsRateSlot(t *testing.T) {
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		org := newOrg(t, st, "A")
		run := sampleRun()
		write(t, st, func(tx *store.Tx) error { return tx.InsertRun(ctx, org, run) })
		slot := time.Now().Add(3 * time.Second).UTC().Truncate(time.Microsecond)
		for seq, want := range []*time.Time{&slot, nil} {
			run.Steps[0].RateSlot = want
			run.Steps[0].RateMisses = seq + 1
			run.Seq = int64(seq + 2)
			write(t, st, func(tx *store.Tx) error { return tx.UpdateRun(ctx, org, run, int64(seq+1)) })
			got, err := st.Run(ctx, org, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if g := got.Steps[0].RateSlot; (g == nil) != (want == nil) || g != nil && !g.Equal(*want) {
				t.Errorf("stored rate slot = %v, want %v", g, want)
			}
			if g := got.Steps[0].RateMisses; g != seq+1 {
				t.Errorf("stored rate misses = %d, want %d", g, seq+1)
			}
		}
	})
}

// BenchmarkReserveRate measures one slot reservation (what a request of a
// step with maxPerSecond adds), on each database, from parallel callers.
func BenchmarkReserveRate(b *testing.B) {
	for _, db := range []struct{ name, url string }{
		{"sqlite", "sqlite:" + b.TempDir() + "/autohook.db"},
		{"postgres", ""},
	} {
		b.Run(db.name, func(b *testing.B) {
			url := db.url
			if url == "" {
				url = pgtest.NewDatabase(b)
			}
			st, err := store.Open(context.Background(), store.Config{URL: url})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(context.Background())
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.ReserveRate(context.Background(), "org", "aut", "s", time.Microsecond); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
