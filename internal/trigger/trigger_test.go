package trigger_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
	"log/slog"
)

type fixture struct {
	st   *store.Store
	fire *trigger.Firer
	org  string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	box, err := secret.NewBox(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, box, automation.Options{}, false)
	f := &fixture{st: st, fire: trigger.New(cat, slog.New(slog.DiscardHandler))}
	coll := &record.Collection{Key: "leads", Name: "Leads", Fields: []record.Field{{Key: "name", Type: record.Text}}, Stages: []string{"New"}}
	err = st.Write(ctx, func(tx *store.Tx) error {
		org, err := tx.CreateOrganisation(ctx, "A")
		if err != nil {
			return err
		}
		f.org = org.ID
		if err := tx.CreateCollection(ctx, org.ID, coll); err != nil {
			return err
		}
		doc := &automation.Automation{Name: "on add", Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: automation.RecordAdded},
			Steps: []automation.StepSpec{{Type: automation.TypeCallAPI, URL: "https://example.com/{record.id}"}}}
		if _, _, err := automation.Compile(doc, coll, "", automation.Options{}); err != nil {
			return err
		}
		return tx.SaveAutomation(ctx, org.ID, doc, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) runs(t *testing.T) []*automation.Run {
	t.Helper()
	runs, _, err := f.st.Runs(context.Background(), f.org, store.RunFilter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// TestRolledBackChangeHasNoRun: a record change and the runs it triggers
// are one transaction — rolled back together, committed together.
func TestRolledBackChangeHasNoRun(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	boom := errors.New("boom")
	var fired []*automation.Run
	rec := &record.Record{ID: store.NewRecordID(), Collection: "leads", Stage: "New", Fields: map[string]any{"name": "x"}}
	plan, err := f.fire.Plan(ctx, trigger.Change{OrgID: f.org, Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	err = f.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertRecord(ctx, f.org, rec); err != nil {
			return err
		}
		var err error
		fired, err = plan.Apply(ctx, tx)
		if err != nil {
			return err
		}
		return boom // something later in the same change fails
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want boom", err)
	}
	if len(fired) != 1 {
		t.Fatalf("the change fired %d runs inside the transaction, want 1", len(fired))
	}
	if runs := f.runs(t); len(runs) != 0 {
		t.Fatalf("after rollback: %d runs, want 0", len(runs))
	}
	if n := countJobs(t, f.st); n != 0 {
		t.Fatalf("after rollback: %d queue jobs, want 0", n)
	}

	rec = &record.Record{ID: store.NewRecordID(), Collection: "leads", Stage: "New", Fields: map[string]any{"name": "y"}}
	if plan, err = f.fire.Plan(ctx, trigger.Change{OrgID: f.org, Record: rec}); err != nil {
		t.Fatal(err)
	}
	err = f.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertRecord(ctx, f.org, rec); err != nil {
			return err
		}
		_, err := plan.Apply(ctx, tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs := f.runs(t); len(runs) != 1 || runs[0].Status != automation.StatusQueued {
		t.Fatalf("after commit: runs %v, want one queued", runs)
	}
	if n := countJobs(t, f.st); n != 1 {
		t.Fatalf("after commit: %d queue jobs, want 1", n)
	}
}

func countJobs(t *testing.T, st *store.Store) int {
	t.Helper()
	n, err := st.CountJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
