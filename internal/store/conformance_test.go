package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// forEachDB runs a test against every database the store supports: the
// storage conformance suite. Every test in this file goes through it.
func forEachDB(t *testing.T, test func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "autohook.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := store.Open(ctx, store.Config{URL: db.url(t)})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { st.Close(context.Background()) })
			test(t, st)
		})
	}
}

func write(t *testing.T, st *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := st.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func newOrg(t *testing.T, st *store.Store, name string) string {
	t.Helper()
	var id string
	write(t, st, func(tx *store.Tx) error {
		o, err := tx.CreateOrganisation(context.Background(), name)
		if o != nil {
			id = o.ID
		}
		return err
	})
	return id
}

var leads = &record.Collection{Key: "leads", Name: "Leads",
	Fields: []record.Field{{Key: "name", Type: record.Text}, {Key: "value", Type: record.Number}}, Stages: []string{"New", "Won"}}

func TestCollectionsAndRecords(t *testing.T) {
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		a, b := newOrg(t, st, "A"), newOrg(t, st, "B")
		c := *leads
		write(t, st, func(tx *store.Tx) error { return tx.CreateCollection(ctx, a, &c) })
		err := st.Write(ctx, func(tx *store.Tx) error { cc := *leads; return tx.CreateCollection(ctx, a, &cc) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate key: %v, want ErrConflict", err)
		}
		cb := *leads // the same key in another organisation is fine
		write(t, st, func(tx *store.Tx) error { return tx.CreateCollection(ctx, b, &cb) })

		got, err := st.Collection(ctx, a, "leads")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.Fields, got.Fields); d != "" {
			t.Errorf("fields (-want +got):\n%s", d)
		}

		rec := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"name": "x", "value": json.Number("12345678901234567891.50")}}
		write(t, st, func(tx *store.Tx) error { return tx.InsertRecord(ctx, a, rec) })
		if rec.Version != 1 || rec.ID == "" {
			t.Fatalf("inserted record = %+v", rec)
		}
		back, err := st.Record(ctx, a, "leads", rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(rec.Fields, back.Fields); d != "" {
			t.Errorf("record fields (-want +got):\n%s", d)
		}
		if !back.CreatedAt.Equal(rec.CreatedAt) {
			t.Errorf("createdAt = %v, want %v", back.CreatedAt, rec.CreatedAt)
		}
		if _, err := st.Record(ctx, b, "leads", rec.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another organisation's record: %v, want ErrNotFound", err)
		}

		stale := *back
		back.Fields["name"] = "y"
		write(t, st, func(tx *store.Tx) error { return tx.UpdateRecord(ctx, a, back) })
		if back.Version != 2 {
			t.Errorf("version after update = %d, want 2", back.Version)
		}
		err = st.Write(ctx, func(tx *store.Tx) error { return tx.UpdateRecord(ctx, a, &stale) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale update: %v, want ErrConflict", err)
		}
		err = st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteRecord(ctx, b, "leads", rec.ID) })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete from another organisation: %v, want ErrNotFound", err)
		}

		// paging, newest first
		for i := range 4 {
			r := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"value": float64(i)}}
			write(t, st, func(tx *store.Tx) error { return tx.InsertRecord(ctx, a, r) })
		}
		var seen []string
		page := store.Page{Limit: 2}
		for {
			items, next, err := st.Records(ctx, a, "leads", store.RecordFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range items {
				seen = append(seen, r.ID)
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if len(seen) != 5 {
			t.Fatalf("paged %d records, want 5", len(seen))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] >= seen[i-1] {
				t.Errorf("records not newest first: %v", seen)
			}
		}
		if _, _, err := st.Records(ctx, a, "leads", store.RecordFilter{}, store.Page{Cursor: "!!"}); !errors.Is(err, store.ErrBadInput) {
			t.Errorf("bad cursor: %v, want ErrBadInput", err)
		}
		bRecords, _, err := st.Records(ctx, b, "leads", store.RecordFilter{}, store.Page{})
		if err != nil || len(bRecords) != 0 {
			t.Errorf("organisation B sees %d records (%v), want 0", len(bRecords), err)
		}
	})
}

func TestAutomationVersions(t *testing.T) {
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		a, b := newOrg(t, st, "A"), newOrg(t, st, "B")
		doc := &automation.Automation{Name: "n1", Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: automation.RecordAdded},
			Steps: []automation.StepSpec{{ID: "s", Type: automation.TypeCallAPI, URL: "https://example.com"}}}
		write(t, st, func(tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "") })
		id := doc.ID
		doc.Name = "n2"
		write(t, st, func(tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "sealed") })
		if doc.Version != 2 {
			t.Fatalf("version = %d, want 2", doc.Version)
		}
		cur, err := st.Automation(ctx, a, id)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Doc.Name != "n2" || cur.SealedSigningSecret != "sealed" {
			t.Errorf("current = %q %q", cur.Doc.Name, cur.SealedSigningSecret)
		}
		v1, err := st.AutomationAt(ctx, a, id, 1)
		if err != nil || v1.Doc.Name != "n1" {
			t.Errorf("version 1 = %v, %v", v1, err)
		}
		if _, err := st.Automation(ctx, b, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another organisation's automation: %v", err)
		}
		refs, err := st.EnabledAutomations(ctx, a, "leads", automation.RecordAdded, automation.Manual)
		if err != nil || len(refs) != 1 || refs[0].Version != 2 {
			t.Errorf("enabled = %v, %v", refs, err)
		}
		list, _, err := st.Automations(ctx, a, store.AutomationFilter{Collection: "leads"}, store.Page{})
		if err != nil || len(list) != 1 {
			t.Errorf("list = %v, %v", list, err)
		}
		write(t, st, func(tx *store.Tx) error { return tx.DeleteAutomation(ctx, a, id) })
		if _, err := st.AutomationAt(ctx, a, id, 2); err != nil {
			t.Errorf("versions must outlive the automation: %v", err)
		}
	})
}

// sampleRun is a queued run of one call_api step, not yet stored.
func sampleRun() *automation.Run {
	return &automation.Run{AutomationID: "aut_x", AutomationVersion: 1, RecordID: "rec_x", Collection: "leads",
		Trigger: automation.TriggerInfo{Type: automation.RecordAdded, At: time.Now().UTC().Truncate(time.Microsecond)},
		Status:  automation.StatusQueued, Seq: 1, Record: map[string]any{"id": "rec_x"},
		Steps: []automation.StepState{{ID: "crm", Type: automation.TypeCallAPI, Status: automation.StepPending}}}
}

func TestRunsAndAttempts(t *testing.T) {
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		a := newOrg(t, st, "A")
		run := sampleRun()
		write(t, st, func(tx *store.Tx) error {
			if err := tx.InsertRun(ctx, a, run); err != nil {
				return err
			}
			tx.EnqueueRun(store.RunJob{OrgID: a, RunID: run.ID, Seq: 1}, time.Time{})
			return nil
		})
		if n, err := st.CountJobs(ctx); err != nil || n != 1 {
			t.Errorf("jobs = %d, %v; want 1", n, err)
		}
		att := &automation.Attempt{N: 1, StartedAt: time.Now().UTC().Truncate(time.Microsecond), DurationMs: 12.5,
			Request:  &automation.HTTPRequest{Method: "POST", URL: "https://example.com", Headers: map[string]string{"A": "b"}, Body: "{}"},
			Response: &automation.HTTPResponse{Status: 503, Headers: map[string]string{}, Body: "busy"},
			Error:    &automation.AttemptError{Class: retry.HTTP5xx, Message: "the receiver answered 503"}}
		next := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
		write(t, st, func(tx *store.Tx) error {
			if err := tx.InsertAttempt(ctx, run.ID, 0, att); err != nil {
				return err
			}
			run.Steps[0].Status, run.Steps[0].AttemptCount, run.Steps[0].NextAttemptAt = automation.StepRetrying, 1, &next
			run.Status, run.NextAttemptAt, run.Seq = automation.StatusRetrying, &next, 2
			run.Error = att.Error
			return tx.UpdateRun(ctx, a, run, 1)
		})
		// A writer holding an old seq loses.
		err := st.Write(ctx, func(tx *store.Tx) error { return tx.UpdateRun(ctx, a, run, 1) })
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("stale seq: %v, want ErrConflict", err)
		}
		got, err := st.RunWithAttempts(ctx, a, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != automation.StatusRetrying || got.Seq != 2 || !got.NextAttemptAt.Equal(next) {
			t.Errorf("run = %s seq %d next %v", got.Status, got.Seq, got.NextAttemptAt)
		}
		if len(got.Steps[0].Attempts) != 1 {
			t.Fatalf("attempts = %d, want 1", len(got.Steps[0].Attempts))
		}
		if d := cmp.Diff(*att, got.Steps[0].Attempts[0]); d != "" {
			t.Errorf("attempt (-want +got):\n%s", d)
		}
		for _, f := range []struct {
			name string
			f    store.RunFilter
			want int
		}{
			{"all", store.RunFilter{}, 1},
			{"status", store.RunFilter{Status: automation.StatusRetrying}, 1},
			{"other status", store.RunFilter{Status: automation.StatusFailed}, 0},
			{"automation", store.RunFilter{AutomationID: "aut_x"}, 1},
			{"record", store.RunFilter{RecordID: "rec_y"}, 0},
			{"since", store.RunFilter{Since: time.Now().Add(time.Hour)}, 0},
		} {
			runs, _, err := st.Runs(ctx, a, f.f, store.Page{})
			if err != nil || len(runs) != f.want {
				t.Errorf("%s: %d runs (%v), want %d", f.name, len(runs), err, f.want)
			}
		}
		other := newOrg(t, st, "B")
		if _, err := st.Run(ctx, other, run.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another organisation's run: %v", err)
		}
		prune := func() int {
			var pruned int
			write(t, st, func(tx *store.Tx) error {
				var err error
				pruned, err = tx.PruneRuns(ctx, time.Now().Add(time.Hour), 100)
				return err
			})
			return pruned
		}
		if n := prune(); n != 0 {
			t.Errorf("pruned %d runs while the only one is still retrying, want 0", n)
		}
		write(t, st, func(tx *store.Tx) error {
			run.Status, run.NextAttemptAt, run.Seq = automation.StatusFailed, nil, 3
			return tx.UpdateRun(ctx, a, run, 2)
		})
		if n := prune(); n != 1 {
			t.Errorf("pruned %d, want the failed run", n)
		}
		if _, err := st.Run(ctx, a, run.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("pruned run still there: %v", err)
		}
	})
}

func TestSecretsAndKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		a, b := newOrg(t, st, "A"), newOrg(t, st, "B")
		write(t, st, func(tx *store.Tx) error { return tx.PutSecret(ctx, a, "K", "sealed1") })
		write(t, st, func(tx *store.Tx) error { return tx.PutSecret(ctx, a, "K", "sealed2") })
		sealed, err := st.SealedSecrets(ctx, a)
		if err != nil || sealed["K"] != "sealed2" {
			t.Errorf("sealed = %v, %v", sealed, err)
		}
		if s, _ := st.SealedSecrets(ctx, b); len(s) != 0 {
			t.Errorf("organisation B sees %v", s)
		}
		err = st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSecret(ctx, b, "K") })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete another organisation's secret: %v", err)
		}
		var key *store.APIKey
		write(t, st, func(tx *store.Tx) error {
			var err error
			key, err = tx.CreateAPIKey(ctx, a, "ci", "ahk_abc", "hash1", false)
			return err
		})
		if k, err := st.APIKeyByHash(ctx, "hash1"); err != nil || k.OrgID != a {
			t.Errorf("by hash = %v, %v", k, err)
		}
		write(t, st, func(tx *store.Tx) error { return tx.RevokeAPIKey(ctx, a, key.ID) })
		if _, err := st.APIKeyByHash(ctx, "hash1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoked key still found: %v", err)
		}
	})
}
