package autohook

import (
	"context"
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/automation"
)

// Alert channel types. Stored names are stable.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Alert events. Stored names are stable.
const (
	EventAutomationPaused  = "automation_paused"
	EventAutomationResumed = "automation_resumed"
	EventRunFailed         = "run_failed"
	EventTest              = "test"
)

// AlertThrottle is the least time between two run_failed alerts of one
// automation; the later one counts the failures since the earlier.
const AlertThrottle = 10 * time.Minute

// AlertChannel is where alerts go: a webhook URL (Slack, Teams and most
// chat tools take its JSON as it is) or email addresses.
type AlertChannel struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	URL       string    `json:"url,omitempty"`
	To        []string  `json:"to,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// AlertRef names an automation or a run in an alert.
type AlertRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// AlertRun is the run an alert is about, with the error that failed it.
type AlertRun struct {
	ID    string                   `json:"id"`
	Error *automation.AttemptError `json:"error"`
}

// AlertEvent is what happened: the payload every channel receives (a
// webhook as JSON, with url added when it is delivered).
type AlertEvent struct {
	Text       string    `json:"text"` // one human sentence
	Event      string    `json:"event"`
	Automation AlertRef  `json:"automation"`
	Run        *AlertRun `json:"run"`
	// Count: run_failed, the failed runs since the last run_failed alert of
	// the automation (this one included); automation_paused, the failures
	// in a row.
	Count int64  `json:"count,omitempty"`
	URL   string `json:"url,omitempty"` // the run's page (the automation's without a run)
}

// Sentence writes the event's Text: one sentence a person reads in a chat
// or a mail subject.
func (e *AlertEvent) Sentence() string {
	name := e.Automation.Name
	if name == "" {
		name = e.Automation.ID
	}
	last := ""
	if e.Run != nil && e.Run.Error != nil {
		last = fmt.Sprintf(" The last error: %s %s.", e.Run.Error.Class, e.Run.Error.Message)
	}
	switch e.Event {
	case EventAutomationPaused:
		return fmt.Sprintf("Automation %q was paused after %d runs in a row failed; its triggers now record skipped runs until it is resumed.%s", name, e.Count, last)
	case EventAutomationResumed:
		return fmt.Sprintf("Automation %q was resumed and runs again.", name)
	case EventRunFailed:
		if e.Count > 1 {
			return fmt.Sprintf("Automation %q: %d runs failed since the last alert.%s", name, e.Count, last)
		}
		return fmt.Sprintf("Automation %q: a run failed.%s", name, last)
	case EventTest:
		return "A test alert from Autohook: this channel works."
	}
	return fmt.Sprintf("Automation %q: %s.", name, e.Event)
}

// Alert statuses.
const (
	AlertPending = "pending" // being delivered (retried on failure)
	AlertSent    = "sent"
	AlertFailed  = "failed" // given up after its retries
)

// Alert is one event sent to one channel: what was sent, and whether it
// was delivered or why not.
type Alert struct {
	ID          string     `json:"id"`
	ChannelID   string     `json:"channelId"`
	ChannelType string     `json:"channelType"`
	Event       AlertEvent `json:"payload"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	Error       string     `json:"error,omitempty"` // the last delivery error
	CreatedAt   time.Time  `json:"createdAt"`
	SentAt      *time.Time `json:"sentAt,omitempty"`
}

// AlertService keeps alert channels and lists the alerts sent.
type AlertService interface {
	CreateAlertChannel(ctx context.Context, orgID string, c *AlertChannel) error
	AlertChannels(ctx context.Context, orgID string, page Page) ([]*AlertChannel, string, error)
	DeleteAlertChannel(ctx context.Context, orgID, id string) error
	// TestAlertChannel sends a test alert to one channel (delivered like
	// every alert: durably, with retries).
	TestAlertChannel(ctx context.Context, orgID, id string) (*Alert, error)
	Alerts(ctx context.Context, orgID string, page Page) ([]*Alert, string, error)
}

// RunStats are an automation's finished runs over a window, in equal
// buckets oldest first: what the automations list charts.
type RunStats struct {
	Succeeded, Failed int
	Buckets           []RunBucket
}

// RunBucket counts the runs that finished in one bucket of a window.
type RunBucket struct {
	Succeeded, Failed int
}

// SuccessRate is the share of finished runs that succeeded, in percent;
// -1 without any.
func (s *RunStats) SuccessRate() int {
	n := s.Succeeded + s.Failed
	if n == 0 {
		return -1
	}
	return s.Succeeded * 100 / n
}
