package engine

import (
	"context"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// A run that cannot be executed, which a person cancelled while its job
// worked it, stays as they left it, and history keeps the failure (its
// attempt), on both databases: on PostgreSQL the run's conflict shows
// only once failRun's first write returns (store.UpdateRun is checked in
// the database, with a later statement).
func TestFailRunOfARunThatMovedOn(t *testing.T) {
	t.Parallel()
	pgtest.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var org string
		run := &automation.Run{AutomationID: "aut_x", AutomationVersion: 1, RecordID: "rec_x", Collection: "leads",
			Trigger: automation.TriggerInfo{Type: automation.Manual, At: time.Now().UTC()}, Status: automation.StatusQueued, Seq: 1,
			Steps: []automation.StepState{{ID: "crm", Type: automation.TypeCallAPI, Status: automation.StepPending}}}
		err := st.Write(ctx, func(tx *store.Tx) error {
			o, err := tx.CreateOrganisation(ctx, "moved on")
			if err != nil {
				return err
			}
			org = o.ID
			return tx.InsertRun(ctx, org, run)
		})
		if err != nil {
			t.Fatal(err)
		}
		seen := *run // as the job read it
		seen.Steps = append([]automation.StepState(nil), run.Steps...)
		now := time.Now().UTC()
		run.Status, run.Seq, run.FinishedAt = automation.StatusCancelled, 2, &now
		run.Steps[0].Status = automation.StepCancelled
		if err := st.Write(ctx, func(tx *store.Tx) error { return tx.UpdateRun(ctx, org, run, 1) }); err != nil {
			t.Fatal(err)
		}
		e := &Engine{st: st, cfg: Config{Now: time.Now, DefaultMaxAttempts: 3}}
		f := &fault{class: retry.Internal, msg: "automation aut_x v1 does not compile"}
		if err := e.failRun(ctx, store.RunJob{OrgID: org, RunID: run.ID, Seq: 1}, &seen, f); err != nil {
			t.Fatalf("failRun of a run that moved on: %v", err)
		}
		got, err := st.RunWithAttempts(ctx, org, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != automation.StatusCancelled || got.Seq != 2 {
			t.Errorf("the run: %s at seq %d, want cancelled at 2, as the person left it", got.Status, got.Seq)
		}
		if a := got.Steps[0].Attempts; len(a) != 1 || a[0].Error == nil || a[0].Error.Class != retry.Internal {
			t.Errorf("the step's attempts %+v, want the failure kept", a)
		}
	})
}
