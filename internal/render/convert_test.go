package render

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

var convertTests = []struct {
	in      any
	typ     FieldType
	want    any
	wantErr string
}{
	// nil is null for every type.
	{in: nil, typ: TypeString, want: nil},
	{in: nil, typ: TypeNumber, want: nil},
	{in: nil, typ: TypeBoolean, want: nil},
	{in: nil, typ: TypeJSON, want: nil},
	// string
	{in: "text", typ: TypeString, want: "text"},
	{in: "", typ: TypeString, want: ""},
	{in: 1500.0, typ: TypeString, want: "1500"},
	{in: 42, typ: TypeString, want: "42"},
	{in: true, typ: TypeString, want: "true"},
	{in: map[string]any{"b": 1.0, "a": "x"}, typ: TypeString, want: `{"a":"x","b":1}`},
	{in: []any{"a", 1.0}, typ: TypeString, want: `["a",1]`},
	{in: testNow, typ: TypeString, want: "2026-03-14T15:09:26Z"},
	// number
	{in: 1500.0, typ: TypeNumber, want: json.Number("1500")},
	{in: 0.1, typ: TypeNumber, want: json.Number("0.1")},
	{in: 1e-7, typ: TypeNumber, want: json.Number("0.0000001")},
	{in: 42, typ: TypeNumber, want: json.Number("42")},
	{in: int64(-7), typ: TypeNumber, want: json.Number("-7")},
	{in: json.Number("12.50"), typ: TypeNumber, want: json.Number("12.50")},
	{in: "1500.00", typ: TypeNumber, want: json.Number("1500.00")},
	{in: " 42 ", typ: TypeNumber, want: json.Number("42")},
	{in: "-0.5e3", typ: TypeNumber, want: json.Number("-0.5e3")},
	{in: "0", typ: TypeNumber, want: json.Number("0")},
	{in: "abc", typ: TypeNumber, wantErr: `cannot convert "abc" to number`},
	{in: "", typ: TypeNumber, wantErr: `cannot convert "" to number`},
	{in: "01", typ: TypeNumber, wantErr: `cannot convert "01" to number`},
	{in: "+1", typ: TypeNumber, wantErr: `cannot convert "+1" to number`},
	{in: ".5", typ: TypeNumber, wantErr: `cannot convert ".5" to number`},
	{in: "1.", typ: TypeNumber, wantErr: `cannot convert "1." to number`},
	{in: "1e", typ: TypeNumber, wantErr: `cannot convert "1e" to number`},
	{in: "1,500.00", typ: TypeNumber, wantErr: `cannot convert "1,500.00" to number`},
	{in: "NaN", typ: TypeNumber, wantErr: `cannot convert "NaN" to number`},
	{in: "0x10", typ: TypeNumber, wantErr: `cannot convert "0x10" to number`},
	{in: json.Number("1.2.3"), typ: TypeNumber, wantErr: `cannot convert "1.2.3" to number`},
	{in: math.NaN(), typ: TypeNumber, wantErr: "cannot convert NaN to number"},
	{in: math.Inf(-1), typ: TypeNumber, wantErr: "cannot convert -Inf to number"},
	{in: true, typ: TypeNumber, wantErr: "cannot convert boolean true to number"},
	{in: map[string]any{}, typ: TypeNumber, wantErr: "cannot convert object to number"},
	{in: []any{1.0}, typ: TypeNumber, wantErr: "cannot convert array to number"},
	{in: testNow, typ: TypeNumber, wantErr: "cannot convert time 2026-03-14T15:09:26Z to number"},
	// boolean
	{in: true, typ: TypeBoolean, want: true},
	{in: false, typ: TypeBoolean, want: false},
	{in: "true", typ: TypeBoolean, want: true},
	{in: " FALSE ", typ: TypeBoolean, want: false},
	{in: "1", typ: TypeBoolean, want: true},
	{in: "yes", typ: TypeBoolean, wantErr: `cannot convert "yes" to boolean`},
	{in: "", typ: TypeBoolean, wantErr: `cannot convert "" to boolean`},
	{in: 1.0, typ: TypeBoolean, wantErr: "cannot convert number 1 to boolean"},
	{in: 0, typ: TypeBoolean, wantErr: "cannot convert number 0 to boolean"},
	{in: []any{}, typ: TypeBoolean, wantErr: "cannot convert array to boolean"},
	// json
	{in: map[string]any{"a": 1.0}, typ: TypeJSON, want: map[string]any{"a": 1.0}},
	{in: []any{"a"}, typ: TypeJSON, want: []any{"a"}},
	{in: 1.5, typ: TypeJSON, want: json.Number("1.5")},
	{in: 3, typ: TypeJSON, want: 3},
	{in: true, typ: TypeJSON, want: true},
	{in: testNow, typ: TypeJSON, want: "2026-03-14T15:09:26Z"},
	{in: `{"a":1}`, typ: TypeJSON, want: map[string]any{"a": json.Number("1")}},
	{in: ` [1, "x", null] `, typ: TypeJSON, want: []any{json.Number("1"), "x", nil}},
	{in: `"text"`, typ: TypeJSON, want: "text"},
	{in: `12.50`, typ: TypeJSON, want: json.Number("12.50")},
	{in: `null`, typ: TypeJSON, want: nil},
	{in: `text`, typ: TypeJSON, wantErr: "value is not valid JSON: invalid character 'e' in literal true (expecting 'r')"},
	{in: `{"a":`, typ: TypeJSON, wantErr: "value is not valid JSON: unexpected EOF"},
	{in: ``, typ: TypeJSON, wantErr: "value is not valid JSON: no JSON text"},
	{in: `1 2`, typ: TypeJSON, wantErr: "value is not valid JSON: data after the JSON text"},
	{in: `{}x`, typ: TypeJSON, wantErr: "value is not valid JSON: data after the JSON text"},
	{in: math.Inf(1), typ: TypeJSON, wantErr: "cannot convert +Inf to number"},
	// unknown type
	{in: "x", typ: "date", wantErr: `unknown field type "date"`},
}

func TestConvert(t *testing.T) {
	t.Parallel()
	for _, tt := range convertTests {
		got, err := Convert(tt.in, tt.typ)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Convert(%#v, %s) = %#v, %v, want error %q", tt.in, tt.typ, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Convert(%#v, %s) error = %v", tt.in, tt.typ, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Convert(%#v, %s) mismatch (-want +got):\n%s", tt.in, tt.typ, diff)
		}
	}
}

// TestConvertMarshal checks what a JSON body made of converted values
// looks like on the wire.
func TestConvertMarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		typ  FieldType
		want string
	}{
		{"1500.00", TypeNumber, "1500.00"},
		{1500.0, TypeNumber, "1500"},
		{1e21, TypeNumber, "1000000000000000000000"},
		{0.000001, TypeNumber, "0.000001"},
		{"true", TypeBoolean, "true"},
		{`{"b":[1,2.50]}`, TypeJSON, `{"b":[1,2.50]}`},
		{nil, TypeString, "null"},
		{12.0, TypeString, `"12"`},
	}
	for _, tt := range tests {
		v, err := Convert(tt.in, tt.typ)
		if err != nil {
			t.Errorf("Convert(%#v, %s): %v", tt.in, tt.typ, err)
			continue
		}
		got, err := json.Marshal(v)
		if err != nil || string(got) != tt.want {
			t.Errorf("json.Marshal(Convert(%#v, %s)) = %s, %v, want %s", tt.in, tt.typ, got, err, tt.want)
		}
	}
}

func FuzzConvert(f *testing.F) {
	for _, tt := range convertTests {
		if s, ok := tt.in.(string); ok {
			f.Add(s, string(tt.typ))
		}
	}
	f.Fuzz(func(t *testing.T, s, typ string) {
		v, err := Convert(s, FieldType(typ))
		if err != nil {
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("Convert(%q, %q) = %#v, which does not marshal: %v", s, typ, v, err)
		}
		var back any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Convert(%q, %q) marshals to invalid JSON %s: %v", s, typ, b, err)
		}
		switch FieldType(typ) {
		case TypeString:
			// encoding/json writes invalid UTF-8 as U+FFFD.
			if utf8.ValidString(s) && back != s {
				t.Fatalf("Convert(%q, string) round-trips to %#v", s, back)
			}
		case TypeNumber:
			if _, ok := back.(float64); !ok {
				t.Fatalf("Convert(%q, number) marshals to %s, not a number", s, b)
			}
		case TypeBoolean:
			if _, ok := back.(bool); !ok {
				t.Fatalf("Convert(%q, boolean) marshals to %s, not a boolean", s, b)
			}
		}
	})
}
