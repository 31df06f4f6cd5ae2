package jsonnum

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var validTests = []struct {
	in   string
	want bool
}{
	{"0", true}, {"-0", true}, {"1", true}, {"12345678901234567891", true},
	{"1.5", true}, {"1500.00", true}, {"1e3", true}, {"1E+3", true}, {"-1.25e-7", true},
	{"", false}, {"-", false}, {"01", false}, {"1.", false}, {".5", false}, {"+1", false},
	{"1e", false}, {"1e+", false}, {"0x10", false}, {"NaN", false}, {"Infinity", false},
	{" 1", false}, {"1 ", false}, {"1_000", false}, {"--1", false},
}

func TestValid(t *testing.T) {
	t.Parallel()
	for _, tt := range validTests {
		if got := Valid(tt.in); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

var compareTests = []struct {
	a, b string
	want int
}{
	{"1", "1", 0},
	{"1.5", "1.50", 0},
	{"15e-1", "1.5", 0},
	{"1500.00", "1500", 0},
	{"1e3", "1000", 0},
	{"-0", "0", 0},
	{"0.000", "-0e5", 0},
	{"12345678901234567891", "12345678901234567892", -1},
	{"12345678901234567892", "12345678901234567891", 1},
	{"12345678901234567891", "12345678901234567891.0", 0},
	{"99999999999999999999", "100000000000000000000", -1},
	{"-12345678901234567891", "-12345678901234567892", 1},
	{"-1", "1", -1},
	{"0", "-1e-300", 1},
	{"0.1", "0.10000000000000001", -1},
	{"0.12", "0.123", -1},
	{"0.2", "0.123", 1},
	{"1e-999999999", "1", -1},
	{"1e999999999999999999", "1e999999999999999998", 0}, // beyond the exponent bound
	{"1e999999999", "1e999999998", 1},
	{"-1e999999999", "-1e999999998", -1},
	{"1000", "1001", -1},
	{"10", "9.99", 1},
}

func TestCompare(t *testing.T) {
	t.Parallel()
	for _, tt := range compareTests {
		got, err := Compare(tt.a, tt.b)
		if err != nil {
			t.Fatalf("Compare(%q, %q): %v", tt.a, tt.b, err)
		}
		if got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if back, _ := Compare(tt.b, tt.a); back != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, back, -tt.want)
		}
	}
	for _, bad := range [][2]string{{"1", "x"}, {"", "1"}, {"1.", "1"}} {
		if _, err := Compare(bad[0], bad[1]); err == nil {
			t.Errorf("Compare(%q, %q): no error", bad[0], bad[1])
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{json.Number("12345678901234567891"), "12345678901234567891", true},
		{1500.0, "1500", true},
		{0.1, "0.1", true},
		{1e21, "1e+21", true},
		{float32(0.1), "0.1", true},
		{42, "42", true},
		{int64(math.MaxInt64), "9223372036854775807", true},
		{uint64(math.MaxUint64), "18446744073709551615", true},
		{math.Inf(1), "", false},
		{math.NaN(), "", false},
		{"1", "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		got, ok := Text(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Text(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && !Valid(got) {
			t.Errorf("Text(%#v) = %q, not a JSON number", tt.in, got)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	got, err := Decode([]byte(` {"id": 12345678901234567891, "n": [1.50, -0, 1e400], "s": "x"} `))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": json.Number("12345678901234567891"),
		"n":  []any{json.Number("1.50"), json.Number("-0"), json.Number("1e400")},
		"s":  "x",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Decode (-want +got):\n%s", d)
	}
	for _, bad := range []string{``, `  `, `{"a":1} {}`, `{"a":1}x`, `[1,]`, `{`} {
		if v, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) = %v, want an error", bad, v)
		}
	}
}

// numbers returns the text of every number in a JSON text, sorted.
func numbers(t testing.TB, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("tokens of %q: %v", data, err)
		}
		if n, ok := tok.(json.Number); ok {
			out = append(out, string(n))
		}
	}
	slices.Sort(out)
	return out
}

// FuzzDecodeKeepsNumbers: decoding with Decode and encoding again with
// encoding/json keeps the text of every number.
func FuzzDecodeKeepsNumbers(f *testing.F) {
	for _, s := range []string{
		`{"id": 12345678901234567891}`, `[1.50, -0, 1e400, 0.1, 1E-7]`, `12345678901234567891`,
		`{"a": {"b": [{"c": 99999999999999999999999999999.000000000000000000001}]}}`, `"1"`, `null`,
	} {
		f.Add([]byte(s))
	}
	for _, tt := range validTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("encode %#v: %v", v, err)
		}
		if got, want := numbers(t, out), numbers(t, data); !slices.Equal(got, want) {
			t.Errorf("numbers of %q:\n got %q\nwant %q", data, got, want)
		}
		back, err := Decode(out)
		if err != nil {
			t.Fatalf("decode %q again: %v", out, err)
		}
		if d := cmp.Diff(v, back); d != "" {
			t.Errorf("decode(encode(decode(%q))) differs (-first +second):\n%s", data, d)
		}
	})
}

// FuzzCompare checks Compare against math/big on numbers whose exponents
// big can afford, and its laws on every pair of valid numbers.
func FuzzCompare(f *testing.F) {
	for _, tt := range compareTests {
		f.Add(tt.a, tt.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := Compare(a, b)
		if err != nil {
			if Valid(a) && Valid(b) {
				t.Fatalf("Compare(%q, %q): %v", a, b, err)
			}
			return
		}
		if back, _ := Compare(b, a); back != -got {
			t.Errorf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, got, b, a, back)
		}
		if self, _ := Compare(a, a); self != 0 {
			t.Errorf("Compare(%q, %q) = %d", a, a, self)
		}
		if strings.ContainsAny(a+b, "eE") && (len(a) > 40 || len(b) > 40 || bigExp(a) || bigExp(b)) {
			return // big.Rat would spend its time on powers of ten
		}
		x, okx := new(big.Rat).SetString(a)
		y, oky := new(big.Rat).SetString(b)
		if !okx || !oky {
			t.Fatalf("big.Rat cannot read %q or %q", a, b)
		}
		if want := x.Cmp(y); got != want {
			t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

// bigExp reports whether s has an exponent of more than three digits.
func bigExp(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return false
	}
	e := strings.TrimLeft(s[i+1:], "+-0")
	return len(e) > 3
}
