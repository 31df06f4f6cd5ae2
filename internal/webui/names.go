package webui

import (
	"fmt"
	"strings"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
)

// The UI names things as people know them: a record by its title, a
// trigger or a step type by the label the automation form uses, a step by
// what it does. Ids stay in links, tooltips and the API.

// recordName is a record's title: the value of its collection's first
// non-empty text field, else its id. fields may be a stored record's fields
// or a run's snapshot of the record; c may be nil (a deleted collection).
func recordName(c *record.Collection, fields map[string]any, id string) string {
	if c != nil {
		for _, f := range c.Fields {
			if f.Type != record.Text {
				continue
			}
			if s, ok := fields[f.Key].(string); ok && strings.TrimSpace(s) != "" {
				return truncate(60, strings.TrimSpace(s))
			}
		}
	}
	return id
}

// triggerLabels are the labels of the form's trigger select.
var triggerLabels = map[string]string{
	automation.RecordAdded:   "Record added",
	automation.RecordUpdated: "Record updated",
	automation.StageChanged:  "Stage changed",
	automation.RecordDue:     "Due",
	automation.Manual:        "Manual",
}

// triggerLabel names a trigger type (a run's trigger.type).
func triggerLabel(t string) string {
	if l, ok := triggerLabels[t]; ok {
		return l
	}
	return t
}

// stepTypeLabel names a step type as the form's step select does.
func stepTypeLabel(t string) string {
	switch t {
	case automation.TypeCallAPI:
		return "Call API"
	case automation.TypeUpdateRecord:
		return "Update record"
	}
	return t
}

// stepDesc says what a step does, in one line: "POST https://…/{record.id}",
// "Set externalId and stage".
func stepDesc(sp automation.StepSpec) string {
	switch sp.Type {
	case automation.TypeCallAPI:
		m := sp.Method
		if m == "" {
			m = "GET"
			if sp.Body != nil {
				m = "POST"
			}
		}
		return m + " " + sp.URL
	case automation.TypeUpdateRecord:
		names := make([]string, len(sp.Set))
		for i, a := range sp.Set {
			names[i] = a.Field
		}
		switch len(names) {
		case 0:
			return ""
		case 1:
			return "Set " + names[0]
		}
		return fmt.Sprintf("Set %s and %s", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
	}
	return ""
}
