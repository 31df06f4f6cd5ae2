package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
)

// newChannel adds an alert channel to org.
func newChannel(t *testing.T, st *store.Store, org string, c autohook.AlertChannel) *autohook.AlertChannel {
	t.Helper()
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.CreateAlertChannel(ctx, org, &c) })
	return &c
}

func testCreateAlertChannel(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	c := newChannel(t, st, org, autohook.AlertChannel{Name: "oncall", Type: autohook.ChannelEmail, To: []string{"a@example.com", "b@example.com"}})
	if c.ID[:4] != "ach_" || c.CreatedAt.IsZero() {
		t.Errorf("created %+v", c)
	}
	got, err := st.AlertChannel(ctx, org, c.ID)
	if err != nil || got.Name != "oncall" || got.Type != "email" || len(got.To) != 2 || got.To[1] != "b@example.com" || got.URL != "" || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Errorf("read back %+v, %v", got, err)
	}
}

func testAlertChannel(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	c := newChannel(t, st, a, autohook.AlertChannel{Name: "ops", Type: autohook.ChannelWebhook, URL: "https://hooks.example.com/T0"})
	if got, err := st.AlertChannel(ctx, a, c.ID); err != nil || got.URL != c.URL || got.To != nil {
		t.Errorf("AlertChannel = %+v, %v", got, err)
	}
	_, err := st.AlertChannel(ctx, b, c.ID)
	wantErr(t, "another organisation's channel", err, store.ErrNotFound)
}

func testAlertChannels(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	first := newChannel(t, st, a, autohook.AlertChannel{Name: "one", Type: autohook.ChannelWebhook, URL: "https://h.example.com/1"})
	second := newChannel(t, st, a, autohook.AlertChannel{Name: "two", Type: autohook.ChannelWebhook, URL: "https://h.example.com/2"})
	newChannel(t, st, b, autohook.AlertChannel{Name: "b's", Type: autohook.ChannelWebhook, URL: "https://h.example.com/b"})
	got, next, err := st.AlertChannels(ctx, a, store.Page{Limit: 1})
	if err != nil || len(got) != 1 || got[0].ID != second.ID || next == "" {
		t.Fatalf("first page = %v, %q, %v; want the newest", got, next, err)
	}
	got, next, err = st.AlertChannels(ctx, a, store.Page{Limit: 1, Cursor: next})
	if err != nil || len(got) != 1 || got[0].ID != first.ID || next != "" {
		t.Errorf("second page = %v, %q, %v", got, next, err)
	}
}

func testDeleteAlertChannel(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	c := newChannel(t, st, a, autohook.AlertChannel{Name: "gone", Type: autohook.ChannelWebhook, URL: "https://h.example.com/"})
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAlertChannel(ctx, b, c.ID) })
	wantErr(t, "another organisation's delete", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAlertChannel(ctx, a, c.ID) })
	_, err = st.AlertChannel(ctx, a, c.ID)
	wantErr(t, "a deleted channel", err, store.ErrNotFound)
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAlertChannel(ctx, a, c.ID) })
	wantErr(t, "deleting again", err, store.ErrNotFound)
}

// raise raises ev in org (to channel, "" for every one).
func raise(t *testing.T, st *store.Store, org string, ev autohook.AlertEvent, channel string) []*autohook.Alert {
	t.Helper()
	var out []*autohook.Alert
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		out, err = tx.RaiseAlert(ctx, org, &ev, channel)
		return err
	})
	return out
}

func testRaiseAlert(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t) // counts jobs
	org := newOrg(t, st)
	if got := raise(t, st, org, autohook.AlertEvent{Event: autohook.EventTest}, ""); len(got) != 0 {
		t.Errorf("without channels: %d alerts", len(got))
	}
	hook := newChannel(t, st, org, autohook.AlertChannel{Name: "hook", Type: autohook.ChannelWebhook, URL: "https://h.example.com/"})
	mail := newChannel(t, st, org, autohook.AlertChannel{Name: "mail", Type: autohook.ChannelEmail, To: []string{"ops@example.com"}})
	doc := newAutomation(t, st, org, callAPI("Sync CRM", "manual"))
	ev := autohook.AlertEvent{Event: autohook.EventRunFailed, Automation: autohook.AlertRef{ID: doc.ID}, Count: 3,
		Run: &autohook.AlertRun{ID: "run_1", Error: &automation.AttemptError{Class: "http_4xx", Message: "the receiver answered 401"}}}
	got := raise(t, st, org, ev, "")
	if len(got) != 2 || got[0].ChannelID == got[1].ChannelID {
		t.Fatalf("raised %d alerts, want one per channel", len(got))
	}
	for _, a := range got {
		if a.Status != "pending" || a.Event.Automation.Name != "Sync CRM" || a.Event.Text != `Automation "Sync CRM": 3 runs failed since the last alert. The last error: http_4xx the receiver answered 401.` {
			t.Errorf("alert %+v", a)
		}
		if a.ChannelID == hook.ID && a.ChannelType != "webhook" || a.ChannelID == mail.ID && a.ChannelType != "email" {
			t.Errorf("alert to %s has type %s", a.ChannelID, a.ChannelType)
		}
	}
	if n, err := st.CountJobs(ctx); err != nil || n != 2 {
		t.Errorf("delivery jobs = %d, %v; want 2", n, err)
	}
	if got := raise(t, st, org, autohook.AlertEvent{Event: autohook.EventTest}, mail.ID); len(got) != 1 || got[0].ChannelID != mail.ID {
		t.Errorf("raised to one channel: %+v", got)
	}
}

func testAlert(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	c := newChannel(t, st, a, autohook.AlertChannel{Name: "hook", Type: autohook.ChannelWebhook, URL: "https://h.example.com/"})
	raised := raise(t, st, a, autohook.AlertEvent{Event: autohook.EventTest}, c.ID)[0]
	got, err := st.Alert(ctx, a, raised.ID)
	if err != nil || got.Event.Event != "test" || got.Event.Text == "" || got.Status != "pending" || got.SentAt != nil {
		t.Errorf("Alert = %+v, %v", got, err)
	}
	_, err = st.Alert(ctx, b, raised.ID)
	wantErr(t, "another organisation's alert", err, store.ErrNotFound)
}

func testAlerts(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	c := newChannel(t, st, a, autohook.AlertChannel{Name: "hook", Type: autohook.ChannelWebhook, URL: "https://h.example.com/"})
	first := raise(t, st, a, autohook.AlertEvent{Event: autohook.EventTest}, c.ID)[0]
	second := raise(t, st, a, autohook.AlertEvent{Event: autohook.EventTest}, c.ID)[0]
	got, _, err := st.Alerts(ctx, a, store.Page{})
	if err != nil || len(got) != 2 || got[0].ID != second.ID || got[1].ID != first.ID {
		t.Errorf("Alerts = %v, %v; want the newest first", got, err)
	}
	if got, _, err := st.Alerts(ctx, b, store.Page{}); err != nil || len(got) != 0 {
		t.Errorf("another organisation's alerts = %v, %v", got, err)
	}
}

func testMarkAlert(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	c := newChannel(t, st, org, autohook.AlertChannel{Name: "hook", Type: autohook.ChannelWebhook, URL: "https://h.example.com/"})
	al := raise(t, st, org, autohook.AlertEvent{Event: autohook.EventTest}, c.ID)[0]
	mark := func(status string, n int, msg string) *autohook.Alert {
		t.Helper()
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			return tx.MarkAlert(ctx, org, al.ID, status, n, msg, at(time.Now()))
		})
		got, err := st.Alert(ctx, org, al.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := mark("pending", 1, "the webhook answered 500"); got.Status != "pending" || got.Attempts != 1 || got.Error != "the webhook answered 500" || got.SentAt != nil {
		t.Errorf("after a failed attempt: %+v", got)
	}
	if got := mark("sent", 2, ""); got.Status != "sent" || got.Attempts != 2 || got.Error != "" || got.SentAt == nil {
		t.Errorf("after delivery: %+v", got)
	}
}

func testAlertJob(t *testing.T, s *suite) {
	if k := (store.AlertJob{}).Kind(); k != "autohook.alert" {
		t.Errorf("AlertJob kind %q", k)
	}
	if n := (store.AlertJob{}).InsertOpts().MaxAttempts; n != store.AlertAttempts {
		t.Errorf("AlertJob MaxAttempts %d, want %d", n, store.AlertAttempts)
	}
}

// testPruneAlerts: alerts whose delivery is over go after the cutoff,
// within the limit, of every organisation; pending ones and newer ones
// stay.
func testPruneAlerts(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	a, b := newOrg(t, st), newOrg(t, st)
	ca := newChannel(t, st, a, autohook.AlertChannel{Name: "hook", Type: autohook.ChannelWebhook, URL: "https://h.example.com/"})
	cb := newChannel(t, st, b, autohook.AlertChannel{Name: "hook", Type: autohook.ChannelWebhook, URL: "https://h.example.com/"})
	sent := raise(t, st, a, autohook.AlertEvent{Event: autohook.EventTest}, ca.ID)[0]
	failed := raise(t, st, b, autohook.AlertEvent{Event: autohook.EventTest}, cb.ID)[0]
	pending := raise(t, st, a, autohook.AlertEvent{Event: autohook.EventTest}, ca.ID)[0]
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		return errors.Join(tx.MarkAlert(ctx, a, sent.ID, autohook.AlertSent, 1, "", at(time.Now())),
			tx.MarkAlert(ctx, b, failed.ID, autohook.AlertFailed, 8, "the webhook answered 500", at(time.Now())))
	})
	prune := func(before time.Time, limit int) int {
		t.Helper()
		var n int
		write(t, st, func(ctx context.Context, tx *store.Tx) (err error) {
			n, err = tx.PruneAlerts(ctx, before, limit)
			return err
		})
		return n
	}
	if n := prune(time.Now().Add(-time.Hour), 100); n != 0 {
		t.Errorf("pruned %d alerts raised after the cutoff", n)
	}
	if n := prune(time.Now().Add(time.Hour), 1); n != 1 {
		t.Errorf("pruned %d, want the limit of 1", n)
	}
	if n := prune(time.Now().Add(time.Hour), 100); n != 1 {
		t.Errorf("pruned %d, want the other delivered alert", n)
	}
	for _, c := range []struct {
		org string
		al  *autohook.Alert
		ok  bool
	}{{a, sent, false}, {b, failed, false}, {a, pending, true}} {
		_, err := st.Alert(ctx, c.org, c.al.ID)
		if (err == nil) != c.ok {
			t.Errorf("alert %s after pruning: %v, want kept %v", c.al.ID, err, c.ok)
		}
	}
}
