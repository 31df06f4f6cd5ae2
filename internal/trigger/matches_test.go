package trigger_test

import (
	"testing"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/trigger"
)

func rec(stage string, fields map[string]any) *record.Record {
	return &record.Record{ID: "r1", Collection: "leads", Stage: stage, Fields: fields}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	base := map[string]any{"name": "Ada", "value": 1500.0, "email": "ada@example.com"}
	renamed := map[string]any{"name": "Grace", "value": 1500.0, "email": "ada@example.com"}
	cleared := map[string]any{"name": "Ada", "value": 1500.0} // email removed
	sameAgain := map[string]any{"email": "ada@example.com", "value": 1500.0, "name": "Ada"}

	type change struct {
		prev, rec *record.Record
	}
	added := change{nil, rec("New", base)}
	fieldChange := change{rec("New", base), rec("New", renamed)}
	fieldRemoved := change{rec("New", base), rec("New", cleared)}
	noChange := change{rec("New", base), rec("New", sameAgain)}
	stageOnly := change{rec("New", base), rec("Qualified", sameAgain)}
	stageAndField := change{rec("New", base), rec("Won", renamed)}

	tests := []struct {
		name string
		trig automation.Trigger
		ch   change
		want bool
	}{
		// record_added
		{"added: new record", automation.Trigger{Type: automation.RecordAdded}, added, true},
		{"added: update", automation.Trigger{Type: automation.RecordAdded}, fieldChange, false},
		{"added: stage change", automation.Trigger{Type: automation.RecordAdded}, stageOnly, false},

		// record_updated
		{"updated: field change", automation.Trigger{Type: automation.RecordUpdated}, fieldChange, true},
		{"updated: field removed", automation.Trigger{Type: automation.RecordUpdated}, fieldRemoved, true},
		{"updated: field and stage change", automation.Trigger{Type: automation.RecordUpdated}, stageAndField, true},
		{"updated: no change", automation.Trigger{Type: automation.RecordUpdated}, noChange, false},
		{"updated: stage change alone is not a field change", automation.Trigger{Type: automation.RecordUpdated}, stageOnly, false},
		{"updated: new record", automation.Trigger{Type: automation.RecordUpdated}, added, false},
		{"updated: filter hit", automation.Trigger{Type: automation.RecordUpdated, Fields: []string{"name"}}, fieldChange, true},
		{"updated: one of the filter hit", automation.Trigger{Type: automation.RecordUpdated, Fields: []string{"value", "name"}}, fieldChange, true},
		{"updated: filter missed", automation.Trigger{Type: automation.RecordUpdated, Fields: []string{"value", "email"}}, fieldChange, false},
		{"updated: filter on a removed field", automation.Trigger{Type: automation.RecordUpdated, Fields: []string{"email"}}, fieldRemoved, true},
		{"updated: filter and stage change alone", automation.Trigger{Type: automation.RecordUpdated, Fields: []string{"name"}}, stageOnly, false},
		{"updated: filter is case-sensitive", automation.Trigger{Type: automation.RecordUpdated, Fields: []string{"Name"}}, fieldChange, false},

		// stage_changed
		{"stage: any change", automation.Trigger{Type: automation.StageChanged}, stageOnly, true},
		{"stage: with a field change too", automation.Trigger{Type: automation.StageChanged}, stageAndField, true},
		{"stage: field change only", automation.Trigger{Type: automation.StageChanged}, fieldChange, false},
		{"stage: no change", automation.Trigger{Type: automation.StageChanged}, noChange, false},
		{"stage: new record", automation.Trigger{Type: automation.StageChanged}, added, false},
		{"stage: from matches", automation.Trigger{Type: automation.StageChanged, From: "New"}, stageOnly, true},
		{"stage: from differs", automation.Trigger{Type: automation.StageChanged, From: "Won"}, stageOnly, false},
		{"stage: to matches", automation.Trigger{Type: automation.StageChanged, To: "Qualified"}, stageOnly, true},
		{"stage: to differs", automation.Trigger{Type: automation.StageChanged, To: "Won"}, stageOnly, false},
		{"stage: both match", automation.Trigger{Type: automation.StageChanged, From: "New", To: "Won"}, stageAndField, true},
		{"stage: from matches, to differs", automation.Trigger{Type: automation.StageChanged, From: "New", To: "Qualified"}, stageAndField, false},
		{"stage: to matches, from differs", automation.Trigger{Type: automation.StageChanged, From: "Qualified", To: "Won"}, stageAndField, false},
		{"stage: reversed from and to", automation.Trigger{Type: automation.StageChanged, From: "Qualified", To: "New"}, stageOnly, false},
		{"stage: from and to given, no change", automation.Trigger{Type: automation.StageChanged, From: "New", To: "New"}, noChange, false},
		{"stage: names are case-sensitive", automation.Trigger{Type: automation.StageChanged, To: "qualified"}, stageOnly, false},

		// record_due and manual are not fired by changes
		{"due: new record", automation.Trigger{Type: automation.RecordDue, Field: "dueDate"}, added, false},
		{"due: field change", automation.Trigger{Type: automation.RecordDue, Field: "dueDate"}, fieldChange, false},
		{"due: stage change", automation.Trigger{Type: automation.RecordDue, Field: "dueDate"}, stageAndField, false},
		{"manual: new record", automation.Trigger{Type: automation.Manual}, added, false},
		{"manual: field change", automation.Trigger{Type: automation.Manual}, fieldChange, false},
		{"manual: stage change", automation.Trigger{Type: automation.Manual}, stageAndField, false},
		{"unknown type", automation.Trigger{Type: "record_deleted"}, fieldChange, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// changed as trigger.Firer computes it.
			var changed []string
			if tt.ch.prev != nil {
				changed = record.Diff(tt.ch.prev.Fields, tt.ch.rec.Fields)
			}
			if got := trigger.Matches(tt.trig, tt.ch.prev, tt.ch.rec, changed); got != tt.want {
				t.Errorf("Matches(%+v, changed %v) = %v, want %v", tt.trig, changed, got, tt.want)
			}
		})
	}
}
