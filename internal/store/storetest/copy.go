package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/autohook/autohook/internal/autohook"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

func testCopy(t *testing.T, s *suite) { ExerciseCopy(t, s.b, s.b) }

// ExerciseCopy fills a store on from with one of everything, copies it with
// store.Copy into a new database on to, and compares them record for
// record; runs with work to do get queue jobs on the target.
func ExerciseCopy(t *testing.T, from, to Backend) {
	t.Helper()
	ctx := context.Background()
	src := (&suite{b: from}).fresh(t)
	dst := (&suite{b: to}).fresh(t)

	org := newOrg(t, src)
	newCollection(t, src, org)
	var recs []*record.Record
	const records = 501 // a full insert batch of Copy's and part of another
	doc := callAPI("n", automation.RecordDue)
	doc.Trigger.Field = "due"
	now := at(time.Now())
	runs := []*automation.Run{
		{Status: automation.StatusSucceeded, FinishedAt: &now},
		{Status: automation.StatusRetrying, NextAttemptAt: &now},
		{Status: automation.StatusQueued},
	}
	user := &store.User{OrgID: org, Email: "admin@example.com", Name: "Admin", Role: "viewer", PasswordHash: "h"}
	write(t, src, func(ctx context.Context, tx *store.Tx) error {
		if _, err := tx.CreateAPIKey(ctx, org, "k", "ahk_x", "hash-x", true, "owner"); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, user); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, "session-hash", &store.Session{UserID: user.ID, OrgID: org, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		for i := range records {
			r := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"name": "n", "value": json.Number(fmt.Sprintf("%d.25", i))}}
			if err := tx.InsertRecord(ctx, org, r); err != nil {
				return err
			}
			recs = append(recs, r)
		}
		if err := tx.SaveAutomationBy(ctx, org, doc, "sealed-secret", store.VersionMeta{SavedBy: &store.Actor{Type: store.ActorAPIKey, ID: "key_x", Name: "k"}}); err != nil {
			return err
		}
		for _, r := range runs {
			r.AutomationID, r.AutomationVersion, r.RecordID, r.Collection, r.Seq = doc.ID, 1, recs[0].ID, "leads", 3
			r.Trigger = automation.TriggerInfo{Type: automation.RecordAdded, At: now}
			r.Record = recs[0].Env()
			r.Steps = []automation.StepState{{ID: "crm", Type: automation.TypeCallAPI, Status: automation.StepPending}}
			if err := tx.InsertRun(ctx, org, r); err != nil {
				return err
			}
		}
		if err := tx.InsertAttempt(ctx, runs[0].ID, 0, failedAttempt(1)); err != nil {
			return err
		}
		if err := tx.PutSecret(ctx, org, "K", "sealed"); err != nil {
			return err
		}
		if err := tx.CreateInvitation(ctx, &store.Invitation{OrgID: org, Email: "ana@example.com", Role: "editor", ExpiresAt: now.Add(time.Hour)}, "invitation-hash"); err != nil {
			return err
		}
		if err := tx.InsertAudit(ctx, &store.AuditEntry{OrgID: org, Actor: store.Actor{Type: store.ActorUser, ID: user.ID, Name: "Admin"},
			Action: "invitation.created", Target: store.AuditTarget{Type: "invitation", ID: "inv_x", Name: "ana@example.com"}}); err != nil {
			return err
		}
		ch := &autohook.AlertChannel{Name: "ops", Type: autohook.ChannelWebhook, URL: "https://hooks.example.com/T0"}
		if err := tx.CreateAlertChannel(ctx, org, ch); err != nil {
			return err
		}
		if _, err := tx.RaiseAlert(ctx, org, &autohook.AlertEvent{Event: autohook.EventTest}, ch.ID); err != nil {
			return err
		}
		return tx.PutDue(ctx, store.Due{AutomationID: doc.ID, RecordID: recs[1].ID, OrgID: org, At: now.Add(time.Hour), Value: "v"})
	})

	var progress []string
	counts, err := store.Copy(ctx, src, dst, func(table string, rows int) { progress = append(progress, table) })
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"organisations": 1, "api_keys": 1, "users": 1, "collections": 1, "records": records, "automations": 1,
		"automation_versions": 1, "runs": 3, "attempts": 1, "secrets": 1, "due_triggers": 1, "jobs": 2,
		"invitations": 1, "audit_log": 1, "alert_channels": 1, "alerts": 1}
	if d := cmp.Diff(want, counts); d != "" {
		t.Errorf("counts (-want +got):\n%s", d)
	}
	if len(progress) != len(want)-1 { // every table; jobs are not a table
		t.Errorf("progress told of %v", progress)
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
			t.Fatalf("records differ (-%s +%s):\n%s", from.Name, to.Name, d)
		}
		n += len(a)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if n != records {
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
			t.Errorf("run %s differs (-%s +%s):\n%s", r.ID, from.Name, to.Name, d)
		}
	}
	for _, check := range []func(*store.Store) (any, error){
		func(s *store.Store) (any, error) { return s.Automation(ctx, org, doc.ID) },
		func(s *store.Store) (any, error) {
			v, _, err := s.AutomationVersions(ctx, org, doc.ID, store.Page{})
			return v, err
		},
		func(s *store.Store) (any, error) { return s.Collection(ctx, org, "leads") },
		func(s *store.Store) (any, error) { return s.SealedSecrets(ctx, org) },
		func(s *store.Store) (any, error) { return s.APIKeyByHash(ctx, "hash-x") },
		func(s *store.Store) (any, error) { return s.UserByEmail(ctx, "admin@example.com") },
		func(s *store.Store) (any, error) { return s.StaleDueAutomations(ctx, 10) },
		func(s *store.Store) (any, error) { return s.InvitationByHash(ctx, "invitation-hash", now) },
		func(s *store.Store) (any, error) {
			v, _, err := s.Audit(ctx, org, store.AuditFilter{}, store.Page{})
			return v, err
		},
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
			t.Errorf("differs (-%s +%s):\n%s", from.Name, to.Name, d)
		}
	}
	if v, ok := dueValue(t, dst, org, doc.ID, recs[1].ID); !ok || v != "v" {
		t.Errorf("due row on the target: %q, %v", v, ok)
	}
	// Sessions are not copied: people sign in again.
	if _, err := dst.SessionByHash(ctx, "session-hash", now); err == nil {
		t.Error("a session was copied")
	}
	// The retrying run waits for its next attempt; the queued one is ready.
	if m, err := dst.CountJobsByState(ctx); err != nil || m["scheduled"]+m["available"] != 2 {
		t.Errorf("jobs on the target = %v (%v), want one per unfinished run", m, err)
	}
}
