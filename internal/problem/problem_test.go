package problem

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJoin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		parts []any
		want  string
	}{
		{parts: nil, want: ""},
		{parts: []any{"name"}, want: "name"},
		{parts: []any{"steps", 0, "url"}, want: "steps[0].url"},
		{parts: []any{"steps", 0, "headers", 1, "value"}, want: "steps[0].headers[1].value"},
		{parts: []any{"steps", 2}, want: "steps[2]"},
		{parts: []any{"matrix", 1, 2}, want: "matrix[1][2]"},
		{parts: []any{"", "trigger", "", "fields", 3}, want: "trigger.fields[3]"},
		{parts: []any{"steps[0]", "body"}, want: "steps[0].body"},
		{parts: []any{"trigger.fields", 0}, want: "trigger.fields[0]"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.parts...), func(t *testing.T) {
			t.Parallel()
			if got := Join(tt.parts...); got != tt.want {
				t.Errorf("Join(%#v) = %q, want %q", tt.parts, got, tt.want)
			}
		})
	}
}

func TestJoinPanicsOnUnsupportedPart(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Errorf("Join(1.5) did not panic, want a panic for an unsupported part")
		}
	}()
	Join("steps", 1.5)
}

func TestListErr(t *testing.T) {
	t.Parallel()
	var empty List
	if err := empty.Err(); err != nil {
		t.Errorf("empty List.Err() = %v, want nil", err)
	}
	// A nil *Error stored in an error interface would be non-nil; make sure
	// Err returns a true nil.
	if err := (List{}).Err(); err != nil {
		t.Errorf("List{}.Err() = %#v, want untyped nil", err)
	}

	var l List
	l.Add("steps[0].url", "is required")
	l.Add("name", "must be at most %d characters", 200)
	err := l.Err()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("List.Err() = %T, want *Error", err)
	}
	want := List{
		{Path: "steps[0].url", Message: "is required"},
		{Path: "name", Message: "must be at most 200 characters"},
	}
	if diff := cmp.Diff(want, pe.Problems); diff != "" {
		t.Errorf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "one with path",
			err:  New("steps[0].url", "is required"),
			want: "steps[0].url: is required",
		},
		{
			name: "without path",
			err:  New("", "body is %s", "empty"),
			want: "body is empty",
		},
		{
			name: "several",
			err: &Error{Problems: List{
				{Path: "name", Message: "is required"},
				{Message: "something general"},
				{Path: "steps[1].type", Message: `unknown step type "x"`},
			}},
			want: `name: is required; something general; steps[1].type: unknown step type "x"`,
		},
		{
			name: "none",
			err:  &Error{},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	got := New("fields.x", "unknown field %q", "x")
	want := &Error{Problems: List{{Path: "fields.x", Message: `unknown field "x"`}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("New mismatch (-want +got):\n%s", diff)
	}
}
