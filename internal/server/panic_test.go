package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/autohook/autohook/internal/httpapi"
	"github.com/autohook/autohook/internal/webui"
)

// A panic in a handler is logged with its stack and answered 500 the way
// the part of the site that panicked answers errors: the API's JSON
// envelope under /api/, the UI's HTML page elsewhere (or the UI's JSON for
// its script), never the process's end.
func TestPanicAnsweredInThePagesLanguage(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	api := httpapi.New(httpapi.Config{Logger: log})
	ui := webui.New(webui.Config{Logger: log})
	h := recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), log, api.Panicked, ui.Panicked)

	cases := []struct {
		name, path, accept string
		wantType           string
		check              func(t *testing.T, body string)
	}{
		{name: "API", path: "/api/v1/records", wantType: "application/json", check: func(t *testing.T, body string) {
			var env struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(body), &env); err != nil {
				t.Fatalf("body is not the error envelope: %v\n%s", err, body)
			}
			if env.Error.Code != "internal" || !strings.Contains(env.Error.Message, "server log") {
				t.Errorf("envelope %+v; want code internal and a message pointing at the log", env.Error)
			}
		}},
		{name: "UI page", path: "/records/leads", accept: "text/html", wantType: "text/html; charset=utf-8", check: func(t *testing.T, body string) {
			if !strings.Contains(body, "<html") || !strings.Contains(body, "Something went wrong") {
				t.Errorf("not the UI's error page:\n%s", body)
			}
		}},
		{name: "UI script", path: "/settings/runs/run_1/status", accept: "application/json", wantType: "application/json", check: func(t *testing.T, body string) {
			var got map[string]string
			if err := json.Unmarshal([]byte(body), &got); err != nil || !strings.Contains(got["error"], "Something went wrong") {
				t.Errorf("body %s (%v); want the UI's JSON error", body, err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", c.path, nil)
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status %d, want 500", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != c.wantType {
				t.Errorf("Content-Type %q, want %q", got, c.wantType)
			}
			c.check(t, rec.Body.String())
		})
	}
	if n := strings.Count(logs.String(), "panic serving a request"); n != len(cases) {
		t.Errorf("%d panics logged, want %d:\n%s", n, len(cases), logs.String())
	}
	if !strings.Contains(logs.String(), "panic=boom") || !strings.Contains(logs.String(), "stack=") {
		t.Errorf("the log lacks the panic or its stack:\n%s", logs.String())
	}
}

// http.ErrAbortHandler is how a handler aborts a response on purpose: it
// goes on to net/http, which drops the connection without a log line.
func TestPanicAbortHandlerPassesThrough(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	answered := false
	answer := func(http.ResponseWriter, *http.Request) { answered = true }
	h := recoverPanics(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), log, answer, answer)
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", p)
		}
		if answered {
			t.Error("an aborted handler was answered")
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/v1/records", nil))
}
