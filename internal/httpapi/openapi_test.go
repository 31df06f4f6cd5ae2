package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// nodeRoutes are the node's own endpoints (internal/server), outside
// /api/v1 and without an API key, described in the same document.
var nodeRoutes = []string{"GET /healthz", "GET /readyz", "GET /metrics"}

// operationMethods are the keys of an OpenAPI path item that are operations.
var operationMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// spec is the part of an OpenAPI document the tests look into.
type spec struct {
	OpenAPI    string                                `json:"openapi"`
	Info       map[string]any                        `json:"info"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]map[string]any  `json:"securitySchemes"`
		Parameters      map[string]json.RawMessage `json:"parameters"`
	} `json:"components"`
}

type operation struct {
	OperationID string            `json:"operationId"`
	Summary     string            `json:"summary"`
	Parameters  []json.RawMessage `json:"parameters"`
	Responses   map[string]any    `json:"responses"`
	Security    *[]map[string]any `json:"security"`
}

type parameter struct {
	Ref      string `json:"$ref"`
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	var s spec
	dec := json.NewDecoder(bytes.NewReader(openAPI))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return &s
}

// operations returns the spec's operations by "METHOD /path".
func (s *spec) operations(t *testing.T) map[string]operation {
	t.Helper()
	out := map[string]operation{}
	for path, item := range s.Paths {
		for key, raw := range item {
			if !slices.Contains(operationMethods, key) {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("paths[%q].%s: %v", path, key, err)
			}
			out[strings.ToUpper(key)+" "+path] = op
		}
	}
	return out
}

// resolveParameter follows a $ref to components.parameters.
func (s *spec) resolveParameter(t *testing.T, raw json.RawMessage) parameter {
	t.Helper()
	var p parameter
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("parameter %s: %v", raw, err)
	}
	if p.Ref == "" {
		return p
	}
	name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
	if !ok {
		t.Fatalf("parameter $ref %q does not point into #/components/parameters", p.Ref)
	}
	target, ok := s.Components.Parameters[name]
	if !ok {
		t.Fatalf("parameter $ref %q: no such parameter", p.Ref)
	}
	return s.resolveParameter(t, target)
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	if !json.Valid(openAPI) {
		t.Fatal("openapi.json is not valid JSON")
	}
	s := loadSpec(t)
	if s.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want %q", s.OpenAPI, "3.0.3")
	}
	for _, k := range []string{"title", "version"} {
		if v, _ := s.Info[k].(string); v == "" {
			t.Errorf("info.%s is missing", k)
		}
	}
	if diff := cmp.Diff([]map[string][]string{{"bearerAuth": {}}}, s.Security); diff != "" {
		t.Errorf("global security (-want +got):\n%s", diff)
	}
	got := s.Components.SecuritySchemes["bearerAuth"]
	if got["type"] != "http" || got["scheme"] != "bearer" {
		t.Errorf("components.securitySchemes.bearerAuth = %v, want type http, scheme bearer", got)
	}
}

// TestOpenAPIFormatting keeps the hand-written file pretty-printed with a
// two-space indent, so that diffs of it stay readable.
func TestOpenAPIFormatting(t *testing.T) {
	t.Parallel()
	var want bytes.Buffer
	if err := json.Indent(&want, openAPI, "", "  "); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimRight(string(openAPI), "\n")
	if w := strings.TrimRight(want.String(), "\n"); got != w {
		gl, wl := strings.Split(got, "\n"), strings.Split(w, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("openapi.json is not indented with two spaces: line %d is %q, want %q", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("openapi.json is not indented with two spaces: %d lines, want %d", len(gl), len(wl))
	}
}

func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	s := loadSpec(t)
	ops := s.operations(t)

	want := map[string]bool{openAPIRoute: true}
	for _, r := range nodeRoutes {
		want[r] = true
	}
	for _, rt := range routes {
		want[rt.method+" "+rt.pattern] = true
	}
	var missing, extra []string
	for k := range want {
		if _, ok := ops[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range ops {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("route %s is not described in openapi.json", k)
	}
	for _, k := range extra {
		t.Errorf("openapi.json describes %s, which is not a route", k)
	}

	ids := map[string]string{}
	for k, op := range ops {
		switch {
		case op.OperationID == "":
			t.Errorf("%s has no operationId", k)
		case ids[op.OperationID] != "":
			t.Errorf("%s and %s share operationId %q", k, ids[op.OperationID], op.OperationID)
		default:
			ids[op.OperationID] = k
		}
		if strings.TrimSpace(op.Summary) == "" || strings.Contains(op.Summary, "\n") {
			t.Errorf("%s: summary %q, want one line", k, op.Summary)
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s has no responses", k)
		}
		if k == openAPIRoute || slices.Contains(nodeRoutes, k) {
			// no API key: [] or requirements without bearerAuth (the
			// metrics token, optional beside {})
			if op.Security == nil {
				t.Errorf("%s: no security, want [] (it needs no API key)", k)
			} else {
				for _, req := range *op.Security {
					if _, ok := req["bearerAuth"]; ok {
						t.Errorf("%s: security %v, but it needs no API key", k, *op.Security)
					}
				}
			}
			continue
		}
		if _, ok := op.Responses["401"]; !ok {
			t.Errorf("%s: no 401 response, but every /api/v1 route needs a key", k)
		}
	}
}

// TestOpenAPIRefs checks that every $ref points at something that exists;
// a failure names where the $ref is, as a JSON Pointer.
func TestOpenAPIRefs(t *testing.T) {
	t.Parallel()
	var doc any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	refs := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				refs++
				s, _ := ref.(string)
				if !strings.HasPrefix(s, "#/components/") {
					t.Errorf("%s: $ref %v does not point into #/components", path, ref)
				} else if _, ok := pointer(doc, strings.TrimPrefix(s, "#")); !ok {
					t.Errorf("%s: $ref %q points at nothing", path, s)
				}
			}
			for k, e := range v {
				walk(path+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), e)
			}
		case []any:
			for i, e := range v {
				walk(path+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("", doc)
	if refs == 0 {
		t.Error("no $ref at all: the walk is broken")
	}
}

// TestOpenAPIPathParameters checks that every {param} of a path template is
// declared, as a required path parameter, for each operation on the path
// (on the path item or the operation), and that nothing else is declared in
// the path.
func TestOpenAPIPathParameters(t *testing.T) {
	t.Parallel()
	s := loadSpec(t)
	braces := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range s.Paths {
		var want []string
		for _, m := range braces.FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		sort.Strings(want)
		var shared []json.RawMessage
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				t.Fatalf("paths[%q].parameters: %v", path, err)
			}
		}
		for method, raw := range item {
			if !slices.Contains(operationMethods, method) {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("paths[%q].%s: %v", path, method, err)
			}
			var got []string
			for _, r := range append(slices.Clone(shared), op.Parameters...) {
				p := s.resolveParameter(t, r)
				if p.In != "path" {
					continue
				}
				if !p.Required {
					t.Errorf("%s %s: path parameter %q is not required", method, path, p.Name)
				}
				got = append(got, p.Name)
			}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s: path parameters (-in template +declared):\n%s", method, path, diff)
			}
		}
	}
}

// TestServeOpenAPI checks that the document is served as is, without a key.
func TestServeOpenAPI(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	New(Config{}).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	res := rec.Result()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	body, _ := io.ReadAll(res.Body)
	if !bytes.Equal(body, openAPI) {
		t.Error("the served document is not openapi.json")
	}
}

// pointer resolves an RFC 6901 JSON Pointer in a decoded JSON value.
func pointer(doc any, p string) (any, bool) {
	if p == "" {
		return doc, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
