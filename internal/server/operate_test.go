package server_test

// End-to-end tests of operating failures (issue 11): step outcomes as data
// (steps.<id>), onError "continue" and if, auto-pause, resume and bulk
// retry.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/autohook/autohook/internal/servertest"
)

// TestStepOutcomes: a 404 step with onError continue, then a step whose if
// reads steps.crm.status == 404 and whose URL carries steps.crm.error.class,
// then a step whose if is false (skipped). The run succeeds, marked as
// continued after the failed step; the error body's capture reaches the
// later step.
func TestStepOutcomes(t *testing.T) {
	t.Parallel()
	nd := flNode(t)
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
