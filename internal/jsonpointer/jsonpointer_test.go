package jsonpointer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rfcDoc is the example document of RFC 6901 section 5.
const rfcDoc = `{
	"foo": ["bar", "baz"],
	"": 0,
	"a/b": 1,
	"c%d": 2,
	"e^f": 3,
	"g|h": 4,
	"i\\j": 5,
	"k\"l": 6,
	" ": 7,
	"m~n": 8
}`

// testDoc exercises arrays, nulls and scalars.
const testDoc = `{
	"items": [{"id": "a1", "tags": ["x", "y"]}, {"id": "a2", "tags": []}],
	"total": 1500.5,
	"note": null,
	"ok": true,
	"name": "widget",
	"nested": {"deep": {"~1": "tilde-one", "a~b/c": "mixed"}},
	"list": [null, 0, false]
}`

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

var parseTests = []struct {
	in     string
	tokens []string
	errPos int // -1: no error
}{
	{in: "", tokens: nil, errPos: -1},
	{in: "/", tokens: []string{""}, errPos: -1},
	{in: "/foo", tokens: []string{"foo"}, errPos: -1},
	{in: "/foo/0", tokens: []string{"foo", "0"}, errPos: -1},
	{in: "//", tokens: []string{"", ""}, errPos: -1},
	{in: "/a~1b", tokens: []string{"a/b"}, errPos: -1},
	{in: "/m~0n", tokens: []string{"m~n"}, errPos: -1},
	{in: "/~01", tokens: []string{"~1"}, errPos: -1},
	{in: "/~10", tokens: []string{"/0"}, errPos: -1},
	{in: "/~0~1", tokens: []string{"~/"}, errPos: -1},
	{in: "/c%d/e^f", tokens: []string{"c%d", "e^f"}, errPos: -1},
	{in: "/ /", tokens: []string{" ", ""}, errPos: -1},
	{in: "/é/日本", tokens: []string{"é", "日本"}, errPos: -1},
	{in: "foo", errPos: 0},
	{in: "#/foo", errPos: 0},
	{in: " /foo", errPos: 0},
	{in: "/~", errPos: 1},
	{in: "/~2", errPos: 1},
	{in: "/a~", errPos: 2},
	{in: "/ab/c~x", errPos: 5},
	{in: "/~~0", errPos: 1},
	{in: "/~0~", errPos: 3},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tt := range parseTests {
		p, err := Parse(tt.in)
		if tt.errPos >= 0 {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("Parse(%q) error = %v, want *SyntaxError", tt.in, err)
				continue
			}
			if se.Pos != tt.errPos {
				t.Errorf("Parse(%q) error position = %d, want %d (%v)", tt.in, se.Pos, tt.errPos, err)
			}
			if !strings.HasPrefix(err.Error(), "json pointer: ") {
				t.Errorf("Parse(%q) error = %q, want the prefix \"json pointer: \"", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q) error = %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.tokens, p.Tokens()); diff != "" {
			t.Errorf("Parse(%q).Tokens() mismatch (-want +got):\n%s", tt.in, diff)
		}
		if got := p.String(); got != tt.in {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.in)
		}
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := Parse("/a~2")
	if got, want := err.Error(), `json pointer: "~" must be followed by "0" or "1" at position 2`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestMustParse(t *testing.T) {
	t.Parallel()
	if got := MustParse("/a~1b").Tokens(); !cmp.Equal(got, []string{"a/b"}) {
		t.Errorf("MustParse tokens = %q, want [a/b]", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustParse(\"x\") did not panic")
		}
	}()
	MustParse("x")
}

func TestTokensIsACopy(t *testing.T) {
	t.Parallel()
	p := MustParse("/a/b")
	p.Tokens()[0] = "changed"
	if got := p.String(); got != "/a/b" {
		t.Errorf("after changing Tokens(), String() = %q, want /a/b", got)
	}
}

func TestZeroPointer(t *testing.T) {
	t.Parallel()
	var p Pointer
	doc := decode(t, `{"a": 1}`)
	got, ok := p.Get(doc)
	if !ok || !cmp.Equal(got, doc) {
		t.Errorf("zero Pointer Get = %v, %v, want the whole document", got, ok)
	}
	if p.String() != "" {
		t.Errorf("zero Pointer String() = %q, want \"\"", p.String())
	}
}

func TestGetRFC6901(t *testing.T) {
	t.Parallel()
	doc := decode(t, rfcDoc)
	tests := []struct {
		ptr  string
		want any
	}{
		{"", doc},
		{"/foo", []any{"bar", "baz"}},
		{"/foo/0", "bar"},
		{"/", 0.0},
		{"/a~1b", 1.0},
		{"/c%d", 2.0},
		{"/e^f", 3.0},
		{"/g|h", 4.0},
		{"/i\\j", 5.0},
		{"/k\"l", 6.0},
		{"/ ", 7.0},
		{"/m~0n", 8.0},
	}
	for _, tt := range tests {
		got, ok := MustParse(tt.ptr).Get(doc)
		if !ok {
			t.Errorf("Get(%q) found nothing, want %v", tt.ptr, tt.want)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Get(%q) mismatch (-want +got):\n%s", tt.ptr, diff)
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	doc := decode(t, testDoc)
	tests := []struct {
		ptr    string
		want   any
		wantOK bool
	}{
		{"/items/0/id", "a1", true},
		{"/items/1/id", "a2", true},
		{"/items/0/tags/1", "y", true},
		{"/items/1/tags", []any{}, true},
		{"/total", 1500.5, true},
		{"/ok", true, true},
		{"/name", "widget", true},
		{"/note", nil, true}, // present, null
		{"/list/0", nil, true},
		{"/list/1", 0.0, true},
		{"/list/2", false, true},
		{"/nested/deep/~01", "tilde-one", true},
		{"/nested/deep/a~0b~1c", "mixed", true},
		{"/missing", nil, false},
		{"/note/x", nil, false},                     // into null
		{"/name/0", nil, false},                     // into a string
		{"/total/x", nil, false},                    // into a number
		{"/ok/x", nil, false},                       // into a bool
		{"/items/2", nil, false},                    // out of range
		{"/items/-", nil, false},                    // the element after the last
		{"/items/01", nil, false},                   // leading zero
		{"/items/00", nil, false},                   // leading zero
		{"/items/-1", nil, false},                   // negative
		{"/items/+1", nil, false},                   // sign
		{"/items/1e0", nil, false},                  // not decimal digits
		{"/items/ 1", nil, false},                   // space
		{"/items/", nil, false},                     // empty token
		{"/items/id", nil, false},                   // member name on an array
		{"/items/99999999999999999999", nil, false}, // overflow
		{"/nested/deep/~1", nil, false},             // "/" is not a member
	}
	for _, tt := range tests {
		got, ok := MustParse(tt.ptr).Get(doc)
		if ok != tt.wantOK {
			t.Errorf("Get(%q) ok = %v, want %v", tt.ptr, ok, tt.wantOK)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Get(%q) mismatch (-want +got):\n%s", tt.ptr, diff)
		}
	}
}

func TestGetJSONNumber(t *testing.T) {
	t.Parallel()
	dec := json.NewDecoder(strings.NewReader(`{"a": [1500.00]}`))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	got, ok := MustParse("/a/0").Get(doc)
	if !ok || got != json.Number("1500.00") {
		t.Errorf("Get(/a/0) = %#v, %v, want json.Number(\"1500.00\"), true", got, ok)
	}
}

func TestGetScalarDocument(t *testing.T) {
	t.Parallel()
	if _, ok := MustParse("/a").Get("text"); ok {
		t.Error("Get(/a) on a string document found something")
	}
	if _, ok := MustParse("/a").Get(nil); ok {
		t.Error("Get(/a) on a null document found something")
	}
	if got, ok := MustParse("").Get(nil); !ok || got != nil {
		t.Errorf("Get(\"\") on a null document = %v, %v, want nil, true", got, ok)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	doc := decode(f, testDoc)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos >= len(s) {
				t.Fatalf("Parse(%q) error = %#v, want a *SyntaxError inside the input", s, err)
			}
			return
		}
		if got := p.String(); got != s {
			t.Fatalf("Parse(%q).String() = %q, want the input", s, got)
		}
		q, err := Parse(p.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v", s, err)
		}
		if !cmp.Equal(p.Tokens(), q.Tokens()) {
			t.Fatalf("tokens of %q = %q, after a round trip %q", s, p.Tokens(), q.Tokens())
		}
		p.Get(doc) // must not panic
	})
}

func BenchmarkGet(b *testing.B) {
	doc := decode(b, testDoc)
	p := MustParse("/items/0/tags/1")
	for b.Loop() {
		p.Get(doc)
	}
}
