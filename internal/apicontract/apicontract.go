// Package apicontract is for tests only: it holds every request a test
// sends to the API, and every answer, to the OpenAPI document the server
// serves (kin-openapi's openapi3filter), so that the document cannot drift
// from what the server does. The end-to-end suites get it through
// servertest; the handler-level suites of package httpapi, which cannot
// import servertest, wrap their handler with Handler.
//
// The rules, for each exchange:
//   - the answer must match the document: a status it describes (429 and
//     405 included), a body of the schema given for that status;
//   - a request the document refuses must not be accepted: an answer
//     below 400 to it is a failure (the document is stricter than the
//     server). A request the document accepts may still be refused (a 422
//     for an unknown collection: not every rule is a schema);
//   - a path under /api/ that the document does not describe must answer
//     404, a described path with another method 405, in the error
//     envelope (or, for a path with "." or ".." segments, the redirect
//     net/http sends to the clean path).
package apicontract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Checker checks exchanges against one document.
type Checker struct {
	router routers.Router
}

// New loads an OpenAPI document and validates it (kin-openapi's own
// validation, examples included).
func New(doc []byte) (*Checker, error) {
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := d.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("openapi.json is not valid: %w", err)
	}
	r, err := gorillamux.NewRouter(d)
	if err != nil {
		return nil, fmt.Errorf("route openapi.json: %w", err)
	}
	return &Checker{router: r}, nil
}

// Check checks one exchange: req (whose body is reqBody) answered with
// status, header and respBody. A nil error means it keeps the contract.
func (c *Checker) Check(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	ctx := context.Background()
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			return nil // the web UI, not the API
		}
		if path.Clean(r.URL.Path) != r.URL.Path && (status == http.StatusMovedPermanently || status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect) {
			return nil // net/http's ServeMux sends "/a/../b" to "/b": no route sees it
		}
		want := http.StatusNotFound
		if errors.Is(err, routers.ErrMethodNotAllowed) {
			want = http.StatusMethodNotAllowed
		}
		if status != want || !isEnvelope(respBody) {
			return fmt.Errorf("%s %s is not in openapi.json (%v): answered %d %.300s, want %d with the error envelope", r.Method, r.URL.Path, err, status, respBody, want)
		}
		return nil
	}
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		// readOnly says a client SHOULD NOT send a property (OpenAPI 3.0.3);
		// the server takes a document read with GET and sent back as it is,
		// ignoring those properties, which the document's descriptions say.
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, ExcludeReadOnlyValidations: true},
	}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && status < 400 {
		return fmt.Errorf("%s %s: the server answered %d to a request openapi.json refuses: %v", r.Method, r.URL.RequestURI(), status, reqErr)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s: the answer %d does not match openapi.json: %v\nbody: %.500s", r.Method, r.URL.RequestURI(), status, err, respBody)
	}
	return nil
}

// isEnvelope reports whether body is the API's error envelope.
func isEnvelope(body []byte) bool {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error.Code != "" && e.Error.Message != ""
}

// reporter reports a broken contract on a test, until the test ends.
type reporter struct {
	tb   testing.TB
	done atomic.Bool
}

func newReporter(tb testing.TB) *reporter {
	r := &reporter{tb: tb}
	tb.Cleanup(func() { r.done.Store(true) })
	return r
}

func (r *reporter) report(err error) {
	if err != nil && !r.done.Load() {
		r.tb.Errorf("API contract: %v", err)
	}
}

// Transport returns a RoundTripper that sends through base (nil:
// http.DefaultTransport) and checks every exchange, failing tb on a broken
// contract. Safe for concurrent use.
func (c *Checker) Transport(tb testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: c, base: base, rep: newReporter(tb)}
}

type transport struct {
	c    *Checker
	base http.RoundTripper
	rep  *reporter
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	t.rep.report(t.c.Check(req, body, resp.StatusCode, resp.Header, respBody))
	return resp, nil
}

// Handler returns h with every exchange checked, failing tb on a broken
// contract: for the suites that call a handler directly.
func (c *Checker) Handler(tb testing.TB, h http.Handler) http.Handler {
	rep := newReporter(tb)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		rep.report(c.Check(r, body, rec.Code, rec.Header(), rec.Body.Bytes()))
	})
}
