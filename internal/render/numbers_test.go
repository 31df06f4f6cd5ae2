package render

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/autohook/autohook/internal/jsonnum"
)

const bigID = "12345678901234567891" // more digits than a float64 holds

// numberEnv holds numbers as the store and the webhook client give them:
// json.Number, at every depth.
func numberEnv() Env {
	return NewEnv(
		map[string]any{
			"value": json.Number("1500"),
			"price": json.Number("19.99"),
			"exact": json.Number("1500.00"),
			"big":   json.Number(bigID),
			"items": []any{
				map[string]any{"id": json.Number(bigID), "qty": json.Number("2")},
				map[string]any{"id": json.Number("7"), "qty": json.Number("3")},
			},
			"name": "Ada",
		},
		map[string]any{"value": json.Number("900")},
		map[string]any{"id": json.Number(bigID), "count": json.Number("9223372036854775807")},
		nil, nil, nil, testNow,
	)
}

func TestNumbersPassThroughAndCompute(t *testing.T) {
	t.Parallel()
	item0 := map[string]any{"id": json.Number(bigID), "qty": json.Number("2")}
	tests := []struct {
		src  string
		want any
	}{
		// passed on: every digit
		{"{fields.id}", json.Number(bigID)},
		{"id {fields.id}!", "id " + bigID + "!"},
		{"{record.exact}", json.Number("1500.00")},
		{"{fields?.id}", json.Number(bigID)},
		{`{fields["id"]}`, json.Number(bigID)},
		{"{record.items[0].id}", json.Number(bigID)},
		{"{fields.nothing ?? fields.id}", json.Number(bigID)},
		{"{coalesce(fields.nothing, fields.id)}", json.Number(bigID)},
		{"{default(fields.nothing, fields.id)}", json.Number(bigID)},
		{"{record.value > 0 ? fields.id : 0}", json.Number(bigID)},
		{"{string(fields.id)}", bigID},
		{`{"ord-" + string(fields.id)}`, "ord-" + bigID},
		{"{urlencode(fields.id)}", bigID},
		{"{toJSON(record.items[0])}", "{\n  \"id\": " + bigID + ",\n  \"qty\": 2\n}"},
		{"{[fields.id]}", []any{json.Number(bigID)}},
		{"{ {id: fields.id} }", map[string]any{"id": json.Number(bigID)}},
		{"{map(record.items, .id)}", []any{json.Number(bigID), json.Number("7")}},
		{"{filter(record.items, .qty < 3)}", []any{item0}},
		{"{first(record.items).id}", json.Number(bigID)},
		{"{sortBy(record.items, .qty, 'desc')[1].id}", json.Number(bigID)},
		{"{len(record.items)}", 2},
		// computed: int when whole and within 64 bits, else float64
		{"{record.value > 1000}", true},
		{"{record.value == 1500}", true},
		{"{record.exact == 1500}", true},
		{"{record.value == previous.value}", false},
		{"{record.value + 1}", 1501},
		{"{record.value % 7}", 2},
		{"{record.price * 2}", 39.98},
		{"{-record.value}", -1500},
		{"{abs(-record.value)}", 1500},
		{"{int(record.price)}", 19},
		{"{max(record.value, 2000)}", 2000},
		{"{record.value in [1500, 2000]}", true},
		{"{record.items[0].qty * 10}", 20},
		{"{sum(record.items, .qty)}", 5},
		{"{sum(map(record.items, .qty))}", 5},
		{"{count(record.items, .qty > 2)}", 1},
		{"{fields.count == 9223372036854775807}", true},
		{"{fields.count - 1}", 9223372036854775806},
		{"{record.big > 1e19}", true},
		{"{record.big + 0}", 1.2345678901234567e19}, // arithmetic may round
		{"{record.value == '1500'}", false},
		{"{'value' in record}", true},
	}
	for _, tt := range tests {
		tpl, err := CompileTemplate(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		env := numberEnv()
		got, err := tpl.Eval(env)
		if err != nil {
			t.Errorf("Eval(%q): %v", tt.src, err)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("Eval(%q) (-want +got):\n%s", tt.src, d)
		}
		if d := cmp.Diff(numberEnv(), env, ignoreMeter); d != "" {
			t.Errorf("Eval(%q) changed the environment (-before +after):\n%s", tt.src, d)
		}
	}
}

func TestNumberCondition(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]bool{
		"record.value > 1000":                        true,
		"record.value > 1000 && record.price < 20":   true,
		"record.value >= 1500.5":                     false,
		"fields.id == record.big":                    true,
		"any(record.items, .qty >= 3)":               true,
		"record.value != previous.value":             true,
		"record.value - previous.value == 600":       true,
		"record.price > 19.98 and record.price < 20": true,
	} {
		e, err := CompileExpr(src, Options{})
		if err != nil {
			t.Fatalf("CompileExpr(%q): %v", src, err)
		}
		got, err := e.EvalBool(numberEnv())
		if err != nil {
			t.Fatalf("EvalBool(%q): %v", src, err)
		}
		if got != want {
			t.Errorf("EvalBool(%q) = %v, want %v", src, got, want)
		}
	}
}

func TestNumberValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want any
	}{
		{"0", 0},
		{"-12", -12},
		{"9223372036854775807", math.MaxInt64},
		{"-9223372036854775808", math.MinInt64},
		{"9223372036854775808", 9223372036854775808.0},
		{bigID, 12345678901234567891.0},
		{"1500.00", 1500.0},
		{"1e3", 1000.0},
		{"0.1", 0.1},
		{"1e400", math.Inf(1)},
		{"1e-400", 0.0},
		{"abc", json.Number("abc")},
	}
	for _, tt := range tests {
		if got := numberValue(json.Number(tt.in)); !cmp.Equal(got, tt.want) {
			t.Errorf("numberValue(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestConvertNumbersCopiesOnlyWhatChanges(t *testing.T) {
	t.Parallel()
	plain := map[string]any{"a": "x", "b": []any{true, nil}}
	got, changed := convertNumbers(plain)
	if changed {
		t.Errorf("convertNumbers(%v) changed", plain)
	}
	if got.(map[string]any)["b"] == nil {
		t.Errorf("convertNumbers(%v) = %v", plain, got)
	}
	in := map[string]any{"a": "x", "n": []any{json.Number("1"), "y"}}
	got, changed = convertNumbers(in)
	want := map[string]any{"a": "x", "n": []any{1, "y"}}
	if !changed || !cmp.Equal(got, want) {
		t.Errorf("convertNumbers = %v, %v; want %v, true", got, changed, want)
	}
	if in["n"].([]any)[0] != json.Number("1") {
		t.Errorf("convertNumbers changed its input: %v", in)
	}
}

// FuzzNumbersPassThrough: any JSON number passed on by a template keeps
// its text, in a value, as text, as JSON and converted for a number field;
// and any of them can be computed with.
func FuzzNumbersPassThrough(f *testing.F) {
	for _, s := range []string{bigID, "0", "-0", "1500.00", "1e400", "1E-7", "-9223372036854775809", "0.30000000000000004"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if !jsonnum.Valid(n) {
			return
		}
		env := NewEnv(nil, nil, map[string]any{"x": json.Number(n), "o": map[string]any{"x": json.Number(n)}}, nil, nil, nil, testNow)
		for src, want := range map[string]string{
			"{fields.x}":         n,
			"{fields.o.x}":       n,
			"{fields.x ?? 0}":    n,
			"v={fields.x}":       "v=" + n,
			"{string(fields.x)}": n,
			"{toJSON(fields.o)}": "{\n  \"x\": " + n + "\n}",
			"{[fields.x]}":       "[" + n + "]",
		} {
			tpl, err := CompileTemplate(src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			v, err := tpl.Eval(env)
			if err != nil {
				t.Fatalf("Eval(%q) with %s: %v", src, n, err)
			}
			if got := Stringify(v); got != want {
				t.Errorf("Eval(%q) with %s = %q, want %q", src, n, got, want)
			}
			if src == "{fields.x}" {
				if c, err := Convert(v, TypeNumber); err != nil || c != json.Number(n) {
					t.Errorf("Convert(%q, number) = %v, %v", n, c, err)
				}
			}
		}
		e, err := CompileExpr("fields.x > 0 || fields.x <= 0 || fields.x != fields.x", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := e.EvalBool(env); err != nil || !ok {
			t.Errorf("comparing %s: %v, %v", n, ok, err)
		}
	})
}

// ignoreMeter leaves out the evaluation's meter, which an Env holds and
// every evaluation resets, when comparing environments.
var ignoreMeter = cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == meterKey })
