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
	if diff := cmp.Diff([]store.Due{d}, claim(t, st, time.Now(), 10)); diff != "" {
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

// claim lists the due rows ready by now and claims them in one
// transaction, as the scanner does; it returns those it claimed.
func claim(t *testing.T, st *store.Store, now time.Time, limit int) []store.Due {
	t.Helper()
	got, err := claimReady(st, now, limit)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func claimReady(st *store.Store, now time.Time, limit int) ([]store.Due, error) {
	ready, err := st.DueReady(context.Background(), now, limit)
	if err != nil {
		return nil, err
	}
	var got []store.Due
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		got = got[:0]
		for _, d := range ready {
			ok, err := tx.ClaimDueRow(ctx, d)
			if err != nil {
				return err
			}
			if ok {
				got = append(got, d)
			}
		}
		return nil
	})
	return got, err
}

func testDueReady(t *testing.T, s *suite) {
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
	ready := func(now time.Time, limit int) []store.Due {
		t.Helper()
		got, err := st.DueReady(context.Background(), now, limit)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if d := cmp.Diff(want[:2], ready(now, 2)); d != "" {
		t.Errorf("the first two, every organisation's (-want +got):\n%s", d)
	}
	// Listing claims nothing: the same rows again, and the rest due by now.
	if d := cmp.Diff(append(want, edge), ready(now, 10)); d != "" {
		t.Errorf("all due by now (-want +got):\n%s", d)
	}
	if got := ready(now.Add(time.Microsecond), 10); len(got) != 5 || got[4].RecordID != "rec_later" {
		t.Errorf("ready a microsecond later: %+v", got)
	}
}

func testClaimDueRow(t *testing.T, s *suite) {
	t.Run("OnceAndOnlyAsListed", func(t *testing.T) {
		st := s.fresh(t)
		org := newOrg(t, st)
		now := at(time.Now())
		d := store.Due{AutomationID: "aut_c", RecordID: "rec_1", OrgID: org, At: now.Add(-time.Minute), Value: "v1"}
		putDue(t, st, d)
		moved := store.Due{AutomationID: "aut_c", RecordID: "rec_2", OrgID: org, At: now.Add(-time.Minute), Value: "v1"}
		putDue(t, st, moved)
		ready, err := st.DueReady(context.Background(), now, 10)
		if err != nil {
			t.Fatal(err)
		}
		// The record of the second row changed after it was listed: its
		// row now holds another value and time, and is not claimed.
		changed := moved
		changed.At, changed.Value = now.Add(time.Hour), "v2"
		putDue(t, st, changed)
		var claimed []bool
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			for _, r := range ready {
				ok, err := tx.ClaimDueRow(ctx, r)
				if err != nil {
					return err
				}
				claimed = append(claimed, ok)
			}
			return nil
		})
		if d := cmp.Diff([]bool{true, false}, claimed); d != "" {
			t.Errorf("claimed (-want +got):\n%s", d)
		}
		if _, ok := dueValue(t, st, org, "aut_c", "rec_1"); ok {
			t.Error("the claimed row is still there")
		}
		if v, ok := dueValue(t, st, org, "aut_c", "rec_2"); !ok || v != "v2" {
			t.Errorf("the changed row: %q, %v; want it kept with v2", v, ok)
		}
		if got := claim(t, st, now, 10); len(got) != 0 {
			t.Errorf("claimed again: %+v", got)
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
			// Nodes that list the same rows and claim them at once: each
			// row must be claimed by one of them, never twice.
			claimers = append(claimers, s.openURL(t, store.Config{URL: url}), s.openURL(t, store.Config{URL: url}))
		}
		var all []string
		for round := 0; len(all) < rows; round++ {
			if round == rows {
				t.Fatalf("claimed %d of %d rows in %d rounds", len(all), rows, round)
			}
			got := make([][]store.Due, len(claimers))
			errs := make([]error, len(claimers))
			var wg sync.WaitGroup
			for i, st := range claimers {
				wg.Go(func() { got[i], errs[i] = claimReady(st, time.Now(), 7) })
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
