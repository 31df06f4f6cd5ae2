package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/servertest"
)

// TestNewcomerAPI walks what a newcomer's first calls met (issue 17):
// a typo in an expression is a 422 at save naming the path, the position
// and the nearest name; the dry run says whether the condition holds;
// retry and cancel answer the run as GET does; the answers the document
// did not describe (405, ?trigger= off its enum, short secrets) are now
// as described. Every exchange is also held to openapi.json (servertest).
func TestNewcomerAPI(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	release := make(chan struct{})
	var calls atomic.Int32
	recv := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 { // the retried run's request waits, to be cancelled in flight
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		w.WriteHeader(http.StatusInternalServerError) // every attempt fails
	})
	nd.must(201, "POST", "/api/v1/collections", leads, nil)

	// A typo is refused at save, with the nearest name and where it is.
	doc := func(cond, url string) map[string]any {
		return map[string]any{
			"name": "Notify", "collection": "leads", "trigger": map[string]any{"type": "manual"}, "condition": cond,
			"steps": []any{map[string]any{"id": "crm", "type": "call_api", "method": "POST", "url": url, "maxAttempts": 1,
				"body": map[string]any{"contentType": "application/json", "fields": []any{map[string]any{"key": "n", "type": "string", "value": "{record.name}"}}}}},
		}
	}
	var refused struct {
		Error struct {
			Code    string
			Details []struct {
				Path     string
				Message  string
				Position *int
			}
		}
	}
	nd.must(422, "POST", "/api/v1/automations", doc("record.vaule > 10", recv.URL+"/{record.nmae}"), &refused)
	type detail struct {
		Path, Message string
		Position      int
	}
	var got []detail
	for _, d := range refused.Error.Details {
		if d.Position == nil {
			t.Fatalf("%s: no position", d.Path)
		}
		got = append(got, detail{d.Path, d.Message, *d.Position})
	}
	fields := "(record has collection, createdAt, dueDate, email, externalId, id, items, name, stage, updatedAt, value, vip)"
	want := []detail{
		{"condition", `record has no field "vaule": did you mean record.value? ` + fields, 7},
		{"steps[0].url", `record has no field "nmae": did you mean record.name? ` + fields, len(recv.URL) + 9},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	nd.must(422, "POST", "/api/v1/automations", doc("record.value >", recv.URL), &refused)
	if d := refused.Error.Details; len(d) != 1 || d[0].Message != "expected a value after `>`" || *d[0].Position != 13 {
		t.Errorf("a broken condition: %+v", d)
	}

	// The dry run says whether the condition holds for the record.
	var aut struct{ ID string }
	nd.must(201, "POST", "/api/v1/automations", doc("record.value > 1000", recv.URL+"/{record.name}"), &aut)
	var small, big struct{ ID string }
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Small", "value": 10}}, &small)
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Big", "value": 5000}}, &big)
	var saved map[string]any
	nd.must(200, "GET", "/api/v1/automations/"+aut.ID, nil, &saved)
	for _, tt := range []struct {
		name      string
		record    any
		cond      string
		met       bool
		errorHas  string
		stepsWant int
	}{
		{name: "excluded", record: map[string]any{"recordId": small.ID}, met: false, stepsWant: 1},
		{name: "included", record: map[string]any{"recordId": big.ID}, met: true, stepsWant: 1},
		{name: "inline", record: map[string]any{"record": map[string]any{"fields": map[string]any{"value": 2000}}}, met: true, stepsWant: 1},
		{name: "cannot evaluate", record: map[string]any{"record": map[string]any{"fields": map[string]any{"name": "x"}}}, cond: "record.value > 10", met: false, errorHas: "record.value > 10", stepsWant: 1},
	} {
		a := map[string]any{}
		for k, v := range saved {
			a[k] = v
		}
		if tt.cond != "" {
			a["condition"] = tt.cond
		}
		body := map[string]any{"automation": a}
		for k, v := range tt.record.(map[string]any) {
			body[k] = v
		}
		var res struct {
			ConditionMet   bool
			ConditionError string
			Steps          []json.RawMessage
		}
		nd.must(200, "POST", "/api/v1/automations/test", body, &res)
		if res.ConditionMet != tt.met || len(res.Steps) != tt.stepsWant || !strings.Contains(res.ConditionError, tt.errorHas) || (tt.errorHas == "" && res.ConditionError != "") {
			t.Errorf("%s: conditionMet %v, conditionError %q, %d steps; want %v, %q, %d", tt.name, res.ConditionMet, res.ConditionError, len(res.Steps), tt.met, tt.errorHas, tt.stepsWant)
		}
	}

	// Retry and cancel answer the run as GET /runs/{id} does.
	var run map[string]any
	nd.must(202, "POST", "/api/v1/automations/"+aut.ID+"/runs", map[string]any{"recordId": big.ID}, &run)
	id := run["id"].(string)
	nd.waitRun(id, "failed")
	var retried, got2 map[string]any
	nd.must(202, "POST", "/api/v1/runs/"+id+"/retry", nil, &retried)
	if retried["automationName"] != "Notify" || retried["steps"].([]any)[0].(map[string]any)["attempts"] == nil {
		t.Errorf("retry answered %v, want the run with its name and attempts", retried)
	}
	recv.Next(t) // the first attempt
	recv.Next(t) // the retried one, in flight
	var cancelled map[string]any
	nd.must(200, "POST", "/api/v1/runs/"+id+"/cancel", nil, &cancelled)
	nd.must(200, "GET", "/api/v1/runs/"+id, nil, &got2)
	close(release)
	if diff := cmp.Diff(got2, cancelled); diff != "" {
		t.Errorf("cancel's answer differs from GET (-get +cancel):\n%s", diff)
	}

	// What the document did not describe.
	a := nd.Do(t, "POST", "/api/v1/openapi.json", nil)
	if a.Status != http.StatusMethodNotAllowed || a.Header.Get("Allow") != "GET" {
		t.Errorf("POST openapi.json: %d Allow %q, want 405 Allow GET", a.Status, a.Header.Get("Allow"))
	}
	nd.must(422, "GET", "/api/v1/automations?trigger=bogus", nil, &refused)
	if d := refused.Error.Details; len(d) != 1 || d[0].Path != "trigger" {
		t.Errorf("?trigger=bogus: %+v, want a problem at trigger", d)
	}
	nd.must(422, "PUT", "/api/v1/secrets/SHORT", map[string]any{"value": "v"}, &refused)
	if d := refused.Error.Details; len(d) != 1 || d[0].Path != "value" || !strings.Contains(d[0].Message, "at least 8 bytes") {
		t.Errorf("a one-letter secret: %+v, want a problem at value", d)
	}
	bad := doc("", recv.URL)
	bad["steps"].([]any)[0].(map[string]any)["method"] = "post"
	nd.must(422, "POST", "/api/v1/automations", bad, &refused)
	if d := refused.Error.Details; len(d) != 1 || d[0].Path != "steps[0].method" || !strings.Contains(d[0].Message, "in capitals: POST") {
		t.Errorf(`method "post": %+v`, d)
	}
}
