package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestPromoterMakesScheduledJobsAvailableOnTime: a job scheduled a moment
// ahead is made available at its time, not at River's next 5 s pass.
func TestPromoterMakesScheduledJobsAvailableOnTime(t *testing.T) {
	ctx := context.Background()
	st, b := openSQLitePromoter(t)
	due := time.Now().Add(300 * time.Millisecond)
	if err := st.Write(ctx, func(tx *Tx) error {
		tx.EnqueueRun(RunJob{OrgID: "o", RunID: "r", Seq: 2}, due)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	at, err := b.promote.nextDue(ctx, time.Now())
	if err != nil {
		t.Fatalf("nextDue: %v", err)
	}
	if d := at.Sub(due); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("nextDue = %v, want the job's time %v", at, due)
	}
	for {
		counts, err := st.CountJobsByState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts["available"] == 1 {
			break
		}
		// River's own pass would take up to 5 s; 1 s leaves room for a
		// busy machine.
		if late := time.Since(due); late > time.Second {
			t.Fatalf("still %v %v after its time", counts, late)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if early := time.Until(due); early > time.Millisecond {
		t.Errorf("promoted %v early", early)
	}
}

// TestPromoterTimesJobsRiverMadeAvailableEarly: River's own pass makes jobs
// due within 5 s available ahead of their time; the promoter still times
// them, so that the workers are woken when they come due.
func TestPromoterTimesJobsRiverMadeAvailableEarly(t *testing.T) {
	ctx := context.Background()
	st, b := openSQLitePromoter(t)
	b.promote.stop() // this test calls nextDue itself
	due := time.Now().Add(2 * time.Second)
	if err := st.Write(ctx, func(tx *Tx) error {
		tx.EnqueueRun(RunJob{OrgID: "o", RunID: "r", Seq: 2}, due)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// What River's scheduler does with its 5 s look-ahead.
	if _, err := b.w.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'scheduled'`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		woke time.Time
		want time.Time
	}{
		{"woken before the job's time", time.Now(), due},
		{"woken after the job's time", due.Add(time.Millisecond), time.Time{}},
	} {
		at, err := b.promote.nextDue(ctx, c.woke)
		if err != nil {
			t.Fatalf("%s: nextDue: %v", c.name, err)
		}
		if at.IsZero() != c.want.IsZero() || (!at.IsZero() && (at.Sub(c.want) < -time.Millisecond || at.Sub(c.want) > time.Millisecond)) {
			t.Errorf("%s: nextDue = %v, want %v", c.name, at, c.want)
		}
	}
}

// openSQLitePromoter opens a SQLite store, closed at the end of the test.
func openSQLitePromoter(t *testing.T) (*Store, *sqliteBackend) {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(ctx) })
	return st, st.b.(*sqliteBackend)
}

// TestPromoterBacksOffWhenPromotingFails: a database that keeps failing is
// tried again a second later, not in a tight loop.
func TestPromoterBacksOffWhenPromotingFails(t *testing.T) {
	var promotes atomic.Int32
	p := &promoter{
		promote: func(context.Context, time.Time) (int64, error) {
			promotes.Add(1)
			return 0, errors.New("database is locked")
		},
		nextDue: func(context.Context, time.Time) (time.Time, error) { return time.Now().Add(-time.Minute), nil },
	}
	defer p.stop()
	p.fire()
	p.mu.Lock()
	next := p.next
	p.mu.Unlock()
	if d := time.Until(next); d < 900*time.Millisecond {
		t.Errorf("after a failed promote the next try is in %v, want about a second", d)
	}
	time.Sleep(200 * time.Millisecond)
	if n := promotes.Load(); n != 1 {
		t.Errorf("%d promotes in 200 ms, want 1", n)
	}
}
