package webui

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
)

func TestInputPath(t *testing.T) {
	cases := map[string]string{
		"steps[0].headers[1].value":         "steps.0.headers.1.value",
		"steps[2].body.fields[0].key":       "steps.2.body.fields.0.key",
		"steps[0].response.schema[3].field": "steps.0.response.schema.3.field",
		"trigger.fields[1]":                 "trigger.fields.1",
		"stages[2]":                         "stages.2",
		"fields.dueDate":                    "fields.dueDate",
		"name":                              "name",
		"":                                  "",
	}
	for in, want := range cases {
		if got := inputPath(in); got != want {
			t.Errorf("inputPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFieldErrorsPlaceAtNearestInput(t *testing.T) {
	e := newFieldErrors([]problem.Problem{
		{Path: "steps[0].headers[1].value", Message: "bad template"},
		{Path: "steps[0].body", Message: "a body is allowed only with POST"},
		{Path: "trigger.fields[1]", Message: "no such field"},
		{Path: "steps", Message: "at least one step"},
		{Path: "nowhere.at.all", Message: "lost"},
	})
	// the first pass: the page offers these places
	for _, name := range []string{"steps.0.headers.1.value", "steps.0", "trigger.fields", "steps", ""} {
		e.At(name)
	}
	e.place()
	want := map[string][]string{
		"steps.0.headers.1.value": {"bad template"},
		"steps.0":                 {"a body is allowed only with POST"},
		"trigger.fields":          {"no such field"},
		"steps":                   {"at least one step"},
		"":                        {"lost"},
	}
	for name, msgs := range want {
		var got []string
		for _, m := range e.At(name) {
			got = append(got, m.Text)
		}
		if diff := cmp.Diff(msgs, got); diff != "" {
			t.Errorf("At(%q) (-want +got):\n%s", name, diff)
		}
	}
	if got := e.All()[0]; got.Anchor != "steps.0.headers.1.value" || got.Where != "Step 1 › headers row 2 › value" {
		t.Errorf("All()[0] = %+v", got)
	}
}

func TestAutomationFromForm(t *testing.T) {
	form := url.Values{
		"id":                                   {"aut_1"},
		"name":                                 {" Notify CRM "},
		"collection":                           {"leads"},
		"enabled":                              {"on"},
		"trigger.type":                         {"stage_changed"},
		"trigger.from":                         {"New"},
		"trigger.to":                           {"Won"},
		"trigger.fields":                       {"ignored, because the trigger is stage_changed"},
		"condition":                            {" record.value > 1000 "},
		"steps.0.type":                         {"call_api"},
		"steps.0.id":                           {"crm"},
		"steps.0.method":                       {"POST"},
		"steps.0.url":                          {"https://api.example.com/c/{record.externalId}"},
		"steps.0.headers.0.name":               {"Authorization"},
		"steps.0.headers.0.value":              {"Bearer {secrets.CRM_KEY}"},
		"steps.0.headers.1.name":               {""}, // an empty row is dropped
		"steps.0.headers.1.value":              {""},
		"steps.0.body.contentType":             {"application/json"},
		"steps.0.body.text":                    {"ignored: the body is JSON"},
		"steps.0.body.fields.0.key":            {"customerName"},
		"steps.0.body.fields.0.type":           {"string"},
		"steps.0.body.fields.0.value":          {"{record.name}"},
		"steps.0.body.fields.5.key":            {"orderValue"}, // a gap: order is kept
		"steps.0.body.fields.5.type":           {"number"},
		"steps.0.body.fields.5.value":          {"{record.value}"},
		"steps.0.timeoutSeconds":               {"30"},
		"steps.0.maxAttempts":                  {""},
		"steps.0.response.type":                {"json"},
		"steps.0.response.field":               {"ignored"},
		"steps.0.response.schema.0.pointer":    {"/data/externalId"},
		"steps.0.response.schema.0.field":      {"externalId"},
		"steps.0.response.schema.0.required":   {"on"},
		"steps.0.response.schema.1.pointer":    {"/data/status"},
		"steps.0.response.schema.1.field":      {"status"},
		"steps.1.type":                         {"update_record"},
		"steps.1.url":                          {"ignored: not a call_api step"},
		"steps.1.set.0.field":                  {"externalId"},
		"steps.1.set.0.value":                  {"{fields.externalId}"},
		"steps.10.type":                        {"call_api"},
		"steps.10.url":                         {"https://example.com/text"},
		"steps.10.body.contentType":            {"text/plain"},
		"steps.10.body.text":                   {"New lead {record.name}"},
		"steps.10.keepBodyOnRedirect":          {"on"},
		"steps.10.response.type":               {"text"},
		"steps.10.response.field":              {"reply"},
		"steps.10.response.schema.0.source":    {"header"},
		"steps.10.response.schema.0.header":    {" Location "},
		"steps.10.response.schema.0.pointer":   {"/ignored: the source is a header"},
		"steps.10.response.schema.0.field":     {"location"},
		"steps.10.response.schema.1.source":    {"status"},
		"steps.10.response.schema.1.field":     {"httpStatus"},
		"steps.10.response.schema.2.source":    {"pointer"}, // an empty row is dropped
		"steps.11.type":                        {"call_api"},
		"steps.11.url":                         {"https://example.com/form"},
		"steps.11.body.contentType":            {"application/x-www-form-urlencoded"},
		"steps.11.body.fields.0.key":           {"name"},
		"steps.11.body.fields.0.type":          {"string"}, // the hidden select: form values are text
		"steps.11.body.fields.0.value":         {"{record.name}"},
		"steps.11.body.fields.1.key":           {"name"},
		"steps.11.body.fields.1.value":         {"again"},
		"steps.11.response.type":               {"none"},
		"steps.11.response.schema.0.source":    {"status"},
		"steps.11.response.schema.0.field":     {"formStatus"},
		"steps.12.type":                        {"call_api"},
		"steps.12.url":                         {"https://example.com/nothing"},
		"steps.12.response.type":               {"none"},
		"signing.enabled":                      {"on"},
		"signing.secret":                       {""}, // editing: keep the stored one
		"steps.0.body.fields.5.ignoredunknown": {"x"},
	}
	got, probs := automationFromForm(formValues(form))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	want := &automation.Automation{
		ID: "aut_1", Name: "Notify CRM", Collection: "leads", Enabled: true,
		Trigger:   automation.Trigger{Type: "stage_changed", From: "New", To: "Won"},
		Condition: "record.value > 1000",
		Steps: []automation.StepSpec{
			{
				ID: "crm", Type: "call_api", Method: "POST", URL: "https://api.example.com/c/{record.externalId}",
				Headers: []automation.Header{{Name: "Authorization", Value: "Bearer {secrets.CRM_KEY}"}},
				Body: &automation.Body{ContentType: "application/json", Fields: []automation.BodyField{
					{Key: "customerName", Type: "string", Value: "{record.name}"},
					{Key: "orderValue", Type: "number", Value: "{record.value}"},
				}},
				TimeoutSeconds: 30,
				Response: &automation.Response{Type: "json", Schema: []automation.Mapping{
					{Pointer: "/data/externalId", Field: "externalId", Required: true},
					{Pointer: "/data/status", Field: "status"},
				}},
			},
			{Type: "update_record", Set: []automation.Assignment{{Field: "externalId", Value: "{fields.externalId}"}}},
			{
				Type: "call_api", URL: "https://example.com/text",
				Body: &automation.Body{ContentType: "text/plain", Text: "New lead {record.name}"},
				Response: &automation.Response{Type: "text", Field: "reply", Schema: []automation.Mapping{
					{Header: "Location", Field: "location"},
					{Status: true, Field: "httpStatus"},
				}},
				KeepBodyOnRedirect: true,
			},
			{
				Type: "call_api", URL: "https://example.com/form",
				Body: &automation.Body{ContentType: "application/x-www-form-urlencoded", Fields: []automation.BodyField{
					{Key: "name", Value: "{record.name}"}, {Key: "name", Value: "again"},
				}},
				Response: &automation.Response{Type: "none", Schema: []automation.Mapping{{Status: true, Field: "formStatus"}}},
			},
			{Type: "call_api", URL: "https://example.com/nothing"},
		},
		Signing: &automation.Signing{Secret: automation.SecretRedacted},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("automationFromForm (-want +got):\n%s", diff)
	}
}

func TestAutomationFromFormNumbers(t *testing.T) {
	_, probs := automationFromForm(formValues(url.Values{"steps.0.type": {"call_api"}, "steps.0.timeoutSeconds": {"ten"}}))
	want := problem.List{{Path: "steps.0.timeoutSeconds", Message: "must be a whole number"}}
	if diff := cmp.Diff(want, probs); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestAutomationFromFormTriggers(t *testing.T) {
	cases := []struct {
		form url.Values
		want automation.Trigger
	}{
		{url.Values{"trigger.type": {"record_updated"}, "trigger.fields": {"email, value  phone"}}, automation.Trigger{Type: "record_updated", Fields: []string{"email", "value", "phone"}}},
		{url.Values{"trigger.type": {"record_due"}, "trigger.field": {"dueDate"}, "trigger.offset": {"-24h"}, "trigger.from": {"New"}}, automation.Trigger{Type: "record_due", Field: "dueDate", Offset: "-24h"}},
		{url.Values{"trigger.type": {"manual"}, "trigger.field": {"dueDate"}}, automation.Trigger{Type: "manual"}},
		{url.Values{"trigger.type": {"record_added"}}, automation.Trigger{Type: "record_added"}},
	}
	for _, tc := range cases {
		got, _ := automationFromForm(formValues(tc.form))
		if diff := cmp.Diff(tc.want, got.Trigger); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.form, diff)
		}
	}
}

func TestCollectionFromForm(t *testing.T) {
	got := collectionFromForm(formValues(url.Values{
		"key": {" leads "}, "name": {"Leads"},
		"fields.0.key": {"name"}, "fields.0.type": {"text"},
		"fields.2.key": {"value"}, "fields.2.name": {"Value"}, "fields.2.type": {"number"},
		"fields.3.key": {""}, "fields.3.name": {""}, "fields.3.type": {"text"},
		"stages.0": {"New"}, "stages.1": {" "}, "stages.2": {"Won"},
	}))
	want := &record.Collection{Key: "leads", Name: "Leads",
		Fields: []record.Field{{Key: "name", Type: "text"}, {Key: "value", Name: "Value", Type: "number"}},
		Stages: []string{"New", "Won"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collectionFromForm (-want +got):\n%s", diff)
	}
}

func TestParseFields(t *testing.T) {
	c := &record.Collection{Key: "leads", Fields: []record.Field{
		{Key: "name", Type: record.Text}, {Key: "value", Type: record.Number}, {Key: "vip", Type: record.Boolean},
		{Key: "day", Type: record.Date}, {Key: "due", Type: record.DateTime}, {Key: "items", Type: record.JSON},
	}}
	got, probs := parseFields(c, formValues(url.Values{
		"fields.name": {"Acme"}, "fields.value": {"12345678901234567891.5"}, "fields.vip": {"on"},
		"fields.day": {"2026-01-02"}, "fields.due": {"2026-01-02T15:04"}, "fields.items": {`[1, {"a": true}]`},
	}))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if got["name"] != "Acme" || got["value"] != json.Number("12345678901234567891.5") || got["vip"] != true || got["day"] != "2026-01-02" || got["due"] != "2026-01-02T15:04:00Z" {
		t.Errorf("parseFields = %v", got)
	}
	if items, ok := got["items"].([]any); !ok || len(items) != 2 {
		t.Errorf("items = %#v", got["items"])
	}
	_, probs = parseFields(c, formValues(url.Values{"fields.value": {"Inf"}, "fields.items": {"{oops"}, "fields.due": {"tomorrow"}}))
	var paths []string
	for _, p := range probs {
		paths = append(paths, p.Path)
	}
	if diff := cmp.Diff([]string{"fields.value", "fields.due", "fields.items"}, paths); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s", diff)
	}
}

func TestChangedFields(t *testing.T) {
	c := &record.Collection{Fields: []record.Field{
		{Key: "name", Type: record.Text}, {Key: "value", Type: record.Number}, {Key: "vip", Type: record.Boolean}, {Key: "note", Type: record.Text},
	}}
	old := map[string]any{"name": "Acme", "value": json.Number("12345678901234567891"), "note": "old"}
	next := map[string]any{"name": "Acme", "value": json.Number("12345678901234567892"), "vip": false, "note": nil}
	want := map[string]any{"value": json.Number("12345678901234567892"), "note": nil}
	if diff := cmp.Diff(want, changedFields(c, old, next)); diff != "" {
		t.Errorf("changedFields (-want +got):\n%s", diff)
	}
}

func TestPageLinks(t *testing.T) {
	u, _ := url.Parse("/records/leads?stage=New")
	older, newer := pageLinks(u, "", "c1")
	if older != "/records/leads?cursor=c1&prev=&stage=New" || newer != "" {
		t.Errorf("first page: older %q newer %q", older, newer)
	}
	u, _ = url.Parse(older)
	older, newer = pageLinks(u, "c1", "c2")
	if older != "/records/leads?cursor=c2&prev=%2Cc1&stage=New" || newer != "/records/leads?stage=New" {
		t.Errorf("second page: older %q newer %q", older, newer)
	}
	u, _ = url.Parse(older)
	_, newer = pageLinks(u, "c2", "")
	if newer != "/records/leads?cursor=c1&prev=&stage=New" {
		t.Errorf("third page: newer %q", newer)
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]bool{
		"/records": true, "/settings/runs/run_1?x=1": true,
		"//evil.example": false, "/\\evil.example": false, "https://evil.example": false, "": false, "/a\r\nSet-Cookie: x": false,
		"/records/leads?cursor=c2&prev=%2Cc1&stage=New": true, "/records/rec_01J?x=a%20b": true,
		// What a browser reads as another origin (issue 18, finding 7).
		"/\t/evil.example": false, "/%09/evil.example": false, "/%0a/evil.example": false, "/%0d%0a/evil.example": false,
		"/%2F/evil.example": false, "/%2f%2fevil.example": false, "/%5Cevil.example": false, "/%5cevil": false,
		"/%2509/evil.example": false, "/%252F/evil.example": false, "/%25252F/evil": false, "/%2525252F/evil": false,
		"/\x00/evil": false, "/\x7f": false, "/ /evil": true, "/\u00a0/evil": false, "/\u2028/evil": false, "/\u202e/evil": false,
		"/a\\b": false, "/%": false, "/%zz": false, "\t/records": false, "/records\t": false, "/\xff": false,
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %v, want %v", next, got, want)
		}
	}
}

// FuzzSafeNext: a next that safeNext accepts stays on this origin as a
// browser reads a Location (tabs and line breaks dropped, "\\" taken for
// "/"), also after one more percent-decoding by a proxy.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/records", "//evil.example", "/\\evil", "/%09/evil.example", "/%2F/evil", "/%252F/evil", "/a?b=%2F%2Fc", "/ /x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://autohook.example/login")
	browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/")
	f.Fuzz(func(t *testing.T, next string) {
		if !safeNext(next) {
			return
		}
		forms := []string{next}
		if dec, err := url.PathUnescape(next); err == nil {
			forms = append(forms, dec)
		}
		for _, s := range forms {
			u, err := url.Parse(strings.TrimLeft(browser.Replace(s), "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "))
			if err != nil {
				t.Fatalf("safeNext(%q) = true, but %q does not parse: %v", next, s, err)
			}
			if got := base.ResolveReference(u); got.Host != base.Host || got.Scheme != base.Scheme {
				t.Fatalf("safeNext(%q) = true, but a browser goes to %s", next, got)
			}
		}
	})
}

func TestFieldLabel(t *testing.T) {
	for key, want := range map[string]string{"dueDate": "Due date", "externalId": "External id", "vip": "Vip", "order_value": "Order value", "URL": "URL"} {
		if got := fieldLabel(record.Field{Key: key}); got != want {
			t.Errorf("fieldLabel(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	pages := parseTemplates()
	for _, name := range []string{"login", "error", "records", "record", "collections", "collection", "automations", "automation", "history", "run", "secrets"} {
		if pages[name] == nil {
			t.Errorf("no page %q", name)
		}
	}
}

// TestFieldErrorsCaret: a problem at a position of the text typed shows
// that line with a caret under the position, at its input only.
func TestFieldErrorsCaret(t *testing.T) {
	pos := func(i int) *int { return &i }
	e := newFieldErrors([]problem.Problem{
		{Path: "condition", Message: "expected a value after `>`", Position: pos(13)},
		{Path: "steps[0].url", Message: "record has no field", Position: pos(2)},
	}).withValues(values{"condition": "record.value >", "steps.0.url": "x"})
	e.At("condition")
	e.At("steps.0") // no input named steps.0.url on this page
	e.place()
	want := []fieldMessage{{Text: "expected a value after `>`", Line: "record.value >", Pad: strings.Repeat(" ", 13)}}
	if diff := cmp.Diff(want, e.At("condition")); diff != "" {
		t.Errorf("At(condition) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]fieldMessage{{Text: "record has no field"}}, e.At("steps.0")); diff != "" {
		t.Errorf("a problem placed at a parent has no caret (-want +got):\n%s", diff)
	}
}

var caretTests = []struct {
	text      string
	pos       int
	line, pad string
}{
	{"record.value >", 13, "record.value >", "             "},
	{"a\nbc > \nd", 5, "bc > ", "   "},
	{"é > ", 3, "é > ", "  "},
	{"\tx >", 3, "\tx >", "\t  "},
	{"abc", 3, "abc", "   "},
	{"abc", 4, "", ""},
	{"abc", -1, "", ""},
	{"00000슊000슊", 13, "00000슊000슊", "         "}, // inside the last rune: the caret under it (found by FuzzCaret)
	{strings.Repeat("a", 100) + ">" + strings.Repeat("b", 100), 100, "…" + strings.Repeat("a", 36) + ">" + strings.Repeat("b", 35) + "…", " " + strings.Repeat(" ", 36)},
}

func TestCaret(t *testing.T) {
	for _, tt := range caretTests {
		line, pad := caret(tt.text, tt.pos)
		if line != tt.line || pad != tt.pad {
			t.Errorf("caret(%q, %d) = %q, %q; want %q, %q", tt.text, tt.pos, line, pad, tt.line, tt.pad)
		}
	}
}

// FuzzCaret: the caret's padding never runs past its line, and the line
// is a piece of the text (but the ellipses).
func FuzzCaret(f *testing.F) {
	for _, tt := range caretTests {
		f.Add(tt.text, tt.pos)
	}
	f.Fuzz(func(t *testing.T, text string, pos int) {
		line, pad := caret(text, pos)
		if line == "" {
			return
		}
		if utf8.RuneCountInString(pad) > utf8.RuneCountInString(line) {
			t.Fatalf("caret(%q, %d): pad of %d runes under a line of %d", text, pos, utf8.RuneCountInString(pad), utf8.RuneCountInString(line))
		}
		if !strings.Contains(text, strings.TrimSuffix(strings.TrimPrefix(line, "…"), "…")) {
			t.Fatalf("caret(%q, %d): line %q is not from the text", text, pos, line)
		}
	})
}
