package server_test

// End-to-end tests of operating failures (issue 11): step outcomes as data
// (steps.<id>), onError "continue" and if, auto-pause, resume and bulk
// retry.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// TestStepOutcomes: a 404 step with onError continue, then a step whose if
// reads steps.crm.status == 404 and whose URL carries steps.crm.error.class,
// then a step whose if is false (skipped). The run succeeds, marked as
// continued after the failed step; the error body's capture reaches the
// later step. On SQLite and PostgreSQL.
func TestStepOutcomes(t *testing.T) {
	t.Parallel()
	eachDB(t, testStepOutcomes)
}

func testStepOutcomes(t *testing.T, db func(*server.Config)) {
	nd := flNode(t, db)
	crm := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		w.Write([]byte(`{"error":{"code":"no_customer"}}`))
	})
	create := servertest.NewReceiver(t, nil)
	id := manualAutomation(nd, "branches",
		map[string]any{"id": "crm", "type": "call_api", "method": "GET", "url": crm.URL + "/customers/{record.externalId}", "onError": "continue",
			"response": map[string]any{"type": "json", "schema": []map[string]any{{"pointer": "/error/code", "field": "crmCode"}}}},
		map[string]any{"id": "create", "type": "call_api", "method": "POST", "url": create.URL + "/create/{steps.crm.error.class}/{fields.crmCode}",
			"if": "steps.crm.status == 404 && !steps.crm.ok"},
		map[string]any{"id": "never", "type": "call_api", "method": "POST", "url": create.URL + "/never", "if": "steps.create.status != 204"},
	)
	runID := startManualRun(nd, id, map[string]any{"name": "Ada", "externalId": "c-1"})
	run := nd.waitRun(runID, "succeeded")
	got := create.Next(t)
	if want := "/create/http_4xx/no_customer"; got.URL.Path != want {
		t.Errorf("create step's path = %q, want %q", got.URL.Path, want)
	}
	raw, _ := json.Marshal(run)
	var h struct {
		Status    string   `json:"status"`
		Continued []string `json:"continuedAfterFailure"`
		Steps     []struct {
			ID         string     `json:"id"`
			Status     string     `json:"status"`
			HTTPStatus int        `json:"httpStatus"`
			Continued  bool       `json:"continued"`
			Error      *histError `json:"error"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Continued) != 1 || h.Continued[0] != "crm" {
		t.Errorf("continuedAfterFailure = %v, want [crm]", h.Continued)
	}
	want := []struct {
		status    string
		http      int
		continued bool
	}{{"failed", 404, true}, {"succeeded", 204, false}, {"skipped", 0, false}}
	for i, w := range want {
		s := h.Steps[i]
		if s.Status != w.status || s.HTTPStatus != w.http || s.Continued != w.continued {
			t.Errorf("step %s: status %s, httpStatus %d, continued %v; want %s, %d, %v", s.ID, s.Status, s.HTTPStatus, s.Continued, w.status, w.http, w.continued)
		}
	}
	if h.Steps[0].Error == nil || h.Steps[0].Error.Class != "http_4xx" {
		t.Errorf("crm step's error = %+v, want class http_4xx", h.Steps[0].Error)
	}
	if n := create.Count(); n != 1 {
		t.Errorf("the receiver got %d requests, want 1 (the skipped step sends nothing)", n)
	}

	// The same with update_record steps, which run in the transaction
	// that records the failed step: the if reads its outcome there.
	local := manualAutomation(nd, "local branches",
		map[string]any{"id": "crm", "type": "call_api", "method": "GET", "url": crm.URL + "/customers/x", "onError": "continue"},
		map[string]any{"id": "mark", "type": "update_record", "if": "steps.crm.status == 404", "set": []map[string]any{{"field": "externalId", "value": "missing-{steps.crm.error.class}"}}},
		map[string]any{"id": "never", "type": "update_record", "if": "steps.mark.skipped", "set": []map[string]any{{"field": "name", "value": "never"}}},
	)
	var rec map[string]any
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Bo"}}, &rec)
	var started map[string]any
	nd.must(202, "POST", "/api/v1/automations/"+local+"/runs", map[string]any{"recordId": rec["id"]}, &started)
	done := nd.waitRun(started["id"].(string), "succeeded")
	nd.must(200, "GET", "/api/v1/collections/leads/records/"+rec["id"].(string), nil, &rec)
	fields := rec["fields"].(map[string]any)
	if fields["externalId"] != "missing-http_4xx" || fields["name"] != "Bo" {
		t.Errorf("record fields %v: want externalId missing-http_4xx, name Bo", fields)
	}
	var statuses []string
	for _, s := range done["steps"].([]any) {
		statuses = append(statuses, s.(map[string]any)["status"].(string))
	}
	if got := strings.Join(statuses, " "); got != "failed succeeded skipped" {
		t.Errorf("step statuses %q, want failed succeeded skipped", got)
	}
}

// TestStepOutcomesChecked: steps.<id> must name an earlier step, onError
// must be fail or continue: a 422 naming the field.
func TestStepOutcomesChecked(t *testing.T) {
	t.Parallel()
	nd := flNode(t)
	tests := []struct {
		name  string
		steps []map[string]any
		path  string
		msg   string
	}{
		{"unknown step id", []map[string]any{
			{"id": "a", "type": "call_api", "url": "http://example.com/"},
			{"id": "b", "type": "call_api", "url": "http://example.com/{steps.nope.status}"},
		}, "steps[1].url", `no step "nope"`},
		{"a later step", []map[string]any{
			{"id": "a", "type": "call_api", "url": "http://example.com/", "if": "steps.b.ok"},
			{"id": "b", "type": "call_api", "url": "http://example.com/"},
		}, "steps[0].if", `no step "b"`},
		{"bad onError", []map[string]any{
			{"id": "a", "type": "call_api", "url": "http://example.com/", "onError": "ignore"},
		}, "steps[0].onError", "continue"},
		{"if not boolean-typed member", []map[string]any{
			{"id": "a", "type": "call_api", "url": "http://example.com/"},
			{"id": "b", "type": "call_api", "url": "http://example.com/", "if": "steps.a.okay"},
		}, "steps[1].if", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e struct {
				Error struct {
					Details []struct{ Path, Message string }
				}
			}
			nd.forT(t).must(422, "POST", "/api/v1/automations", map[string]any{
				"name": tc.name, "collection": "leads", "trigger": map[string]any{"type": "manual"}, "steps": tc.steps,
			}, &e)
			for _, d := range e.Error.Details {
				if d.Path == tc.path && strings.Contains(d.Message, tc.msg) {
					return
				}
			}
			t.Errorf("details %+v: none at %s containing %q", e.Error.Details, tc.path, tc.msg)
		})
	}
}

// TestAutoPause: runs racing on several goroutines against a receiver that
// answers 401 pause the automation at the pauseAfterFailures-th failure in
// a row; every failure is counted exactly once (one database row); runs
// that had not started a step when it paused end skipped, having sent
// nothing. Resume, then a bulk retry of the skipped runs succeeds once the
// receiver is fixed. On SQLite with one node, and on PostgreSQL with two
// nodes sharing the database.
func TestAutoPause(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testAutoPause(t, []*node{flNode(t)})
	})
	t.Run("postgres-two-nodes", func(t *testing.T) {
		t.Parallel()
		url := pgtest.NewDatabase(t)
		a := startNode(t, func(c *server.Config) { c.DatabaseURL = url })
		b := startNode(t, func(c *server.Config) { c.DatabaseURL = url })
		a.must(201, "POST", "/api/v1/collections", leads, nil)
		testAutoPause(t, []*node{a, b})
	})
}

func testAutoPause(t *testing.T, nodes []*node) {
	const pauseAfter, records = 5, 40
	var broken atomic.Bool
	broken.Store(true)
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	nd := nodes[0]
	var saved map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "partner", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"pauseAfterFailures": pauseAfter,
		"steps":              []map[string]any{{"id": "partner", "type": "call_api", "url": rc.URL + "/hook"}},
	}, &saved)
	id := saved["id"].(string)
	if saved["state"] != "active" {
		t.Errorf("a new automation's state = %v, want active", saved["state"])
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			n := nodes[g%len(nodes)]
			for i := range records / 8 {
				a, err := n.Send(t.Context(), "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": fmt.Sprint(g, "-", i)}})
				if err != nil || a.Status != 201 {
					t.Errorf("create record: %v %d %s", err, a.Status, a.Body)
				}
			}
		})
	}
	wg.Wait()
	runs := waitFinished(t, nd, id, records)
	byStatus := map[string]int{}
	for _, r := range runs {
		byStatus[r["status"].(string)]++
	}
	var a map[string]any
	nd.must(200, "GET", "/api/v1/automations/"+id, nil, &a)
	failed := byStatus["failed"]
	t.Logf("%d runs: %v; automation %v, %v failures in a row", records, byStatus, a["state"], a["consecutiveFailures"])
	if a["state"] != "paused" || a["pausedAt"] == nil || !strings.HasPrefix(fmt.Sprint(a["pausedReason"]), fmt.Sprintf("%d runs in a row failed; the last: http_4xx", pauseAfter)) {
		t.Errorf("state %v, pausedAt %v, pausedReason %q; want paused after %d failures", a["state"], a["pausedAt"], a["pausedReason"], pauseAfter)
	}
	if failed < pauseAfter || byStatus["failed"]+byStatus["skipped"] != records {
		t.Errorf("runs by status %v: want at least %d failed, the rest skipped", byStatus, pauseAfter)
	}
	if got := int(a["consecutiveFailures"].(float64)); got != failed {
		t.Errorf("consecutiveFailures = %d, want %d: every failed run counted exactly once", got, failed)
	}
	if n := rc.Count(); n != failed {
		t.Errorf("the receiver got %d requests, want %d (one per failed run; a skipped run sends nothing)", n, failed)
	}
	// Triggers while paused record skipped runs.
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "while paused"}}, nil)
	runs = waitFinished(t, nd, id, records+1)
	skipped := 0
	for _, r := range runs {
		if r["status"] == "skipped" {
			skipped++
		}
	}
	if skipped != records+1-failed {
		t.Errorf("%d skipped runs, want %d", skipped, records+1-failed)
	}
	// Fix the receiver, resume, retry the skipped runs in bulk.
	broken.Store(false)
	a = nil
	nd.must(200, "POST", "/api/v1/automations/"+id+"/resume", nil, &a)
	if a["state"] != "active" || a["pausedAt"] != nil {
		t.Errorf("after resume: state %v, pausedAt %v", a["state"], a["pausedAt"])
	}
	var res struct {
		Retried int  `json:"retried"`
		More    bool `json:"more"`
	}
	nodes[len(nodes)-1].must(202, "POST", "/api/v1/runs/retry", map[string]any{"automationId": id, "status": "skipped"}, &res)
	if res.Retried != skipped || res.More {
		t.Errorf("bulk retry = %+v, want %d retried, no more", res, skipped)
	}
	runs = waitFinished(t, nd, id, records+1)
	byStatus = map[string]int{}
	for _, r := range runs {
		byStatus[r["status"].(string)]++
	}
	if byStatus["succeeded"] != skipped || byStatus["failed"] != failed {
		t.Errorf("after the bulk retry: %v, want %d succeeded and %d failed", byStatus, skipped, failed)
	}
	a = nil
	nd.must(200, "GET", "/api/v1/automations/"+id, nil, &a)
	if a["state"] != "active" || a["consecutiveFailures"] != nil {
		t.Errorf("after successes: state %v, consecutiveFailures %v; want active, reset", a["state"], a["consecutiveFailures"])
	}
}

// waitFinished waits until automation id has n runs, all finished, and
// returns them.
func waitFinished(t *testing.T, nd *node, id string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list struct{ Items []map[string]any }
		nd.must(200, "GET", "/api/v1/runs?limit=500&automationId="+id, nil, &list)
		done := len(list.Items) == n
		for _, r := range list.Items {
			if !runFinished(r["status"].(string)) && r["status"] != "skipped" {
				done = false
			}
		}
		if done {
			return list.Items
		}
		if time.Now().After(deadline) {
			t.Fatalf("automation %s: %d runs, not all finished, after 60 s: %v", id, len(list.Items), list.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRetryNow: POST /runs/{id}/retry on a retrying run starts its next
// attempt now instead of at its time (an hour away here).
func TestRetryNow(t *testing.T) {
	t.Parallel()
	nd := flNode(t, retrySchedule(time.Hour))
	var fixed atomic.Bool
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if fixed.Load() {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	id := manualAutomation(nd, "later", map[string]any{"id": "w", "type": "call_api", "url": rc.URL + "/w"})
	runID := startManualRun(nd, id, map[string]any{"name": "Ada"})
	run := nd.waitRun(runID, "retrying")
	if next, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(run["nextAttemptAt"])); time.Until(next) < 30*time.Minute {
		t.Fatalf("nextAttemptAt %v: want about an hour away", run["nextAttemptAt"])
	}
	fixed.Store(true)
	var answer map[string]any
	nd.must(202, "POST", "/api/v1/runs/"+runID+"/retry", nil, &answer)
	if answer["status"] != "retrying" {
		t.Errorf("retry now answered status %v, want retrying (its attempt starts now)", answer["status"])
	}
	nd.waitRun(runID, "succeeded")
	if n := rc.Count(); n != 2 {
		t.Errorf("the receiver got %d requests, want 2", n)
	}
}
