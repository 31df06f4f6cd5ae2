package server_test

import (
	"context"
	"encoding/base64"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// TestUpdateRecordStepMeetsAnotherNodesDefinitions: an update_record
// step is planned with the node's cached automations; another node
// sharing the PostgreSQL database enables a record_updated automation
// between the plan and its transaction. The transaction finds the
// generation moved on, and the step is planned again: its change fires the
// automation enabled elsewhere, and the step has one attempt.
func TestUpdateRecordStepMeetsAnotherNodesDefinitions(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	nd := startNode(t, func(c *server.Config) { c.DatabaseURL = url })
	other, err := store.Open(context.Background(), store.Config{URL: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(context.Background()) })
	rcv := servertest.NewReceiver(t, nil)
	manual := notesAndClose(nd)
	var watch map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "watch", "collection": "notes", "enabled": false,
		"trigger": map[string]any{"type": "record_updated"}, "steps": []any{snapshotStep(rcv.URL)},
	}, &watch)
	var rec map[string]any
	nd.must(201, "POST", "/api/v1/collections/notes/records", map[string]any{"fields": map[string]any{"a": "0"}}, &rec)

	var once sync.Once
	nd.Server.Firer.OnPlanned(func(ch trigger.Change) {
		if ch.Depth != 1 {
			return
		}
		once.Do(func() {
			ctx := context.Background()
			err := other.Write(ctx, func(tx *store.Tx) error {
				v, err := tx.Automation(ctx, ch.OrgID, watch["id"].(string))
				if err != nil {
					return err
				}
				v.Doc.Enabled = true
				return tx.SaveAutomation(ctx, ch.OrgID, v.Doc, v.SealedSigningSecret)
			})
			if err != nil {
				t.Errorf("the other node's change: %v", err)
			}
		})
	})
	defer nd.Server.Firer.OnPlanned(nil)
	var run map[string]any
	nd.must(202, "POST", "/api/v1/automations/"+manual["id"].(string)+"/runs", map[string]any{"recordId": rec["id"]}, &run)
	run = nd.waitRun(run["id"].(string), "succeeded")
	if n := len(run["steps"].([]any)[0].(map[string]any)["attempts"].([]any)); n != 1 {
		t.Errorf("the update step has %d attempts, want 1 (the abandoned transaction left none)", n)
	}
	runs := nd.waitRuns(watch["id"].(string), 1)
	nd.waitRun(runs[0]["id"].(string), "succeeded")
	if snaps := snapshots(t, rcv); len(snaps) != 1 || snaps[0]["record"]["c"] != "done" {
		t.Errorf("sent %v, want one snapshot of the record with c done", snaps)
	}
}

// TestRunsUseTheCurrentSecrets: a node opens an organisation's secrets
// once per generation; a secret changed afterwards — through the node, or
// by another node sharing the PostgreSQL database — is the one the next
// run sends.
func TestRunsUseTheCurrentSecrets(t *testing.T) {
	eachDB(t, func(t *testing.T, db func(*server.Config)) {
		var url string
		nd := startNode(t, db, func(c *server.Config) { url = c.DatabaseURL })
		rcv := servertest.NewReceiver(t, nil)
		nd.must(201, "POST", "/api/v1/collections", notes, nil)
		var auto map[string]any
		nd.must(201, "POST", "/api/v1/automations", map[string]any{
			"name": "send", "collection": "notes", "enabled": true, "trigger": map[string]any{"type": "manual"},
			"steps": []any{map[string]any{"id": "send", "type": "call_api", "method": "POST", "url": rcv.URL + "/hook",
				"headers": []any{map[string]any{"name": "X-Token", "value": "{secrets.TOKEN}"}}}},
		}, &auto)
		var rec map[string]any
		nd.must(201, "POST", "/api/v1/collections/notes/records", map[string]any{"fields": map[string]any{"a": "x"}}, &rec)
		sent := func() string {
			t.Helper()
			var run map[string]any
			nd.must(202, "POST", "/api/v1/automations/"+auto["id"].(string)+"/runs", map[string]any{"recordId": rec["id"]}, &run)
			nd.waitRun(run["id"].(string), "succeeded")
			reqs := rcv.Requests()
			return reqs[len(reqs)-1].Header.Get("X-Token")
		}
		nd.must(204, "PUT", "/api/v1/secrets/TOKEN", map[string]any{"value": "first-token"}, nil)
		if got := sent(); got != "first-token" {
			t.Errorf("sent %q, want first-token", got)
		}
		nd.must(204, "PUT", "/api/v1/secrets/TOKEN", map[string]any{"value": "second-token"}, nil)
		if got := sent(); got != "second-token" {
			t.Errorf("after the secret changed through the node: sent %q, want second-token", got)
		}
		if url == "" {
			return // SQLite: one node owns the database
		}
		// Another node changes it: this node hears nothing, the
		// generation moves on.
		other, err := store.Open(context.Background(), store.Config{URL: url, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close(context.Background())
		key, err := secret.ParseKey(servertest.SecretKey)
		if err != nil {
			t.Fatal(err)
		}
		box, err := secret.NewBox(key)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		orgs, _, err := other.Organisations(ctx, store.Page{Limit: 2})
		if err != nil || len(orgs) != 1 {
			t.Fatalf("organisations: %v, %v; want the one", orgs, err)
		}
		org := orgs[0].ID
		sealed := base64.StdEncoding.EncodeToString(box.Seal([]byte("third-token"), secret.SecretAAD(org, "TOKEN")))
		if err := other.Write(ctx, func(tx *store.Tx) error { return tx.PutSecret(ctx, org, "TOKEN", sealed) }); err != nil {
			t.Fatal(err)
		}
		if got := sent(); got != "third-token" {
			t.Errorf("after another node changed the secret: sent %q, want third-token", got)
		}
	})
}

// TestUpdateRecordStepGivesUpWhileDefinitionsKeepChanging: another node
// keeps changing the organisation's definitions while an update_record
// step is planned and written, so that every try finds the generation
// moved on. Past its tries the step gives up, as it does when the record
// keeps changing: it fails with class record, the run is recorded, and no
// stale generation fails the run as an internal error.
func TestUpdateRecordStepGivesUpWhileDefinitionsKeepChanging(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	nd := startNode(t, func(c *server.Config) { c.DatabaseURL = url })
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	loop, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { loop.Close(context.Background()) })
	const bump = `UPDATE organisations SET catalog_gen = catalog_gen + 1 WHERE id = $1`
	manual := notesAndClose(nd)
	var rec map[string]any
	nd.must(201, "POST", "/api/v1/collections/notes/records", map[string]any{"fields": map[string]any{"a": "0"}}, &rec)

	// From the first plan of the step on, the generation moves on
	// without pause (as another node's changes would), until the run ends.
	stop, stopped := make(chan struct{}), make(chan struct{})
	var once sync.Once
	nd.Server.Firer.OnPlanned(func(ch trigger.Change) {
		if ch.Depth != 1 {
			return
		}
		// this try deterministically, the others while they last
		if _, err := conn.Exec(context.Background(), bump, ch.OrgID); err != nil {
			t.Errorf("bump: %v", err)
		}
		once.Do(func() {
			go func() {
				defer close(stopped)
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := loop.Exec(context.Background(), bump, ch.OrgID); err != nil {
						t.Errorf("bump: %v", err)
						return
					}
				}
			}()
		})
	})
	defer nd.Server.Firer.OnPlanned(nil)
	var run map[string]any
	nd.must(202, "POST", "/api/v1/automations/"+manual["id"].(string)+"/runs", map[string]any{"recordId": rec["id"]}, &run)
	runs := nd.waitRuns(manual["id"].(string), 1)
	close(stop)
	once.Do(func() { close(stopped) })
	<-stopped
	if runs[0]["status"] == "succeeded" {
		t.Skip("a try met no change of the generation: nothing to check")
	}
	if e, _ := runs[0]["error"].(map[string]any); e == nil || e["class"] != "record" {
		t.Errorf("the run: %v, want the update step failed with class record (it kept changing)", runs[0])
	}
}
