package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// mailbox is a real SMTP server (github.com/emersion/go-smtp) on loopback
// that keeps every message it receives.
type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []mailMsg
	got  chan mailMsg
}

type mailMsg struct {
	From string
	To   []string
	Data string
}

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{got: make(chan mailMsg, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return mb
}

// next waits for the next message.
func (mb *mailbox) next(t *testing.T) mailMsg {
	t.Helper()
	select {
	case m := <-mb.got:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no email arrived at the SMTP server")
		return mailMsg{}
	}
}

type mailSession struct {
	mb  *mailbox
	cur mailMsg
}

func (s *mailSession) Reset()        { s.cur = mailMsg{} }
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur.From = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = string(b)
	s.mb.mu.Lock()
	s.mb.msgs = append(s.mb.msgs, s.cur)
	s.mb.mu.Unlock()
	s.mb.got <- s.cur
	return nil
}

// alertBody is a webhook alert as a receiver gets it.
type alertBody struct {
	Text       string `json:"text"`
	Event      string `json:"event"`
	Automation struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"automation"`
	Run *struct {
		ID    string     `json:"id"`
		Error *histError `json:"error"`
	} `json:"run"`
	Count int64  `json:"count"`
	URL   string `json:"url"`
}

// TestAlerts: a partner answering 401 pauses an automation; the
// run_failed alert (throttled: one for the burst) and the automation_paused
// alert reach an httptest webhook and a real SMTP server; the web UI's
// link is in them; resume sends automation_resumed; GET /alerts says each
// was sent; a webhook that answers 500 first gets the alert on a retry.
func TestAlerts(t *testing.T) {
	t.Parallel()
	mb := newMailbox(t)
	nd := flNode(t, func(c *server.Config) {
		c.SMTPURL = "smtp://" + mb.addr
		c.SMTPFrom = "autohook@example.com"
	})
	var hookMu sync.Mutex
	hookCalls := 0
	hook := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		hookMu.Lock()
		defer hookMu.Unlock()
		hookCalls++
		if hookCalls == 1 {
			w.WriteHeader(500) // the first delivery fails: retried
			return
		}
		w.WriteHeader(200)
	})
	partner := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) })
	nd.must(201, "POST", "/api/v1/alert-channels", map[string]any{"name": "ops", "type": "webhook", "url": hook.URL + "/T0/B0"}, nil)
	nd.must(201, "POST", "/api/v1/alert-channels", map[string]any{"name": "oncall", "type": "email", "to": []string{"ops@example.com"}}, nil)
	nd.must(422, "POST", "/api/v1/alert-channels", map[string]any{"name": "bad", "type": "email", "to": []string{"not an address"}}, nil)
	var saved map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "Partner sync", "collection": "leads", "trigger": map[string]any{"type": "record_added"}, "pauseAfterFailures": 3,
		"steps": []map[string]any{{"id": "partner", "type": "call_api", "url": partner.URL + "/sync"}},
	}, &saved)
	id := saved["id"].(string)
	for i := range 3 {
		nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": strings.Repeat("x", i+1)}}, nil)
	}
	waitFinished(t, nd, id, 3)

	// Webhook: run_failed (the first failure; the others fall in its 10
	// minutes) and automation_paused, in some order; the first delivery
	// answered 500 and was retried.
	events := map[string]alertBody{}
	deadline := time.Now().Add(60 * time.Second)
	for len(events) < 2 && time.Now().Before(deadline) {
		r := hook.Next(t)
		var b alertBody
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("webhook body %s: %v", r.Body, err)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
		}
		events[b.Event] = b
	}
	paused, ok := events["automation_paused"]
	if !ok {
		t.Fatalf("no automation_paused alert: %v", events)
	}
	if paused.Automation.ID != id || paused.Automation.Name != "Partner sync" || paused.Run == nil || paused.Run.Error == nil || paused.Run.Error.Class != "http_4xx" ||
		!strings.Contains(paused.Text, `"Partner sync" was paused after 3 runs in a row failed`) || !strings.Contains(paused.URL, "/settings/runs/"+paused.Run.ID) {
		t.Errorf("automation_paused alert %+v", paused)
	}
	if f, ok := events["run_failed"]; !ok || f.Count != 1 || f.Run == nil {
		t.Errorf("run_failed alert %+v (%v)", f, ok)
	}
	// Email: the same two, through the SMTP server.
	subjects := []string{}
	for range 2 {
		m := mb.next(t)
		if m.From != "autohook@example.com" || len(m.To) != 1 || m.To[0] != "ops@example.com" {
			t.Errorf("email from %q to %v", m.From, m.To)
		}
		for _, line := range strings.Split(m.Data, "\r\n") {
			if strings.HasPrefix(line, "Subject: ") {
				subjects = append(subjects, line)
			}
		}
	}
	if !strings.Contains(strings.Join(subjects, "|"), "was paused after 3 runs") {
		t.Errorf("email subjects %q: none about the pause", subjects)
	}
	// Resume: automation_resumed.
	nd.must(200, "POST", "/api/v1/automations/"+id+"/resume", nil, nil)
	for {
		r := hook.Next(t)
		var b alertBody
		json.Unmarshal(r.Body, &b)
		if b.Event == "automation_resumed" {
			if !strings.Contains(b.Text, "resumed") || b.Run != nil {
				t.Errorf("automation_resumed alert %+v", b)
			}
			break
		}
	}
	if m := mb.next(t); !strings.Contains(m.Data, "was resumed") {
		t.Errorf("the email after resume: %q", m.Data)
	}
	// GET /alerts: 3 events × 2 channels, each sent (the webhook's first
	// after a retry).
	deadline = time.Now().Add(60 * time.Second)
	for {
		var list struct {
			Items []struct {
				Status   string `json:"status"`
				Attempts int    `json:"attempts"`
				Channel  string `json:"channelType"`
				Error    string `json:"error"`
				Payload  struct {
					Event string `json:"event"`
				} `json:"payload"`
			}
		}
		nd.must(200, "GET", "/api/v1/alerts", nil, &list)
		sent, retried := 0, 0
		for _, a := range list.Items {
			if a.Status == "sent" {
				sent++
			}
			if a.Attempts > 1 {
				retried++
			}
		}
		if len(list.Items) == 6 && sent == 6 {
			if retried != 1 {
				t.Errorf("%d alerts needed more than one attempt, want 1 (the webhook answered 500 once)", retried)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts after 60 s: %+v", list.Items)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// POST /alert-channels/{id}/test: 202, delivered.
	var channels struct {
		Items []struct{ ID, Type string }
	}
	nd.must(200, "GET", "/api/v1/alert-channels", nil, &channels)
	for _, c := range channels.Items {
		if c.Type == "email" {
			nd.must(202, "POST", "/api/v1/alert-channels/"+c.ID+"/test", nil, nil)
			if m := mb.next(t); !bytes.Contains([]byte(m.Data), []byte("this channel works")) {
				t.Errorf("test email %q", m.Data)
			}
		}
	}
}
