package automation

import (
	"time"

	"github.com/autohook/autohook/internal/retry"
)

// Status is a run's status. Stored names are stable.
type Status string

// Run statuses.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusRetrying  Status = "retrying"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every run status.
var Statuses = []Status{StatusQueued, StatusRunning, StatusRetrying, StatusSucceeded, StatusFailed, StatusCancelled}

// Finished reports whether a run in this status will do nothing more by itself.
func (s Status) Finished() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled
}

// StepStatus is one step's status within a run.
type StepStatus string

// Step statuses.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running"
	StepRetrying  StepStatus = "retrying"
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
	StepCancelled StepStatus = "cancelled"
)

// TriggerInfo says what started a run.
type TriggerInfo struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
}

// Run is one execution of an automation for one record: the history entry.
type Run struct {
	ID                string         `json:"id"`
	AutomationID      string         `json:"automationId"`
	AutomationVersion int64          `json:"automationVersion"`
	AutomationName    string         `json:"automationName,omitempty"`
	RecordID          string         `json:"recordId"`
	Collection        string         `json:"collection"`
	Trigger           TriggerInfo    `json:"trigger"`
	Status            Status         `json:"status"`
	CreatedAt         time.Time      `json:"createdAt"`
	UpdatedAt         time.Time      `json:"updatedAt"`
	FinishedAt        *time.Time     `json:"finishedAt"`
	NextAttemptAt     *time.Time     `json:"nextAttemptAt,omitempty"`
	Fields            map[string]any `json:"fields"`
	Steps             []StepState    `json:"steps"`
	Error             *AttemptError  `json:"error,omitempty"` // the error that failed the run

	// Engine state, not part of the public document.
	Seq      int64          `json:"-"` // generation of the queue job that may work the run
	Depth    int            `json:"-"` // how many update_record hops led to this run
	Record   map[string]any `json:"-"` // the record as of the trigger (refreshed by update_record)
	Previous map[string]any `json:"-"` // the record before the change, for updates
}

// StepState is one step's progress within a run.
type StepState struct {
	ID            string     `json:"id"`
	Type          string     `json:"type"`
	Status        StepStatus `json:"status"`
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	Attempts      []Attempt  `json:"attempts"`
	AttemptCount  int        `json:"-"` // attempts made so far (the list may be loaded separately)
	RetryBase     int        `json:"-"` // attempts made before the last manual retry: each retry gets a fresh budget
	Deferrals     int        `json:"-"` // times in a row the step waited for a busy destination
	RateSlot      *time.Time `json:"-"` // the slot of the step's maxPerSecond reserved for its next request
	RateMisses    int        `json:"-"` // rate slots missed in a row (the queue brought the run back too late)
}

// Attempt is one try of one step.
type Attempt struct {
	N          int            `json:"n"`
	StartedAt  time.Time      `json:"startedAt"`
	DurationMs float64        `json:"durationMs"`
	Request    *HTTPRequest   `json:"request,omitempty"`
	Response   *HTTPResponse  `json:"response,omitempty"`
	Error      *AttemptError  `json:"error,omitempty"`
	Fields     map[string]any `json:"fields,omitempty"` // automation fields this attempt set
}

// HTTPRequest is a request as sent, truncated and with secrets redacted.
type HTTPRequest struct {
	Method        string            `json:"method"`
	URL           string            `json:"url"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"bodyTruncated,omitempty"`
	// Redirects are the redirects followed after this request, in order;
	// the last is where the response came from (or the one refused).
	Redirects []Redirect `json:"redirects,omitempty"`
}

// Redirect is one hop of a request: the redirect response's status and
// the request that followed it, with what was left out of that request
// because it went to another origin.
type Redirect struct {
	Status         int      `json:"status"`
	Method         string   `json:"method"`
	URL            string   `json:"url"`
	HeadersDropped []string `json:"headersDropped,omitempty"`
	BodyDropped    bool     `json:"bodyDropped,omitempty"`
}

// HTTPResponse is a response as received, truncated and with secrets redacted.
type HTTPResponse struct {
	Status        int               `json:"status"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"bodyTruncated,omitempty"`
}

// AttemptError is a classified failure.
type AttemptError struct {
	Class   retry.Class `json:"class"`
	Message string      `json:"message"`
}

// StepIndex returns the index of the step with id, or -1.
func (r *Run) StepIndex(id string) int {
	for i, s := range r.Steps {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// NextStep returns the index of the first step that has not succeeded, or
// len(Steps) when all have.
func (r *Run) NextStep() int {
	for i, s := range r.Steps {
		if s.Status != StepSucceeded {
			return i
		}
	}
	return len(r.Steps)
}
