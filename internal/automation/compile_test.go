package automation

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/strictjson"
)

// exampleDoc is the automation document of API.md.
const exampleDoc = `{
  "name": "Notify External CRM on New Lead",
  "collection": "leads",
  "enabled": true,
  "trigger": {"type": "record_added"},
  "condition": "record.value > 1000",
  "steps": [
    {
      "id": "crm",
      "type": "call_api",
      "method": "POST",
      "url": "https://api.example.com/customers/{record.externalId}",
      "headers": [{"name": "Authorization", "value": "Bearer {secrets.CRM_KEY}"}],
      "body": {
        "contentType": "application/json",
        "fields": [
          {"key": "customerName", "type": "string",  "value": "{record.name}"},
          {"key": "orderValue",   "type": "number",  "value": "{record.value}"},
          {"key": "isNewCustomer","type": "boolean", "value": "true"},
          {"key": "orderItems",   "type": "json",    "value": "{record.items}"}
        ]
      },
      "timeoutSeconds": 30,
      "maxAttempts": 8,
      "response": {"type": "json", "schema": [{"pointer": "/data/externalId", "field": "externalId", "required": true}]}
    },
    {"id": "save", "type": "update_record", "set": [{"field": "externalId", "value": "{fields.externalId}"}]}
  ]
}`

// leads is the collection of API.md.
func leads() *record.Collection {
	return &record.Collection{
		Key:  "leads",
		Name: "Leads",
		Fields: []record.Field{
			{Key: "name", Type: record.Text},
			{Key: "value", Type: record.Number},
			{Key: "vip", Type: record.Boolean},
			{Key: "dueDate", Type: record.DateTime},
			{Key: "items", Type: record.JSON},
			{Key: "externalId", Type: record.Text},
		},
		Stages: []string{"New", "Qualified", "Won"},
	}
}

const validSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func example(t testing.TB) *Automation {
	t.Helper()
	a, err := Decode([]byte(exampleDoc))
	if err != nil {
		t.Fatalf("Decode(example): %v", err)
	}
	return a
}

// summary is the part of a compiled automation that tests compare whole:
// compiled templates are represented by their sources.
type summary struct {
	Name, Collection string
	Enabled          bool
	Trigger          Trigger
	DueOffset        time.Duration
	Condition        string
	Steps            []stepSummary
	Signed           bool
}

type stepSummary struct {
	ID, Type    string
	Method, URL string
	Headers     []string // name: value source
	ContentType string
	Text        string
	JSONFields  []string // key type value-source, or key json literal: text
	FormFields  []string // key value-source
	Timeout     time.Duration
	MaxAttempts int
	Response    string
	Schema      []string // pointer -> field (required)
	Set         []string // field (type) = value source
}

func summarise(c *Compiled) summary {
	s := summary{
		Name: c.Name, Collection: c.Collection, Enabled: c.Enabled, Trigger: c.Trigger,
		DueOffset: c.DueOffset, Signed: c.Signer != nil,
	}
	if c.Condition != nil {
		s.Condition = c.Condition.Source()
	}
	for _, st := range c.Steps {
		ss := stepSummary{ID: st.StepID(), Type: st.StepType()}
		switch st := st.(type) {
		case *CallAPI:
			ss.Method = st.Method
			if st.URL != nil {
				ss.URL = "compiled"
			}
			for _, h := range st.Headers {
				ss.Headers = append(ss.Headers, h.Name+": "+h.Value.Source())
			}
			ss.ContentType = st.ContentType
			if st.Text != nil {
				ss.Text = st.Text.Source()
			}
			for _, f := range st.JSONFields {
				if f.Literal != nil {
					ss.JSONFields = append(ss.JSONFields, f.Key+" "+string(f.Type)+" literal: "+string(f.Literal))
					continue
				}
				ss.JSONFields = append(ss.JSONFields, f.Key+" "+string(f.Type)+" "+f.Value.Source())
			}
			for _, f := range st.FormFields {
				ss.FormFields = append(ss.FormFields, f.Key+" "+f.Value.Source())
			}
			ss.Timeout = st.Timeout
			ss.MaxAttempts = st.MaxAttempts
			ss.Response = st.Response.Type + " " + st.Response.Field
			for _, m := range st.Response.Schema {
				r := ""
				if m.Required {
					r = " (required)"
				}
				src := m.Pointer.String()
				switch {
				case m.Status:
					src = "status"
				case m.Header != "":
					src = "header " + m.Header
				}
				ss.Schema = append(ss.Schema, src+" -> "+m.Field+r)
			}
		case *UpdateRecord:
			for _, a := range st.Set {
				ss.Set = append(ss.Set, a.Field+" ("+string(a.Type)+") = "+a.Value.Source())
			}
		}
		s.Steps = append(s.Steps, ss)
	}
	return s
}

func TestCompileExample(t *testing.T) {
	t.Parallel()
	got, warnings, err := Compile(example(t), leads(), "", Options{})
	if err != nil {
		t.Fatalf("Compile(example) = %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("Compile(example) warnings = %v, want none", warnings)
	}
	want := summary{
		Name:       "Notify External CRM on New Lead",
		Collection: "leads",
		Enabled:    true,
		Trigger:    Trigger{Type: RecordAdded},
		Condition:  "record.value > 1000",
		Steps: []stepSummary{
			{
				ID: "crm", Type: TypeCallAPI, Method: "POST", URL: "compiled",
				Headers:     []string{"Authorization: Bearer {secrets.CRM_KEY}"},
				ContentType: ContentJSON,
				JSONFields: []string{
					"customerName string {record.name}",
					"orderValue number {record.value}",
					"isNewCustomer boolean true",
					"orderItems json {record.items}",
				},
				Timeout: 30 * time.Second, MaxAttempts: 8,
				Response: "json ",
				Schema:   []string{"/data/externalId -> externalId (required)"},
			},
			{ID: "save", Type: TypeUpdateRecord, Set: []string{"externalId (text) = {fields.externalId}"}},
		},
	}
	if diff := cmp.Diff(want, summarise(got)); diff != "" {
		t.Errorf("Compile(example) mismatch (-want +got):\n%s", diff)
	}
}

func TestCompileDefaults(t *testing.T) {
	t.Parallel()
	a, err := Decode([]byte(`{
		"name": "defaults", "collection": "leads", "trigger": {"type": "manual"},
		"steps": [
			{"type": "call_api", "url": "https://example.com/a", "body": {"contentType": "text/plain", "text": "hi {record.name}"}},
			{"type": "call_api", "url": "https://example.com/b", "response": {}},
			{"type": "call_api", "method": "PUT", "url": "https://example.com/c", "response": {"type": "text", "field": "reply"}},
			{"type": "update_record", "set": [{"field": "stage", "value": "Won"}, {"field": "vip", "value": "true"}]}
		]
	}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got, _, err := Compile(a, leads(), "", Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	want := summary{
		Name: "defaults", Collection: "leads", Enabled: true, Trigger: Trigger{Type: Manual},
		Steps: []stepSummary{
			{
				ID: "step1", Type: TypeCallAPI, Method: "POST", URL: "compiled",
				ContentType: ContentText, Text: "hi {record.name}",
				Timeout: DefaultTimeout, Response: "none ",
			},
			{ID: "step2", Type: TypeCallAPI, Method: "GET", URL: "compiled", Timeout: DefaultTimeout, Response: "none "},
			{ID: "step3", Type: TypeCallAPI, Method: "PUT", URL: "compiled", Timeout: DefaultTimeout, Response: "text reply"},
			{ID: "step4", Type: TypeUpdateRecord, Set: []string{"stage () = Won", "vip (boolean) = true"}},
		},
	}
	if diff := cmp.Diff(want, summarise(got)); diff != "" {
		t.Errorf("Compile(defaults) mismatch (-want +got):\n%s", diff)
	}
	// The defaults are written back into the document, which is how they
	// are stored.
	var ids, methods []string
	for _, s := range a.Steps {
		ids = append(ids, s.ID)
		methods = append(methods, s.Method)
	}
	if diff := cmp.Diff([]string{"step1", "step2", "step3", "step4"}, ids); diff != "" {
		t.Errorf("document step ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"POST", "GET", "PUT", ""}, methods); diff != "" {
		t.Errorf("document methods (-want +got):\n%s", diff)
	}
}

// TestCompileRequestAndResponseForms: JSON literals, form bodies, body in
// headers, and header and status capture for every response type.
func TestCompileRequestAndResponseForms(t *testing.T) {
	t.Parallel()
	a, err := Decode([]byte(`{
		"name": "forms", "collection": "leads", "trigger": {"type": "manual"},
		"steps": [
			{"id": "seed", "type": "call_api", "url": "https://example.com/a",
			 "headers": [{"name": "x-signature", "value": "sha256={hmacSHA256(secrets.K, body)}"}],
			 "body": {"contentType": "application/json", "fields": [
				{"key": "orderValue", "type": "number", "value": "1500.00"},
				{"key": "orderItems", "type": "json", "value": " [\n{ \"sku\": \"WIDGET-001\", \"quantity\": 10 }\n] "},
				{"key": "empty", "type": "json", "value": "{}"},
				{"key": "items", "type": "json", "value": "{record.items}"},
				{"key": "made", "type": "json", "value": "{ {\"n\": record.value} }"},
				{"key": "scalar", "type": "json", "value": "12345678901234567891"}
			 ]},
			 "response": {"type": "json", "schema": [
				{"pointer": "", "field": "whole"},
				{"header": "location", "field": "location", "required": true},
				{"status": true, "field": "httpStatus"}
			 ]}},
			{"id": "form", "type": "call_api", "url": "https://example.com/b",
			 "body": {"contentType": "application/x-www-form-urlencoded", "fields": [
				{"key": "name", "value": "{record.name}"}, {"key": "tag", "type": "string", "value": "a"}, {"key": "tag", "value": "b"}
			 ]},
			 "response": {"type": "text", "field": "reply", "schema": [{"status": true, "field": "formStatus"}]}},
			{"id": "none", "type": "call_api", "url": "https://example.com/c",
			 "response": {"type": "none", "schema": [{"header": "Location", "field": "where"}]}}
		]
	}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	got, warnings, err := Compile(a, leads(), "", Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %v, want none", warnings)
	}
	want := []stepSummary{
		{
			ID: "seed", Type: TypeCallAPI, Method: "POST", URL: "compiled",
			Headers:     []string{"X-Signature: sha256={hmacSHA256(secrets.K, body)}"},
			ContentType: ContentJSON,
			JSONFields: []string{
				"orderValue number 1500.00",
				"orderItems json literal: [\n{ \"sku\": \"WIDGET-001\", \"quantity\": 10 }\n]",
				"empty json literal: {}",
				"items json {record.items}",
				`made json { {"n": record.value} }`,
				"scalar json 12345678901234567891",
			},
			Timeout: DefaultTimeout, Response: "json ",
			Schema: []string{" -> whole", "header Location -> location (required)", "status -> httpStatus"},
		},
		{
			ID: "form", Type: TypeCallAPI, Method: "POST", URL: "compiled", ContentType: ContentForm,
			FormFields: []string{"name {record.name}", "tag a", "tag b"},
			Timeout:    DefaultTimeout, Response: "text reply", Schema: []string{"status -> formStatus"},
		},
		{
			ID: "none", Type: TypeCallAPI, Method: "GET", URL: "compiled", Timeout: DefaultTimeout,
			Response: "none ", Schema: []string{"header Location -> where"},
		},
	}
	if diff := cmp.Diff(want, summarise(got).Steps); diff != "" {
		t.Errorf("Compile mismatch (-want +got):\n%s", diff)
	}
}

// TestCompileLiteralWarning: a literal that holds what looks like an
// expression is sent as written, with a warning.
func TestCompileLiteralWarning(t *testing.T) {
	t.Parallel()
	a := example(t)
	a.Steps[0].Body.Fields[3].Value = `{"name": "{record.name}"}`
	_, warnings, err := Compile(a, leads(), "", Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if len(warnings) != 1 || warnings[0].Path != "steps[0].body.fields[3].value" || !strings.Contains(warnings[0].Message, "sent as written") {
		t.Errorf("warnings = %v, want one at steps[0].body.fields[3].value saying the literal is sent as written", warnings)
	}
}

func TestCompileTimeoutAndSigning(t *testing.T) {
	t.Parallel()
	a := example(t)
	a.Steps[0].TimeoutSeconds = 120
	a.Signing = &Signing{Secret: SecretRedacted}
	got, _, err := Compile(a, leads(), validSecret, Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if d := got.Steps[0].(*CallAPI).Timeout; d != MaxTimeout {
		t.Errorf("Timeout = %v, want %v", d, MaxTimeout)
	}
	if got.Signer == nil {
		t.Errorf("Signer = nil, want one made from the given secret")
	}
	a.Signing = &Signing{Secret: validSecret}
	if got, _, err := Compile(a, leads(), "", Options{}); err != nil || got.Signer == nil {
		t.Errorf("Compile with the document's own secret = %v, signer %v, want a signer", err, got)
	}
}

// invalidTests each break the example document in one way.
var invalidTests = []struct {
	name   string
	coll   *record.Collection // nil: leads()
	mutate func(a *Automation)
	paths  []string // the problems' paths, in order
	msg    string   // fragment of the first problem's message
}{
	{
		name:   "name missing",
		mutate: func(a *Automation) { a.Name = " " },
		paths:  []string{"name"}, msg: "is required",
	},
	{
		name:   "collection missing",
		mutate: func(a *Automation) { a.Collection = "" },
		paths:  []string{"collection"}, msg: "is required",
	},
	{
		name:   "no steps",
		mutate: func(a *Automation) { a.Steps = nil },
		paths:  []string{"steps"}, msg: "at least one step",
	},
	{
		name:   "body with GET",
		mutate: func(a *Automation) { a.Steps[0].Method = "GET" },
		paths:  []string{"steps[0].body"}, msg: "a body is allowed only with POST, PUT or PATCH, not GET",
	},
	{
		name:   "body with DELETE",
		mutate: func(a *Automation) { a.Steps[0].Method = "DELETE" },
		paths:  []string{"steps[0].body"}, msg: "not DELETE",
	},
	{
		name:   "bad method",
		mutate: func(a *Automation) { a.Steps[0].Method = "FETCH"; a.Steps[0].Body = nil },
		paths:  []string{"steps[0].method"}, msg: "must be one of GET, POST, PUT, PATCH, DELETE",
	},
	{
		name:   "lower-case method",
		mutate: func(a *Automation) { a.Steps[0].Method = "post" },
		paths:  []string{"steps[0].method"}, msg: "must be one of GET, POST, PUT, PATCH, DELETE (in capitals: POST)",
	},
	{
		name:   "missing url",
		mutate: func(a *Automation) { a.Steps[0].URL = "" },
		paths:  []string{"steps[0].url"}, msg: "is required",
	},
	{
		name:   "blank url",
		mutate: func(a *Automation) { a.Steps[0].URL = "  " },
		paths:  []string{"steps[0].url"}, msg: "is required",
	},
	{
		name:   "broken url template",
		mutate: func(a *Automation) { a.Steps[0].URL = "https://api.example.com/customers/{record.externalId" },
		paths:  []string{"steps[0].url"}, msg: "unclosed '{'",
	},
	{
		name:   "url expression with an unknown root",
		mutate: func(a *Automation) { a.Steps[0].URL = "https://api.example.com/{customer.id}" },
		paths:  []string{"steps[0].url"}, msg: "unknown name `customer`",
	},
	{
		name: "broken header template",
		mutate: func(a *Automation) {
			a.Steps[0].Headers = append(a.Steps[0].Headers, Header{Name: "X-Trace", Value: "{record.}"})
		},
		paths: []string{"steps[0].headers[1].value"}, msg: "expected a name after `.`",
	},
	{
		name:   "broken body field template",
		mutate: func(a *Automation) { a.Steps[0].Body.Fields[2].Value = "{true" },
		paths:  []string{"steps[0].body.fields[2].value"}, msg: "unclosed '{'",
	},
	{
		name: "broken text body template",
		mutate: func(a *Automation) {
			a.Steps[0].Body = &Body{ContentType: ContentText, Text: "lone } brace"}
		},
		paths: []string{"steps[0].body.text"}, msg: "unmatched '}'",
	},
	{
		name:   "broken condition",
		mutate: func(a *Automation) { a.Condition = "record.value >" },
		paths:  []string{"condition"}, msg: "expected a value after `>`",
	},
	{
		name:   "condition with an unknown root",
		mutate: func(a *Automation) { a.Condition = "lead.value > 1" },
		paths:  []string{"condition"}, msg: "unknown name `lead`",
	},
	{
		name:   "invalid header name",
		mutate: func(a *Automation) { a.Steps[0].Headers[0].Name = "X Api Key" },
		paths:  []string{"steps[0].headers[0].name"}, msg: `"X Api Key" is not a valid header name`,
	},
	{
		name:   "empty header name",
		mutate: func(a *Automation) { a.Steps[0].Headers[0].Name = "" },
		paths:  []string{"steps[0].headers[0].name"}, msg: "is not a valid header name",
	},
	{
		name:   "reserved header",
		mutate: func(a *Automation) { a.Steps[0].Headers[0].Name = "Content-Length" },
		paths:  []string{"steps[0].headers[0].name"}, msg: "Content-Length is set by Autohook and cannot be overridden",
	},
	{
		name:   "reserved header in lower case",
		mutate: func(a *Automation) { a.Steps[0].Headers[0].Name = "host" },
		paths:  []string{"steps[0].headers[0].name"}, msg: "is set by Autohook",
	},
	{
		name:   "duplicate step id",
		mutate: func(a *Automation) { a.Steps[1].ID = "crm" },
		paths:  []string{"steps[1].id"}, msg: `duplicate step id "crm"`,
	},
	{
		name:   "bad step id",
		mutate: func(a *Automation) { a.Steps[0].ID = "call the crm" },
		paths:  []string{"steps[0].id"}, msg: "must be 1 to 64 letters",
	},
	{
		name:   "unknown step type",
		mutate: func(a *Automation) { a.Steps[1].Type = "send_email" },
		paths:  []string{"steps[1].type"}, msg: `unknown step type "send_email" (one of call_api, update_record)`,
	},
	{
		name:   "missing step type",
		mutate: func(a *Automation) { a.Steps[1].Type = "" },
		paths:  []string{"steps[1].type"}, msg: "is required",
	},
	{
		name:   "call_api option on update_record",
		mutate: func(a *Automation) { a.Steps[1].URL = "https://example.com" },
		paths:  []string{"steps[1].url"}, msg: "is not an option of update_record",
	},
	{
		name:   "call_api response on update_record",
		mutate: func(a *Automation) { a.Steps[1].Response = &Response{Type: ResponseNone} },
		paths:  []string{"steps[1].response"}, msg: "is not an option of update_record",
	},
	{
		name:   "update_record option on call_api",
		mutate: func(a *Automation) { a.Steps[0].Set = []Assignment{{Field: "name", Value: "x"}} },
		paths:  []string{"steps[0].set"}, msg: "is not an option of call_api",
	},
	{
		name:   "timeout too long",
		mutate: func(a *Automation) { a.Steps[0].TimeoutSeconds = 121 },
		paths:  []string{"steps[0].timeoutSeconds"}, msg: "must be between 1 and 120",
	},
	{
		name:   "timeout negative",
		mutate: func(a *Automation) { a.Steps[0].TimeoutSeconds = -1 },
		paths:  []string{"steps[0].timeoutSeconds"}, msg: "must be between 1 and 120",
	},
	{
		name:   "too many attempts",
		mutate: func(a *Automation) { a.Steps[0].MaxAttempts = 51 },
		paths:  []string{"steps[0].maxAttempts"}, msg: "must be between 1 and 50",
	},
	{
		name:   "negative attempts",
		mutate: func(a *Automation) { a.Steps[0].MaxAttempts = -1 },
		paths:  []string{"steps[0].maxAttempts"}, msg: "must be between 1 and 50",
	},
	{
		name:   "response pointer without a slash",
		mutate: func(a *Automation) { a.Steps[0].Response.Schema[0].Pointer = "a~2b" },
		paths:  []string{"steps[0].response.schema[0].pointer"}, msg: `must be empty or start with "/"`,
	},
	{
		name:   "response pointer with a bad escape",
		mutate: func(a *Automation) { a.Steps[0].Response.Schema[0].Pointer = "/a~2b" },
		paths:  []string{"steps[0].response.schema[0].pointer"}, msg: `"~" must be followed by "0" or "1"`,
	},
	{
		name: "response duplicate field",
		mutate: func(a *Automation) {
			a.Steps[0].Response.Schema = append(a.Steps[0].Response.Schema, Mapping{Pointer: "/id", Field: "externalId"})
		},
		paths: []string{"steps[0].response.schema[1].field"}, msg: `duplicate field "externalId"`,
	},
	{
		name:   "response field not a key",
		mutate: func(a *Automation) { a.Steps[0].Response.Schema[0].Field = "external id" },
		paths:  []string{"steps[0].response.schema[0].field"}, msg: "must start with a letter",
	},
	{
		name:   "response text without field",
		mutate: func(a *Automation) { a.Steps[0].Response = &Response{Type: ResponseText} },
		paths:  []string{"steps[0].response.field"}, msg: "is required",
	},
	{
		name:   "response json with field",
		mutate: func(a *Automation) { a.Steps[0].Response.Field = "reply" },
		paths:  []string{"steps[0].response.field"}, msg: "is for text responses",
	},
	{
		name:   "response none with a pointer",
		mutate: func(a *Automation) { a.Steps[0].Response.Type = ResponseNone },
		paths:  []string{"steps[0].response.schema[0].pointer"}, msg: "reads a JSON body, so it needs a json response (a none response captures headers and the status)",
	},
	{
		name:   "response none with field",
		mutate: func(a *Automation) { a.Steps[0].Response = &Response{Type: ResponseNone, Field: "reply"} },
		paths:  []string{"steps[0].response.type"}, msg: "is none",
	},
	{
		name: "response text with a pointer",
		mutate: func(a *Automation) {
			a.Steps[0].Response = &Response{Type: ResponseText, Field: "reply", Schema: []Mapping{{Pointer: "/id", Field: "id"}}}
		},
		paths: []string{"steps[0].response.schema[0].pointer"}, msg: "needs a json response",
	},
	{
		name: "response text field captured twice",
		mutate: func(a *Automation) {
			a.Steps[0].Response = &Response{Type: ResponseText, Field: "reply", Schema: []Mapping{{Status: true, Field: "reply"}}}
		},
		paths: []string{"steps[0].response.schema[0].field"}, msg: `duplicate field "reply"`,
	},
	{
		name: "response mapping with header and status",
		mutate: func(a *Automation) {
			a.Steps[0].Response.Schema = append(a.Steps[0].Response.Schema, Mapping{Header: "Location", Status: true, Field: "x"})
		},
		paths: []string{"steps[0].response.schema[1]"}, msg: "takes one of pointer, header and status",
	},
	{
		name: "response mapping with header and pointer",
		mutate: func(a *Automation) {
			a.Steps[0].Response.Schema = append(a.Steps[0].Response.Schema, Mapping{Header: "Location", Pointer: "/a", Field: "x"})
		},
		paths: []string{"steps[0].response.schema[1]"}, msg: "takes one of pointer, header and status",
	},
	{
		name: "response bad header name",
		mutate: func(a *Automation) {
			a.Steps[0].Response.Schema = append(a.Steps[0].Response.Schema, Mapping{Header: "Bad Name", Field: "x"})
		},
		paths: []string{"steps[0].response.schema[1].header"}, msg: `"Bad Name" is not a valid header name`,
	},
	{
		name:   "response unknown type",
		mutate: func(a *Automation) { a.Steps[0].Response.Type = "xml" },
		paths:  []string{"steps[0].response.type"}, msg: "must be none, text or json",
	},
	{
		name:   "body without content type",
		mutate: func(a *Automation) { a.Steps[0].Body.ContentType = "" },
		paths:  []string{"steps[0].body.contentType"}, msg: "is required",
	},
	{
		name:   "body with unknown content type",
		mutate: func(a *Automation) { a.Steps[0].Body.ContentType = "application/xml" },
		paths:  []string{"steps[0].body.contentType"}, msg: "must be text/plain, application/json or application/x-www-form-urlencoded",
	},
	{
		name:   "json body with text",
		mutate: func(a *Automation) { a.Steps[0].Body.Text = "x" },
		paths:  []string{"steps[0].body.text"}, msg: "is for text/plain bodies",
	},
	{
		name:   "text body with fields",
		mutate: func(a *Automation) { a.Steps[0].Body.ContentType = ContentText },
		paths:  []string{"steps[0].body.fields"}, msg: "are for application/json and form bodies",
	},
	{
		name: "form body with a typed field and text",
		mutate: func(a *Automation) {
			a.Steps[0].Body = &Body{ContentType: ContentForm, Text: "x", Fields: []BodyField{{Key: "a", Value: "1"}, {Key: "", Type: "number", Value: "2"}}}
		},
		paths: []string{"steps[0].body.text", "steps[0].body.fields[1].key", "steps[0].body.fields[1].type"}, msg: "is for text/plain bodies",
	},
	{
		name: "form body field with a broken template",
		mutate: func(a *Automation) {
			a.Steps[0].Body = &Body{ContentType: ContentForm, Fields: []BodyField{{Key: "a", Value: "{record.}"}}}
		},
		paths: []string{"steps[0].body.fields[0].value"}, msg: "expected a name after `.`",
	},
	{
		name: "json literal too long",
		mutate: func(a *Automation) {
			a.Steps[0].Body.Fields[3].Value = "[" + strings.Repeat(`"x",`, MaxTemplateLength/4) + `"x"]`
		},
		paths: []string{"steps[0].body.fields[3].value"}, msg: "must be at most 16384 bytes",
	},
	{
		name:   "a json object that is not valid JSON is a template",
		mutate: func(a *Automation) { a.Steps[0].Body.Fields[3].Value = `{"sku": "A",}` },
		paths:  []string{"steps[0].body.fields[3].value"}, msg: "this looks like JSON",
	},
	{
		name:   "a string field does not take literals",
		mutate: func(a *Automation) { a.Steps[0].Body.Fields[0].Value = `{"sku": "A"}` },
		paths:  []string{"steps[0].body.fields[0].value"}, msg: "this looks like JSON",
	},
	{
		name:   "body in the url",
		mutate: func(a *Automation) { a.Steps[0].URL = "https://api.example.com/{sha256(body)}" },
		paths:  []string{"steps[0].url"}, msg: "body is the request body as sent, which only header values can use",
	},
	{
		name:   "body in a body field",
		mutate: func(a *Automation) { a.Steps[0].Body.Fields[0].Value = "{body}" },
		paths:  []string{"steps[0].body.fields[0].value"}, msg: "only header values can use",
	},
	{
		name:   "body in a text body",
		mutate: func(a *Automation) { a.Steps[0].Body = &Body{ContentType: ContentText, Text: "{len(body)}"} },
		paths:  []string{"steps[0].body.text"}, msg: "only header values can use",
	},
	{
		name:   "body in the condition",
		mutate: func(a *Automation) { a.Condition = "body != ''" },
		paths:  []string{"condition"}, msg: "only header values can use",
	},
	{
		name:   "body in update_record",
		mutate: func(a *Automation) { a.Steps[1].Set[0].Value = "{body}" },
		paths:  []string{"steps[1].set[0].value"}, msg: "only header values can use",
	},
	{
		name:   "json body duplicate key",
		mutate: func(a *Automation) { a.Steps[0].Body.Fields[3].Key = "customerName" },
		paths:  []string{"steps[0].body.fields[3].key"}, msg: `duplicate key "customerName"`,
	},
	{
		name:   "json body field type",
		mutate: func(a *Automation) { a.Steps[0].Body.Fields[1].Type = "integer" },
		paths:  []string{"steps[0].body.fields[1].type"}, msg: "must be one of string, number, boolean, json",
	},
	{
		name:   "unknown trigger",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: "record_deleted"} },
		paths:  []string{"trigger.type"}, msg: `unknown trigger "record_deleted"`,
	},
	{
		name:   "missing trigger",
		mutate: func(a *Automation) { a.Trigger = Trigger{} },
		paths:  []string{"trigger.type"}, msg: "is required",
	},
	{
		name:   "fields on record_added",
		mutate: func(a *Automation) { a.Trigger.Fields = []string{"name"} },
		paths:  []string{"trigger.fields"}, msg: "is not an option of record_added",
	},
	{
		name:   "from and to on record_updated",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: RecordUpdated, From: "New", To: "Won"} },
		paths:  []string{"trigger.from", "trigger.to"}, msg: "is not an option of record_updated",
	},
	{
		name:   "field and offset on stage_changed",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: StageChanged, Field: "dueDate", Offset: "-1h"} },
		paths:  []string{"trigger.field", "trigger.offset"}, msg: "is not an option of stage_changed",
	},
	{
		name:   "fields on record_due",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: RecordDue, Field: "dueDate", Fields: []string{"name"}} },
		paths:  []string{"trigger.fields"}, msg: "is not an option of record_due",
	},
	{
		name:   "to on manual",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: Manual, To: "Won"} },
		paths:  []string{"trigger.to"}, msg: "is not an option of manual",
	},
	{
		name:   "record_updated field not in collection",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: RecordUpdated, Fields: []string{"name", "email"}} },
		paths:  []string{"trigger.fields[1]"}, msg: `collection "leads" has no field "email"`,
	},
	{
		name:   "stage_changed from not a stage",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: StageChanged, From: "Lost"} },
		paths:  []string{"trigger.from"}, msg: `collection "leads" has no stage "Lost"`,
	},
	{
		name:   "stage_changed to not a stage",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: StageChanged, From: "New", To: "won"} },
		paths:  []string{"trigger.to"}, msg: `collection "leads" has no stage "won"`,
	},
	{
		name:   "record_due without field",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: RecordDue, Offset: "-24h"} },
		paths:  []string{"trigger.field"}, msg: "is required",
	},
	{
		name:   "record_due on a field not in the collection",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: RecordDue, Field: "closeDate"} },
		paths:  []string{"trigger.field"}, msg: `collection "leads" has no field "closeDate"`,
	},
	{
		name:   "record_due on a text field",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: RecordDue, Field: "name"} },
		paths:  []string{"trigger.field"}, msg: `field "name" is text; a due trigger needs a date or datetime field`,
	},
	{
		name:   "record_due with a bad offset",
		mutate: func(a *Automation) { a.Trigger = Trigger{Type: RecordDue, Field: "dueDate", Offset: "yesterday"} },
		paths:  []string{"trigger.offset"}, msg: `must be a duration such as "-24h", "30m" or "-2d", got "yesterday"`,
	},
	{
		name:   "update_record sets an unknown field",
		mutate: func(a *Automation) { a.Steps[1].Set[0].Field = "crmId" },
		paths:  []string{"steps[1].set[0].field"}, msg: `collection "leads" has no field "crmId"`,
	},
	{
		name: "update_record sets a field twice",
		mutate: func(a *Automation) {
			a.Steps[1].Set = append(a.Steps[1].Set, Assignment{Field: "externalId", Value: "x"})
		},
		paths: []string{"steps[1].set[1].field"}, msg: `field "externalId" is set twice`,
	},
	{
		name:   "update_record sets nothing",
		mutate: func(a *Automation) { a.Steps[1].Set = nil },
		paths:  []string{"steps[1].set"}, msg: "at least one field",
	},
	{
		name:   "update_record with an empty field",
		mutate: func(a *Automation) { a.Steps[1].Set[0].Field = "" },
		paths:  []string{"steps[1].set[0].field"}, msg: "is required",
	},
	{
		name:   "update_record with a broken value",
		mutate: func(a *Automation) { a.Steps[1].Set[0].Value = "{fields.}" },
		paths:  []string{"steps[1].set[0].value"}, msg: "expected a name after `.`",
	},
	{
		name:   "update_record sets the stage of a collection without stages",
		coll:   &record.Collection{Key: "leads", Fields: leads().Fields},
		mutate: func(a *Automation) { a.Steps[1].Set[0].Field = "stage" },
		paths:  []string{"steps[1].set[0].field"}, msg: `collection "leads" has no stages`,
	},
	{
		name:   "signing with a bad secret",
		mutate: func(a *Automation) { a.Signing = &Signing{Secret: "whsec_not-base64!"} },
		paths:  []string{"signing.secret"}, msg: "not standard base64",
	},
	{
		name:   "signing with the redacted placeholder and no stored secret",
		mutate: func(a *Automation) { a.Signing = &Signing{Secret: SecretRedacted} },
		paths:  []string{"signing.secret"}, msg: "signing secret",
	},
	{
		name: "several problems at once, in document order",
		mutate: func(a *Automation) {
			a.Name = ""
			a.Trigger = Trigger{Type: "nope"}
			a.Condition = "("
			a.Steps[0].URL = ""
			a.Steps[0].Headers[0].Name = "Bad Name"
			a.Steps[1].Set[0].Field = "nope"
			a.Signing = &Signing{Secret: "whsec_"}
		},
		paths: []string{
			"name", "trigger.type", "condition", "steps[0].url", "steps[0].headers[0].name",
			"steps[1].set[0].field", "signing.secret",
		},
		msg: "is required",
	},
}

func TestCompileInvalid(t *testing.T) {
	t.Parallel()
	for _, tt := range invalidTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := example(t)
			tt.mutate(a)
			coll := tt.coll
			if coll == nil {
				coll = leads()
			}
			got, _, err := Compile(a, coll, "", Options{})
			if got != nil {
				t.Errorf("Compile = %+v with problems, want nil", got)
			}
			checkProblems(t, err, tt.paths, tt.msg)
		})
	}
}

// TestCompileTimeoutZero: an explicit "timeoutSeconds": 0 means the default,
// as an absent one does (docs/BEHAVIOUR.md).
func TestCompileTimeoutZero(t *testing.T) {
	t.Parallel()
	a, err := Decode([]byte(strings.Replace(exampleDoc, `"timeoutSeconds": 30`, `"timeoutSeconds": 0`, 1)))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	c, _, err := Compile(a, leads(), "", Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if got := c.Steps[0].(*CallAPI).Timeout; got != DefaultTimeout {
		t.Errorf("timeout = %v, want the default %v", got, DefaultTimeout)
	}
}

// TestCompileProblemOrderIsStable: the same document must give the same
// problems in the same order every time (API responses, tests, diffs).
func TestCompileProblemOrderIsStable(t *testing.T) {
	t.Parallel()
	var first []string
	for i := range 50 {
		a := example(t)
		a.Steps[1].Method = "POST"
		a.Steps[1].URL = "https://example.com"
		a.Steps[1].TimeoutSeconds = 5
		a.Steps[1].MaxAttempts = 2
		_, _, err := Compile(a, leads(), "", Options{})
		var pe *problem.Error
		if !errors.As(err, &pe) {
			t.Fatalf("Compile = %v, want *problem.Error", err)
		}
		var paths []string
		for _, p := range pe.Problems {
			paths = append(paths, p.Path)
		}
		if i == 0 {
			first = paths
			continue
		}
		if diff := cmp.Diff(first, paths); diff != "" {
			t.Fatalf("Compile %d gave another order (-first +now):\n%s", i, diff)
		}
	}
}

func TestCompileWarnsAboutSecretsInURL(t *testing.T) {
	t.Parallel()
	a := example(t)
	a.Steps[0].URL = "https://api.example.com/hook?key={secrets.CRM_KEY}"
	got, warnings, err := Compile(a, leads(), "", Options{})
	if err != nil || got == nil {
		t.Fatalf("Compile = %v, %v, want it to compile with a warning", got, err)
	}
	if len(warnings) != 1 || warnings[0].Path != "steps[0].url" || !strings.Contains(warnings[0].Message, "the URL uses a secret") {
		t.Errorf("warnings = %+v, want one at steps[0].url about the secret", warnings)
	}

	// Warnings come back with problems too.
	a.Name = ""
	_, warnings, err = Compile(a, leads(), "", Options{})
	if err == nil || len(warnings) != 1 {
		t.Errorf("Compile(no name) = %v, warnings %+v, want a problem and the warning", err, warnings)
	}

	// A secret in a header is where it belongs.
	_, warnings, _ = Compile(example(t), leads(), "", Options{})
	if len(warnings) != 0 {
		t.Errorf("warnings for a secret in a header = %+v, want none", warnings)
	}
}

func TestCompileWithoutCollection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(a *Automation)
	}{
		{"record_updated fields", func(a *Automation) { a.Trigger = Trigger{Type: RecordUpdated, Fields: []string{"email"}} }},
		{"stage_changed stages", func(a *Automation) { a.Trigger = Trigger{Type: StageChanged, From: "Lost", To: "Gone"} }},
		{"record_due text field", func(a *Automation) { a.Trigger = Trigger{Type: RecordDue, Field: "name", Offset: "-2d"} }},
		{"record_due unknown field", func(a *Automation) { a.Trigger = Trigger{Type: RecordDue, Field: "closeDate"} }},
		{"update_record unknown field", func(a *Automation) { a.Steps[1].Set[0].Field = "crmId" }},
		{"update_record stage", func(a *Automation) { a.Steps[1].Set[0].Field = "stage" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := example(t)
			tt.mutate(a)
			if _, _, err := Compile(a, nil, "", Options{}); err != nil {
				t.Errorf("Compile without collection = %v, want nil", err)
			}
			b := example(t)
			tt.mutate(b)
			noStages := leads()
			noStages.Stages = nil
			_, _, err1 := Compile(b, leads(), "", Options{})
			_, _, err2 := Compile(b, noStages, "", Options{})
			if err1 == nil && err2 == nil {
				t.Errorf("Compile with the collection = nil, want the collection checks to refuse it")
			}
		})
	}
	// Checks that need no collection still apply.
	a := example(t)
	a.Trigger = Trigger{Type: RecordDue}
	_, _, err := Compile(a, nil, "", Options{})
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Problems[0].Path != "trigger.field" {
		t.Errorf("Compile(record_due without field, no collection) = %v, want a problem at trigger.field", err)
	}
}

func TestCompileDueOffset(t *testing.T) {
	t.Parallel()
	a := example(t)
	a.Trigger = Trigger{Type: RecordDue, Field: "dueDate", Offset: "-2d"}
	got, _, err := Compile(a, leads(), "", Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if got.DueOffset != -48*time.Hour {
		t.Errorf("DueOffset = %v, want %v", got.DueOffset, -48*time.Hour)
	}
}

func TestParseOffset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "-24h", want: -24 * time.Hour},
		{in: "-2d", want: -48 * time.Hour},
		{in: "2d", want: 48 * time.Hour},
		{in: "0d", want: 0},
		{in: "30m", want: 30 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "-3650d", want: -3650 * 24 * time.Hour},
		{in: "3651d", wantErr: true},
		{in: "1.5d", wantErr: true},
		{in: "d", wantErr: true},
		{in: "x", wantErr: true},
		{in: "24", wantErr: true},
		{in: "", wantErr: true},
		{in: "-1w", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseOffset(tt.in)
		if tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), `must be a duration such as "-24h", "30m" or "-2d"`) {
				t.Errorf("ParseOffset(%q) = %v, %v, want a duration error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseOffset(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	a, err := Decode([]byte(`{"name": "n", "collection": "leads", "trigger": {"type": "manual"}, "steps": []}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !a.Enabled {
		t.Errorf("Enabled = false, want true when absent")
	}
	a, err = Decode([]byte(`{"name": "n", "enabled": false}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if a.Enabled {
		t.Errorf(`Enabled = true, want false as given`)
	}

	a = example(t)
	if a.Steps[0].Body == nil || len(a.Steps[0].Body.Fields) != 4 || a.Steps[0].Response.Schema[0].Pointer != "/data/externalId" {
		t.Errorf("Decode(example) = %+v, want the body fields and schema", a.Steps[0])
	}
}

func TestDecodeProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want problem.List
	}{
		{
			name: "unknown top-level field",
			in:   `{"name": "n", "trigers": {}}`,
			want: problem.List{{Path: "trigers", Message: "unknown field"}},
		},
		{
			name: "unknown nested fields",
			in: `{"name": "n", "trigger": {"type": "manual", "feilds": []}, "steps": [{"type": "call_api"},
				{"type": "call_api", "headers": [{"name": "a", "value": "b"}, {"nmae": "c"}], "response": {"type": "json", "schema": [{"pointer": "", "fild": "x"}]}}]}`,
			want: problem.List{
				{Path: "steps[1].headers[1].nmae", Message: "unknown field"},
				{Path: "steps[1].response.schema[0].fild", Message: "unknown field"},
				{Path: "trigger.feilds", Message: "unknown field"},
			},
		},
		{
			name: "wrong types",
			in:   `{"name": 1, "enabled": "yes", "steps": [{"timeoutSeconds": "30", "maxAttempts": 1.5}]}`,
			want: problem.List{
				{Path: "enabled", Message: "must be true or false, got a string"},
				{Path: "name", Message: "must be a string, got a number"},
				{Path: "steps[0].maxAttempts", Message: "must be a whole number, got 1.5"},
				{Path: "steps[0].timeoutSeconds", Message: "must be a whole number, got a string"},
			},
		},
		{
			name: "case-mismatched key",
			in:   `{"Name": "n"}`,
			want: problem.List{{Path: "Name", Message: "unknown field"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.in))
			var pe *problem.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode = %T %v, want *problem.Error", err, err)
			}
			if diff := cmp.Diff(tt.want, pe.Problems); diff != "" {
				t.Errorf("Decode problems mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeTimeFieldPath(t *testing.T) {
	t.Parallel()
	_, err := Decode([]byte(`{"name": "n", "createdAt": "yesterday"}`))
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Problems[0].Path != "createdAt" {
		t.Errorf("Decode = %v, want a problem at createdAt", err)
	}
}

func TestDecodeSyntaxError(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `{"name": "n",}`, `{"name": "n"} {}`, "{\n\"steps\": [\n{]"} {
		_, err := Decode([]byte(in))
		var se *strictjson.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Decode(%q) = %T %v, want *strictjson.SyntaxError", in, err, err)
		}
	}
}

func TestRedacted(t *testing.T) {
	t.Parallel()
	a := example(t)
	a.Signing = &Signing{Secret: validSecret}
	r := a.Redacted()
	if r.Signing.Secret != SecretRedacted {
		t.Errorf("Redacted secret = %q, want %q", r.Signing.Secret, SecretRedacted)
	}
	if a.Signing.Secret != validSecret {
		t.Errorf("Redacted changed the original's secret to %q", a.Signing.Secret)
	}
	if b := example(t).Redacted(); b.Signing != nil {
		t.Errorf("Redacted of an unsigned automation has signing %+v, want nil", b.Signing)
	}
}

func FuzzDecodeCompile(f *testing.F) {
	f.Add([]byte(exampleDoc))
	for _, tt := range invalidTests {
		a := example(f)
		tt.mutate(a)
		b, err := json.Marshal(a)
		if err != nil {
			f.Fatalf("marshal %s: %v", tt.name, err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"name":"n","collection":"leads","trigger":{"type":"record_due","field":"dueDate","offset":"-2d"},"steps":[{"type":"call_api","url":"https://x/{record.id}?q={upper(record.name)}","response":{"type":"text","field":"r"}}]}`))
	f.Add([]byte(`{"name":"n","collection":"leads","trigger":{"type":"stage_changed","from":"New","to":"Won"},"condition":"record.vip","steps":[{"type":"update_record","set":[{"field":"stage","value":"Won"}]}],"signing":{"secret":"` + validSecret + `"}}`))
	f.Add([]byte(`{"name":"n","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"call_api","url":"https://x/","maxPerSecond":2.5,"auth":{"type":"oauth2_client_credentials","tokenUrl":"https://a/{secrets.T}","clientId":"c","clientSecret":"{secrets.S}","scopes":["a.b","c"]}}]}`))
	f.Add([]byte(`{"name":"n","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"call_api","url":"https://x/","auth":{"type":"basic","username":"u:{record.name}","password":"{secrets.P}","token":"t"}}]}`))
	f.Add([]byte(`{"nmae":1}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			var (
				se *strictjson.SyntaxError
				pe *problem.Error
			)
			if !errors.As(err, &se) && !errors.As(err, &pe) {
				t.Fatalf("Decode(%q) = %T %v, want *strictjson.SyntaxError or *problem.Error", data, err, err)
			}
			return
		}
		for _, coll := range []*record.Collection{leads(), nil} {
			got, _, err := Compile(a, coll, "", Options{})
			if err != nil {
				var pe *problem.Error
				if !errors.As(err, &pe) || len(pe.Problems) == 0 {
					t.Fatalf("Compile(%q) = %T %v, want *problem.Error", data, err, err)
				}
				if got != nil {
					t.Fatalf("Compile(%q) returned an automation with problems", data)
				}
				continue
			}
			if got == nil || len(got.Steps) != len(a.Steps) || len(got.Steps) == 0 {
				t.Fatalf("Compile(%q) = %+v, want one compiled step per step", data, got)
			}
			ids := map[string]bool{}
			for _, s := range got.Steps {
				if s.StepID() == "" || ids[s.StepID()] || !slices.Contains(StepTypes, s.StepType()) {
					t.Fatalf("Compile(%q) step %q %q: want a unique id and a known type", data, s.StepID(), s.StepType())
				}
				ids[s.StepID()] = true
			}
		}
	})
}
