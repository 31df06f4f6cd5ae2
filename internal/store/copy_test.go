package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

// TestCopySQLiteToPostgres fills a SQLite store with one of everything,
// copies it into an empty PostgreSQL database, and compares record for
// record; unfinished runs get queue jobs on the target.
func TestCopySQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	src, err := store.Open(ctx, store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	dst, err := store.Open(ctx, store.Config{URL: pgtest.NewDatabase(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close(ctx)

	org := newOrg(t, src, "A")
	c := *leads
	var recs []*record.Record
	doc := &automation.Automation{Name: "n", Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: automation.RecordDue, Field: "due"},
		Steps: []automation.StepSpec{{ID: "s", Type: automation.TypeCallAPI, URL: "https://example.com"}}}
	now := time.Now().UTC().Truncate(time.Microsecond)
	runs := []*automation.Run{
		{Status: automation.StatusSucceeded, FinishedAt: &now},
		{Status: automation.StatusRetrying, NextAttemptAt: &now},
		{Status: automation.StatusQueued},
	}
	write(t, src, func(tx *store.Tx) error {
		if _, err := tx.CreateAPIKey(ctx, org, "k", "ahk_x", "hash-x", true); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, &store.User{OrgID: org, Email: "admin", Name: "Admin", PasswordHash: "h"}); err != nil {
			return err
		}
		if err := tx.CreateCollection(ctx, org, &c); err != nil {
			return err
		}
		for i := range 1203 { // more than two insert batches
			r := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"name": "n", "value": float64(i) + 0.25}}
			if err := tx.InsertRecord(ctx, org, r); err != nil {
				return err
			}
			recs = append(recs, r)
		}
		if err := tx.SaveAutomation(ctx, org, doc, "sealed-secret"); err != nil {
			return err
		}
		for _, r := range runs {
			r.AutomationID, r.AutomationVersion, r.RecordID, r.Collection, r.Seq = doc.ID, 1, recs[0].ID, "leads", 3
			r.Trigger = automation.TriggerInfo{Type: automation.RecordAdded, At: now}
			r.Record = recs[0].Env()
			r.Steps = []automation.StepState{{ID: "s", Type: automation.TypeCallAPI, Status: automation.StepPending}}
			if err := tx.InsertRun(ctx, org, r); err != nil {
				return err
			}
		}
		if err := tx.InsertAttempt(ctx, runs[0].ID, 0, &automation.Attempt{N: 1, StartedAt: now, DurationMs: 2,
			Request: &automation.HTTPRequest{Method: "POST", URL: "https://example.com", Headers: map[string]string{}}}); err != nil {
			return err
		}
		if err := tx.PutSecret(ctx, org, "K", "sealed"); err != nil {
			return err
		}
		return tx.PutDue(ctx, store.Due{AutomationID: doc.ID, RecordID: recs[1].ID, OrgID: org, At: now.Add(time.Hour), Value: "v"})
	})

	counts, err := store.Copy(ctx, src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]int{"organisations": 1, "api_keys": 1, "users": 1, "collections": 1, "records": 1203, "automations": 1,
		"automation_versions": 1, "runs": 3, "attempts": 1, "secrets": 1, "due_triggers": 1, "jobs": 2}
	if d := cmp.Diff(want, counts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	if _, err := store.Copy(ctx, src, dst, nil); err == nil {
		t.Error("a second copy into the same database must be refused")
	}

	// record for record
	page := store.Page{Limit: 500}
	n := 0
	for {
		a, next, err := src.Records(ctx, org, "leads", store.RecordFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := dst.Records(ctx, org, "leads", store.RecordFilter{}, page)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(a, b); d != "" {
			t.Fatalf("records differ (-sqlite +postgres):\n%s", d)
		}
		n += len(a)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if n != 1203 {
		t.Errorf("compared %d records", n)
	}
	for _, r := range runs {
		a, err := src.RunWithAttempts(ctx, org, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.RunWithAttempts(ctx, org, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("run %s differs (-sqlite +postgres):\n%s", r.ID, d)
		}
	}
	for _, check := range []func(*store.Store) (any, error){
		func(s *store.Store) (any, error) { return s.Automation(ctx, org, doc.ID) },
		func(s *store.Store) (any, error) { return s.Collection(ctx, org, "leads") },
		func(s *store.Store) (any, error) { return s.SealedSecrets(ctx, org) },
		func(s *store.Store) (any, error) { return s.APIKeyByHash(ctx, "hash-x") },
		func(s *store.Store) (any, error) { return s.UserByEmail(ctx, "admin") },
	} {
		a, err := check(src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := check(dst)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(a, b); d != "" {
			t.Errorf("differs (-sqlite +postgres):\n%s", d)
		}
	}
	// The retrying run waits for its next attempt; the queued one is ready.
	if m, err := dst.CountJobsByState(ctx); err != nil || m["scheduled"]+m["available"] != 2 {
		t.Errorf("jobs on the target = %v (%v), want one per unfinished run", m, err)
	}
}
