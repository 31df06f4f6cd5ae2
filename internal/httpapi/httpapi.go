// Package httpapi provides Autohook's public HTTP interface under /api/v1:
// routes, Bearer API-key authentication, strict JSON input, the error
// envelope, and the embedded OpenAPI description.
package httpapi

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/httperr"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/strictjson"
	"github.com/autohook/autohook/internal/throttle"
)

// DefaultMaxBodyBytes bounds request bodies.
const DefaultMaxBodyBytes = 1 << 20

// Config configures the API handler.
type Config struct {
	Service      autohook.Service
	Logger       *slog.Logger
	MaxBodyBytes int64
	// RateLimit is the requests per second allowed per API key (0: the
	// default; negative: no limit); RateBurst the bucket size.
	RateLimit float64
	RateBurst int
	// AuthFailureBurst is how many failed authentications one client
	// address may make at once, then one per AuthFailureEvery (0: the
	// default; negative: no limit).
	AuthFailureBurst int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client for that limit.
	TrustedProxies []netip.Prefix
	// Now is the clock of the rate limiters; nil means time.Now.
	Now func() time.Time
	// PublicURL is where people reach this server (https://autohook.example.com),
	// for the invitation URLs the API answers; "" uses the request's host.
	PublicURL string
}

// API serves /api/v1.
type API struct {
	svc       autohook.Service
	log       *slog.Logger
	maxBody   int64
	limit     *throttle.Limiter // requests per API key
	failures  *throttle.Limiter // failed authentications per client address
	proxies   []netip.Prefix
	publicURL string
}

// route is one endpoint; the table is what the OpenAPI test checks.
type route struct {
	method, pattern string
	handle          handler
}

type handler = func(a *API, w http.ResponseWriter, r *http.Request, p *autohook.Principal) error

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = int(2 * cfg.RateLimit) // two seconds' worth
	}
	if cfg.AuthFailureBurst == 0 {
		cfg.AuthFailureBurst = DefaultAuthFailureBurst
	}
	var failures *throttle.Limiter
	if cfg.AuthFailureBurst > 0 {
		failures = throttle.New(1/AuthFailureEvery.Seconds(), cfg.AuthFailureBurst, cfg.Now)
	}
	// Roles are enforced by the service the API is given, in one place
	// (autohook.MinRole), for the API and the web UI alike.
	return &API{svc: autohook.Authorize(cfg.Service), log: cfg.Logger, maxBody: cfg.MaxBodyBytes,
		limit: throttle.New(cfg.RateLimit, cfg.RateBurst, cfg.Now), failures: failures, proxies: cfg.TrustedProxies, publicURL: cfg.PublicURL}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range routes {
		rt := rt
		mux.Handle(rt.method+" "+rt.pattern, a.authenticated(rt.handle))
	}
	mux.HandleFunc(openAPIRoute, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	// Anything else under /api/ is a JSON error, not the UI's HTML: 405 with
	// Allow for a known path and another method, else 404.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if allow := allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, ", "), nil)
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
	})
}

// routeMux holds the routes alone, to find the methods a path allows.
var routeMux = func() *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range routes {
		m.HandleFunc(rt.method+" "+rt.pattern, func(http.ResponseWriter, *http.Request) {})
	}
	m.HandleFunc(openAPIRoute, func(http.ResponseWriter, *http.Request) {})
	return m
}()

// allowed lists the methods the API serves on r's path.
func allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := routeMux.Handler(probe); pattern != "" {
			out = append(out, m)
		}
	}
	return out
}

//go:embed openapi.json
var openAPI []byte

// openAPIRoute serves openAPI, without a key.
const openAPIRoute = "GET /api/v1/openapi.json"

// authenticated checks the Bearer key, bounds the body, and turns a
// handler's error into the error envelope.
func (a *API) authenticated(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="autohook"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "send your API key as Authorization: Bearer <key>", nil)
			return
		}
		end, wait := a.failures.Begin(r.Context(), throttle.ClientKey(r, a.proxies))
		if end == nil {
			a.fail(w, r, rateLimited("too many failed authentications from this address", wait))
			return
		}
		p, err := a.svc.Authenticate(r.Context(), key)
		end(errors.Is(err, autohook.ErrUnauthorized))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if ok, wait := a.limit.Allow(p.KeyID); !ok {
			a.fail(w, r, rateLimited("too many requests for this API key", wait))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
		r = r.WithContext(autohook.WithActor(r.Context(), p.Actor()))
		if err := h(a, w, r, p); err != nil {
			a.fail(w, r, err)
		}
	})
}

// rateLimited is the error of a request over a limit: retry after wait.
func rateLimited(what string, wait time.Duration) error {
	return &autohook.RateLimitError{Message: what + "; retry after " + throttle.RetryAfter(wait) + " s", Wait: wait}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", false
	}
	return strings.TrimSpace(key), true
}

// errorBody is the error envelope.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details []problem.Problem `json:"details,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg string, details []problem.Problem) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: msg, Details: details}})
}

// fail answers a handler's error with the error table (httperr) in the
// API's presentation: the error envelope.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	rep := httperr.Of(err)
	switch rep.Status {
	case httperr.StatusClientClosed:
		return // the client went away
	case http.StatusServiceUnavailable:
		a.log.WarnContext(r.Context(), "api request: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	case http.StatusInternalServerError:
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if rep.Code == httperr.CodeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="autohook", error="invalid_token"`)
		rep.Message = "the API key is unknown or revoked"
	}
	write(w, rep)
}

// write writes the envelope of rep, with its Retry-After.
func write(w http.ResponseWriter, rep httperr.Reply) {
	if rep.RetryAfter > 0 {
		w.Header().Set("Retry-After", throttle.RetryAfter(rep.RetryAfter))
	}
	writeError(w, rep.Status, rep.Code, rep.Message, rep.Problems)
}

// Panicked answers a request whose handler panicked (the caller has logged
// it): 500 in the error envelope.
func (a *API) Panicked(w http.ResponseWriter, _ *http.Request) {
	write(w, httperr.Internal)
}

// errBadRequest is bad input the API finds itself (an empty body): it reads
// "bad request" and is autohook.ErrBadInput to the error table.
var errBadRequest error = badRequest{}

type badRequest struct{}

func (badRequest) Error() string { return "bad request" }
func (badRequest) Unwrap() error { return autohook.ErrBadInput }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads the body strictly into v.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return fmt.Errorf("%w: the request body is empty; send a JSON object", errBadRequest)
	}
	return strictjson.Decode(data, v)
}

// listResponse is the shape of every list.
type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

func writeList[T any](w http.ResponseWriter, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, listResponse[T]{Items: items, NextCursor: next})
}

// page reads ?limit= and ?cursor=.
func page(r *http.Request) (autohook.Page, error) {
	p := autohook.Page{Cursor: r.URL.Query().Get("cursor")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return p, problem.New("limit", "must be a whole number from 1 to 500, got %q", s)
		}
		p.Limit = n
	}
	return p, nil
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, problem.New(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", s)
	}
	return t, nil
}
