package render

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// testEnv returns a fresh environment; tests may not share maps they change.
func testEnv() Env {
	return NewEnv(
		map[string]any{
			"id":         "rec_1",
			"externalId": "ext/42",
			"name":       "Ada Lovelace",
			"amount":     1500.0,
			"ratio":      0.1,
			"price":      "1500.00",
			"active":     true,
			"tags":       []any{"a", "b"},
			"meta":       map[string]any{"b": 1.0, "a": "x<y"},
			"due":        "2026-04-01",
			"dueAt":      "2026-04-01T10:00:00+02:00",
			"empty":      "",
			"nothing":    nil,
			"query":      "a&b=c d",
			"dots":       "..",
			"count":      json.Number("3"),
			"host":       "example.org",
		},
		nil,
		map[string]any{"token": "tok"},
		map[string]any{
			"BASE": "https://api.example.com/v1",
			"ROOT": "https://api.example.com",
			"FTP":  "ftp://files.example.com",
			"BAD":  "https://x.example.com/%zz",
			"KEY":  "s3cr3t",
		},
		map[string]any{"type": "record_added", "at": testNow},
		map[string]any{"id": "run_1"},
		testNow,
	)
}

func TestCompileExprErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("1+", 2100) + "1" // 4201 bytes
	deep := strings.Repeat("1+", 1500) + "1" // 3001 bytes, too many nodes
	tests := []struct {
		src     string
		opts    Options
		wantPos int
		wantMsg string
	}{
		{src: "", wantPos: 0, wantMsg: "empty expression"},
		{src: "   ", wantPos: 0, wantMsg: "empty expression"},
		{src: "recrod.x", wantPos: 0, wantMsg: "unknown name `recrod`: did you mean record? (names: record, previous, fields, secrets, trigger, run, now, steps; body in header values)"},
		{src: "record.x == ", wantPos: 9, wantMsg: "expected a value after `==`"},
		{src: "1 + 'a'", wantPos: 2, wantMsg: "`+` cannot combine a number with text"},
		{src: "'é' + nope", wantPos: 7, wantMsg: "unknown name `nope` (names:"},
		{src: "now(1)", wantPos: 0, wantMsg: "now is the run's time and takes no arguments"},
		{src: "default(1)", wantPos: 0, wantMsg: "not enough arguments to call default"},
		{src: "formatDate(now)", wantPos: 0, wantMsg: "not enough arguments to call formatDate"},
		{src: long, wantPos: 0, wantMsg: "expression is longer than 4096 bytes"},
		{src: "record.name", opts: Options{MaxLen: 5}, wantPos: 0, wantMsg: "expression is longer than 5 bytes"},
		{src: deep, wantPos: 1001, wantMsg: "expression is too complex (more than 1000 nodes)"}, // where the limit was hit
		{src: "1 + 2 + 3", opts: Options{MaxNodes: 3}, wantPos: 8, wantMsg: "expression is too complex (more than 3 nodes)"},
		{src: "let x = record.id; x + x", wantPos: 4, wantMsg: "let is not allowed"},
	}
	for _, tt := range tests {
		_, err := CompileExpr(tt.src, tt.opts)
		var re *Error
		if !errors.As(err, &re) {
			t.Errorf("CompileExpr(%.40q) error = %v, want *Error", tt.src, err)
			continue
		}
		if !strings.HasPrefix(re.Msg, tt.wantMsg) {
			t.Errorf("CompileExpr(%.40q) message = %q, want prefix %q", tt.src, re.Msg, tt.wantMsg)
		}
		if re.Pos != tt.wantPos {
			t.Errorf("CompileExpr(%.40q) position = %d, want %d (%s)", tt.src, re.Pos, tt.wantPos, re.Msg)
		}
	}
}

func TestOptionsRaiseLimits(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("1+", 1500) + "1"
	e, err := CompileExpr(deep, Options{MaxNodes: 5000})
	if err != nil {
		t.Fatalf("CompileExpr with MaxNodes 5000: %v", err)
	}
	if got, err := e.Eval(testEnv()); err != nil || got != 1501 {
		t.Errorf("Eval = %v, %v, want 1501", got, err)
	}
	if _, err := CompileExpr(strings.Repeat(" ", 5000)+"1", Options{MaxLen: 6000}); err != nil {
		t.Errorf("CompileExpr with MaxLen 6000: %v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := CompileTemplate("ab {record.x +}", Options{})
	if got, want := err.Error(), "position 13: expected a value after `+`"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestExprEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want any
	}{
		{"record.amount", 1500.0},
		{"record.missing", nil},
		{"previous.name", nil}, // previous is nil
		{"previous?.name", nil},
		{"record.amount > 1000 ? 'big' : 'small'", "big"},
		{"upper(record.id)", "REC_1"},
		{"len(record.tags)", 2},
		{"fields.token + '-' + run.id", "tok-run_1"},
		{"trigger.type", "record_added"},
		{"now", testNow},
		{"now()", testNow},
		{"now() == now", true},
		{"now.Year()", 2026},
		{"$env.record.id", "rec_1"},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileExpr(%q): %v", tt.src, err)
			continue
		}
		if got := e.Source(); got != tt.src {
			t.Errorf("Source() = %q, want %q", got, tt.src)
		}
		got, err := e.Eval(testEnv())
		if err != nil {
			t.Errorf("Eval(%q): %v", tt.src, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
		}
	}
}

func TestEvalBool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src     string
		want    bool
		wantErr string
	}{
		{src: "record.amount > 1000", want: true},
		{src: "record.active && record.id == 'rec_2'", want: false},
		{src: "'a' in record.tags", want: true},
		{src: "previous == nil", want: true},
		{src: "record.name", wantErr: `evaluate "record.name": condition must be a boolean, got string`},
		{src: "record.missing", wantErr: `evaluate "record.missing": condition must be a boolean, got null`},
		{src: "record.amount", wantErr: `evaluate "record.amount": condition must be a boolean, got number`},
		{src: "record.x.y", wantErr: `evaluate "record.x.y": cannot fetch y from <nil>`},
	}
	for _, tt := range tests {
		e, err := CompileExpr(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileExpr(%q): %v", tt.src, err)
			continue
		}
		got, err := e.EvalBool(testEnv())
		if tt.wantErr != "" {
			var ee *EvalError
			if !errors.As(err, &ee) || err.Error() != tt.wantErr {
				t.Errorf("EvalBool(%q) error = %v, want *EvalError %q", tt.src, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("EvalBool(%q) = %v, %v, want %v", tt.src, got, err, tt.want)
		}
	}
}

func TestExprUses(t *testing.T) {
	t.Parallel()
	e, err := CompileExpr("record.a == secrets.B", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for root, want := range map[string]bool{"record": true, "secrets": true, "fields": false, "nope": false} {
		if got := e.Uses(root); got != want {
			t.Errorf("Uses(%q) = %v, want %v", root, got, want)
		}
	}
}

func TestNewEnv(t *testing.T) {
	t.Parallel()
	env := NewEnv(map[string]any{"a": 1}, nil, nil, nil, nil, nil, testNow)
	want := []string{meterKey, "fields", "now", "previous", "record", "run", "secrets", "steps", "trigger"}
	if diff := cmp.Diff(want, slices.Sorted(maps.Keys(env))); diff != "" {
		t.Errorf("NewEnv keys mismatch (-want +got):\n%s", diff)
	}
}
