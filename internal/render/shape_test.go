package render

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// testShape is a collection with a text, a number, a boolean and a json
// field, plus a record's own keys.
var testShape = &Shape{Record: map[string]Kind{
	"name": KindText, "value": KindNumber, "vip": KindBool, "items": KindAny, "dueDate": KindText,
	"id": KindText, "stage": KindText, "collection": KindText, "createdAt": KindText, "updatedAt": KindText,
}}

// messageTests are expressions that do not compile, with the message and
// position (a byte offset) people see.
var messageTests = []struct {
	src     string
	shape   bool // compile with testShape
	wantPos int
	wantMsg string
}{
	// the parser, in words
	{src: "record.value >", wantPos: 13, wantMsg: "expected a value after `>`"},
	{src: "record.value > > 3", wantPos: 15, wantMsg: "expected a value after `>`, found `>`"},
	{src: "record.value > 10 &&", wantPos: 18, wantMsg: "expected a value after `&&`"},
	{src: "record.value in", wantPos: 13, wantMsg: "expected a value after `in`"},
	{src: "(record.value", wantPos: 0, wantMsg: "`(` is not closed: add `)`"},
	{src: "upper(record.name", wantPos: 5, wantMsg: "`(` is not closed: add `)`"},
	{src: "[1, 2", wantPos: 0, wantMsg: "`[` is not closed: add `]`"},
	{src: "record.value)", wantPos: 12, wantMsg: "`)` has no matching `(`"},
	{src: "record.value = 10", wantPos: 13, wantMsg: "= is not an operator here: to compare, write =="},
	{src: "record.value 10", wantPos: 13, wantMsg: "expected an operator (such as ==, +, and) or the end before `10`"},
	{src: "record.", wantPos: 6, wantMsg: "expected a name after `.`"},
	{src: "'abc", wantPos: 4, wantMsg: "this text (string) is not closed"},
	{src: "true && 1", wantPos: 5, wantMsg: "`&&` cannot combine a boolean (true or false) with a number"},
	{src: `"source":"web"`, wantPos: 0, wantMsg: "this looks like JSON, but braces in a template start an expression: write {{ and }}"},
	{src: "recrod.name", wantPos: 0, wantMsg: "unknown name `recrod`: did you mean record?"},
	// names and types, against the collection
	{src: "record.nmae", shape: true, wantPos: 7, wantMsg: `record has no field "nmae": did you mean record.name? (record has collection, createdAt, dueDate, id, items, name, stage, updatedAt, value, vip)`},
	{src: "record.vaule > 10", shape: true, wantPos: 7, wantMsg: `record has no field "vaule": did you mean record.value?`},
	{src: "upper(previous.Name)", shape: true, wantPos: 15, wantMsg: `previous has no field "Name": did you mean previous.name?`},
	{src: "record['nmae']", shape: true, wantPos: 7, wantMsg: `record has no field "nmae"`},
	{src: "record.zzzzzz", shape: true, wantPos: 7, wantMsg: `record has no field "zzzzzz" (record has`},
	{src: "trigger.typ", shape: true, wantPos: 8, wantMsg: `trigger has no field "typ": did you mean trigger.type? (trigger has at, type)`},
	{src: "run.automation", shape: true, wantPos: 4, wantMsg: `run has no field "automation"`},
	{src: "record.name > 10", shape: true, wantPos: 12, wantMsg: "`>` cannot compare text with a number"},
	{src: "record.vip + 1", shape: true, wantPos: 11, wantMsg: "`+` cannot combine a boolean (true or false) with a number"},
	{src: "'é' + record.nmae", shape: true, wantPos: 14, wantMsg: `record has no field "nmae"`},
}

func TestMessages(t *testing.T) {
	t.Parallel()
	for _, tt := range messageTests {
		opts := Options{}
		if tt.shape {
			opts.Shape = testShape
		}
		_, err := CompileExpr(tt.src, opts)
		var re *Error
		if !errors.As(err, &re) {
			t.Errorf("CompileExpr(%q) error = %v, want *Error", tt.src, err)
			continue
		}
		if !strings.HasPrefix(re.Msg, tt.wantMsg) || re.Pos != tt.wantPos {
			t.Errorf("CompileExpr(%q) = position %d %q\nwant position %d %q", tt.src, re.Pos, re.Msg, tt.wantPos, tt.wantMsg)
		}
	}
}

// TestShapeAllows: what works at run time passes the check, and the
// program it gives still keeps numbers' digits (the check's own typed
// program is thrown away).
func TestShapeAllows(t *testing.T) {
	t.Parallel()
	env := NewEnv(
		map[string]any{"name": "Acme", "value": json.Number("12345678901234567891"), "vip": true, "items": []any{map[string]any{"sku": "W"}}, "dueDate": "2030-01-02", "id": "rec_1", "stage": "New"},
		nil, map[string]any{"crmId": json.Number("98765432109876543210")}, map[string]any{"K": "s3cret"},
		map[string]any{"type": "record_added", "at": "2030-01-01T00:00:00Z"}, map[string]any{"id": "run_1", "automationId": "aut_1"}, testNow)
	tests := []struct {
		src  string
		want any
	}{
		{"record.value", json.Number("12345678901234567891")},
		{"fields.crmId", json.Number("98765432109876543210")},
		{"record.value > 1000 && record.vip", true},
		{"string(record.value)", "12345678901234567891"},
		{"record.value ?? 0", json.Number("12345678901234567891")},
		{"record.name == nil", false},
		{"previous?.name ?? 'none'", "none"},
		{"previous == nil", true},
		{"record.items[0].sku", "W"},
		{"upper(record.name) + '-' + record.stage", "ACME-New"},
		{"date(record.dueDate).Year()", 2030},
		{"fields.anything == nil", true},
		{"secrets.K", "s3cret"},
		{"trigger.type + ' ' + run.id", "record_added run_1"},
		{"now.Year() > 2000", true},
		{"record.vip ? 'yes' : 'no'", "yes"},
		{"len(record.items)", 1},
		{"record.stage in ['New', 'Won']", true},
		{"{'n': record.value}", map[string]any{"n": json.Number("12345678901234567891")}},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.src, Options{Shape: testShape})
		if err != nil {
			t.Errorf("CompileExpr(%q) with a shape: %v", tt.src, err)
			continue
		}
		got, err := e.Eval(env)
		if err != nil {
			t.Errorf("Eval(%q): %v", tt.src, err)
			continue
		}
		if gb, _ := json.Marshal(got); string(gb) != mustJSON(t, tt.want) {
			t.Errorf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
		}
	}
	// A template is checked expression by expression.
	if _, err := CompileTemplate("Hi {record.name}, {record.nmae}", Options{Shape: testShape}); err == nil || !strings.Contains(err.Error(), "position 26") {
		t.Errorf("template with a typo: %v, want the typo's position 26", err)
	}
	// Without a shape nothing is checked against fields.
	if _, err := CompileExpr("record.nmae", Options{}); err != nil {
		t.Errorf("without a shape: %v", err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNearest(t *testing.T) {
	t.Parallel()
	known := []string{"name", "value", "vip", "externalId", "dueDate"}
	for in, want := range map[string]string{"nmae": "name", "vaule": "value", "Name": "name", "externalID": "externalId", "duedate": "dueDate", "zzz": "", "v": "", "valuee": "value"} {
		if got := nearest(in, known); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMessages: any text compiles or fails with an *Error whose position
// lies within the text, with or without a shape, and never panics.
func FuzzMessages(f *testing.F) {
	for _, tt := range messageTests {
		f.Add(tt.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, opts := range []Options{{}, {Shape: testShape}} {
			_, err := CompileExpr(src, opts)
			if err == nil {
				continue
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Fatalf("CompileExpr(%q): %T %v, want *Error", src, err, err)
			}
			if re.Pos < 0 || re.Pos > len(src) || re.Msg == "" {
				t.Fatalf("CompileExpr(%q): position %d of %d, message %q", src, re.Pos, len(src), re.Msg)
			}
		}
	})
}
