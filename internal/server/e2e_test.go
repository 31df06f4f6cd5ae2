package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// node is a running server for a test (servertest.Start); its helpers
// report to t.
type node struct {
	*servertest.Node
	t *testing.T
}

func startNode(t *testing.T, mutate ...func(*server.Config)) *node {
	t.Helper()
	n := servertest.Start(t, mutate...)
	return &node{Node: n, t: t}
}

// eachDB runs a test once per database: SQLite, then PostgreSQL (a fresh
// database; skipped without a server, except under CI).
func eachDB(t *testing.T, test func(t *testing.T, db func(*server.Config))) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		test(t, func(*server.Config) {})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.NewDatabase(t)
		test(t, func(c *server.Config) { c.DatabaseURL = url })
	})
}

// must sends a JSON request (a string body as it is), fails the test
// unless the status is want and the answer JSON, and decodes it into out
// (if not nil).
func (nd *node) must(want int, method, path string, body any, out any) {
	nd.t.Helper()
	nd.Must(nd.t, want, method, path, body, out)
}

// waitRun waits until run id has status want (servertest.WaitRun).
func (nd *node) waitRun(id string, want string) map[string]any {
	nd.t.Helper()
	return servertest.WaitRun(nd.t, &nd.Client, id, want)
}

// runsOf lists an automation's runs.
func (nd *node) runsOf(automationID string) []map[string]any {
	nd.t.Helper()
	return servertest.Runs(nd.t, &nd.Client, automationID)
}

// waitRuns waits until an automation has n runs, all finished, and returns
// them (servertest.WaitRuns).
func (nd *node) waitRuns(automationID string, n int) []map[string]any {
	nd.t.Helper()
	return servertest.WaitRuns(nd.t, &nd.Client, automationID, n)
}

var leads = map[string]any{
	"key": "leads", "name": "Leads",
	"fields": []map[string]any{
		{"key": "name", "type": "text"}, {"key": "value", "type": "number"},
		{"key": "vip", "type": "boolean"}, {"key": "dueDate", "type": "datetime"},
		{"key": "items", "type": "json"}, {"key": "externalId", "type": "text"},
		{"key": "email", "type": "text"},
	},
	"stages": []string{"New", "Qualified", "Won"},
}

// TestCorePath walks the whole path as a user would: a collection, a
// secret, an automation with headers, a typed JSON body, a response schema
// and an update_record step; a record; the request checked field by field;
// the record updated from the response; the run and its attempts in
// history.
func TestCorePath(t *testing.T) { eachDB(t, testCorePath) }

func testCorePath(t *testing.T, db func(*server.Config)) {
	nd := startNode(t, db)
	crm := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success":true,"data":{"externalId":"EXT-12345","status":"created"}}`)
	})
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	nd.must(204, "PUT", "/api/v1/secrets/CRM_KEY", map[string]any{"value": "s3cr3t-crm-key"}, nil)
	var auto map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "Notify External CRM on New Lead", "collection": "leads", "enabled": true,
		"trigger":   map[string]any{"type": "record_added"},
		"condition": "record.value > 1000",
		"steps": []any{
			map[string]any{
				"id": "crm", "type": "call_api", "method": "POST",
				"url": crm.URL + "/customers/{record.name}?source={record.stage}",
				"headers": []any{
					map[string]any{"name": "Authorization", "value": "Bearer {secrets.CRM_KEY}"},
					map[string]any{"name": "X-Lead", "value": "lead-{record.id}"},
				},
				"body": map[string]any{"contentType": "application/json", "fields": []any{
					map[string]any{"key": "customerName", "type": "string", "value": "{record.name}"},
					map[string]any{"key": "orderValue", "type": "number", "value": "{record.value}"},
					map[string]any{"key": "isNewCustomer", "type": "boolean", "value": "true"},
					map[string]any{"key": "orderItems", "type": "json", "value": "{record.items}"},
					map[string]any{"key": "label", "type": "string", "value": "{upper(record.name)} ({record.value * 2})"},
				}},
				"timeoutSeconds": 30, "maxAttempts": 8,
				"response": map[string]any{"type": "json", "schema": []any{
					map[string]any{"pointer": "/data/externalId", "field": "externalId", "required": true},
					map[string]any{"pointer": "/data/missing", "field": "optional"},
				}},
			},
			map[string]any{"id": "save", "type": "update_record", "set": []any{
				map[string]any{"field": "externalId", "value": "{fields.externalId}"},
			}},
		},
	}, &auto)
	if w := auto["warnings"].([]any); len(w) != 0 {
		t.Errorf("warnings = %v, want none", w)
	}
	autoID := auto["id"].(string)

	// Below the condition: no run.
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Small", "value": 10}}, nil)

	var rec map[string]any
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{
		"name": "Acme Corp/EU", "value": 1500, "vip": true,
		"items": []any{map[string]any{"sku": "WIDGET-001", "quantity": 10}},
	}}, &rec)
	recID := rec["id"].(string)

	got := crm.Next(t)
	if got.Method != "POST" {
		t.Errorf("method = %s, want POST", got.Method)
	}
	if want := "/customers/Acme%20Corp%2FEU"; got.URL.EscapedPath() != want {
		t.Errorf("path = %s, want %s (the value escaped as one segment)", got.URL.EscapedPath(), want)
	}
	if want := "source=New"; got.URL.RawQuery != want {
		t.Errorf("query = %s, want %s", got.URL.RawQuery, want)
	}
	for name, want := range map[string]string{
		"Authorization": "Bearer s3cr3t-crm-key",
		"X-Lead":        "lead-" + recID,
		"Content-Type":  "application/json",
		"User-Agent":    "Autohook/dev",
	} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	idem := got.Header.Get("Idempotency-Key")
	if idem == "" || got.Header.Get("Webhook-Id") != idem {
		t.Errorf("Idempotency-Key %q and webhook-id %q must be set and equal", idem, got.Header.Get("Webhook-Id"))
	}
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatalf("body %s: %v", got.Body, err)
	}
	wantBody := map[string]any{
		"customerName":  "Acme Corp/EU",
		"orderValue":    1500.0,
		"isNewCustomer": true,
		"orderItems":    []any{map[string]any{"sku": "WIDGET-001", "quantity": 10.0}},
		"label":         "ACME CORP/EU (3000)",
	}
	if d := cmp.Diff(wantBody, body); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
	if keys := string(got.Body); !strings.HasPrefix(keys, `{"customerName":`) {
		t.Errorf("body keys should keep their declared order: %s", keys)
	}

	runs := nd.waitRuns(autoID, 1)
	run := nd.waitRun(runs[0]["id"].(string), "succeeded")
	if run["recordId"] != recID {
		t.Errorf("run record = %v, want %s", run["recordId"], recID)
	}
	if d := cmp.Diff(map[string]any{"externalId": "EXT-12345", "optional": nil}, run["fields"]); d != "" {
		t.Errorf("run fields (-want +got):\n%s", d)
	}
	nd.must(200, "GET", "/api/v1/collections/leads/records/"+recID, nil, &rec)
	if v := rec["fields"].(map[string]any)["externalId"]; v != "EXT-12345" {
		t.Errorf("record externalId = %v, want EXT-12345 (written back from the response)", v)
	}

	steps := run["steps"].([]any)
	if len(steps) != 2 {
		t.Fatalf("steps = %d, want 2", len(steps))
	}
	s0 := steps[0].(map[string]any)
	if s0["status"] != "succeeded" || s0["id"] != "crm" {
		t.Errorf("step 0 = %v %v", s0["id"], s0["status"])
	}
	att := s0["attempts"].([]any)[0].(map[string]any)
	req := att["request"].(map[string]any)
	if req["method"] != "POST" || !strings.Contains(req["url"].(string), "/customers/Acme%20Corp%2FEU") {
		t.Errorf("history request = %v %v", req["method"], req["url"])
	}
	hdrs := req["headers"].(map[string]any)
	if hdrs["Authorization"] != "[redacted]" {
		t.Errorf("history Authorization = %v, want [redacted]", hdrs["Authorization"])
	}
	resp := att["response"].(map[string]any)
	if resp["status"] != 200.0 || !strings.Contains(resp["body"].(string), "EXT-12345") {
		t.Errorf("history response = %v", resp)
	}
	if att["error"] != nil {
		t.Errorf("attempt error = %v, want none", att["error"])
	}
	if _, ok := att["durationMs"].(float64); !ok {
		t.Errorf("attempt durationMs missing: %v", att)
	}
	s1 := steps[1].(map[string]any)
	if s1["status"] != "succeeded" {
		t.Errorf("update_record step = %v", s1)
	}
	raw, _ := json.Marshal(run)
	if strings.Contains(string(raw), "s3cr3t-crm-key") {
		t.Errorf("the secret's value appears in history: %s", raw)
	}
}

// TestTriggers checks each trigger type fires on what it should and only
// on that.
func TestTriggers(t *testing.T) { eachDB(t, testTriggers) }

func testTriggers(t *testing.T, db func(*server.Config)) {
	nd := startNode(t, db)
	rc := servertest.NewReceiver(t, nil)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	mk := func(name string, trig map[string]any) string {
		var a map[string]any
		nd.must(201, "POST", "/api/v1/automations", map[string]any{
			"name": name, "collection": "leads", "trigger": trig,
			"steps": []any{map[string]any{"type": "call_api", "url": rc.URL + "/" + name + "/{record.id}"}},
		}, &a)
		return a["id"].(string)
	}
	added := mk("added", map[string]any{"type": "record_added"})
	updated := mk("updated", map[string]any{"type": "record_updated"})
	email := mk("email", map[string]any{"type": "record_updated", "fields": []string{"email"}})
	staged := mk("staged", map[string]any{"type": "stage_changed"})
	qualified := mk("qualified", map[string]any{"type": "stage_changed", "from": "New", "to": "Qualified"})
	manual := mk("manual", map[string]any{"type": "manual"})

	var rec map[string]any
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "A"}}, &rec)
	id := rec["id"].(string)
	path := "/api/v1/collections/leads/records/" + id
	nd.must(200, "PATCH", path, map[string]any{"fields": map[string]any{"name": "A"}}, nil) // no change
	nd.must(200, "PATCH", path, map[string]any{"fields": map[string]any{"name": "B"}}, nil)
	nd.must(200, "PATCH", path, map[string]any{"fields": map[string]any{"email": "b@example.com"}}, nil)
	nd.must(200, "PATCH", path, map[string]any{"stage": "Qualified"}, nil) // a stage change alone is not a field change
	nd.must(200, "PATCH", path, map[string]any{"stage": "Won"}, nil)

	var actions struct{ Items []map[string]any }
	nd.must(200, "GET", path+"/actions", nil, &actions)
	if len(actions.Items) != 1 || actions.Items[0]["automationId"] != manual {
		t.Errorf("actions = %v, want only the manual automation", actions.Items)
	}
	var run map[string]any
	nd.must(202, "POST", "/api/v1/automations/"+manual+"/runs", map[string]any{"recordId": id}, &run)
	if run["trigger"].(map[string]any)["type"] != "manual" {
		t.Errorf("manual run trigger = %v", run["trigger"])
	}

	for _, c := range []struct {
		name string
		id   string
		want int
	}{
		{"record_added", added, 1},
		{"record_updated", updated, 2},
		{"record_updated fields=[email]", email, 1},
		{"stage_changed", staged, 2},
		{"stage_changed New->Qualified", qualified, 1},
		{"manual", manual, 1},
	} {
		runs := nd.waitRuns(c.id, c.want)
		for _, r := range runs {
			if r["status"] != "succeeded" {
				t.Errorf("%s: run %v is %v", c.name, r["id"], r["status"])
			}
		}
	}
	if got := rc.Count(); got != 8 {
		t.Errorf("receiver got %d requests, want 8", got)
	}
}

// TestManualRunRefusals checks that a manual run on a disabled automation
// or with a false condition is refused with a clear conflict.
func TestManualRunRefusals(t *testing.T) { eachDB(t, testManualRunRefusals) }

func testManualRunRefusals(t *testing.T, db func(*server.Config)) {
	nd := startNode(t, db)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	var rec, a map[string]any
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"value": 5}}, &rec)
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "big only", "collection": "leads", "trigger": map[string]any{"type": "manual"}, "condition": "record.value > 100",
		"steps": []any{map[string]any{"type": "update_record", "set": []any{map[string]any{"field": "vip", "value": "true"}}}},
	}, &a)
	var e struct {
		Error struct{ Code, Message string }
	}
	nd.must(409, "POST", "/api/v1/automations/"+a["id"].(string)+"/runs", map[string]any{"recordId": rec["id"]}, &e)
	if !strings.Contains(e.Error.Message, "condition") {
		t.Errorf("message = %q, want it to name the condition", e.Error.Message)
	}
	nd.must(422, "POST", "/api/v1/automations/"+a["id"].(string)+"/runs", map[string]any{"recordId": "rec_nope"}, nil)
}

// TestUpdateRecordChain checks that update_record fires record_updated
// automations of the changed record, and that a loop stops.
func TestUpdateRecordChain(t *testing.T) { eachDB(t, testUpdateRecordChain) }

func testUpdateRecordChain(t *testing.T, db func(*server.Config)) {
	nd := startNode(t, db)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	var a map[string]any
	// Every update bumps value: a loop that the depth limit must stop.
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "bump", "collection": "leads", "trigger": map[string]any{"type": "record_updated", "fields": []string{"value"}},
		"steps": []any{map[string]any{"type": "update_record", "set": []any{map[string]any{"field": "value", "value": "{record.value + 1}"}}}},
	}, &a)
	var rec map[string]any
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"value": 0}}, &rec)
	nd.must(200, "PATCH", "/api/v1/collections/leads/records/"+rec["id"].(string), map[string]any{"fields": map[string]any{"value": 1}}, nil)
	runs := nd.waitRuns(a["id"].(string), 8)
	for _, r := range runs {
		if r["status"] != "succeeded" {
			t.Errorf("run %v = %v", r["id"], r["status"])
		}
	}
	nd.must(200, "GET", "/api/v1/collections/leads/records/"+rec["id"].(string), nil, &rec)
	if v := rec["fields"].(map[string]any)["value"]; v != 9.0 {
		t.Errorf("value = %v, want 9 (1 + 8 chained updates)", v)
	}
	servertest.WaitIdle(t, nd.Server) // a ninth run would be queued by now
	if n := len(nd.runsOf(a["id"].(string))); n != 8 {
		t.Errorf("runs = %d, want 8: the chain must stop at the depth limit", n)
	}
}

// TestStartFailsCleanly: a node that cannot start says why and leaves
// nothing behind (no panic, the data dir usable again).
func TestStartFailsCleanly(t *testing.T) {
	t.Parallel()
	first := startNode(t)
	dir := t.TempDir()
	_, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: first.Server.Addr, BootstrapAPIKey: servertest.AdminKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
	})
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("Start on a taken port = %v, want a listen error", err)
	}
	// The failed start released the data dir: another node can use it.
	n, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", BootstrapAPIKey: servertest.AdminKey,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
	})
	if err != nil {
		t.Fatalf("Start after a failed start: %v", err)
	}
	n.Shutdown(context.Background())
}

// TestOwnAddressIsBlocked: even with private networks allowed, an automation
// cannot call the server that runs it.
func TestOwnAddressIsBlocked(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	var a map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "loop", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"type": "call_api", "url": nd.Base + "/api/v1/collections"}},
	}, &a)
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "x"}}, nil)
	runs := nd.waitRuns(a["id"].(string), 1)
	run := nd.waitRun(runs[0]["id"].(string), "failed")
	att := run["steps"].([]any)[0].(map[string]any)["attempts"].([]any)[0].(map[string]any)
	if class := att["error"].(map[string]any)["class"]; class != "blocked_destination" {
		t.Errorf("class = %v, want blocked_destination", class)
	}
}

// TestDefinitionsCacheFollowsChanges: the node caches collections and the
// automations of a collection; a save on the node is seen by the next
// record write, also after the cache was filled.
func TestDefinitionsCacheFollowsChanges(t *testing.T) { eachDB(t, testDefinitionsCacheFollowsChanges) }

func testDefinitionsCacheFollowsChanges(t *testing.T, db func(*server.Config)) {
	nd := startNode(t, db)
	rc := servertest.NewReceiver(t, nil)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "before"}}, nil)
	var a map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "added", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"type": "call_api", "url": rc.URL + "/{record.id}"}},
	}, &a)
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "after"}}, nil)
	nd.waitRuns(a["id"].(string), 1)
	a["enabled"] = false
	delete(a, "warnings")
	nd.must(200, "PUT", "/api/v1/automations/"+a["id"].(string), a, nil)
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "disabled"}}, nil)
	// A new field is accepted at once after the collection changes.
	c := map[string]any{"name": "Leads", "stages": leads["stages"], "fields": append(leads["fields"].([]map[string]any), map[string]any{"key": "late", "type": "text"})}
	nd.must(200, "PUT", "/api/v1/collections/leads", c, nil)
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"late": "ok"}}, nil)
	servertest.WaitIdle(t, nd.Server) // runs of those records would be queued by now
	if n := len(nd.runsOf(a["id"].(string))); n != 1 {
		t.Errorf("runs = %d, want 1 (none before the save, none after disabling)", n)
	}
}

// TestHistoryOutlivesItsAutomation: runs stay listed by automation after
// the automation is deleted.
func TestHistoryOutlivesItsAutomation(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	var a, rec map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "m", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"type": "update_record", "set": []any{map[string]any{"field": "name", "value": "done"}}}},
	}, &a)
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "x"}}, &rec)
	nd.must(202, "POST", "/api/v1/automations/"+a["id"].(string)+"/runs", map[string]any{"recordId": rec["id"]}, nil)
	nd.waitRuns(a["id"].(string), 1)
	nd.must(204, "DELETE", "/api/v1/automations/"+a["id"].(string), nil, nil)
	if runs := nd.runsOf(a["id"].(string)); len(runs) != 1 {
		t.Errorf("runs of the deleted automation = %d, want 1", len(runs))
	}
	nd.must(404, "GET", "/api/v1/automations/aut_never/runs", nil, nil)
}

// TestMetricsToken: /metrics is open by default; with a token it answers
// only to that token.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	get := func(base, authz string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/metrics", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && !strings.Contains(string(body), "autohook_") {
			t.Errorf("GET /metrics: 200 without autohook metrics")
		}
		return resp.StatusCode
	}
	open := startNode(t)
	if code := get(open.Base, ""); code != 200 {
		t.Errorf("no token configured: %d, want 200", code)
	}
	guarded := startNode(t, func(c *server.Config) { c.MetricsToken = "m-tok-1" })
	for _, tc := range []struct {
		authz string
		want  int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer m-tok-1x", 401}, {"m-tok-1", 401}, {"Bearer m-tok-1", 200}} {
		if code := get(guarded.Base, tc.authz); code != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.authz, code, tc.want)
		}
	}
}
