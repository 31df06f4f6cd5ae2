package autohook

import (
	"time"

	"github.com/autohook/autohook/internal/automation"
)

// RecordInput is a record write: fields (a nil value clears one) and
// optionally a stage and the version the writer last saw.
type RecordInput struct {
	Fields  map[string]any `json:"fields"`
	Stage   *string        `json:"stage,omitempty"`
	Version *int64         `json:"version,omitempty"`
	// IdempotencyKey, when set on a creation (the API's Idempotency-Key
	// header), makes a repeated request with the same key and the same
	// input answer the record the first one created, for a day, instead
	// of creating another (see CreateRecord).
	IdempotencyKey string `json:"-"`
}

// Action is a manual automation offered on a record's menu.
type Action struct {
	AutomationID string `json:"automationId"`
	Name         string `json:"name"`
}

// TestInput is a dry run request: an automation document (saved or not), a
// record (stored, by id, or given inline) and whether to really send.
type TestInput struct {
	Automation *automation.Automation
	RecordID   string
	Fields     map[string]any
	Stage      string
	Send       bool
}

// AutomationVersion is one saved version of an automation: its document
// as it was saved (signing secret redacted), when, and by whom.
type AutomationVersion struct {
	Version      int64                  `json:"version"`
	SavedAt      time.Time              `json:"savedAt"`
	SavedBy      *Actor                 `json:"savedBy"` // null when not known (a version saved before it was kept, or by a tool)
	RestoredFrom int64                  `json:"restoredFrom,omitempty"`
	Document     *automation.Automation `json:"document"`
}
