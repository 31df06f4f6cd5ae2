// Package alert delivers alerts (automation paused, resumed, runs failed)
// to their channels: a JSON POST to a webhook through the destination
// policy that Call API obeys, or an email through the server's SMTP relay
// (github.com/wneessen/go-mail). Each alert is a durable queue job
// (store.AlertJob), retried with backoff; its row says whether it was
// delivered or why not.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/wneessen/go-mail"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/egress"
	"github.com/autohook/autohook/internal/store"
)

// Metrics receives what delivery observes.
type Metrics interface {
	// Alert counts a delivery: the channel type and "sent" or "failed"
	// (given up after its attempts).
	Alert(channelType, outcome string)
}

type noMetrics struct{}

func (noMetrics) Alert(string, string) {}

// Config is what a Sender needs.
type Config struct {
	Store *store.Store
	// Policy is where webhooks may go: the one Call API obeys.
	Policy *egress.Policy
	// SMTPURL is the relay email goes through: smtp://user:pass@host:587
	// (STARTTLS when the server offers it) or smtps://...:465 (TLS); ""
	// leaves email channels failing with a message that says so.
	SMTPURL string
	// SMTPFrom is the sender address of alert emails.
	SMTPFrom string
	// BaseURL is the web UI's address, for the links alerts carry
	// (https://autohook.example.com); SetBaseURL sets it when it is known
	// only once the node listens.
	BaseURL   string
	UserAgent string
	Timeout   time.Duration // per delivery; 0: 15 s
	Metrics   Metrics
	Logger    *slog.Logger
}

// Sender is the River worker of store.AlertJob.
type Sender struct {
	river.WorkerDefaults[store.AlertJob]
	cfg  Config
	http *http.Client
	base atomic.Pointer[string]
}

// SetBaseURL sets the address alerts link to, unless Config.BaseURL did.
func (s *Sender) SetBaseURL(u string) {
	if s.cfg.BaseURL == "" {
		s.base.Store(&u)
	}
}

// New returns a Sender.
func New(cfg Config) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy == nil {
		cfg.Policy = &egress.Policy{}
	}
	tr := &http.Transport{DialContext: cfg.Policy.Dialer(nil).DialContext, Proxy: nil, MaxIdleConns: 10, IdleConnTimeout: 30 * time.Second}
	return &Sender{cfg: cfg, http: &http.Client{Transport: tr, CheckRedirect: cfg.Policy.CheckRedirect, Timeout: cfg.Timeout}}
}

// Register adds the Sender to River's workers.
func (s *Sender) Register(workers *river.Workers) { river.AddWorker(workers, s) }

// NextRetry waits 2 s, doubling with each attempt, at most 5 min.
func (s *Sender) NextRetry(job *river.Job[store.AlertJob]) time.Time {
	d := min(time.Duration(1<<min(job.Attempt, 10))*time.Second, 5*time.Minute)
	return time.Now().Add(d)
}

// Work delivers one alert and records the outcome in its row.
func (s *Sender) Work(ctx context.Context, job *river.Job[store.AlertJob]) error {
	org, id := job.Args.OrgID, job.Args.AlertID
	a, err := s.cfg.Store.Alert(ctx, org, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && a.Status == autohook.AlertSent) {
		return nil
	}
	if err != nil {
		return err
	}
	ch, err := s.cfg.Store.AlertChannel(ctx, org, a.ChannelID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.mark(ctx, org, a, job, errors.New("the channel was deleted"), true)
	case err != nil:
		return err
	}
	ev := a.Event
	ev.URL = s.link(&ev)
	err = s.deliver(ctx, ch, &ev)
	return s.mark(ctx, org, a, job, err, err != nil && job.Attempt >= job.MaxAttempts)
}

// mark records a delivery attempt; the error is returned for River to try
// again unless final.
func (s *Sender) mark(ctx context.Context, org string, a *autohook.Alert, job *river.Job[store.AlertJob], failure error, final bool) error {
	status, msg := autohook.AlertSent, ""
	switch {
	case failure != nil && final:
		status, msg = autohook.AlertFailed, failure.Error()
	case failure != nil:
		status, msg = autohook.AlertPending, failure.Error()
	}
	err := s.cfg.Store.Write(ctx, func(tx *store.Tx) error {
		return tx.MarkAlert(ctx, org, a.ID, status, job.Attempt, msg, tx.Now())
	})
	if err != nil {
		return err
	}
	switch status {
	case autohook.AlertSent:
		s.cfg.Metrics.Alert(a.ChannelType, "sent")
	case autohook.AlertFailed:
		s.cfg.Metrics.Alert(a.ChannelType, "failed")
		s.cfg.Logger.WarnContext(ctx, "alert not delivered: given up", "alert", a.ID, "channel", a.ChannelID, "err", failure)
		return nil
	}
	return failure
}

// link is the page an alert points to: the run's, else the automation's.
func (s *Sender) link(ev *autohook.AlertEvent) string {
	base := s.cfg.BaseURL
	if p := s.base.Load(); base == "" && p != nil {
		base = *p
	}
	base = strings.TrimRight(base, "/")
	switch {
	case base == "":
		return ""
	case ev.Run != nil:
		return base + "/settings/runs/" + url.PathEscape(ev.Run.ID)
	case ev.Automation.ID != "":
		return base + "/settings/automations/" + url.PathEscape(ev.Automation.ID)
	}
	return base + "/settings/alerts"
}

func (s *Sender) deliver(ctx context.Context, ch *autohook.AlertChannel, ev *autohook.AlertEvent) error {
	switch ch.Type {
	case autohook.ChannelWebhook:
		return s.post(ctx, ch.URL, ev)
	case autohook.ChannelEmail:
		return s.email(ctx, ch.To, ev)
	}
	return fmt.Errorf("unknown channel type %q", ch.Type)
}

// post sends the event as JSON: Slack and Teams incoming webhooks show its
// text as it is.
func (s *Sender) post(ctx context.Context, target string, ev *autohook.AlertEvent) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("invalid url: %w", err)
	}
	if err := s.cfg.Policy.CheckHost(u.Hostname()); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	resp, err := s.http.Do(req)
	if err != nil {
		return withoutURL(err, u.Host)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the webhook answered %d", resp.StatusCode)
	}
	return nil
}

// withoutURL drops the channel's URL from a failed request's error
// (net/http's *url.Error quotes it whole): a Slack or Teams incoming
// webhook URL is a credential, and the error is kept in the alert's row,
// which editors read (Alerts), when only owners see channels. The host
// stays, to say where the alert was going.
func withoutURL(err error, host string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("post to %s: %w", host, ue.Err)
	}
	return err
}

// email sends the event to the addresses through the SMTP relay.
func (s *Sender) email(ctx context.Context, to []string, ev *autohook.AlertEvent) error {
	client, err := s.smtpClient()
	if err != nil {
		return err
	}
	m := mail.NewMsg()
	if err := m.From(s.cfg.SMTPFrom); err != nil {
		return fmt.Errorf("--smtp-from: %w", err)
	}
	if err := m.To(to...); err != nil {
		return err
	}
	subject := ev.Text
	if len(subject) > 150 {
		subject = subject[:147] + "..."
	}
	m.Subject("[Autohook] " + subject)
	text := ev.Text
	if ev.URL != "" {
		text += "\n\n" + ev.URL
	}
	m.SetBodyString(mail.TypeTextPlain, text+"\n")
	return client.DialAndSendWithContext(ctx, m)
}

// smtpClient builds a client for SMTPURL.
func (s *Sender) smtpClient() (*mail.Client, error) {
	if s.cfg.SMTPURL == "" {
		return nil, errors.New("no SMTP relay is configured (--smtp-url)")
	}
	if s.cfg.SMTPFrom == "" {
		return nil, errors.New("no sender address is configured (--smtp-from)")
	}
	return SMTPClient(s.cfg.SMTPURL, s.cfg.Timeout)
}

// SMTPClient returns a go-mail client for an smtp:// (STARTTLS when the
// server offers it) or smtps:// (TLS) URL with optional user:password.
func SMTPClient(raw string, timeout time.Duration) (*mail.Client, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("--smtp-url must look like smtp://user:pass@host:587")
	}
	opts := []mail.Option{mail.WithTimeout(timeout)}
	port := 587
	switch u.Scheme {
	case "smtp":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("--smtp-url: scheme %q: use smtp or smtps", u.Scheme)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("--smtp-url: port %q", p)
		}
		port = n
	}
	opts = append(opts, mail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	return mail.NewClient(u.Hostname(), opts...)
}
