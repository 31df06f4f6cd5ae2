package render

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestStringify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"", ""},
		{"text <&>", "text <&>"},
		{true, "true"},
		{false, "false"},
		{0, "0"},
		{-42, "-42"},
		{int64(math.MaxInt64), "9223372036854775807"},
		{uint8(7), "7"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{1500.0, "1500"},
		{0.1, "0.1"},
		{-2.5, "-2.5"},
		{1e21, "1000000000000000000000"},
		{1e-7, "0.0000001"},
		{float32(0.1), "0.1"},
		{math.Inf(1), "+Inf"},
		{json.Number("1500.00"), "1500.00"},
		{time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), "2026-03-14T15:09:26Z"},
		{time.Date(2026, 3, 14, 16, 9, 26, 500, time.FixedZone("CET", 3600)), "2026-03-14T15:09:26.0000005Z"},
		{90 * time.Minute, "1h30m0s"},
		{[]byte("raw"), "raw"},
		{[]any{"a", 1.0, nil, true}, `["a",1,null,true]`},
		{[]any{}, `[]`},
		{map[string]any{"b": 1.0, "a": []any{"<"}, "c": map[string]any{}}, `{"a":["<"],"b":1,"c":{}}`},
		{map[string]any(nil), `null`},
		{[]string{"x", "y"}, `["x","y"]`},
		{[]int{1, 2, 3}, `[1,2,3]`},
		{map[string]int{"z": 1, "a": 2}, `{"a":2,"z":1}`},
		{[]any{math.NaN()}, `[NaN]`}, // not JSON: falls back to fmt
		{struct{ A int }{1}, "{1}"},
	}
	for _, tt := range tests {
		if got := Stringify(tt.in); got != tt.want {
			t.Errorf("Stringify(%#v) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(appendStringify([]byte("x"), tt.in)); got != "x"+tt.want {
			t.Errorf("appendStringify(%#v) = %q, want %q", tt.in, got, "x"+tt.want)
		}
	}
}
