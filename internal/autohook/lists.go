package autohook

import (
	"time"

	"github.com/autohook/autohook/internal/automation"
)

// Page selects one page of a list, newest first.
type Page struct {
	Cursor string // from a previous page's Next; "" for the first page
	Limit  int
}

// Size is the page size: Limit, 50 when it is not set, at most 500.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 500:
		return 500
	}
	return p.Limit
}

// RecordFilter narrows a record list.
type RecordFilter struct {
	Stage string
}

// AutomationFilter narrows an automation list.
type AutomationFilter struct {
	Collection  string
	TriggerType string
}

// RunFilter narrows a run list.
type RunFilter struct {
	AutomationID string
	RecordID     string
	Status       automation.Status
	Since, Until time.Time
}
