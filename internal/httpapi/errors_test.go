package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/autohook"
)

// The bootstrap (instance admin) key and web UI admin password of newTestAPI.
const (
	testAdminKey      = "ahk_test_instance_admin_key_0123456789"
	testAdminPassword = "test-admin-password"
)

// newTestAPI builds the API on the real stack, as internal/server does, on a
// fresh SQLite database. The queue is not started: runs are created but not
// worked. It returns the handler and the instance admin's API key.
func newTestAPI(t *testing.T) (http.Handler, string) {
	t.Helper()
	return newTestAPIWith(t, "", nil)
}

// response is an API answer, decoded.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON (%v): %s", r.status, err, r.body)
	}
}

// call sends one request with the Authorization header authz ("" sends
// none).
func call(t *testing.T, h http.Handler, authz, method, path, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// mustCall sends a request with the API key that must answer want.
func mustCall(t *testing.T, h http.Handler, key, method, path, body string, want int) response {
	t.Helper()
	r := call(t, h, "Bearer "+key, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func TestErrorEnvelope(t *testing.T) {
	t.Parallel()
	h, admin := newTestAPI(t)
	mustCall(t, h, admin, "POST", "/api/v1/collections",
		`{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"},{"key":"value","type":"number"}],"stages":["New","Won"]}`,
		http.StatusCreated)
	var created struct {
		Key string `json:"key"`
	}
	mustCall(t, h, admin, "POST", "/api/v1/api-keys", `{"name":"ci"}`, http.StatusCreated).decode(t, &created)
	if !strings.HasPrefix(created.Key, autohook.KeyPrefix) {
		t.Fatalf("created key %q does not start with %q", created.Key, autohook.KeyPrefix)
	}
	member := created.Key

	bigBody := `{"key":"big","name":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`
	brokenHeader := `{
		"name": "Broken header",
		"collection": "leads",
		"trigger": {"type": "record_added"},
		"steps": [{
			"id": "crm", "type": "call_api", "method": "POST", "url": "https://api.example.com/x",
			"headers": [{"name": "X-Lead", "value": "{record.}"}]
		}]
	}`

	tests := []struct {
		name         string
		authz        string // the Authorization header; "" sends none
		method, path string
		body         string
		status       int
		code         string
		paths        []string // the details' paths, in order; nil for none
		msgHas       string   // a part of the message
		header       string   // a header that must be set
		headerHas    string   // a part of its value
	}{
		{
			name: "no authorization", method: "GET", path: "/api/v1/collections",
			status: 401, code: "unauthorized", header: "WWW-Authenticate", headerHas: `Bearer realm="autohook"`,
		},
		{
			name: "not a bearer key", authz: "Basic " + admin, method: "GET", path: "/api/v1/collections",
			status: 401, code: "unauthorized", header: "WWW-Authenticate", headerHas: "Bearer",
		},
		{
			name: "wrong key", authz: "Bearer ahk_not_a_key_of_this_server", method: "GET", path: "/api/v1/collections",
			status: 401, code: "unauthorized", header: "WWW-Authenticate", headerHas: `error="invalid_token"`,
		},
		{
			name: "malformed JSON", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections",
			body:   "{\n  \"key\": \"x\",\n  \"name\": ,\n}",
			status: 400, code: "bad_request", msgHas: "at line 3, column ", // the exact column: TestSyntaxErrorPosition
		},
		{
			name: "empty body", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections",
			status: 400, code: "bad_request", msgHas: "empty",
		},
		{
			name: "trailing data", authz: "Bearer " + admin, method: "POST", path: "/api/v1/api-keys", body: `{"name":"a"} {}`,
			status: 400, code: "bad_request", msgHas: "line 1, column",
		},
		{
			name: "body over 1 MiB", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections", body: bigBody,
			status: 413, code: "too_large", msgHas: "1048576",
		},
		{
			name: "automation body over 1 MiB", authz: "Bearer " + admin, method: "POST", path: "/api/v1/automations", body: bigBody,
			status: 413, code: "too_large",
		},
		{
			name: "unknown field in a collection", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections",
			body:   `{"key":"typo","fields":[{"key":"ok","type":"text"},{"kee":"name","type":"text"}]}`,
			status: 422, code: "validation_failed", paths: []string{"fields[1].kee"},
		},
		{
			name: "every unknown field at once", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections",
			body:   `{"key":"typo","nmae":"x","fields":[{"kee":"name","type":"text"}]}`,
			status: 422, code: "validation_failed", paths: []string{"fields[0].kee", "nmae"},
		},
		{
			name: "bad field type in a collection", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections",
			body:   `{"key":"typed","fields":[{"key":"name","type":"string"}]}`,
			status: 422, code: "validation_failed", paths: []string{"fields[0].type"},
		},
		{
			name: "duplicate collection", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections",
			body:   `{"key":"leads"}`,
			status: 409, code: "conflict",
		},
		{
			name: "record with a wrongly typed field", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections/leads/records",
			body:   `{"fields":{"name":"Ada","value":"lots"}}`,
			status: 422, code: "validation_failed", paths: []string{"fields.value"},
		},
		{
			name: "record with an unknown field", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections/leads/records",
			body:   `{"fields":{"nmae":"Ada"}}`,
			status: 422, code: "validation_failed", paths: []string{"fields.nmae"},
		},
		{
			name: "record with an unknown stage", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections/leads/records",
			body:   `{"fields":{"name":"Ada"},"stage":"Lost"}`,
			status: 422, code: "validation_failed", paths: []string{"stage"},
		},
		{
			name: "record field of the wrong JSON type for the input", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections/leads/records",
			body:   `{"fields":[1,2]}`,
			status: 422, code: "validation_failed", paths: []string{"fields"},
		},
		{
			name: "unknown collection", authz: "Bearer " + admin, method: "GET", path: "/api/v1/collections/nope",
			status: 404, code: "not_found",
		},
		{
			name: "record of an unknown collection", authz: "Bearer " + admin, method: "POST", path: "/api/v1/collections/nope/records",
			body:   `{"fields":{}}`,
			status: 404, code: "not_found",
		},
		{
			name: "unknown record", authz: "Bearer " + admin, method: "GET", path: "/api/v1/collections/leads/records/rec_nope",
			status: 404, code: "not_found",
		},
		{
			name: "unknown run", authz: "Bearer " + admin, method: "POST", path: "/api/v1/runs/run_nope/retry",
			status: 404, code: "not_found",
		},
		{
			name: "unknown endpoint under /api/", authz: "Bearer " + admin, method: "GET", path: "/api/v1/nope",
			status: 404, code: "not_found", msgHas: "/api/v1/nope",
		},
		{
			name: "unknown endpoint without a key", method: "GET", path: "/api/v2/collections",
			status: 404, code: "not_found",
		},
		{
			name: "organisations with a member key", authz: "Bearer " + member, method: "GET", path: "/api/v1/organisations",
			status: 403, code: "forbidden",
		},
		{
			name: "create organisation with a member key", authz: "Bearer " + member, method: "POST", path: "/api/v1/organisations",
			body:   `{"name":"Beta"}`,
			status: 403, code: "forbidden",
		},
		{
			name: "limit 0", authz: "Bearer " + admin, method: "GET", path: "/api/v1/collections?limit=0",
			status: 422, code: "validation_failed", paths: []string{"limit"},
		},
		{
			name: "limit 501", authz: "Bearer " + admin, method: "GET", path: "/api/v1/collections/leads/records?limit=501",
			status: 422, code: "validation_failed", paths: []string{"limit"},
		},
		{
			name: "limit not a number", authz: "Bearer " + admin, method: "GET", path: "/api/v1/runs?limit=ten",
			status: 422, code: "validation_failed", paths: []string{"limit"},
		},
		{
			name: "malformed cursor", authz: "Bearer " + admin, method: "GET", path: "/api/v1/collections?cursor=%21%21",
			status: 400, code: "bad_request", msgHas: "cursor",
		},
		{
			name: "unknown run status", authz: "Bearer " + admin, method: "GET", path: "/api/v1/runs?status=done",
			status: 422, code: "validation_failed", paths: []string{"status"},
		},
		{
			name: "malformed since", authz: "Bearer " + admin, method: "GET", path: "/api/v1/runs?since=yesterday",
			status: 422, code: "validation_failed", paths: []string{"since"},
		},
		{
			name: "automation with a broken header template", authz: "Bearer " + admin, method: "POST", path: "/api/v1/automations",
			body:   brokenHeader,
			status: 422, code: "validation_failed", paths: []string{"steps[0].headers[0].value"},
		},
		{
			name: "automation with an unknown collection", authz: "Bearer " + admin, method: "POST", path: "/api/v1/automations",
			body:   `{"name":"x","collection":"nope","trigger":{"type":"record_added"},"steps":[{"type":"call_api","url":"https://api.example.com/"}]}`,
			status: 422, code: "validation_failed", paths: []string{"collection"},
		},
		{
			name: "test with a broken header template", authz: "Bearer " + admin, method: "POST", path: "/api/v1/automations/test",
			body:   `{"automation":` + brokenHeader + `,"record":{"fields":{"name":"Ada"}}}`,
			status: 422, code: "validation_failed", paths: []string{"automation.steps[0].headers[0].value"},
		},
		{
			name: "start run without a record", authz: "Bearer " + admin, method: "POST", path: "/api/v1/automations/aut_nope/runs",
			body:   `{}`,
			status: 422, code: "validation_failed", paths: []string{"recordId"},
		},
		{
			name: "secret with a bad name", authz: "Bearer " + admin, method: "PUT", path: "/api/v1/secrets/1bad",
			body:   `{"value":"x"}`,
			status: 422, code: "validation_failed", paths: []string{"name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call(t, h, tt.authz, tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Errorf("status %d, want %d", r.status, tt.status)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var env struct {
				Error *struct {
					Code    string `json:"code"`
					Message string `json:"message"`
					Details []struct {
						Path    string `json:"path"`
						Message string `json:"message"`
					} `json:"details"`
				} `json:"error"`
			}
			r.decode(t, &env)
			if env.Error == nil {
				t.Fatalf("no error envelope: %s", r.body)
			}
			if env.Error.Code != tt.code {
				t.Errorf("code %q, want %q (message %q)", env.Error.Code, tt.code, env.Error.Message)
			}
			if env.Error.Message == "" {
				t.Error("empty message")
			}
			if !strings.Contains(env.Error.Message, tt.msgHas) {
				t.Errorf("message %q, want it to contain %q", env.Error.Message, tt.msgHas)
			}
			var paths []string
			for _, d := range env.Error.Details {
				paths = append(paths, d.Path)
				if d.Message == "" {
					t.Errorf("detail at %q has no message", d.Path)
				}
			}
			if diff := cmp.Diff(tt.paths, paths); diff != "" {
				t.Errorf("detail paths (-want +got):\n%s\nbody: %s", diff, r.body)
			}
			if tt.header != "" && !strings.Contains(r.header.Get(tt.header), tt.headerHas) {
				t.Errorf("%s: %q, want it to contain %q", tt.header, r.header.Get(tt.header), tt.headerHas)
			}
		})
	}
}

// TestSyntaxErrorPosition checks that a malformed body's line and column
// point at the offending character (1-based, as editors count).
func TestSyntaxErrorPosition(t *testing.T) {
	t.Parallel()
	// internal/strictjson reports the column after the offending character:
	// it passes json.SyntaxError.Offset (the number of bytes read, including
	// the bad one) and, for trailing data, Decoder.InputOffset after the
	// extra token, as the position. Remove this skip once that is fixed.
	h, admin := newTestAPI(t)
	tests := []struct {
		name, body, want string
	}{
		{"first character", `x`, "at line 1, column 1:"},
		{"missing value", `{"a": ,}`, "at line 1, column 7:"},
		{"third line", "{\n  \"key\": \"x\",\n  \"name\": ,\n}", "at line 3, column 11:"},
		{"trailing data", `{"name":"a"} {}`, "at line 1, column 14:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var env struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			mustCall(t, h, admin, "POST", "/api/v1/api-keys", tt.body, http.StatusBadRequest).decode(t, &env)
			if !strings.Contains(env.Error.Message, tt.want) {
				t.Errorf("message %q, want it to contain %q", env.Error.Message, tt.want)
			}
		})
	}
}

// TestOutOfRangeNumberPath checks that a number too large for a float64 is
// refused at the path of the field that holds it.
func TestOutOfRangeNumberPath(t *testing.T) {
	t.Parallel()
	// internal/strictjson accepts 1e400 while walking (json.Number), then
	// json.Unmarshal into map[string]any fails with an UnmarshalTypeError
	// whose Field is "fields" (the map key is not part of it), so the
	// problem is reported at "fields". Remove this skip once that is fixed.
	h, admin := newTestAPI(t)
	mustCall(t, h, admin, "POST", "/api/v1/collections", `{"key":"leads","fields":[{"key":"value","type":"number"}]}`, http.StatusCreated)
	var env struct {
		Error struct {
			Details []struct {
				Path string `json:"path"`
			} `json:"details"`
		} `json:"error"`
	}
	mustCall(t, h, admin, "POST", "/api/v1/collections/leads/records", `{"fields":{"value":1e400}}`, http.StatusUnprocessableEntity).decode(t, &env)
	var got []string
	for _, d := range env.Error.Details {
		got = append(got, d.Path)
	}
	if diff := cmp.Diff([]string{"fields.value"}, got); diff != "" {
		t.Errorf("detail paths (-want +got):\n%s", diff)
	}
}

func TestCursorPaging(t *testing.T) {
	t.Parallel()
	h, admin := newTestAPI(t)
	for _, k := range []string{"c1", "c2", "c3"} {
		mustCall(t, h, admin, "POST", "/api/v1/collections", `{"key":"`+k+`"}`, http.StatusCreated)
	}
	type page struct {
		Items []struct {
			Key string `json:"key"`
		} `json:"items"`
		NextCursor *string `json:"nextCursor"`
	}
	keys := func(p page) []string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.Key)
		}
		return out
	}

	var first page
	mustCall(t, h, admin, "GET", "/api/v1/collections?limit=2", "", http.StatusOK).decode(t, &first)
	if diff := cmp.Diff([]string{"c3", "c2"}, keys(first)); diff != "" {
		t.Errorf("first page, newest first (-want +got):\n%s", diff)
	}
	if first.NextCursor == nil || *first.NextCursor == "" {
		t.Fatal("first page has no nextCursor")
	}

	var second page
	r := mustCall(t, h, admin, "GET", "/api/v1/collections?limit=2&cursor="+*first.NextCursor, "", http.StatusOK)
	r.decode(t, &second)
	if diff := cmp.Diff([]string{"c1"}, keys(second)); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}
	if second.NextCursor != nil {
		t.Errorf("last page has nextCursor %q, want none: %s", *second.NextCursor, r.body)
	}
}
