package automation

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/problem"
)

func intp(i int) *int { return &i }

// TestCompileChecksNames: at save (a collection given), every expression
// and template is checked against the collection's fields: a typo is a
// problem at its path, with the nearest name and its position in the text.
// Stored versions (no collection) compile as before.
func TestCompileChecksNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(a *Automation)
		want   []problem.Problem
	}{
		{
			name:   "condition",
			mutate: func(a *Automation) { a.Condition = "record.vaule > 10" },
			want: []problem.Problem{{Path: "condition", Position: intp(7),
				Message: `record has no field "vaule": did you mean record.value? (record has collection, createdAt, dueDate, externalId, id, items, name, stage, updatedAt, value, vip)`}},
		},
		{
			name: "url, header, body and set",
			mutate: func(a *Automation) {
				a.Steps[0].URL = "https://api.example.com/{record.nmae}"
				a.Steps[0].Headers[0].Value = "Bearer {secrets.CRM_KEY} {previous.externalID}"
				a.Steps[0].Body.Fields[0].Value = "{trigger.typ}"
				a.Steps[1].Set[0].Value = "{run.automation}"
			},
			want: []problem.Problem{
				{Path: "steps[0].url", Position: intp(32), Message: `record has no field "nmae": did you mean record.name? (record has collection, createdAt, dueDate, externalId, id, items, name, stage, updatedAt, value, vip)`},
				{Path: "steps[0].headers[0].value", Position: intp(35), Message: `previous has no field "externalID": did you mean previous.externalId? (previous has collection, createdAt, dueDate, externalId, id, items, name, stage, updatedAt, value, vip)`},
				{Path: "steps[0].body.fields[0].value", Position: intp(9), Message: `trigger has no field "typ": did you mean trigger.type? (trigger has at, type)`},
				{Path: "steps[1].set[0].value", Position: intp(5), Message: `run has no field "automation": did you mean run.automationId? (run has automationId, id)`},
			},
		},
		{
			name:   "a type that cannot work",
			mutate: func(a *Automation) { a.Condition = "record.name > 10" },
			want:   []problem.Problem{{Path: "condition", Position: intp(12), Message: "`>` cannot compare text with a number"}},
		},
		{
			name:   "a parser error in words",
			mutate: func(a *Automation) { a.Condition = "record.value > " },
			want:   []problem.Problem{{Path: "condition", Position: intp(13), Message: "expected a value after `>`"}},
		},
		{
			name:   "JSON in a string field",
			mutate: func(a *Automation) { a.Steps[0].Body.Fields[0].Value = `{"source":"web"}` },
			want: []problem.Problem{{Path: "steps[0].body.fields[0].value", Position: intp(1),
				Message: "this looks like JSON, but braces in a template start an expression: write {{ and }} for literal braces, or, in a json body field, give the whole value as a JSON object (sent as written) or one expression such as { {\"source\": record.source} }"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := example(t)
			tt.mutate(a)
			_, _, err := Compile(a, leads(), "", Options{})
			var pe *problem.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Compile = %v, want *problem.Error", err)
			}
			if diff := cmp.Diff(tt.want, []problem.Problem(pe.Problems)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			// A stored version is compiled without its collection: nothing
			// about fields is checked then (it was checked at save).
			if tt.name == "url, header, body and set" {
				if _, _, err := Compile(a, nil, "", Options{}); err != nil {
					t.Errorf("Compile without a collection: %v", err)
				}
			}
		})
	}
}

// TestCompileDynamicNames: captured fields and secrets are not known at
// save, so any name passes.
func TestCompileDynamicNames(t *testing.T) {
	t.Parallel()
	a := example(t)
	a.Condition = "record.value > 1000 && (previous == nil || previous.value != record.value) && trigger.type == 'record_added'"
	a.Steps[1].Set[0].Value = "{fields.whatever ?? fields.other}"
	a.Steps[0].Headers[0].Value = "Bearer {secrets.ANY_NAME} {run.id}"
	if _, _, err := Compile(a, leads(), "", Options{}); err != nil {
		t.Fatalf("Compile: %v", err)
	}
}
