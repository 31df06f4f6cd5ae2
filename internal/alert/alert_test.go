package alert

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/egress"
)

func TestSMTPClient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		wantErr string
	}{
		{"smtp://mail.example.com:587", ""},
		{"smtp://user:pass@mail.example.com:2525", ""},
		{"smtps://mail.example.com", ""},
		{"smtp://mail.example.com", ""},
		{"http://mail.example.com", `scheme "http"`},
		{"smtp://mail.example.com:port", "must look like"},
		{"smtp://", "must look like"},
		{"::", "must look like"},
	}
	for _, tc := range tests {
		_, err := SMTPClient(tc.url, time.Second)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("SMTPClient(%q) = %v, want a client", tc.url, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("SMTPClient(%q) = %v, want an error containing %q", tc.url, err, tc.wantErr)
		}
	}
}

func TestLink(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	ev := &autohook.AlertEvent{Automation: autohook.AlertRef{ID: "aut_1"}}
	if got := s.link(ev); got != "" {
		t.Errorf("without a base URL: %q, want none", got)
	}
	s.SetBaseURL("http://127.0.0.1:8080/")
	if got := s.link(ev); got != "http://127.0.0.1:8080/settings/automations/aut_1" {
		t.Errorf("an automation event links to %q", got)
	}
	ev.Run = &autohook.AlertRun{ID: "run_1"}
	if got := s.link(ev); got != "http://127.0.0.1:8080/settings/runs/run_1" {
		t.Errorf("a run event links to %q", got)
	}
	// --public-url wins over the listen address.
	s = New(Config{BaseURL: "https://autohook.example.com"})
	s.SetBaseURL("http://127.0.0.1:8080")
	if got := s.link(ev); got != "https://autohook.example.com/settings/runs/run_1" {
		t.Errorf("with a public URL: %q", got)
	}
}

// A failed delivery's error, kept in the alert's row that editors read,
// never carries the channel's URL: a Slack or Teams webhook URL is a
// credential only owners see.
func TestPostErrorHidesURL(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("no hijacker")
			return
		}
		c, _, err := hj.Hijack()
		if err == nil {
			_ = c.Close() // no answer: the client's request fails
		}
	}))
	defer srv.Close()
	s := New(Config{Policy: &egress.Policy{AllowPrivate: true}})
	const secret = "B0000000/XXXXsecretXXXX"
	err := s.post(context.Background(), srv.URL+"/services/T000/"+secret, &autohook.AlertEvent{Event: autohook.EventTest, Text: "test"})
	if err == nil {
		t.Fatal("a closed connection delivered the alert")
	}
	if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "/services/") {
		t.Errorf("the error %q shows the channel's URL", err)
	}
	if !strings.Contains(err.Error(), strings.TrimPrefix(srv.URL, "http://")) {
		t.Errorf("the error %q does not say where the alert was going", err)
	}
}
