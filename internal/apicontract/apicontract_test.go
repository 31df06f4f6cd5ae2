package apicontract

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const doc = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/api/v1/things": {
      "post": {
        "operationId": "createThing",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["name"], "additionalProperties": false,
          "properties": {"name": {"type": "string"}, "size": {"type": "integer", "minimum": 0}}}}}},
        "responses": {
          "201": {"description": "made", "content": {"application/json": {"schema": {
            "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}},
          "422": {"description": "refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
      }
    }
  },
  "components": {"schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object"}}}}}
}`

// TestCheck: each rule of the contract, on a tiny document.
func TestCheck(t *testing.T) {
	t.Parallel()
	c, err := New([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		method, path string
		body         string
		status       int
		resp         string
		wantErr      string // "" for a kept contract
	}{
		{name: "valid both ways", method: "POST", path: "/api/v1/things", body: `{"name":"a"}`, status: 201, resp: `{"id":"t1"}`},
		{name: "an invalid request refused", method: "POST", path: "/api/v1/things", body: `{"size":-1}`, status: 422, resp: `{"error":{"code":"x","message":"y"}}`},
		{name: "an invalid request accepted", method: "POST", path: "/api/v1/things", body: `{"size":-1}`, status: 201, resp: `{"id":"t1"}`,
			wantErr: "the server answered 201 to a request openapi.json refuses"},
		{name: "an answer off its schema", method: "POST", path: "/api/v1/things", body: `{"name":"a"}`, status: 201, resp: `{"ident":"t1"}`,
			wantErr: "the answer 201 does not match openapi.json"},
		{name: "a status not described", method: "POST", path: "/api/v1/things", body: `{"name":"a"}`, status: 429, resp: `{"error":{}}`,
			wantErr: "the answer 429 does not match openapi.json"},
		{name: "an unknown path answers 404", method: "GET", path: "/api/v1/nothing", status: 404, resp: `{"error":{"code":"not_found","message":"no"}}`},
		{name: "an unknown path answers something else", method: "GET", path: "/api/v1/nothing", status: 200, resp: `{}`,
			wantErr: "is not in openapi.json"},
		{name: "another method answers 405", method: "DELETE", path: "/api/v1/things", status: 405, resp: `{"error":{"code":"method_not_allowed","message":"no"}}`},
		{name: "another method answers 404", method: "DELETE", path: "/api/v1/things", status: 404, resp: `{"error":{"code":"not_found","message":"no"}}`,
			wantErr: "want 405"},
		{name: "a dot segment redirected", method: "GET", path: "/api/v1/./things", status: 307, resp: ``},
		{name: "outside the API", method: "GET", path: "/records", status: 200, resp: `<html>`},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		h := http.Header{"Content-Type": {"application/json"}}
		err := c.Check(req, []byte(tt.body), tt.status, h, []byte(tt.resp))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v, want the contract kept", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestTransport: a client through Transport fails its test when the
// server breaks the contract, and passes the answer on unchanged.
func TestTransport(t *testing.T) {
	t.Parallel()
	c, err := New([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"ident":"t1"}`) // off the schema
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	client := &http.Client{Transport: c.Transport(rec, nil)}
	resp, err := client.Post(srv.URL+"/api/v1/things", "application/json", strings.NewReader(`{"name":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"ident":"t1"}` {
		t.Errorf("body passed on = %q", body)
	}
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "does not match openapi.json") {
		t.Errorf("reported %q, want one broken contract", rec.errs)
	}

	// Handler does the same for a handler called directly.
	rec2 := &recorder{TB: t}
	h := c.Handler(rec2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"t1"}`)
	}))
	w := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/v1/things", strings.NewReader(`{"name":"a","extra":1}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(w, req)
	if w.Code != http.StatusCreated || w.Body.String() != `{"id":"t1"}` {
		t.Errorf("answer passed on = %d %q", w.Code, w.Body)
	}
	if len(rec2.errs) != 1 || !strings.Contains(rec2.errs[0], "refuses") {
		t.Errorf("reported %q, want the accepted invalid request", rec2.errs)
	}
}

// recorder keeps what would fail a test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
