// Package automation provides automation documents (trigger, condition,
// steps), their compilation into executable form with problems named by exact
// path, and the run history types: runs, step states, attempts, statuses.
package automation

import (
	"time"

	"github.com/autohook/autohook/internal/strictjson"
)

// Trigger types. Stored names are stable.
const (
	RecordAdded   = "record_added"
	RecordUpdated = "record_updated"
	StageChanged  = "stage_changed"
	RecordDue     = "record_due"
	Manual        = "manual"
)

// TriggerTypes lists every trigger type.
var TriggerTypes = []string{RecordAdded, RecordUpdated, StageChanged, RecordDue, Manual}

// Step types. Stored names are stable.
const (
	TypeCallAPI      = "call_api"
	TypeUpdateRecord = "update_record"
)

// StepTypes lists every step type.
var StepTypes = []string{TypeCallAPI, TypeUpdateRecord}

// Automation is an automation document, as written by people and stored.
type Automation struct {
	ID         string     `json:"id,omitempty"`
	Name       string     `json:"name"`
	Collection string     `json:"collection"`
	Enabled    bool       `json:"enabled"`
	Trigger    Trigger    `json:"trigger"`
	Condition  string     `json:"condition,omitempty"`
	Steps      []StepSpec `json:"steps"`
	Signing    *Signing   `json:"signing,omitempty"`
	// PauseAfterFailures pauses the automation after this many runs in a
	// row failed; nil: DefaultPauseAfterFailures; 0: never.
	PauseAfterFailures *int       `json:"pauseAfterFailures,omitempty"`
	Version            int64      `json:"version,omitempty"`
	CreatedAt          *time.Time `json:"createdAt,omitempty"`
	UpdatedAt          *time.Time `json:"updatedAt,omitempty"`

	// The automation's state, kept beside its versions (read-only: a
	// document sent back with them keeps the stored state).
	State               string     `json:"state,omitempty"` // StateActive, StatePaused or StateDisabled
	PausedAt            *time.Time `json:"pausedAt,omitempty"`
	PausedReason        string     `json:"pausedReason,omitempty"`
	ConsecutiveFailures int64      `json:"consecutiveFailures,omitempty"` // runs in a row that ended failed
}

// Automation states.
const (
	StateActive   = "active"
	StatePaused   = "paused"
	StateDisabled = "disabled" // enabled: false
)

// DefaultPauseAfterFailures is pauseAfterFailures when a document does not
// set it.
const DefaultPauseAfterFailures = 20

// PauseAfter is the number of failed runs in a row that pauses the
// automation; 0: never.
func (a *Automation) PauseAfter() int {
	if a.PauseAfterFailures == nil {
		return DefaultPauseAfterFailures
	}
	return *a.PauseAfterFailures
}

// Stateless returns a copy without the state fields: what a version
// stores.
func (a *Automation) Stateless() *Automation {
	c := *a
	c.State, c.PausedAt, c.PausedReason, c.ConsecutiveFailures = "", nil, "", 0
	return &c
}

// SetState fills in the state fields from the automation's stored state.
func (a *Automation) SetState(pausedAt *time.Time, reason string, failures int64) {
	a.PausedAt, a.PausedReason, a.ConsecutiveFailures = pausedAt, reason, failures
	switch {
	case !a.Enabled:
		a.State = StateDisabled
	case pausedAt != nil:
		a.State = StatePaused
	default:
		a.State = StateActive
	}
	if pausedAt == nil {
		a.PausedReason = ""
	}
}

// Trigger says when an automation fires.
type Trigger struct {
	Type   string   `json:"type"`
	Fields []string `json:"fields,omitempty"` // record_updated: only when one of these changed
	From   string   `json:"from,omitempty"`   // stage_changed
	To     string   `json:"to,omitempty"`     // stage_changed
	Field  string   `json:"field,omitempty"`  // record_due: the date or datetime field
	Offset string   `json:"offset,omitempty"` // record_due: e.g. "-24h", "-2d", "30m"
}

// StepSpec is one step of an automation document. It is the union of every
// step type's options; Compile refuses options that do not belong to Type.
type StepSpec struct {
	ID   string `json:"id,omitempty"`
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	// If is an expression: when it is false the step is skipped (every
	// step type).
	If string `json:"if,omitempty"`
	// OnError is what a failure of the step (for good: after its retries)
	// does: OnErrorFail (the default) fails the run, OnErrorContinue goes
	// on with the next step (every step type).
	OnError string `json:"onError,omitempty"`

	// call_api
	Method         string    `json:"method,omitempty"`
	URL            string    `json:"url,omitempty"`
	Headers        []Header  `json:"headers,omitempty"`
	Body           *Body     `json:"body,omitempty"`
	TimeoutSeconds int       `json:"timeoutSeconds,omitempty"`
	MaxAttempts    int       `json:"maxAttempts,omitempty"`
	Response       *Response `json:"response,omitempty"`
	Auth           *Auth     `json:"auth,omitempty"`
	MaxPerSecond   float64   `json:"maxPerSecond,omitempty"`
	// KeepBodyOnRedirect re-sends the body when a 307 or 308 redirect
	// leads to another origin; by default it is dropped there, like every
	// header the step sets (see webhook's redirect rules).
	KeepBodyOnRedirect bool `json:"keepBodyOnRedirect,omitempty"`

	// update_record
	Set []Assignment `json:"set,omitempty"`
}

// OnError values.
const (
	OnErrorFail     = "fail"
	OnErrorContinue = "continue"
)

// Header is one request header; Value is a template.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Body content types.
const (
	ContentText = "text/plain"
	ContentJSON = "application/json"
	ContentForm = "application/x-www-form-urlencoded"
)

// Body is a request body: a text template, typed JSON fields, or form
// fields.
type Body struct {
	ContentType string      `json:"contentType"`
	Text        string      `json:"text,omitempty"`
	Fields      []BodyField `json:"fields,omitempty"`
}

// BodyField is one key of a JSON or form body; Value is a template,
// converted to Type (string, number, boolean, json) in a JSON body. A form
// field has no type: its value is text. A json field whose whole value is
// a JSON object or array is a literal, sent as written.
type BodyField struct {
	Key   string `json:"key"`
	Type  string `json:"type,omitempty"`
	Value string `json:"value"`
}

// Response types.
const (
	ResponseNone = "none"
	ResponseText = "text"
	ResponseJSON = "json"
)

// Response says what to capture from a response.
type Response struct {
	Type   string    `json:"type"`
	Field  string    `json:"field,omitempty"`  // text: the automation field that receives the body
	Schema []Mapping `json:"schema,omitempty"` // pointers (json), headers and the status (every type)
}

// Mapping captures one value of a response into an automation field: a
// value of a JSON body (Pointer, json responses only), a response header
// (Header: its first value), or the HTTP status code (Status: a number).
// A mapping with neither Header nor Status takes Pointer ("" is the whole
// body).
type Mapping struct {
	Pointer  string `json:"pointer,omitempty"`
	Header   string `json:"header,omitempty"`
	Status   bool   `json:"status,omitempty"`
	Field    string `json:"field"`
	Required bool   `json:"required,omitempty"`
}

// Assignment sets one record field (or "stage") from a template.
type Assignment struct {
	Field string `json:"field"`
	Value string `json:"value"`
}

// Signing makes the automation sign its requests with Standard Webhooks.
// Secret is write-only: documents returned by the API carry SecretRedacted.
type Signing struct {
	Secret string `json:"secret"`
}

// SecretRedacted stands in for a signing secret in documents that leave the
// server. Saving a document with it keeps the stored secret.
const SecretRedacted = "[redacted]"

// Decode parses an automation document strictly: malformed JSON is a
// *strictjson.SyntaxError, unknown fields and wrongly typed values a
// *problem.Error naming each path. Enabled defaults to true.
func Decode(data []byte) (*Automation, error) {
	a := &Automation{Enabled: true}
	if err := strictjson.Decode(data, a); err != nil {
		return nil, err
	}
	return a, nil
}

// Redacted returns a copy safe to show: the signing secret replaced.
func (a *Automation) Redacted() *Automation {
	c := *a
	if a.Signing != nil {
		c.Signing = &Signing{Secret: SecretRedacted}
	}
	return &c
}
