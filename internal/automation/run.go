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
	// StatusSkipped: the run's automation was paused when the run was to
	// start a step; nothing (more) was sent. A retry continues it.
	StatusSkipped Status = "skipped"
)

// Statuses lists every run status.
var Statuses = []Status{StatusQueued, StatusRunning, StatusRetrying, StatusSucceeded, StatusFailed, StatusCancelled, StatusSkipped}

// FinishedStatuses lists the statuses of runs that will do nothing more by
// themselves.
var FinishedStatuses = []Status{StatusSucceeded, StatusFailed, StatusCancelled, StatusSkipped}

// Finished reports whether a run in this status will do nothing more by itself.
func (s Status) Finished() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled || s == StatusSkipped
}

// Retryable reports whether a run in this status can be retried by a
// person: failed, cancelled or skipped (while its automation was paused).
func (s Status) Retryable() bool {
	return s == StatusFailed || s == StatusCancelled || s == StatusSkipped
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
	// StepSkipped: the step's if was false; it did nothing.
	StepSkipped StepStatus = "skipped"
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
	// ContinuedAfterFailure lists the steps that failed for good and had
	// onError "continue": the run went on after them. A run that ends
	// "succeeded" with this list is a success with failed steps (see
	// docs/BEHAVIOUR.md).
	ContinuedAfterFailure []string `json:"continuedAfterFailure,omitempty"`

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
	// HTTPStatus is the status of the step's last response (call_api),
	// nil without one; Error is its failure, nil when it succeeded.
	// Continued: the step failed for good and the run went on (onError
	// "continue"). Later steps read these as steps.<id>.
	HTTPStatus   *int          `json:"httpStatus,omitempty"`
	Error        *AttemptError `json:"error,omitempty"`
	Continued    bool          `json:"continued,omitempty"`
	AttemptCount int           `json:"-"` // attempts made so far (the list may be loaded separately)
	RetryBase    int           `json:"-"` // attempts made before the last manual retry: each retry gets a fresh budget
	Deferrals    int           `json:"-"` // times in a row the step waited for a busy destination
	RateSlot     *time.Time    `json:"-"` // the slot of the step's maxPerSecond reserved for its next request
	RateMisses   int           `json:"-"` // rate slots missed in a row (the queue brought the run back too late)
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

// NextStep returns the index of the first step that is not done, or
// len(Steps) when all are. A step is done when it succeeded, was skipped,
// or failed and the run continued after it.
func (r *Run) NextStep() int {
	for i, s := range r.Steps {
		if !s.Done() {
			return i
		}
	}
	return len(r.Steps)
}

// Done reports whether the run has gone past the step for good.
func (s *StepState) Done() bool {
	return s.Status == StepSucceeded || s.Status == StepSkipped || s.Continued
}

// Outcome is what later steps' expressions see of the step as
// steps.<id>: ok, status (the HTTP status or nil), error ({class,
// message} or nil), skipped.
func (s *StepState) Outcome() map[string]any {
	var status, errv any
	if s.HTTPStatus != nil {
		status = *s.HTTPStatus
	}
	if s.Error != nil {
		errv = map[string]any{"class": string(s.Error.Class), "message": s.Error.Message}
	}
	return map[string]any{"ok": s.Status == StepSucceeded, "status": status, "error": errv, "skipped": s.Status == StepSkipped}
}

// StepsEnv is the steps root of expressions: the outcome of every step
// done so far, by id.
func (r *Run) StepsEnv() map[string]any {
	m := make(map[string]any, len(r.Steps))
	for i := range r.Steps {
		if s := &r.Steps[i]; s.Done() || s.Status == StepFailed {
			m[s.ID] = s.Outcome()
		}
	}
	return m
}

// Continuations returns the ids of the steps the run continued after.
func (r *Run) Continuations() []string {
	var ids []string
	for _, s := range r.Steps {
		if s.Continued {
			ids = append(ids, s.ID)
		}
	}
	return ids
}
