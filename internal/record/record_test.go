package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/jsonnum"
	"github.com/autohook/autohook/internal/problem"
)

// leads is the collection of API.md, with a date field added.
func leads() *Collection {
	return &Collection{
		Key:  "leads",
		Name: "Leads",
		Fields: []Field{
			{Key: "name", Type: Text},
			{Key: "value", Type: Number},
			{Key: "vip", Type: Boolean},
			{Key: "dueDate", Type: DateTime},
			{Key: "items", Type: JSON},
			{Key: "externalId", Type: Text},
			{Key: "birthday", Type: Date},
		},
		Stages: []string{"New", "Qualified", "Won"},
	}
}

// problemsOf returns the problems of err, failing the test when err is not a
// *problem.Error.
func problemsOf(t *testing.T, err error) problem.List {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error = %T %v, want *problem.Error", err, err)
	}
	return pe.Problems
}

// paths returns the paths of problems, in order.
func paths(l problem.List) []string {
	out := make([]string, len(l))
	for i, p := range l {
		out[i] = p.Path
	}
	return out
}

func TestValidKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"leads", true},
		{"externalId", true},
		{"a_1", true},
		{"A", true},
		{strings.Repeat("a", MaxKeyLen), true},
		{strings.Repeat("a", MaxKeyLen+1), false},
		{"", false},
		{"1abc", false},
		{"_a", false},
		{"first-name", false},
		{"first name", false},
		{"a.b", false},
		{"café", false},
	}
	for _, tt := range tests {
		if got := ValidKey(tt.in); got != tt.want {
			t.Errorf("ValidKey(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCollectionCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(c *Collection)
		want   []string // problem paths, in order
		msg    string   // fragment of the first message
	}{
		{name: "valid", change: func(c *Collection) {}},
		{name: "no stages is valid", change: func(c *Collection) { c.Stages = nil }},
		{name: "no fields is valid", change: func(c *Collection) { c.Fields = nil }},
		{name: "empty key", change: func(c *Collection) { c.Key = "" }, want: []string{"key"}, msg: "must start with a letter"},
		{name: "bad key", change: func(c *Collection) { c.Key = "my-leads" }, want: []string{"key"}, msg: "must start with a letter"},
		{name: "long name", change: func(c *Collection) { c.Name = strings.Repeat("n", MaxNameLen+1) }, want: []string{"name"}, msg: "at most 200 characters"},
		{name: "bad field key", change: func(c *Collection) { c.Fields[1].Key = "1value" }, want: []string{"fields[1].key"}, msg: "must start with a letter"},
		{name: "reserved id", change: func(c *Collection) { c.Fields[0].Key = "id" }, want: []string{"fields[0].key"}, msg: `"id" is reserved`},
		{name: "reserved stage", change: func(c *Collection) { c.Fields[2].Key = "stage" }, want: []string{"fields[2].key"}, msg: `"stage" is reserved`},
		{name: "reserved createdAt", change: func(c *Collection) { c.Fields[3].Key = "createdAt" }, want: []string{"fields[3].key"}, msg: `"createdAt" is reserved`},
		{name: "reserved updatedAt", change: func(c *Collection) { c.Fields[3].Key = "updatedAt" }, want: []string{"fields[3].key"}, msg: `"updatedAt" is reserved`},
		{name: "duplicate field", change: func(c *Collection) { c.Fields[5].Key = "name" }, want: []string{"fields[5].key"}, msg: `duplicate field "name"`},
		{name: "bad type", change: func(c *Collection) { c.Fields[4].Type = "string" }, want: []string{"fields[4].type"}, msg: "must be one of text, number, boolean, date, datetime, json"},
		{name: "empty type", change: func(c *Collection) { c.Fields[4].Type = "" }, want: []string{"fields[4].type"}, msg: "must be one of"},
		{name: "long field name", change: func(c *Collection) { c.Fields[0].Name = strings.Repeat("n", MaxNameLen+1) }, want: []string{"fields[0].name"}, msg: "at most 200 characters"},
		{name: "empty stage", change: func(c *Collection) { c.Stages[1] = "" }, want: []string{"stages[1]"}, msg: "must not be empty"},
		{name: "blank stage", change: func(c *Collection) { c.Stages[1] = "  " }, want: []string{"stages[1]"}, msg: "must not be empty"},
		{name: "duplicate stage", change: func(c *Collection) { c.Stages[2] = "New" }, want: []string{"stages[2]"}, msg: `duplicate stage "New"`},
		{name: "long stage", change: func(c *Collection) { c.Stages[0] = strings.Repeat("s", MaxNameLen+1) }, want: []string{"stages[0]"}, msg: "at most 200 characters"},
		{
			name: "too many fields",
			change: func(c *Collection) {
				c.Fields = nil
				for i := range MaxFields + 1 {
					c.Fields = append(c.Fields, Field{Key: fmt.Sprintf("f%d", i), Type: Text})
				}
			},
			want: []string{"fields"}, msg: "at most 200 fields",
		},
		{
			name: "too many stages",
			change: func(c *Collection) {
				c.Stages = nil
				for i := range MaxStages + 1 {
					c.Stages = append(c.Stages, fmt.Sprintf("s%d", i))
				}
			},
			want: []string{"stages"}, msg: "at most 100 stages",
		},
		{
			name: "every problem at once",
			change: func(c *Collection) {
				c.Key = "1"
				c.Fields = []Field{{Key: "id", Type: Text}, {Key: "a", Type: "x"}, {Key: "a", Type: Text}}
				c.Stages = []string{"A", "", "A"}
			},
			want: []string{"key", "fields[0].key", "fields[1].type", "fields[2].key", "stages[1]", "stages[2]"},
			msg:  "must start with a letter",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := leads()
			tt.change(c)
			err := c.Check()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Check() = %v, want nil", err)
				}
				return
			}
			l := problemsOf(t, err)
			if diff := cmp.Diff(tt.want, paths(l)); diff != "" {
				t.Errorf("Check() paths mismatch (-want +got):\n%s\nerror: %v", diff, err)
			}
			if !strings.Contains(l[0].Message, tt.msg) {
				t.Errorf("Check() first message = %q, want it to contain %q", l[0].Message, tt.msg)
			}
		})
	}
}

func TestCollectionCheckNameDefaultsToKey(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "   "} {
		c := leads()
		c.Name = name
		if err := c.Check(); err != nil {
			t.Fatalf("Check() = %v", err)
		}
		if c.Name != "leads" {
			t.Errorf("Name %q after Check = %q, want the key %q", name, c.Name, "leads")
		}
	}
	c := leads()
	if err := c.Check(); err != nil {
		t.Fatalf("Check() = %v", err)
	}
	if c.Name != "Leads" {
		t.Errorf("Name after Check = %q, want %q kept", c.Name, "Leads")
	}
}

func TestCollectionLookups(t *testing.T) {
	t.Parallel()
	c := leads()
	if f, ok := c.Field("value"); !ok || f.Type != Number {
		t.Errorf("Field(value) = %+v, %v, want a number field", f, ok)
	}
	if _, ok := c.Field("Value"); ok {
		t.Errorf("Field(Value) found a field, want keys to be case-sensitive")
	}
	if !c.HasStage("Won") || c.HasStage("won") || c.HasStage("") {
		t.Errorf("HasStage: Won=%v won=%v empty=%v, want true, false, false", c.HasStage("Won"), c.HasStage("won"), c.HasStage(""))
	}
	if got := c.DefaultStage(); got != "New" {
		t.Errorf("DefaultStage() = %q, want %q", got, "New")
	}
	if got := (&Collection{}).DefaultStage(); got != "" {
		t.Errorf("DefaultStage() without stages = %q, want empty", got)
	}
}

func TestCheckStage(t *testing.T) {
	t.Parallel()
	noStages := leads()
	noStages.Stages = nil
	tests := []struct {
		name  string
		coll  *Collection
		stage string
		msg   string // "" for no error
	}{
		{name: "known", coll: leads(), stage: "Qualified"},
		{name: "unknown", coll: leads(), stage: "Lost", msg: "must be one of the collection's stages: New, Qualified, Won"},
		{name: "case differs", coll: leads(), stage: "new", msg: "must be one of the collection's stages"},
		{name: "empty with stages", coll: leads(), stage: "", msg: "must be one of the collection's stages"},
		{name: "empty without stages", coll: noStages, stage: ""},
		{name: "any without stages", coll: noStages, stage: "New", msg: `collection "leads" has no stages`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.coll.CheckStage("stage", tt.stage)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("CheckStage(%q) = %v, want nil", tt.stage, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckStage(%q) = nil, want an error with %q", tt.stage, tt.msg)
			}
			want := problem.List{{Path: "stage", Message: err.Problems[0].Message}}
			if diff := cmp.Diff(want, err.Problems); diff != "" {
				t.Errorf("CheckStage(%q) problems mismatch (-want +got):\n%s", tt.stage, diff)
			}
			if !strings.Contains(err.Problems[0].Message, tt.msg) {
				t.Errorf("CheckStage(%q) message = %q, want it to contain %q", tt.stage, err.Problems[0].Message, tt.msg)
			}
		})
	}
}

var fieldTests = []struct {
	name string
	key  string
	in   any
	want any    // the normalised value, when msg is ""
	msg  string // fragment of the problem's message
}{
	// text
	{name: "text", key: "name", in: "Ada", want: "Ada"},
	{name: "empty text", key: "name", in: "", want: ""},
	{name: "text longest", key: "name", in: strings.Repeat("x", MaxTextLen), want: strings.Repeat("x", MaxTextLen)},
	{name: "text too long", key: "name", in: strings.Repeat("x", MaxTextLen+1), msg: "must be at most 65536 bytes"},
	{name: "text got number", key: "name", in: 1.0, msg: "must be a string, got a number"},
	{name: "text got bool", key: "name", in: true, msg: "must be a string, got a boolean"},
	{name: "text got object", key: "name", in: map[string]any{}, msg: "must be a string, got an object"},
	// number
	{name: "number float", key: "value", in: 1500.5, want: json.Number("1500.5")},
	{name: "number zero", key: "value", in: 0.0, want: json.Number("0")},
	{name: "number negative", key: "value", in: -3.0, want: json.Number("-3")},
	{name: "number json.Number", key: "value", in: json.Number("1500.00"), want: json.Number("1500.00")},
	{name: "number 20 digits", key: "value", in: json.Number("12345678901234567891"), want: json.Number("12345678901234567891")},
	{name: "number long fraction", key: "value", in: json.Number("0.12345678901234567890123"), want: json.Number("0.12345678901234567890123")},
	{name: "number tiny", key: "value", in: json.Number("1e-400"), want: json.Number("1e-400")},
	{name: "number json.Number exponent", key: "value", in: json.Number("1e3"), want: json.Number("1e3")},
	{name: "number int", key: "value", in: 7, want: json.Number("7")},
	{name: "number int64", key: "value", in: int64(-7), want: json.Number("-7")},
	{name: "number NaN", key: "value", in: math.NaN(), msg: "must be a finite number"},
	{name: "number +Inf", key: "value", in: math.Inf(1), msg: "must be a finite number"},
	{name: "number -Inf", key: "value", in: math.Inf(-1), msg: "must be a finite number"},
	{name: "number json.Number out of range", key: "value", in: json.Number("1e400"), msg: "must be a finite number of at most about 1.8e308, got 1e400"},
	{name: "number json.Number not a number", key: "value", in: json.Number("abc"), msg: `must be a number, got "abc"`},
	{
		name: "number json.Number NaN", key: "value", in: json.Number("NaN"), msg: `must be a number, got "NaN"`,
	},
	{
		name: "number json.Number Inf", key: "value", in: json.Number("-Inf"), msg: `must be a number, got "-Inf"`,
	},
	{name: "number got string", key: "value", in: "1500", msg: "must be a number, got a string"},
	{name: "number got bool", key: "value", in: false, msg: "must be a number, got a boolean"},
	{name: "number got array", key: "value", in: []any{1.0}, msg: "must be a number, got an array"},
	// boolean
	{name: "boolean true", key: "vip", in: true, want: true},
	{name: "boolean false", key: "vip", in: false, want: false},
	{name: "boolean got string", key: "vip", in: "true", msg: "must be true or false, got a string"},
	{name: "boolean got number", key: "vip", in: 1.0, msg: "must be true or false, got a number"},
	// date
	{name: "date", key: "birthday", in: "2026-01-02", want: "2026-01-02"},
	{name: "date from RFC 3339 UTC", key: "birthday", in: "2026-01-02T15:04:05Z", want: "2026-01-02"},
	{name: "date from RFC 3339 with offset", key: "birthday", in: "2026-01-02T10:00:00+02:00", want: "2026-01-02"},
	{name: "date from RFC 3339 with fraction", key: "birthday", in: "2026-03-04T05:06:07.123456Z", want: "2026-03-04"},
	{name: "date leap day", key: "birthday", in: "2028-02-29", want: "2028-02-29"},
	{name: "date impossible day", key: "birthday", in: "2026-02-30", msg: `must be a date (YYYY-MM-DD), got "2026-02-30"`},
	{name: "date other layout", key: "birthday", in: "02/01/2026", msg: "must be a date (YYYY-MM-DD)"},
	{name: "date without zero padding", key: "birthday", in: "2026-1-2", msg: "must be a date (YYYY-MM-DD)"},
	{name: "date empty", key: "birthday", in: "", msg: "must be a date (YYYY-MM-DD)"},
	{name: "date got number", key: "birthday", in: 20260102.0, msg: "must be a date string (YYYY-MM-DD), got a number"},
	{
		name: "date whose UTC day is in year -1", key: "birthday", in: "0000-01-01T00:00:00+01:00", msg: "must be a date",
	},
	// datetime
	{name: "datetime UTC", key: "dueDate", in: "2026-01-02T15:04:05Z", want: "2026-01-02T15:04:05Z"},
	{name: "datetime offset to UTC", key: "dueDate", in: "2026-01-02T15:04:05+02:00", want: "2026-01-02T13:04:05Z"},
	{name: "datetime offset crosses the day", key: "dueDate", in: "2026-01-02T23:30:00-05:00", want: "2026-01-03T04:30:00Z"},
	{name: "datetime fraction kept", key: "dueDate", in: "2026-01-02T15:04:05.120+01:00", want: "2026-01-02T14:04:05.12Z"},
	{name: "datetime from a date", key: "dueDate", in: "2026-01-02", want: "2026-01-02T00:00:00Z"},
	{name: "datetime with a space", key: "dueDate", in: "2026-01-02 15:04:05Z", msg: "must be an RFC 3339 date-time"},
	{name: "datetime without zone", key: "dueDate", in: "2026-01-02T15:04:05", msg: `must be an RFC 3339 date-time (2026-01-02T15:04:05Z), got "2026-01-02T15:04:05"`},
	{name: "datetime got number", key: "dueDate", in: 1.0, msg: "must be an RFC 3339 date-time string, got a number"},
	{
		name: "datetime whose UTC year is 10000", key: "dueDate", in: "9999-12-31T23:00:00-02:00", msg: "must be an RFC 3339 date-time",
	},
	// json
	{name: "json object", key: "items", in: map[string]any{"a": []any{1.0, "b", nil}}, want: map[string]any{"a": []any{json.Number("1"), "b", nil}}},
	{name: "json keeps digits", key: "items", in: []any{json.Number("12345678901234567891"), json.Number("1.50")}, want: []any{json.Number("12345678901234567891"), json.Number("1.50")}},
	{name: "json array", key: "items", in: []any{true}, want: []any{true}},
	{name: "json string", key: "items", in: "text", want: "text"},
	{name: "json number", key: "items", in: 2.5, want: json.Number("2.5")},
	{name: "json bool", key: "items", in: false, want: false},
	{name: "json too large", key: "items", in: strings.Repeat("x", MaxJSONSize), msg: "must be at most 262144 bytes of JSON"},
	{name: "json unencodable", key: "items", in: map[string]any{"f": math.Inf(1)}, msg: "must be JSON"},
	{name: "json unsupported type", key: "items", in: []any{func() {}}, msg: "must be JSON"},
}

func TestCheckFields(t *testing.T) {
	t.Parallel()
	for _, tt := range fieldTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := leads().CheckFields(map[string]any{tt.key: tt.in})
			if tt.msg != "" {
				l := problemsOf(t, err)
				if len(l) != 1 || l[0].Path != "fields."+tt.key || !strings.Contains(l[0].Message, tt.msg) {
					t.Errorf("CheckFields(%s) problems = %+v, want one at fields.%s containing %q", tt.key, l, tt.key, tt.msg)
				}
				if got != nil {
					t.Errorf("CheckFields(%s) = %v with an error, want nil", tt.key, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckFields(%s: %#v) = %v, want nil", tt.key, tt.in, err)
			}
			if diff := cmp.Diff(map[string]any{tt.key: tt.want}, got); diff != "" {
				t.Errorf("CheckFields(%s) mismatch (-want +got):\n%s", tt.key, diff)
			}
			// Normalised values are normal: checking them again keeps them.
			again, err := leads().CheckFields(got)
			if err != nil {
				t.Fatalf("CheckFields(normalised %#v) = %v, want nil", got, err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("normalising twice changed the value (-once +twice):\n%s", diff)
			}
		})
	}
}

func TestCheckFieldsNilClears(t *testing.T) {
	t.Parallel()
	in := map[string]any{}
	for _, f := range leads().Fields {
		in[f.Key] = nil
	}
	got, err := leads().CheckFields(in)
	if err != nil {
		t.Fatalf("CheckFields(all nil) = %v", err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("CheckFields(all nil) mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckFieldsUnknownAndSeveral(t *testing.T) {
	t.Parallel()
	got, err := leads().CheckFields(map[string]any{
		"x":     1.0,
		"value": "lots",
		"name":  "ok",
		"Name":  "case differs",
		"vip":   nil,
	})
	if got != nil {
		t.Errorf("CheckFields = %v, want nil with problems", got)
	}
	want := problem.List{
		{Path: "fields.Name", Message: `unknown field (collection "leads" has no field "Name")`},
		{Path: "fields.value", Message: "must be a number, got a string"},
		{Path: "fields.x", Message: `unknown field (collection "leads" has no field "x")`},
	}
	if diff := cmp.Diff(want, problemsOf(t, err)); diff != "" {
		t.Errorf("CheckFields problems mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckFieldsEmpty(t *testing.T) {
	t.Parallel()
	for _, in := range []map[string]any{nil, {}} {
		got, err := leads().CheckFields(in)
		if err != nil {
			t.Fatalf("CheckFields(%v) = %v", in, err)
		}
		if len(got) != 0 {
			t.Errorf("CheckFields(%v) = %v, want empty", in, got)
		}
	}
}

func TestNormaliseUnknownType(t *testing.T) {
	t.Parallel()
	if _, err := Normalise("money", 1.0); err == nil || !strings.Contains(err.Error(), `unknown field type "money"`) {
		t.Errorf("Normalise(money) = %v, want an unknown field type error", err)
	}
	if got, err := Normalise("money", nil); got != nil || err != nil {
		t.Errorf("Normalise(money, nil) = %v, %v, want nil, nil", got, err)
	}
}

func TestTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ    FieldType
		in     any
		want   time.Time
		wantOK bool
	}{
		{Date, "2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), true},
		{DateTime, "2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), true},
		{DateTime, "2026-01-02T15:04:05.5Z", time.Date(2026, 1, 2, 15, 4, 5, 5e8, time.UTC), true},
		{Date, "2026-01-02T15:04:05Z", time.Time{}, false},
		{DateTime, "2026-01-02", time.Time{}, false},
		{Date, nil, time.Time{}, false},
		{Date, 1.0, time.Time{}, false},
		{Text, "2026-01-02", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := Time(tt.typ, tt.in)
		if ok != tt.wantOK || !got.Equal(tt.want) {
			t.Errorf("Time(%s, %#v) = %v, %v, want %v, %v", tt.typ, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	base := map[string]any{"name": "Ada", "value": 1.0, "vip": true}
	got := Merge(base, map[string]any{"value": 2.0, "vip": nil, "externalId": "x"})
	want := map[string]any{"name": "Ada", "value": 2.0, "externalId": "x"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"name": "Ada", "value": 1.0, "vip": true}, base); diff != "" {
		t.Errorf("Merge changed its base (-want +got):\n%s", diff)
	}
	if got := Merge(nil, nil); got == nil || len(got) != 0 {
		t.Errorf("Merge(nil, nil) = %#v, want an empty non-nil map", got)
	}
	if got := Merge(nil, map[string]any{"gone": nil}); len(got) != 0 {
		t.Errorf("Merge(nil, {gone: nil}) = %v, want empty", got)
	}
}

var diffTests = []struct {
	name     string
	old, new map[string]any
	want     []string
}{
	{name: "both empty", old: nil, new: map[string]any{}, want: nil},
	{name: "same", old: map[string]any{"a": "x", "b": 1.0, "c": true}, new: map[string]any{"c": true, "b": 1.0, "a": "x"}, want: nil},
	{name: "added", old: map[string]any{"a": "x"}, new: map[string]any{"a": "x", "b": 2.0}, want: []string{"b"}},
	{name: "removed", old: map[string]any{"a": "x", "b": 2.0}, new: map[string]any{"a": "x"}, want: []string{"b"}},
	{name: "changed", old: map[string]any{"a": "x", "b": 2.0}, new: map[string]any{"a": "y", "b": 2.0}, want: []string{"a"}},
	{name: "type changed", old: map[string]any{"a": "1"}, new: map[string]any{"a": 1.0}, want: []string{"a"}},
	{name: "to null", old: map[string]any{"a": "x"}, new: map[string]any{"a": nil}, want: []string{"a"}},
	{name: "null to null", old: map[string]any{"a": nil}, new: map[string]any{"a": nil}, want: nil},
	{name: "numbers equal", old: map[string]any{"n": 1500.0}, new: map[string]any{"n": 1500.00}, want: nil},
	{name: "numbers differ", old: map[string]any{"n": 0.1}, new: map[string]any{"n": 0.2}, want: []string{"n"}},
	{name: "sorted", old: map[string]any{"z": 1.0, "a": 1.0}, new: map[string]any{"m": 1.0, "z": 2.0}, want: []string{"a", "m", "z"}},
	{
		name: "nested json equal",
		old:  map[string]any{"items": map[string]any{"list": []any{1.0, map[string]any{"k": "v"}}}},
		new:  map[string]any{"items": map[string]any{"list": []any{1.0, map[string]any{"k": "v"}}}},
		want: nil,
	},
	{
		name: "nested json changed deep",
		old:  map[string]any{"items": map[string]any{"list": []any{1.0, map[string]any{"k": "v"}}}},
		new:  map[string]any{"items": map[string]any{"list": []any{1.0, map[string]any{"k": "w"}}}},
		want: []string{"items"},
	},
	{
		name: "nested json array grew",
		old:  map[string]any{"items": []any{1.0}},
		new:  map[string]any{"items": []any{1.0, 2.0}},
		want: []string{"items"},
	},
	{
		name: "object to scalar",
		old:  map[string]any{"items": map[string]any{}},
		new:  map[string]any{"items": "x"},
		want: []string{"items"},
	},
	{
		name: "nested json numbers equal across representations",
		old:  map[string]any{"items": []any{1.0, map[string]any{"n": 2.5}}},
		new:  map[string]any{"items": []any{json.Number("1"), map[string]any{"n": json.Number("2.5")}}},
		want: nil,
	},
}

func TestDiff(t *testing.T) {
	t.Parallel()
	for _, tt := range diffTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Diff(tt.old, tt.new)); diff != "" {
				t.Errorf("Diff mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, Diff(tt.new, tt.old)); diff != "" {
				t.Errorf("Diff reversed mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 15, 4, 5, 0, time.FixedZone("CET", 3600))
	updated := time.Date(2026, 1, 3, 0, 0, 0, 123000000, time.UTC)
	r := &Record{
		ID:         "rec1",
		Collection: "leads",
		Stage:      "New",
		Fields:     map[string]any{"name": "Ada", "value": 1500.0},
		CreatedAt:  created,
		UpdatedAt:  updated,
		Version:    3,
	}
	got := r.Env()
	want := map[string]any{
		"name":       "Ada",
		"value":      1500.0,
		"id":         "rec1",
		"stage":      "New",
		"collection": "leads",
		"createdAt":  "2026-01-02T14:04:05Z",
		"updatedAt":  "2026-01-03T00:00:00.123Z",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Env mismatch (-want +got):\n%s", diff)
	}
	got["name"] = "changed"
	if r.Fields["name"] != "Ada" {
		t.Errorf("changing Env changed the record's fields: %v", r.Fields)
	}
	if env := (*Record)(nil).Env(); env != nil {
		t.Errorf("nil Record Env() = %v, want nil", env)
	}
}

// TestDiffNumbersExact: numbers compare by their exact value, so a change
// in the 20th digit is a change and 1500 equals 1500.00.
func TestDiffNumbersExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		old, new any
		changed  bool
	}{
		{json.Number("12345678901234567891"), json.Number("12345678901234567892"), true},
		{json.Number("12345678901234567891"), json.Number("12345678901234567891"), false},
		{json.Number("1500"), json.Number("1500.00"), false},
		{json.Number("1500"), 1500.0, false},
		{json.Number("1e3"), 1000, false},
		{json.Number("0.1"), 0.1, false},
		{json.Number("9007199254740993"), json.Number("9007199254740992"), true}, // equal as float64
		{json.Number("1"), "1", true},
	}
	for _, tt := range tests {
		got := len(Diff(map[string]any{"v": tt.old}, map[string]any{"v": tt.new})) > 0
		if got != tt.changed {
			t.Errorf("Diff(%#v, %#v) changed = %v, want %v", tt.old, tt.new, got, tt.changed)
		}
	}
}

// FuzzNormaliseNumber: a number field keeps the text of any JSON number a
// float64 can hold without overflow, and refuses every other text.
func FuzzNormaliseNumber(f *testing.F) {
	for _, tt := range fieldTests {
		if n, ok := tt.in.(json.Number); ok {
			f.Add(string(n))
		}
	}
	f.Add("12345678901234567891")
	f.Add("-0.000000000000000000000000001")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Normalise(Number, json.Number(s))
		fl, perr := strconv.ParseFloat(s, 64)
		wantOK := jsonnum.Valid(s) && perr == nil && !math.IsInf(fl, 0)
		if errors.Is(perr, strconv.ErrRange) && fl == 0 {
			wantOK = jsonnum.Valid(s) // underflow reads as 0: still a number
		}
		if (err == nil) != wantOK {
			t.Fatalf("Normalise(number, %q) = %v, %v; want ok = %v", s, got, err, wantOK)
		}
		if err != nil {
			return
		}
		if got != json.Number(s) {
			t.Fatalf("Normalise(number, %q) = %#v, want the same text", s, got)
		}
		b, err := json.Marshal(map[string]any{"v": got})
		if err != nil || string(b) != `{"v":`+s+`}` {
			t.Fatalf("encoding %q gives %s, %v", s, b, err)
		}
		if c, ok := compareNumbers(got, json.Number(s)); !ok || c != 0 {
			t.Fatalf("compareNumbers(%q, itself) = %d, %v", s, c, ok)
		}
	})
}

// FuzzCheckFields checks random JSON objects against a collection with one
// field of each type.
func FuzzCheckFields(f *testing.F) {
	for _, tt := range fieldTests {
		b, err := json.Marshal(map[string]any{tt.key: tt.in})
		if err != nil || len(b) > 1<<10 {
			continue // NaN and functions are not JSON; huge seeds slow the fuzzer down
		}
		f.Add(b)
	}
	f.Add([]byte(`{"name":"Ada","value":1500,"vip":true,"dueDate":"2026-01-02T15:04:05+02:00","items":[1,{"a":null}],"externalId":"x","birthday":"2026-01-02"}`))
	f.Add([]byte(`{"x":1,"name":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in map[string]any
		if err := json.Unmarshal(data, &in); err != nil {
			return
		}
		c := leads()
		out, err := c.CheckFields(in)
		if err != nil {
			var pe *problem.Error
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("CheckFields(%s) = %T %v, want *problem.Error", data, err, err)
			}
			for _, p := range pe.Problems {
				if !strings.HasPrefix(p.Path, "fields.") {
					t.Fatalf("CheckFields(%s) problem path %q, want fields.<key>", data, p.Path)
				}
			}
			if out != nil {
				t.Fatalf("CheckFields(%s) = %v with an error, want nil", data, out)
			}
			return
		}
		if len(out) != len(in) {
			t.Fatalf("CheckFields(%s) = %v, want one value per input key", data, out)
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("CheckFields(%s) = %v, which does not encode: %v", data, out, err)
		}
	})
}
