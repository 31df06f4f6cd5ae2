package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
)

// count counts one finished run of automation id.
func count(t *testing.T, st *store.Store, org, id string, failed bool) store.RunCount {
	t.Helper()
	var c store.RunCount
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		c, err = tx.CountRunOutcome(ctx, org, id, failed, tx.Now(), "http_4xx the receiver answered 401", 0)
		return err
	})
	return c
}

func pausing(n int) *int { return &n }

func testCountRunOutcome(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := callAPI("pauses", "manual")
	doc.PauseAfterFailures = pausing(3)
	doc = newAutomation(t, st, a, doc)
	// Another organisation's count touches nothing.
	if c := count(t, st, b, doc.ID, true); c != (store.RunCount{}) {
		t.Errorf("another organisation's count = %+v, want nothing", c)
	}
	steps := []struct {
		failed bool
		want   store.RunCount
	}{
		{true, store.RunCount{Streak: 1}},
		{true, store.RunCount{Streak: 2}},
		{false, store.RunCount{}}, // a success resets the streak
		{true, store.RunCount{Streak: 1}},
		{true, store.RunCount{Streak: 2}},
		{true, store.RunCount{Streak: 3, Paused: true}}, // the third in a row pauses
		{true, store.RunCount{Streak: 4}},               // already paused: counted, not paused again
	}
	for i, step := range steps {
		got := count(t, st, a, doc.ID, step.failed)
		if got := (store.RunCount{Streak: got.Streak, Paused: got.Paused}); got != step.want {
			t.Errorf("count %d (failed %v) = %+v, want %+v", i, step.failed, got, step.want)
		}
	}
	v, err := st.Automation(ctx, a, doc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Doc.State != "paused" || v.Doc.PausedAt == nil || v.Doc.ConsecutiveFailures != 4 ||
		!strings.HasPrefix(v.Doc.PausedReason, "3 runs in a row failed; the last: http_4xx") {
		t.Errorf("after the pause: state %q, pausedAt %v, failures %d, reason %q", v.Doc.State, v.Doc.PausedAt, v.Doc.ConsecutiveFailures, v.Doc.PausedReason)
	}
	// pauseAfterFailures 0 never pauses.
	never := callAPI("never", "manual")
	never.PauseAfterFailures = pausing(0)
	never = newAutomation(t, st, a, never)
	for range 5 {
		if c := count(t, st, a, never.ID, true); c.Paused {
			t.Fatalf("pauseAfterFailures 0 paused at %d", c.Streak)
		}
	}
	// run_failed alerts: the first failure raises one, the next within
	// the window none, the first after it one counting them all.
	throttled := newAutomation(t, st, a, callAPI("throttled", "manual"))
	t0 := time.Now()
	for i, c := range []struct {
		after time.Duration
		want  store.RunCount
	}{
		{0, store.RunCount{Streak: 1, Alert: true, AlertCount: 1}},
		{time.Minute, store.RunCount{Streak: 2}},
		{2 * time.Minute, store.RunCount{Streak: 3}},
		{11 * time.Minute, store.RunCount{Streak: 4, Alert: true, AlertCount: 3}},
		{12 * time.Minute, store.RunCount{Streak: 5}},
	} {
		var got store.RunCount
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			got, err = tx.CountRunOutcome(ctx, a, throttled.ID, true, t0.Add(c.after), "network", 10*time.Minute)
			return err
		})
		if got != c.want {
			t.Errorf("throttled failure %d (+%v) = %+v, want %+v", i, c.after, got, c.want)
		}
	}
	// A deleted automation counts nothing.
	if c := count(t, st, a, "aut_unknown", true); c != (store.RunCount{}) {
		t.Errorf("unknown automation's count = %+v", c)
	}

	t.Run("racing", func(t *testing.T) {
		// Runs finishing at once, on two nodes where the database is
		// shared: every failure counted once, exactly one pauses.
		url := s.b.NewURL(t)
		nodes := []*store.Store{s.openURL(t, store.Config{URL: url})}
		if s.b.Clustered {
			nodes = append(nodes, s.openURL(t, store.Config{URL: url}))
		}
		org := newOrg(t, nodes[0])
		race := callAPI("race", "manual")
		race.PauseAfterFailures = pausing(25)
		race = newAutomation(t, nodes[0], org, race)
		const runs = 60
		at := time.Now()
		var paused, alerted, failed atomic.Int64
		var wg sync.WaitGroup
		for i := range runs {
			wg.Go(func() {
				st := nodes[i%len(nodes)]
				err := st.Write(ctx, func(tx *store.Tx) error {
					// every run at the same microsecond: which one paused
					// it, and which one alerted, is not told by the time
					c, err := tx.CountRunOutcome(ctx, org, race.ID, true, at, "network", time.Hour)
					if c.Paused {
						paused.Add(1)
					}
					if c.Alert {
						alerted.Add(1)
					}
					return err
				})
				if err != nil {
					failed.Add(1)
					t.Error(err)
				}
			})
		}
		wg.Wait()
		v, err := nodes[len(nodes)-1].Automation(ctx, org, race.ID)
		if err != nil {
			t.Fatal(err)
		}
		if alerted.Load() != 1 {
			t.Errorf("%d racing failures within the throttle raised %d run_failed alerts, want 1", runs, alerted.Load())
		}
		if paused.Load() != 1 || v.Doc.ConsecutiveFailures != runs || v.Doc.State != "paused" {
			t.Errorf("%d racing failures on %d node(s): %d paused it, the count is %d, state %s; want 1, %d, paused",
				runs, len(nodes), paused.Load(), v.Doc.ConsecutiveFailures, v.Doc.State, runs)
		}
	})
}

func testResumeAutomation(t *testing.T, s *suite) {
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := callAPI("resume", "manual")
	doc.PauseAfterFailures = pausing(1)
	doc = newAutomation(t, st, a, doc)
	if c := count(t, st, a, doc.ID, true); !c.Paused {
		t.Fatalf("one failure with pauseAfterFailures 1: %+v, want paused", c)
	}
	resume := func(org, id string) (bool, error) {
		var was bool
		err := try(st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			was, err = tx.ResumeAutomation(ctx, org, id)
			return err
		})
		return was, err
	}
	_, err := resume(b, doc.ID)
	wantErr(t, "another organisation's resume", err, store.ErrNotFound)
	_, err = resume(a, "aut_unknown")
	wantErr(t, "an unknown automation's resume", err, store.ErrNotFound)
	if was, err := resume(a, doc.ID); !was || err != nil {
		t.Errorf("resume = %v, %v; want true (it was paused)", was, err)
	}
	if was, err := resume(a, doc.ID); was || err != nil {
		t.Errorf("resume again = %v, %v; want false (it was active)", was, err)
	}
	v, err := st.Automation(context.Background(), a, doc.ID)
	if err != nil || v.Doc.State != "active" || v.Doc.PausedAt != nil || v.Doc.PausedReason != "" || v.Doc.ConsecutiveFailures != 0 {
		t.Errorf("after resume: %+v, %v", v.Doc, err)
	}
	// The count starts again: the next failure pauses again.
	if c := count(t, st, a, doc.ID, true); !c.Paused || c.Streak != 1 {
		t.Errorf("the first failure after resume = %+v, want a pause at 1", c)
	}
}

func testAutomationPaused(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := callAPI("paused?", "manual")
	doc.PauseAfterFailures = pausing(2)
	doc = newAutomation(t, st, a, doc)
	check := func(org, id string, want bool) {
		t.Helper()
		if got, err := st.AutomationPaused(ctx, org, id); got != want || err != nil {
			t.Errorf("AutomationPaused(%s, %s) = %v, %v; want %v", org, id, got, err, want)
		}
	}
	check(a, doc.ID, false)
	count(t, st, a, doc.ID, true)
	check(a, doc.ID, false)
	count(t, st, a, doc.ID, true)
	check(a, doc.ID, true)
	check(b, doc.ID, false)
	check(a, "aut_unknown", false)
}

func testRunCounts(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	for _, r := range []struct {
		automation string
		status     automation.Status
	}{{"aut_x", automation.StatusSucceeded}, {"aut_x", automation.StatusSucceeded}, {"aut_x", automation.StatusFailed}, {"aut_x", automation.StatusQueued}, {"aut_y", automation.StatusSucceeded}} {
		run := newRunValue("rec_1")
		run.AutomationID, run.Status = r.automation, r.status
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRun(ctx, a, run) })
	}
	rows, err := st.RunCounts(ctx, a, time.Now().Add(-time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range rows {
		got[fmt.Sprintf("%s/%d/%s", r.AutomationID, r.Bucket, r.Status)] = r.N
	}
	want := map[string]int{"aut_x/0/succeeded": 2, "aut_x/0/failed": 1, "aut_y/0/succeeded": 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	if rows, err := st.RunCounts(ctx, b, time.Now().Add(-time.Hour), time.Hour); err != nil || len(rows) != 0 {
		t.Errorf("another organisation's counts = %v, %v", rows, err)
	}
	if rows, err := st.RunCounts(ctx, a, time.Now().Add(time.Minute), time.Hour); err != nil || len(rows) != 0 {
		t.Errorf("counts since a minute ahead = %v, %v", rows, err)
	}
}

func testCountPausedAutomations(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t) // counts across organisations
	check := func(want int) {
		t.Helper()
		if n, err := st.CountPausedAutomations(ctx); n != want || err != nil {
			t.Errorf("CountPausedAutomations = %d, %v; want %d", n, err, want)
		}
	}
	check(0)
	a, b := newOrg(t, st), newOrg(t, st)
	for _, org := range []string{a, b} {
		doc := callAPI("pauses", "manual")
		doc.PauseAfterFailures = pausing(1)
		doc = newAutomation(t, st, org, doc)
		count(t, st, org, doc.ID, true)
	}
	newAutomation(t, st, a, callAPI("active", "manual"))
	check(2)
}
