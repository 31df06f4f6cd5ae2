package store

import (
	stdjson "encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestJSONMatchesStdlib: the store encodes and decodes its JSON columns with
// goccy/go-json, for speed; what it writes and reads back must be what
// encoding/json would write and read, so that rows written by either are
// the same.
func TestJSONMatchesStdlib(t *testing.T) {
	values := []any{
		map[string]any{"b": 1.5, "a": "x", "c": []any{true, nil, "<&>"}, "n": map[string]any{"z": 1e21, "y": -0.0}},
		map[string]any{"bad utf-8": "a\xffb", "nul": "a\x00b", "line sep": "\u2028", "emoji": "🙂"},
		map[string]any{"big": 12345678901234567890.0, "small": 1e-7, "int": 42.0},
		[]any{},
		map[string]any{},
		"plain",
	}
	for _, v := range values {
		want, err := stdjson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got := encJSON(v)
		if got != string(want) {
			t.Errorf("encJSON(%#v)\n got %s\nwant %s", v, got, want)
		}
		var fromStd, fromOurs any
		if err := stdjson.Unmarshal(want, &fromStd); err != nil {
			t.Fatal(err)
		}
		if err := decJSON(string(want), &fromOurs); err != nil {
			t.Fatalf("decJSON(%s): %v", want, err)
		}
		if d := cmp.Diff(fromStd, fromOurs); d != "" {
			t.Errorf("decJSON(%s) differs from encoding/json (-std +ours):\n%s", want, d)
		}
	}
	for _, bad := range []string{`{"a":`, `{"a":1}x`, `[1,]`, `{"a":"\ud800"}`} {
		var std, ours any
		stdErr, ourErr := stdjson.Unmarshal([]byte(bad), &std), decJSON(bad, &ours)
		if (stdErr == nil) != (ourErr == nil) {
			t.Errorf("decJSON(%s): error %v, encoding/json: %v", bad, ourErr, stdErr)
		}
	}
}
