package store

import (
	"bytes"
	stdjson "encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/jsonnum"
)

// TestJSONMatchesStdlib: the store encodes and decodes its JSON columns with
// goccy/go-json, for speed; what it writes and reads back must be what
// encoding/json would write and read, so that rows written by either are
// the same.
func TestJSONMatchesStdlib(t *testing.T) {
	if !unmarshalUsesNumber {
		t.Error("goccy/go-json's option bit for json.Number changed: decJSON fell back to its slower Decoder; update useNumber")
	}
	values := []any{
		map[string]any{"b": 1.5, "a": "x", "c": []any{true, nil, "<&>"}, "n": map[string]any{"z": 1e21, "y": -0.0}},
		map[string]any{"bad utf-8": "a\xffb", "nul": "a\x00b", "line sep": "\u2028", "emoji": "🙂"},
		map[string]any{"big": 12345678901234567890.0, "small": 1e-7, "int": 42.0},
		map[string]any{"id": stdjson.Number("12345678901234567891"), "p": stdjson.Number("1500.00"), "e": stdjson.Number("1E-7")},
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
		dec := stdjson.NewDecoder(bytes.NewReader(want))
		dec.UseNumber()
		if err := dec.Decode(&fromStd); err != nil {
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

// FuzzJSONColumnsKeepNumbers: a value read from a JSON column and written
// back keeps the text of every number (stored record fields, captured
// values), and reads back the same.
func FuzzJSONColumnsKeepNumbers(f *testing.F) {
	for _, s := range []string{
		`{"id":12345678901234567891,"v":1500.00,"e":1E-7,"n":[-0,1e400,0.1]}`,
		`{"a":{"b":[{"c":99999999999999999999999999999.000000000000000000001}]}}`,
		`[1,2.50,"3"]`, `12345678901234567891`, `{}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if err := decJSON(s, &v); err != nil {
			return
		}
		want, err := jsonnum.Decode([]byte(s))
		if err != nil {
			return // goccy reads a few texts encoding/json refuses; TestJSONMatchesStdlib covers errors
		}
		if d := cmp.Diff(want, v); d != "" {
			t.Fatalf("decJSON(%q) differs from encoding/json with UseNumber (-std +ours):\n%s", s, d)
		}
		out := encJSON(v)
		var back any
		if err := decJSON(out, &back); err != nil {
			t.Fatalf("decJSON(encJSON(%q) = %q): %v", s, out, err)
		}
		if d := cmp.Diff(v, back); d != "" {
			t.Fatalf("%q read back from %q differs (-first +second):\n%s", s, out, d)
		}
	})
}
