// Package record provides collections (typed fields and stages) and records:
// checking and normalising field values against a collection, and finding which
// fields a change touched.
package record

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/jsonnum"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/strictjson"
)

// FieldType is the type of a collection field. Stored names are stable.
type FieldType string

// Field types.
const (
	Text     FieldType = "text"
	Number   FieldType = "number"
	Boolean  FieldType = "boolean"
	Date     FieldType = "date"
	DateTime FieldType = "datetime"
	JSON     FieldType = "json"
)

// Types lists every field type.
var Types = []FieldType{Text, Number, Boolean, Date, DateTime, JSON}

// Valid reports whether t is a known field type.
func (t FieldType) Valid() bool { return slices.Contains(Types, t) }

// Field is one typed field of a collection.
type Field struct {
	Key  string    `json:"key"`
	Name string    `json:"name,omitempty"`
	Type FieldType `json:"type"`
}

// Collection is a set of records with the same fields and stages.
type Collection struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Name      string    `json:"name"`
	Fields    []Field   `json:"fields"`
	Stages    []string  `json:"stages"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Record is one item of a collection.
type Record struct {
	ID         string         `json:"id"`
	Collection string         `json:"collection"`
	Stage      string         `json:"stage"`
	Fields     map[string]any `json:"fields"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	Version    int64          `json:"version"`
}

// Limits on collections, to keep stored documents bounded.
const (
	MaxFields   = 200
	MaxStages   = 100
	MaxKeyLen   = 64
	MaxNameLen  = 200
	MaxTextLen  = 64 << 10  // one text field
	MaxJSONSize = 256 << 10 // one json field, encoded
)

var keyPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// ValidKey reports whether s can be a collection or field key: a letter, then
// letters, digits or underscores, at most MaxKeyLen long. Keys are used in
// expressions (`record.externalId`), so they must be identifiers.
func ValidKey(s string) bool { return len(s) <= MaxKeyLen && keyPattern.MatchString(s) }

// reserved are the names a record carries besides its fields, in expressions.
var reserved = []string{"id", "stage", "createdAt", "updatedAt", "collection", "version"}

// Check validates the collection's definition.
func (c *Collection) Check() error {
	var l problem.List
	if !ValidKey(c.Key) {
		l.Add("key", "must start with a letter and hold only letters, digits and underscores (at most %d)", MaxKeyLen)
	}
	if strings.TrimSpace(c.Name) == "" {
		c.Name = c.Key
	}
	if len(c.Name) > MaxNameLen {
		l.Add("name", "must be at most %d characters", MaxNameLen)
	}
	if len(c.Fields) > MaxFields {
		l.Add("fields", "at most %d fields", MaxFields)
	}
	seen := map[string]bool{}
	for i, f := range c.Fields {
		p := problem.Join("fields", i)
		switch {
		case !ValidKey(f.Key):
			l.Add(p+".key", "must start with a letter and hold only letters, digits and underscores (at most %d)", MaxKeyLen)
		case slices.Contains(reserved, f.Key):
			l.Add(p+".key", "%q is reserved", f.Key)
		case seen[f.Key]:
			l.Add(p+".key", "duplicate field %q", f.Key)
		}
		seen[f.Key] = true
		if !f.Type.Valid() {
			l.Add(p+".type", "must be one of %s", joinTypes())
		}
		if len(f.Name) > MaxNameLen {
			l.Add(p+".name", "must be at most %d characters", MaxNameLen)
		}
	}
	if len(c.Stages) > MaxStages {
		l.Add("stages", "at most %d stages", MaxStages)
	}
	seenStage := map[string]bool{}
	for i, s := range c.Stages {
		p := problem.Join("stages", i)
		switch {
		case strings.TrimSpace(s) == "":
			l.Add(p, "must not be empty")
		case len(s) > MaxNameLen:
			l.Add(p, "must be at most %d characters", MaxNameLen)
		case seenStage[s]:
			l.Add(p, "duplicate stage %q", s)
		}
		seenStage[s] = true
	}
	return l.Err()
}

func joinTypes() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// Field returns the field with key, if any.
func (c *Collection) Field(key string) (Field, bool) {
	for _, f := range c.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// HasStage reports whether s is one of the collection's stages.
func (c *Collection) HasStage(s string) bool { return slices.Contains(c.Stages, s) }

// DefaultStage is the stage a new record gets when none is given: the first
// one, or "" for a collection without stages.
func (c *Collection) DefaultStage() string {
	if len(c.Stages) == 0 {
		return ""
	}
	return c.Stages[0]
}

// CheckStage validates a stage name against the collection; path names it in errors.
func (c *Collection) CheckStage(path, s string) *problem.Error {
	if len(c.Stages) == 0 && s == "" {
		return nil
	}
	if !c.HasStage(s) {
		if len(c.Stages) == 0 {
			return problem.New(path, "collection %q has no stages", c.Key)
		}
		return problem.New(path, "must be one of the collection's stages: %s", strings.Join(c.Stages, ", "))
	}
	return nil
}

// CheckFields validates input field values against the collection and returns
// them normalised: numbers as json.Number (their text as given, every digit
// kept), dates as YYYY-MM-DD, datetimes as RFC
// 3339 UTC, json values as decoded JSON. A nil value clears the field. Unknown
// fields and wrongly typed values are problems at "fields.<key>".
func (c *Collection) CheckFields(in map[string]any) (map[string]any, error) {
	var l problem.List
	out := make(map[string]any, len(in))
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := "fields." + k
		f, ok := c.Field(k)
		if !ok {
			l.Add(path, "unknown field (collection %q has no field %q)", c.Key, k)
			continue
		}
		v, err := Normalise(f.Type, in[k])
		if err != nil {
			l.Add(path, "%v", err)
			continue
		}
		out[k] = v
	}
	if err := l.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Normalise checks that v fits type t and returns its canonical form.
func Normalise(t FieldType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case Text:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a string, got %s", strictjson.Kind(v))
		}
		if len(s) > MaxTextLen {
			return nil, fmt.Errorf("must be at most %d bytes", MaxTextLen)
		}
		return s, nil
	case Number:
		return normaliseNumber(v)
	case Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("must be true or false, got %s", strictjson.Kind(v))
		}
		return b, nil
	case Date:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a date string (YYYY-MM-DD), got %s", strictjson.Kind(v))
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			ts, err2 := time.Parse(time.RFC3339Nano, s)
			if err2 != nil || !inYearRange(ts.UTC()) {
				return nil, fmt.Errorf("must be a date (YYYY-MM-DD), got %q", s)
			}
			return ts.UTC().Format(time.DateOnly), nil
		}
		return d.Format(time.DateOnly), nil
	case DateTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be an RFC 3339 date-time string, got %s", strictjson.Kind(v))
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			if d, err2 := time.Parse(time.DateOnly, s); err2 == nil {
				return d.UTC().Format(time.RFC3339), nil
			}
			return nil, fmt.Errorf("must be an RFC 3339 date-time (2026-01-02T15:04:05Z), got %q", s)
		}
		if !inYearRange(ts.UTC()) {
			return nil, fmt.Errorf("must be an RFC 3339 date-time with a year from 0000 to 9999 in UTC, got %q", s)
		}
		return ts.UTC().Format(time.RFC3339Nano), nil
	case JSON:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("must be JSON: %w", err)
		}
		if len(b) > MaxJSONSize {
			return nil, fmt.Errorf("must be at most %d bytes of JSON", MaxJSONSize)
		}
		// Stored values decode with numbers as json.Number: keep them so
		// here too, so a value is the same read back.
		out, err := jsonnum.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("must be JSON: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown field type %q", t)
}

// normaliseNumber keeps a number's text: json.Number as given (a JSON
// number that a float64 can hold without overflow: |x| < 1.8e308), other
// Go numbers as jsonnum.Text writes them. Comparisons read the text exactly
// (Diff), so 12345678901234567891 keeps its last digits.
func normaliseNumber(v any) (any, error) {
	s, ok := jsonnum.Text(v)
	switch {
	case !ok:
		switch v.(type) {
		case float64, float32:
			return nil, fmt.Errorf("must be a finite number")
		}
		return nil, fmt.Errorf("must be a number, got %s", strictjson.Kind(v))
	case !jsonnum.Valid(s):
		return nil, fmt.Errorf("must be a number, got %q", s)
	}
	if f, err := strconv.ParseFloat(s, 64); err != nil || math.IsInf(f, 0) {
		return nil, fmt.Errorf("must be a finite number of at most about 1.8e308, got %s", s)
	}
	return json.Number(s), nil
}

// compareNumbers compares two number values (json.Number, or any Go
// number) by their exact value: -1, 0 or +1. ok is false when one of them
// is not a number.
func compareNumbers(a, b any) (c int, ok bool) {
	x, okx := jsonnum.Text(a)
	y, oky := jsonnum.Text(b)
	if !okx || !oky {
		return 0, false
	}
	c, err := jsonnum.Compare(x, y)
	return c, err == nil
}

// Time returns the instant a date or datetime value stands for (dates are
// midnight UTC). ok is false for nil or a value of another form.
func Time(t FieldType, v any) (time.Time, bool) {
	s, isString := v.(string)
	if !isString {
		return time.Time{}, false
	}
	switch t {
	case Date:
		d, err := time.Parse(time.DateOnly, s)
		return d, err == nil
	case DateTime:
		ts, err := time.Parse(time.RFC3339Nano, s)
		return ts, err == nil
	}
	return time.Time{}, false
}

// Merge returns base with the changes applied: a nil value removes the field.
func Merge(base, changes map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(changes))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// Diff returns the sorted keys whose values differ between old and new.
func Diff(old, new map[string]any) []string {
	var changed []string
	for k, v := range new {
		if ov, ok := old[k]; !ok || !equal(ov, v) {
			changed = append(changed, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case string, bool, nil:
		return a == b // a dynamic type mismatch is simply false
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	// numbers, in whatever form they come (json.Number, float64, ints),
	// by their exact decimal value
	if c, ok := compareNumbers(a, b); ok {
		return c == 0
	}
	return reflect.DeepEqual(a, b)
}

func inYearRange(t time.Time) bool { return t.Year() >= 0 && t.Year() <= 9999 }

// Env returns the record as the `record` value of expressions: its fields,
// plus id, stage, collection, createdAt and updatedAt (RFC 3339 strings).
func (r *Record) Env() map[string]any {
	if r == nil {
		return nil
	}
	m := make(map[string]any, len(r.Fields)+5)
	for k, v := range r.Fields {
		m[k] = v
	}
	m["id"] = r.ID
	m["stage"] = r.Stage
	m["collection"] = r.Collection
	m["createdAt"] = r.CreatedAt.UTC().Format(time.RFC3339Nano)
	m["updatedAt"] = r.UpdatedAt.UTC().Format(time.RFC3339Nano)
	return m
}
