package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
)

func putDue(t *testing.T, st *store.Store, d store.Due) {
	t.Helper()
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.PutDue(ctx, d) })
}

// dueValue reads a due row's value in a transaction of its own.
func dueValue(t *testing.T, st *store.Store, org, aut, rec string) (string, bool) {
	t.Helper()
	var v string
	var ok bool
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		v, ok, err = tx.DueValue(ctx, org, aut, rec)
		return err
	})
	return v, ok
}

func testPutDue(t *testing.T, s *suite) {
	st := s.fresh(t)
	org := newOrg(t, st)
	d := store.Due{AutomationID: "aut_a", RecordID: "rec_a", OrgID: org, At: at(time.Now().Add(-time.Minute)), Value: "2030-01-02"}
	putDue(t, st, d)
	if v, ok := dueValue(t, st, org, "aut_a", "rec_a"); !ok || v != "2030-01-02" {
		t.Errorf("due value = %q, %v", v, ok)
	}
	// Putting again replaces the time and value: one row per (automation,
	// record).
	d.At, d.Value = at(time.Now().Add(-2*time.Minute)), "2030-02-03"
	putDue(t, st, d)
	var claimed []store.Due
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		claimed, err = tx.ClaimDue(ctx, time.Now(), 10)
		return err
	})
	if diff := cmp.Diff([]store.Due{d}, claimed); diff != "" {
		t.Errorf("claimed (-want +got):\n%s", diff)
	}
}

func testDueValue(t *testing.T, s *suite) {
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	putDue(t, st, store.Due{AutomationID: "aut_v", RecordID: "rec_v", OrgID: a, At: time.Now().Add(time.Hour), Value: "v1"})
	for _, c := range []struct {
		name, org, aut, rec string
		ok                  bool
	}{
		{"its own", a, "aut_v", "rec_v", true},
		{"another organisation's", b, "aut_v", "rec_v", false},
		{"another automation", a, "aut_w", "rec_v", false},
		{"another record", a, "aut_v", "rec_w", false},
	} {
		v, ok := dueValue(t, st, c.org, c.aut, c.rec)
		if ok != c.ok || (ok && v != "v1") {
			t.Errorf("%s: %q, %v; want found %v", c.name, v, ok, c.ok)
		}
	}
}

func testDeleteDue(t *testing.T, s *suite) {
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	for _, rec := range []string{"rec_1", "rec_2"} {
		putDue(t, st, store.Due{AutomationID: "aut_d" + a, RecordID: rec, OrgID: a, At: time.Now().Add(time.Hour), Value: "v"})
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteDue(ctx, b, "aut_d"+a, "rec_1") })
	if _, ok := dueValue(t, st, a, "aut_d"+a, "rec_1"); !ok {
		t.Error("another organisation deleted the due row")
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteDue(ctx, a, "aut_d"+a, "rec_1") })
	if _, ok := dueValue(t, st, a, "aut_d"+a, "rec_1"); ok {
		t.Error("the due row is still there")
	}
	if _, ok := dueValue(t, st, a, "aut_d"+a, "rec_2"); !ok {
		t.Error("the other record's due row went too")
	}
	// Deleting what is not there is no error.
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteDue(ctx, a, "aut_d"+a, "rec_1") })
}

func testDeleteDueOf(t *testing.T, s *suite) {
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	aut, other := "aut_of"+a, "aut_other"+a
	for _, d := range []store.Due{
		{AutomationID: aut, RecordID: "rec_1", OrgID: a},
		{AutomationID: aut, RecordID: "rec_2", OrgID: a},
		{AutomationID: other, RecordID: "rec_1", OrgID: a},
	} {
		d.At, d.Value = time.Now().Add(time.Hour), "v"
		putDue(t, st, d)
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteDueOf(ctx, b, aut) })
	if _, ok := dueValue(t, st, a, aut, "rec_1"); !ok {
		t.Error("another organisation deleted the due rows")
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteDueOf(ctx, a, aut) })
	for _, rec := range []string{"rec_1", "rec_2"} {
		if _, ok := dueValue(t, st, a, aut, rec); ok {
			t.Errorf("the automation's due row of %s is still there", rec)
		}
	}
	if _, ok := dueValue(t, st, a, other, "rec_1"); !ok {
		t.Error("another automation's due row went too")
	}
}

func claim(t *testing.T, st *store.Store, now time.Time, limit int) []store.Due {
	t.Helper()
	var got []store.Due
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		got, err = tx.ClaimDue(ctx, now, limit)
		return err
	})
	return got
}

func testClaimDue(t *testing.T, s *suite) {
	t.Run("EarliestFirstOnce", func(t *testing.T) {
		st := s.fresh(t)
		a, b := newOrg(t, st), newOrg(t, st)
		now := at(time.Now())
		var want []store.Due
		for i, org := range []string{a, b, a} {
			d := store.Due{AutomationID: "aut_c", RecordID: fmt.Sprint("rec_", i), OrgID: org, At: now.Add(-time.Duration(3-i) * time.Minute), Value: fmt.Sprint(i)}
			putDue(t, st, d)
			want = append(want, d)
		}
		edge := store.Due{AutomationID: "aut_c", RecordID: "rec_edge", OrgID: a, At: now, Value: "edge"}
		putDue(t, st, edge)
		putDue(t, st, store.Due{AutomationID: "aut_c", RecordID: "rec_later", OrgID: a, At: now.Add(time.Microsecond), Value: "later"})
		if d := cmp.Diff(want[:2], claim(t, st, now, 2)); d != "" {
			t.Errorf("the first two, every organisation's (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]store.Due{want[2], edge}, claim(t, st, now, 10)); d != "" {
			t.Errorf("the rest due by now (-want +got):\n%s", d)
		}
		if got := claim(t, st, now, 10); len(got) != 0 {
			t.Errorf("claimed again: %+v", got)
		}
		if got := claim(t, st, now.Add(time.Microsecond), 10); len(got) != 1 || got[0].RecordID != "rec_later" {
			t.Errorf("claimed at its time: %+v", got)
		}
	})
	t.Run("ConcurrentClaimsAreDisjoint", func(t *testing.T) {
		url := s.b.NewURL(t)
		first := s.openURL(t, store.Config{URL: url})
		org := newOrg(t, first)
		const rows = 60
		write(t, first, func(ctx context.Context, tx *store.Tx) error {
			for i := range rows {
				d := store.Due{AutomationID: "aut_c", RecordID: fmt.Sprintf("rec_%03d", i), OrgID: org, At: time.Now().Add(-time.Minute), Value: "v"}
				if err := tx.PutDue(ctx, d); err != nil {
					return err
				}
			}
			return nil
		})
		claimers := []*store.Store{first}
		if s.b.Clustered {
			// Nodes whose claiming transactions overlap: each waits, rows
			// claimed, until all have claimed. Rows another node holds
			// must be skipped, neither taken twice nor waited for.
			claimers = append(claimers, s.openURL(t, store.Config{URL: url}), s.openURL(t, store.Config{URL: url}))
		}
		var all []string
		for round := 0; len(all) < rows; round++ {
			if round == rows {
				t.Fatalf("claimed %d of %d rows in %d rounds", len(all), rows, round)
			}
			got := make([][]store.Due, len(claimers))
			errs := make([]error, len(claimers))
			barrier := newBarrier(len(claimers))
			var wg sync.WaitGroup
			for i, st := range claimers {
				wg.Go(func() {
					errs[i] = try(st, func(ctx context.Context, tx *store.Tx) error {
						var err error
						if got[i], err = tx.ClaimDue(ctx, time.Now(), 7); err != nil {
							return err
						}
						return barrier.wait()
					})
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			for _, g := range got {
				for _, d := range g {
					all = append(all, d.RecordID)
				}
			}
		}
		slices.Sort(all)
		if len(slices.Compact(slices.Clone(all))) != len(all) || len(all) != rows {
			t.Errorf("claimed %d rows, %d of them distinct; want each of the %d once", len(all), len(slices.Compact(all)), rows)
		}
	})
}

// barrier lets n goroutines wait for each other, for a bounded time.
type barrier struct {
	mu   sync.Mutex
	n    int
	all  chan struct{}
	wait func() error
}

func newBarrier(n int) *barrier {
	b := &barrier{n: n, all: make(chan struct{})}
	b.wait = func() error {
		b.mu.Lock()
		b.n--
		if b.n == 0 {
			close(b.all)
		}
		b.mu.Unlock()
		select {
		case <-b.all:
			return nil
		case <-time.After(wait):
			return errors.New("the other claimers never got their rows: blocked on rows one of them held")
		}
	}
	return b
}

func testStaleDueAutomations(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	a, b := newOrg(t, st), newOrg(t, st)
	due1 := newAutomation(t, st, a, callAPI("due", automation.RecordDue))
	due2 := newAutomation(t, st, b, callAPI("due b", automation.RecordDue))
	off := callAPI("off", automation.RecordDue)
	off.Enabled = false
	newAutomation(t, st, a, off)
	newAutomation(t, st, a, callAPI("added", automation.RecordAdded))
	stale := func(limit int) []store.StaleDue {
		got, err := st.StaleDueAutomations(ctx, limit)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(x, y store.StaleDue) int { return strings.Compare(x.AutomationID, y.AutomationID) })
		return got
	}
	want := []store.StaleDue{
		{OrgID: a, AutomationID: due1.ID, Version: 1, SavedAt: *due1.UpdatedAt},
		{OrgID: b, AutomationID: due2.ID, Version: 1, SavedAt: *due2.UpdatedAt},
	}
	if d := cmp.Diff(want, stale(10)); d != "" {
		t.Errorf("enabled record_due automations not built (-want +got):\n%s", d)
	}
	if got := stale(1); len(got) != 1 {
		t.Errorf("limit 1: %d", len(got))
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.MarkDueBuilt(ctx, a, due1.ID, 1) })
	if d := cmp.Diff(want[1:], stale(10)); d != "" {
		t.Errorf("after building one (-want +got):\n%s", d)
	}
}

func testMarkDueBuilt(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	a, b := newOrg(t, st), newOrg(t, st)
	doc := newAutomation(t, st, a, callAPI("due", automation.RecordDue))
	doc.Name = "v2"
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "") })
	versions := func() []int64 {
		got, err := st.StaleDueAutomations(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, s := range got {
			out = append(out, s.Version)
		}
		return out
	}
	// Marking a version that is no longer current (a build that a newer
	// save overtook), or marking from another organisation, leaves it stale.
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.MarkDueBuilt(ctx, a, doc.ID, 1) })
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.MarkDueBuilt(ctx, b, doc.ID, 2) })
	if got := versions(); !slices.Equal(got, []int64{2}) {
		t.Errorf("stale versions %v, want [2]", got)
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.MarkDueBuilt(ctx, a, doc.ID, 2) })
	if got := versions(); len(got) != 0 {
		t.Errorf("stale versions %v after building the current one", got)
	}
	doc.Name = "v3" // a new version needs building again
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "") })
	if got := versions(); !slices.Equal(got, []int64{3}) {
		t.Errorf("stale versions %v, want [3]", got)
	}
}
