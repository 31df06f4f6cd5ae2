package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/problem"
)

// doc is a small struct tree with the shapes strict decoding must walk:
// slices of structs, pointers, maps, free-form values and embedded structs.
type doc struct {
	Name   string            `json:"name"`
	Count  int               `json:"count,omitempty"`
	Ratio  float64           `json:"ratio"`
	On     bool              `json:"on"`
	Tags   []string          `json:"tags"`
	Labels map[string]string `json:"labels"`
	Meta   map[string]any    `json:"meta"`
	Any    any               `json:"any"`
	Raw    json.RawMessage   `json:"raw"`
	Steps  []step            `json:"steps"`
	Owner  *owner            `json:"owner"`
	Skip   string            `json:"-"`
	NoTag  string
	hidden string //nolint:unused // present so that "hidden" is an unknown key

	embedded // promoted: kind
	*Extra   // promoted through a pointer: level
}

type embedded struct {
	Kind string `json:"kind"`
}

// Extra is exported: encoding/json cannot allocate an embedded pointer to an
// unexported struct.
type Extra struct {
	Level int `json:"level"`
}

type step struct {
	ID      string   `json:"id"`
	Headers []header `json:"headers"`
	Retry   *retry   `json:"retry"`
}

type header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type retry struct {
	Max int `json:"max"`
}

type owner struct {
	Email string `json:"email"`
}

func TestDecodeValid(t *testing.T) {
	t.Parallel()
	in := `{
		"name": "n",
		"count": 3,
		"ratio": 0.5,
		"on": true,
		"tags": ["a", "b"],
		"labels": {"x": "y"},
		"meta": {"anything": [1, "two", {"three": null}], "n": 1.5, "id": 12345678901234567891},
		"any": [true, {"k": "v"}],
		"raw": {"kept": "as is"},
		"steps": [
			{"id": "s1", "headers": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
			{"id": "s2", "retry": {"max": 5}}
		],
		"owner": {"email": "o@example.com"},
		"NoTag": "t",
		"kind": "k",
		"level": 7
	}`
	var got doc
	if err := Decode([]byte(in), &got); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := doc{
		Name:   "n",
		Count:  3,
		Ratio:  0.5,
		On:     true,
		Tags:   []string{"a", "b"},
		Labels: map[string]string{"x": "y"},
		Meta:   map[string]any{"anything": []any{json.Number("1"), "two", map[string]any{"three": nil}}, "n": json.Number("1.5"), "id": json.Number("12345678901234567891")},
		Any:    []any{true, map[string]any{"k": "v"}},
		Raw:    json.RawMessage(`{"kept": "as is"}`),
		Steps: []step{
			{ID: "s1", Headers: []header{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}}},
			{ID: "s2", Retry: &retry{Max: 5}},
		},
		Owner:    &owner{Email: "o@example.com"},
		NoTag:    "t",
		embedded: embedded{Kind: "k"},
		Extra:    &Extra{Level: 7},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(doc{})); diff != "" {
		t.Errorf("Decode mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeNullsAndEmpty(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{}`,
		`{"name": null, "owner": null, "steps": null, "labels": null, "count": null}`,
		`{"steps": [null], "tags": [], "meta": {}}`,
		"\n\t {\"name\": \"x\"} \r\n\t ", // whitespace around the value is not trailing data
	} {
		var d doc
		if err := Decode([]byte(in), &d); err != nil {
			t.Errorf("Decode(%q) = %v, want nil", in, err)
		}
	}
}

var syntaxTests = []struct {
	name      string
	in        string
	line, col int    // of the offending character (or of the end, for a truncated input)
	msg       string // fragment of Msg
}{
	{
		name: "empty input", in: "",
		line: 1, col: 1, msg: "unexpected end of input",
	},
	{
		name: "only whitespace", in: "\n  \n ",
		line: 3, col: 2, msg: "unexpected end of input",
	},
	{
		name: "truncated object on line 3", in: "{\n  \"name\": \"a\",\n",
		line: 3, col: 1, msg: "unexpected end of input",
	},
	{
		name: "truncated literal", in: "nul",
		line: 1, col: 4, msg: "unexpected end of input",
	},
	{
		name: "unterminated string", in: "{\"name\":\n\"abc",
		line: 2, col: 5, msg: "unexpected end of input",
	},
	{
		name: "bad value on line 2", in: "{\n  \"name\": x\n}",
		line: 2, col: 11, msg: "invalid character 'x'",
	},
	{
		name: "trailing comma on line 3", in: "{\n  \"name\": \"a\",\n}",
		line: 3, col: 1, msg: "invalid character '}'",
	},
	{
		name: "missing comma between array elements", in: "[\n1\n2]",
		line: 3, col: 1, msg: "invalid character '2'",
	},
	{
		name: "trailing garbage", in: "{} x",
		line: 1, col: 4, msg: "unexpected data after the JSON value",
	},
	{
		name: "trailing close brace", in: "{}}",
		line: 1, col: 3, msg: "unexpected data after the JSON value",
	},
	{
		name: "trailing second value on the next line", in: "{\"name\": \"a\"}\n{}",
		line: 2, col: 1, msg: "unexpected data after the JSON value",
	},
}

func TestDecodeSyntaxError(t *testing.T) {
	t.Parallel()
	for _, tt := range syntaxTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d doc
			err := Decode([]byte(tt.in), &d)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Decode(%q) = %T %v, want *SyntaxError", tt.in, err, err)
			}
			if se.Line != tt.line || se.Column != tt.col {
				t.Errorf("Decode(%q) at line %d, column %d, want line %d, column %d", tt.in, se.Line, se.Column, tt.line, tt.col)
			}
			if !strings.Contains(se.Msg, tt.msg) {
				t.Errorf("Decode(%q) message %q, want it to contain %q", tt.in, se.Msg, tt.msg)
			}
			if se.Offset < 0 || se.Offset > int64(len(tt.in)) {
				t.Errorf("Decode(%q) offset %d, want within [0, %d]", tt.in, se.Offset, len(tt.in))
			}
			if got := se.Error(); !strings.HasPrefix(got, "malformed JSON at line ") || !strings.Contains(got, tt.msg) {
				t.Errorf("Error() = %q, want %q with the position and %q", got, "malformed JSON at line ...", tt.msg)
			}
		})
	}
}

var problemTests = []struct {
	name string
	in   string
	want problem.List
}{
	// unknown fields
	{
		name: "unknown top-level field",
		in:   `{"nmae": "x"}`,
		want: problem.List{{Path: "nmae", Message: "unknown field"}},
	},
	{
		name: "unknown fields deep in slices of structs",
		in:   `{"steps": [{"id": "a"}, {"headers": [{"name": "x"}, {"nmae": "y", "vaule": "z"}]}]}`,
		want: problem.List{
			{Path: "steps[1].headers[1].nmae", Message: "unknown field"},
			{Path: "steps[1].headers[1].vaule", Message: "unknown field"},
		},
	},
	{
		name: "unknown field behind a pointer",
		in:   `{"owner": {"email": "e", "nick": "n"}, "steps": [{"retry": {"max": 1, "min": 0}}]}`,
		want: problem.List{
			{Path: "owner.nick", Message: "unknown field"},
			{Path: "steps[0].retry.min", Message: "unknown field"},
		},
	},
	{
		name: "all unknown fields at once, sorted",
		in:   `{"zeta": 1, "name": "x", "alpha": 2, "mid": {"deep": true}}`,
		want: problem.List{
			{Path: "alpha", Message: "unknown field"},
			{Path: "mid", Message: "unknown field"},
			{Path: "zeta", Message: "unknown field"},
		},
	},
	{
		name: "case-mismatched keys are unknown",
		in:   `{"Name": "x", "steps": [{"ID": "a"}], "notag": "y"}`,
		want: problem.List{
			{Path: "Name", Message: "unknown field"},
			{Path: "notag", Message: "unknown field"},
			{Path: "steps[0].ID", Message: "unknown field"},
		},
	},
	{
		name: "ignored and unexported fields are unknown",
		in:   `{"Skip": "x", "-": "y", "hidden": "z"}`,
		want: problem.List{
			{Path: "-", Message: "unknown field"},
			{Path: "Skip", Message: "unknown field"},
			{Path: "hidden", Message: "unknown field"},
		},
	},
	{
		name: "embedded structs are not keys of their own",
		in:   `{"embedded": {"kind": "k"}, "Extra": {"level": 1}}`,
		want: problem.List{
			{Path: "Extra", Message: "unknown field"},
			{Path: "embedded", Message: "unknown field"},
		},
	},
	// wrong JSON types
	{
		name: "string got a number",
		in:   `{"name": 1}`,
		want: problem.List{{Path: "name", Message: "must be a string, got a number"}},
	},
	{
		name: "string deep in slices",
		in:   `{"steps": [{}, {"headers": [{"name": "a", "value": "b"}, {"name": "c", "value": true}]}]}`,
		want: problem.List{{Path: "steps[1].headers[1].value", Message: "must be a string, got a boolean"}},
	},
	{
		name: "bool got a string",
		in:   `{"on": "yes"}`,
		want: problem.List{{Path: "on", Message: "must be true or false, got a string"}},
	},
	{
		name: "float got a string",
		in:   `{"ratio": "1.5"}`,
		want: problem.List{{Path: "ratio", Message: "must be a number, got a string"}},
	},
	{
		name: "int got a string",
		in:   `{"count": "2"}`,
		want: problem.List{{Path: "count", Message: "must be a whole number, got a string"}},
	},
	{
		name: "int got a fraction",
		in:   `{"count": 1.5}`,
		want: problem.List{{Path: "count", Message: "must be a whole number, got 1.5"}},
	},
	{
		name: "int got a fraction-looking whole number",
		in:   `{"steps": [{"retry": {"max": 2.0}}]}`,
		want: problem.List{{Path: "steps[0].retry.max", Message: "must be a whole number, got 2.0"}},
	},
	{
		name: "int got an exponent",
		in:   `{"count": 1e3}`,
		want: problem.List{{Path: "count", Message: "must be a whole number, got 1e3"}},
	},
	{
		name: "int out of range",
		in:   `{"count": 99999999999999999999}`,
		want: problem.List{{Path: "count", Message: "is out of range: 99999999999999999999"}},
	},
	{
		name: "float out of range",
		in:   `{"ratio": 1e400}`,
		want: problem.List{{Path: "ratio", Message: "is out of range: 1e400"}},
	},
	{
		name: "slice got an object",
		in:   `{"steps": {}}`,
		want: problem.List{{Path: "steps", Message: "must be an array, got an object"}},
	},
	{
		name: "slice of strings with a wrong element",
		in:   `{"tags": ["a", 2, null, ["b"]]}`,
		want: problem.List{
			{Path: "tags[1]", Message: "must be a string, got a number"},
			{Path: "tags[3]", Message: "must be a string, got an array"},
		},
	},
	{
		name: "pointer to struct got an array",
		in:   `{"owner": []}`,
		want: problem.List{{Path: "owner", Message: "must be an object, got an array"}},
	},
	{
		name: "map got an array",
		in:   `{"labels": ["a"]}`,
		want: problem.List{{Path: "labels", Message: "must be an object, got an array"}},
	},
	{
		name: "map values are checked with the key in the path",
		in:   `{"labels": {"b": "ok", "a": 1}}`,
		want: problem.List{{Path: "labels.a", Message: "must be a string, got a number"}},
	},
	{
		name: "top level is not an object",
		in:   `[1]`,
		want: problem.List{{Path: "", Message: "must be an object, got an array"}},
	},
	{
		name: "top level is a string",
		in:   `"x"`,
		want: problem.List{{Path: "", Message: "must be an object, got a string"}},
	},
	{
		name: "promoted fields are checked",
		in:   `{"kind": 1, "level": "high"}`,
		want: problem.List{
			{Path: "kind", Message: "must be a string, got a number"},
			{Path: "level", Message: "must be a whole number, got a string"},
		},
	},
	{
		name: "unknown fields and wrong types together",
		in:   `{"name": false, "bogus": 1, "steps": [{"id": 3, "extra": 1}]}`,
		want: problem.List{
			{Path: "bogus", Message: "unknown field"},
			{Path: "name", Message: "must be a string, got a boolean"},
			{Path: "steps[0].extra", Message: "unknown field"},
			{Path: "steps[0].id", Message: "must be a string, got a number"},
		},
	},
	{
		name: "an unknown field set to null is still unknown",
		in:   `{"steps": [{}, {"retry": {"max": 1}}], "meta": {}, "ratio": 1, "items": null}`,
		want: problem.List{{Path: "items", Message: "unknown field"}},
	},
}

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	for _, tt := range problemTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d doc
			err := Decode([]byte(tt.in), &d)
			var pe *problem.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode(%s) = %T %v, want *problem.Error", tt.in, err, err)
			}
			if diff := cmp.Diff(tt.want, pe.Problems); diff != "" {
				t.Errorf("Decode(%s) problems mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// Numbers out of a field's range are reported at their exact path.
type narrow struct {
	Items []struct {
		U uint8 `json:"u"`
	} `json:"items"`
}

func TestDecodeRangeErrorPath(t *testing.T) {
	t.Parallel()
	var n narrow
	err := Decode([]byte(`{"items": [{"u": 1}, {"u": 300}]}`), &n)
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Decode = %T %v, want *problem.Error", err, err)
	}
	if got, want := pe.Problems[0].Path, "items[1].u"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}

// A value of a type with its own UnmarshalJSON (time.Time) is not walked; its
// error must still name the field.
type stamped struct {
	Holder *timeHolder `json:"holder"`
}

type timeHolder struct {
	When jsonTime `json:"when"`
}

// jsonTime stands for any json.Unmarshaler, such as time.Time.
type jsonTime struct{ s string }

func (j *jsonTime) UnmarshalJSON(b []byte) error {
	if !bytes.HasPrefix(b, []byte(`"`)) {
		return errors.New("must be a string")
	}
	j.s = string(b)
	return nil
}

func TestDecodeUnmarshalerErrorPath(t *testing.T) {
	t.Parallel()
	var ok stamped
	if err := Decode([]byte(`{"holder": {"when": "2026-01-02"}}`), &ok); err != nil {
		t.Fatalf("Decode valid: %v", err)
	}
	if got, want := ok.Holder.When.s, `"2026-01-02"`; got != want {
		t.Errorf("When = %q, want %q", got, want)
	}

	var s stamped
	err := Decode([]byte(`{"holder": {"when": 5}}`), &s)
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Decode = %T %v, want *problem.Error", err, err)
	}
	if got, want := pe.Problems[0].Path, "holder.when"; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name":"n","steps":[{"id":"a","headers":[{"name":"A","value":"1"}]}],"owner":{"email":"e"},"kind":"k","level":1}`))
	for _, tt := range syntaxTests {
		f.Add([]byte(tt.in))
	}
	for _, tt := range problemTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d doc
		err := Decode(data, &d)
		var (
			se *SyntaxError
			pe *problem.Error
		)
		switch {
		case err == nil:
			// Strict decoding accepts a subset of what encoding/json accepts
			// with DisallowUnknownFields, and decodes it the same way.
			var std doc
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&std); err != nil {
				t.Fatalf("Decode(%q) = nil, but encoding/json refuses it: %v", data, err)
			}
			if diff := cmp.Diff(std, d, cmp.AllowUnexported(doc{})); diff != "" {
				t.Fatalf("Decode(%q) differs from encoding/json (-std +strict):\n%s", data, diff)
			}
		case errors.As(err, &se):
			if se.Line < 1 || se.Column < 1 || se.Offset < 0 || se.Offset > int64(len(data)) {
				t.Fatalf("Decode(%q) = %+v, want a position within the input", data, se)
			}
		case errors.As(err, &pe):
			if len(pe.Problems) == 0 {
				t.Fatalf("Decode(%q) = *problem.Error without problems", data)
			}
		default:
			t.Fatalf("Decode(%q) = %T %v, want nil, *SyntaxError or *problem.Error", data, err, err)
		}
	})
}
