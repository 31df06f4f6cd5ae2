package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestPromoterMakesScheduledJobsAvailableOnTime: a job scheduled a moment
// ahead is made available at its time, not at River's next 5 s pass.
func TestPromoterMakesScheduledJobsAvailableOnTime(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	b := st.b.(*sqliteBackend)
	due := time.Now().Add(300 * time.Millisecond)
	if err := st.Write(ctx, func(tx *Tx) error {
		tx.EnqueueRun(RunJob{OrgID: "o", RunID: "r", Seq: 2}, due)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	at, err := b.promote.nextDue(ctx)
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
		if late := time.Since(due); late > 200*time.Millisecond {
			t.Fatalf("still %v %v after its time", counts, late)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if early := time.Until(due); early > time.Millisecond {
		t.Errorf("promoted %v early", early)
	}
}
