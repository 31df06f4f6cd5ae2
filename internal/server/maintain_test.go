package server

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/store"
)

// TestPruneAudit: the pruner deletes audit entries older than the
// retention, like runs, and keeps the newer ones.
func TestPruneAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: "sqlite:" + t.TempDir() + "/db", Workers: river.NewWorkers(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	var org string
	insert := func() *store.AuditEntry {
		e := &store.AuditEntry{OrgID: org, Actor: store.Actor{Type: store.ActorUser, ID: "usr_1", Name: "Ada"}, Action: "secret.put",
			Target: store.AuditTarget{Type: "secret", ID: "TOKEN", Name: "TOKEN"}}
		if err := st.Write(ctx, func(tx *store.Tx) error {
			if org == "" {
				o, err := tx.CreateOrganisation(ctx, "Org")
				if err != nil {
					return err
				}
				org, e.OrgID = o.ID, o.ID
			}
			return tx.InsertAudit(ctx, e)
		}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	old := insert()
	kept := insert()
	// The retention ends between the two entries.
	p := &pruner{st: st, retention: time.Hour, log: slog.New(slog.DiscardHandler), batch: 1, budget: time.Minute,
		now: func() time.Time { return kept.At.Add(time.Hour) }}
	if _, err := p.prune(ctx); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.Audit(ctx, org, store.AuditFilter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != kept.ID {
		t.Errorf("after pruning: %+v, want only %s (not %s)", got, kept.ID, old.ID)
	}
}
