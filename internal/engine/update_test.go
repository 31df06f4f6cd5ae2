package engine_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/engine"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/retry"
)

// deals has a field of every type, and stages.
func deals() *record.Collection {
	return &record.Collection{
		Key: "deals", Name: "Deals",
		Fields: []record.Field{
			{Key: "title", Type: record.Text},
			{Key: "amount", Type: record.Number},
			{Key: "won", Type: record.Boolean},
			{Key: "closeDate", Type: record.Date},
			{Key: "closedAt", Type: record.DateTime},
			{Key: "meta", Type: record.JSON},
		},
		Stages: []string{"New", "Won", "Lost"},
	}
}

var updateNow = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// updateEnv is the environment the assignments evaluate against.
func updateEnv() render.Env {
	rec := map[string]any{
		"id": "rec_1", "title": "Big deal", "amount": 1200.0, "won": false,
		"closeDate": "2026-01-02", "closedAt": nil, "meta": map[string]any{"k": "v"}, "stored": json.Number("1500"),
	}
	fields := map[string]any{
		"price": "12.5", "flag": "true", "zero": "0", "doc": `{"a": [1, "x", null], "b": {"c": true}}`,
		"day": "2026-03-04", "offsetTime": "2026-03-04T23:30:00-02:00", "utcTime": "2026-03-04T10:00:00Z",
		"nanos": "2026-03-04T10:00:00.123456789Z", "count": 3.0, "list": []any{1.0, "two"},
		"word": "abc", "stage": "Won", "badStage": "Closed",
		"id": json.Number("12345678901234567891"), "obj": map[string]any{"id": json.Number("12345678901234567891")},
	}
	return render.NewEnv(rec, nil, fields, nil, nil, map[string]any{"id": "run_1"}, updateNow)
}

// updateStep compiles an update_record step with the given assignments
// (field, value template pairs). With a nil collection the fields are not
// checked when compiling, as for a stored version.
func updateStep(t *testing.T, coll *record.Collection, set ...string) *automation.UpdateRecord {
	t.Helper()
	a := &automation.Automation{Name: "update", Collection: "deals", Trigger: automation.Trigger{Type: automation.Manual},
		Steps: []automation.StepSpec{{ID: "save", Type: automation.TypeUpdateRecord}}}
	for i := 0; i < len(set); i += 2 {
		a.Steps[0].Set = append(a.Steps[0].Set, automation.Assignment{Field: set[i], Value: set[i+1]})
	}
	comp, _, err := automation.Compile(a, coll, "", automation.Options{})
	if err != nil {
		t.Fatalf("Compile(set %q): %v", set, err)
	}
	return comp.Steps[0].(*automation.UpdateRecord)
}

func TestEvalUpdate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		set       []string
		want      map[string]any
		wantStage string
	}{
		{"text from text", []string{"title", "Deal {record.id}"}, map[string]any{"title": "Deal rec_1"}, "New"},
		{"text from a number", []string{"title", "{fields.count}"}, map[string]any{"title": "3"}, "New"},
		{"text from a list", []string{"title", "{fields.list}"}, map[string]any{"title": `[1,"two"]`}, "New"},
		{"number from text", []string{"amount", "{fields.price}"}, map[string]any{"amount": json.Number("12.5")}, "New"},
		{"number from literal text", []string{"amount", "1500.00"}, map[string]any{"amount": json.Number("1500.00")}, "New"},
		{"number from an expression", []string{"amount", "{record.amount * 2}"}, map[string]any{"amount": json.Number("2400")}, "New"},
		{"number from an integer expression", []string{"amount", "{1 + 2}"}, map[string]any{"amount": json.Number("3")}, "New"},
		{"number from padded text", []string{"amount", " 7 "}, map[string]any{"amount": json.Number("7")}, "New"},
		{"boolean from text", []string{"won", "{fields.flag}"}, map[string]any{"won": true}, "New"},
		{"boolean from 0", []string{"won", "{fields.zero}"}, map[string]any{"won": false}, "New"},
		{"boolean from an expression", []string{"won", "{record.amount > 1000}"}, map[string]any{"won": true}, "New"},
		{"json from JSON text", []string{"meta", "{fields.doc}"}, map[string]any{"meta": map[string]any{"a": []any{json.Number("1"), "x", nil}, "b": map[string]any{"c": true}}}, "New"},
		{"json from a value", []string{"meta", "{fields.list}"}, map[string]any{"meta": []any{json.Number("1"), "two"}}, "New"},
		{"json from a number", []string{"meta", "{fields.count}"}, map[string]any{"meta": json.Number("3")}, "New"},
		{"date from a date", []string{"closeDate", "{fields.day}"}, map[string]any{"closeDate": "2026-03-04"}, "New"},
		{"date from a datetime", []string{"closeDate", "{fields.utcTime}"}, map[string]any{"closeDate": "2026-03-04"}, "New"},
		{"date from now", []string{"closeDate", "{now}"}, map[string]any{"closeDate": "2026-05-06"}, "New"},
		{"date from a formatted date", []string{"closeDate", "{formatDate(now, '2006-01-02')}"}, map[string]any{"closeDate": "2026-05-06"}, "New"},
		{"datetime to UTC", []string{"closedAt", "{fields.offsetTime}"}, map[string]any{"closedAt": "2026-03-05T01:30:00Z"}, "New"},
		{"datetime from a date", []string{"closedAt", "{fields.day}"}, map[string]any{"closedAt": "2026-03-04T00:00:00Z"}, "New"},
		{"datetime with nanoseconds", []string{"closedAt", "{fields.nanos}"}, map[string]any{"closedAt": "2026-03-04T10:00:00.123456789Z"}, "New"},
		{"datetime from now", []string{"closedAt", "{now}"}, map[string]any{"closedAt": "2026-05-06T07:08:09Z"}, "New"},
		{"nil clears a field", []string{"amount", "{fields.missing}"}, map[string]any{"amount": nil}, "New"},
		{"stage", []string{"stage", "Won"}, map[string]any{}, "Won"},
		{"number from a 20-digit number", []string{"amount", "{fields.id}"}, map[string]any{"amount": json.Number("12345678901234567891")}, "New"},
		{"text from a 20-digit number", []string{"title", "{fields.id}"}, map[string]any{"title": "12345678901234567891"}, "New"},
		{"json keeps digits", []string{"meta", "{fields.obj}"}, map[string]any{"meta": map[string]any{"id": json.Number("12345678901234567891")}}, "New"},
		{"number from a stored number, computed", []string{"amount", "{record.stored + 1}"}, map[string]any{"amount": json.Number("1501")}, "New"},
		{"stage from a value", []string{"stage", "{fields.stage}"}, map[string]any{}, "Won"},
		{
			name: "several fields and the stage",
			set:  []string{"amount", "{fields.price}", "won", "true", "stage", "Lost", "title", "x"},
			want: map[string]any{"amount": json.Number("12.5"), "won": true, "title": "x"}, wantStage: "Lost",
		},
	}
	coll := deals()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			changes, stage, f := engine.EvalUpdate(coll, updateStep(t, coll, tt.set...), updateEnv(), "New")
			if f != nil {
				t.Fatalf("EvalUpdate = %v, want changes", f)
			}
			if diff := cmp.Diff(tt.want, changes); diff != "" {
				t.Errorf("changes mismatch (-want +got):\n%s", diff)
			}
			if stage != tt.wantStage {
				t.Errorf("stage = %q, want %q", stage, tt.wantStage)
			}
		})
	}
}

// TestEvalUpdateKeepsTheStage checks that a step that does not set the
// stage returns the one it was given, whatever it is.
func TestEvalUpdateKeepsTheStage(t *testing.T) {
	t.Parallel()
	coll := deals()
	for _, stage := range []string{"New", "Lost", ""} {
		_, got, f := engine.EvalUpdate(coll, updateStep(t, coll, "title", "x"), updateEnv(), stage)
		if f != nil || got != stage {
			t.Errorf("EvalUpdate with stage %q = %q, %v; want %q unchanged", stage, got, f, stage)
		}
	}
}

func TestEvalUpdateFailures(t *testing.T) {
	t.Parallel()
	noStages := deals()
	noStages.Stages = nil
	tests := []struct {
		name  string
		coll  *record.Collection // the collection at run time; nil: deals
		set   []string
		class retry.Class
		want  []string // substrings of the message
	}{
		{name: "invalid stage", set: []string{"stage", "Closed"}, class: retry.Render, want: []string{"set stage", "New, Won, Lost"}},
		{name: "invalid stage from a value", set: []string{"stage", "{fields.badStage}"}, class: retry.Render, want: []string{"set stage"}},
		{name: "empty stage", set: []string{"stage", "{fields.missing}"}, class: retry.Render, want: []string{"set stage"}},
		{name: "stage of a collection without stages", coll: noStages, set: []string{"stage", "Won"}, class: retry.Render, want: []string{"set stage", "no stages"}},
		{name: "unknown field", set: []string{"gone", "x"}, class: retry.Record, want: []string{`"gone"`, `"deals"`}},
		{name: "unknown field after a valid one", set: []string{"title", "x", "gone", "x"}, class: retry.Record, want: []string{`"gone"`}},
		{name: "number from a word", set: []string{"amount", "{fields.word}"}, class: retry.Render, want: []string{"set amount", `"abc"`}},
		{name: "number from a boolean", set: []string{"amount", "{true}"}, class: retry.Render, want: []string{"set amount"}},
		{name: "boolean from a word", set: []string{"won", "maybe"}, class: retry.Render, want: []string{"set won"}},
		{name: "boolean from a number", set: []string{"won", "{fields.count}"}, class: retry.Render, want: []string{"set won"}},
		{name: "json from broken JSON text", set: []string{"meta", "{fields.word}"}, class: retry.Render, want: []string{"set meta", "JSON"}},
		{name: "date from a word", set: []string{"closeDate", "{fields.word}"}, class: retry.Render, want: []string{"closeDate"}},
		{name: "datetime from a word", set: []string{"closedAt", "soon"}, class: retry.Render, want: []string{"closedAt"}},
		{name: "evaluation fails", set: []string{"title", "{record.nope.deeper}"}, class: retry.Render, want: []string{"set title"}},
		{name: "text too long", set: []string{"title", "{repeat('x', 70000)}"}, class: retry.Render, want: []string{"title"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			coll := tt.coll
			if coll == nil {
				coll = deals()
			}
			// compiled without a collection, as a stored version is: the
			// collection may have changed since
			step := updateStep(t, nil, tt.set...)
			changes, stage, f := engine.EvalUpdate(coll, step, updateEnv(), "New")
			if f == nil {
				t.Fatalf("EvalUpdate = %v, stage %q; want a %s failure", changes, stage, tt.class)
			}
			if changes != nil {
				t.Errorf("changes = %v with a failure, want nil", changes)
			}
			if f.Class != tt.class {
				t.Errorf("class = %q (%s), want %q", f.Class, f.Message, tt.class)
			}
			for _, w := range tt.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message = %q, want it to contain %q", f.Message, w)
				}
			}
		})
	}
}
