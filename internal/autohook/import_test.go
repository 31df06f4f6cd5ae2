package autohook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/strictjson"
)

const importAutomation = `{"name":"Notify","collection":"leads","trigger":{"type":"record_added"},
	"steps":[{"id":"crm","type":"call_api","method":"POST","url":"https://crm.example.com/{record.id}",
	"headers":[{"name":"Authorization","value":"Bearer {secrets.CRM_KEY}"}]}]}`

// decodeCases are the table of TestDecodeImport and the seeds of
// FuzzDecodeImport.
var decodeCases = []struct {
	name, file string
	// what the decoded file holds, or the problems (path: message part)
	// or a syntax error
	collections, automations int
	problems                 map[string]string
	syntax                   bool
}{
	{name: "empty", file: `{}`},
	{name: "format 1", file: `{"formatVersion":1,"collections":[],"automations":[]}`},
	{name: "a whole export", file: `{"formatVersion":1,"collections":[{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"}],"stages":["New"]}],"automations":[` + importAutomation + `]}`,
		collections: 1, automations: 1},
	{name: "read-only fields are ignored", file: `{"collections":[{"id":"col_1","key":"leads","createdAt":"x","updatedAt":"y"}],"automations":[{"id":"aut_1","version":7,"createdAt":"2026-01-02T03:04:05Z","name":"n","collection":"leads","trigger":{"type":"manual"},"steps":[]}]}`,
		collections: 1, automations: 1},
	{name: "another format", file: `{"formatVersion":2}`, problems: map[string]string{"formatVersion": "format 2"}},
	{name: "unknown fields everywhere, at once", file: `{"formatVersion":1,"colections":[],"collections":[{"key":"a","colour":"red"}],"automations":[{},` + strings.Replace(importAutomation, `"url"`, `"urll"`, 1) + `]}`,
		problems: map[string]string{"colections": "unknown field", "collections[0].colour": "unknown field", "automations[1].steps[0].urll": "unknown field"}},
	{name: "wrong types", file: `{"formatVersion":"1","collections":{},"automations":[[]]}`,
		problems: map[string]string{"formatVersion": "whole number", "collections": "array", "automations[0]": "object"}},
	{name: "not an object", file: `[]`, problems: map[string]string{"": "object"}},
	{name: "malformed", file: `{"collections":[`, syntax: true},
	{name: "two values", file: `{} {}`, syntax: true},
}

func TestDecodeImport(t *testing.T) {
	t.Parallel()
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			f, err := DecodeImport([]byte(c.file))
			var serr *strictjson.SyntaxError
			var perr *problem.Error
			switch {
			case c.syntax:
				if !errors.As(err, &serr) {
					t.Fatalf("err = %v, want a syntax error", err)
				}
			case c.problems != nil:
				if !errors.As(err, &perr) {
					t.Fatalf("err = %v, want problems", err)
				}
				got := map[string]string{}
				for _, p := range perr.Problems {
					got[p.Path] = p.Message
				}
				for path, part := range c.problems {
					if !strings.Contains(got[path], part) {
						t.Errorf("%s: %q, want it to say %q (all: %v)", path, got[path], part, got)
					}
				}
			case err != nil:
				t.Fatal(err)
			default:
				if len(f.Collections) != c.collections || len(f.Automations) != c.automations {
					t.Fatalf("%d collections and %d automations, want %d and %d", len(f.Collections), len(f.Automations), c.collections, c.automations)
				}
				for _, a := range f.Automations {
					if a.ID != "" || a.Version != 0 || a.CreatedAt != nil || !a.Enabled {
						t.Errorf("decoded %+v: want no id, version or time, and enabled by default", a)
					}
				}
			}
		})
	}
}

// FuzzDecodeImport: whatever the file, DecodeImport answers a decoded file
// or a syntax error or problems (never another error, never a panic), and
// a decoded file's automations are documents again.
func FuzzDecodeImport(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.file))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := DecodeImport(data)
		if err != nil {
			var serr *strictjson.SyntaxError
			var perr *problem.Error
			if !errors.As(err, &serr) && !errors.As(err, &perr) {
				t.Fatalf("%q: %T %v, want a syntax error or problems", data, err, err)
			}
			return
		}
		for _, a := range file.Automations {
			doc, err := AutomationDocument(a)
			if err != nil || !json.Valid(doc) {
				t.Fatalf("%q: the document of %+v: %v %s", data, a, err, doc)
			}
			if paths, err := ChangedPaths(doc, doc); err != nil || len(paths) != 0 {
				t.Fatalf("a document differs from itself at %v (%v)", paths, err)
			}
		}
	})
}

func TestChangedPaths(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, a, b string
		want       []string
	}{
		{"same", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil},
		{"numbers by value", `{"n":1.0}`, `{"n":1}`, nil},
		{"a scalar", `{"steps":[{"url":"a"}]}`, `{"steps":[{"url":"b"}]}`, []string{"steps[0].url"}},
		{"keys sorted, added and removed", `{"z":1,"a":1}`, `{"b":1,"z":2}`, []string{"a", "b", "z"}},
		{"an element added", `{"stages":["New"]}`, `{"stages":["New","Won"]}`, []string{"stages[1]"}},
		{"an element removed", `{"fields":[{"k":1},{"k":2}]}`, `{"fields":[{"k":1}]}`, []string{"fields[1]"}},
		{"a kind changed", `{"a":{"b":1}}`, `{"a":[1]}`, []string{"a"}},
		{"null and absent", `{"a":null}`, `{}`, []string{"a"}},
		{"deep", `{"trigger":{"type":"a","fields":["x"]}}`, `{"trigger":{"type":"a","fields":["y"]}}`, []string{"trigger.fields[0]"}},
	} {
		got, err := ChangedPaths(json.RawMessage(c.a), json.RawMessage(c.b))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}

func TestAutomationDocument(t *testing.T) {
	t.Parallel()
	a, err := automation.Decode([]byte(`{"id":"aut_1","version":3,"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z",
		"name":"<Notify> & co","collection":"leads","trigger":{"type":"manual"},"condition":"record.value > 1",
		"steps":[{"id":"s","type":"update_record","set":[{"field":"a","value":"x"}]}],"signing":{"secret":"whsec_plain"}}`))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := AutomationDocument(a)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"<Notify> & co","collection":"leads","enabled":true,"trigger":{"type":"manual"},"condition":"record.value > 1",` +
		`"steps":[{"id":"s","type":"update_record","set":[{"field":"a","value":"x"}]}],"signing":{"secret":"[redacted]"}}`
	if string(doc) != want {
		t.Errorf("document\n got %s\nwant %s", doc, want)
	}
}
