// Package webhook provides the call_api step: it builds the request from a
// compiled step and the run's environment, signs it, sends it within the
// step's timeout through the destination policy, reads a bounded response,
// captures the values the step asks for, and classifies every failure.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/clientcreds"
	"github.com/autohook/autohook/internal/egress"
	"github.com/autohook/autohook/internal/jsonnum"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/signing"
)

// DefaultMaxResponseBytes is how much of a response body is read.
const DefaultMaxResponseBytes = 1 << 20

// Config configures a Client.
type Config struct {
	// Policy says where requests may go; nil refuses private addresses
	// (the zero Policy).
	Policy *egress.Policy
	// MaxResponseBytes bounds the response body read; a larger response
	// fails the attempt with class response when the step captures its
	// body (text or json). Default 1 MiB.
	MaxResponseBytes int64
	// UserAgent is sent as User-Agent.
	UserAgent string
	// MaxIdleConnsPerHost keeps connections to busy receivers open.
	// Default 256.
	MaxIdleConnsPerHost int
	// ConnectTimeout bounds the TCP connect (and TLS handshake), within
	// the step's timeout. Default 10 s.
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the response headers once the
	// request is sent, within the step's timeout. 0: the step's timeout.
	HeaderTimeout time.Duration
	// BodyIdleTimeout bounds a pause while the response body is read (a
	// receiver that stalls mid-body), within the step's timeout. Default
	// DefaultBodyIdleTimeout; negative: only the step's timeout.
	BodyIdleTimeout time.Duration
	// MaxPerHost bounds the requests in flight of one organisation to one
	// destination host, all its ports. Default DefaultMaxPerHost.
	MaxPerHost int
	// Now is the clock of the OAuth 2.0 token cache (tests); nil means
	// time.Now.
	Now func() time.Time
}

// Client sends call_api requests. It is safe for concurrent use.
type Client struct {
	cfg    Config
	http   *http.Client
	hosts  *hostLimit
	self   *ownAddrs
	tokens *clientcreds.Cache
}

// New returns a Client.
func New(cfg Config) *Client {
	if cfg.Policy == nil {
		cfg.Policy = &egress.Policy{}
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = 256
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.BodyIdleTimeout == 0 {
		cfg.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Autohook"
	}
	if cfg.MaxPerHost <= 0 {
		cfg.MaxPerHost = DefaultMaxPerHost
	}
	self := &ownAddrs{}
	dialer := cfg.Policy.Dialer(&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second, ControlContext: self.control})
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would hide the destination from the policy
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   cfg.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    false,
	}
	return &Client{cfg: cfg, self: self, http: &http.Client{Transport: tr, CheckRedirect: redirectPolicy(cfg.Policy, self)},
		hosts: &hostLimit{max: cfg.MaxPerHost, n: map[string]int{}}, tokens: clientcreds.New(cfg.Now)}
}

// CloseIdleConnections closes the connections kept open for the next
// requests (a node that stops).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// DefaultBodyIdleTimeout is how long a response body may send nothing
// before the attempt fails with a timeout.
const DefaultBodyIdleTimeout = 10 * time.Second

// The layers of an attempt's time, each within the step's timeout; a
// timeout names the one that ran out.
var (
	errHeaderTimeout = errors.New("no response headers in time")
	errBodyStalled   = errors.New("response body stalled")
)

// Request is a rendered request, ready to send.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Derived holds the values that the step's expressions computed from
	// secrets (a token base64-encoded, a hash of one) and the credentials
	// of its auth: history hides them like the secrets themselves.
	Derived []string
	// OAuth, when the step has OAuth 2.0 auth, is the client whose token
	// Do obtains and sends.
	OAuth *clientcreds.Config
	// Org is the organisation sending it: OAuth 2.0 tokens are cached per
	// organisation.
	Org string
	// Redirects are the redirects Do followed (or refused), in order.
	Redirects []automation.Redirect
}

// stepDerived returns the values that the step's templates compute from
// secrets (see derivedFromSecrets); nil when none uses secrets. The
// headers that use the body are left to headerDerived.
func stepDerived(step *automation.CallAPI, env render.Env) []string {
	out := derivedFromSecrets(nil, step.URL, env)
	for _, h := range step.Headers {
		if !h.Value.Uses(render.RootBody) {
			out = derivedFromSecrets(out, h.Value, env)
		}
	}
	if step.Text != nil {
		out = derivedFromSecrets(out, step.Text, env)
	}
	for _, fs := range [][]automation.CompiledBodyField{step.JSONFields, step.FormFields} {
		for _, f := range fs {
			if f.Value != nil {
				out = derivedFromSecrets(out, f.Value, env)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// bodyEnv returns env with body, the request body as sent, when a header
// of the step uses it (a signature over the body); else env itself.
func bodyEnv(step *automation.CallAPI, env render.Env, body []byte) (render.Env, bool) {
	for _, h := range step.Headers {
		if h.Value.Uses(render.RootBody) {
			out := maps.Clone(env)
			out[render.RootBody] = string(body)
			return out, true
		}
	}
	return env, false
}

// derivedFromSecrets appends the values of the template's expressions that
// use secrets, leaving out those too short to hide without hiding
// everything (a port, a flag): those of fewer than minDerived bytes.
func derivedFromSecrets(dst []string, t interface {
	ValuesUsing(dst []string, env render.Env, root string) []string
}, env render.Env) []string {
	n := len(dst)
	dst = t.ValuesUsing(dst, env, "secrets")
	keep := dst[:n]
	for _, v := range dst[n:] {
		if len(v) >= minDerived {
			keep = append(keep, v)
		}
	}
	return keep
}

// minDerived is the length from which a value computed from a secret is
// hidden in history: credentials are longer, and shorter values (a port, a
// count) would hide every equal string of the response too.
const minDerived = 8

func fail(class retry.Class, format string, args ...any) *retry.Failure {
	return &retry.Failure{Class: class, Message: fmt.Sprintf(format, args...)}
}

// Build renders a call_api step's request: URL, body and headers from the
// environment (the headers last: they may use body, the body as sent), then
// the headers Autohook adds: User-Agent, Idempotency-Key and webhook-id
// (both id, the same on every attempt of the step), and Standard Webhooks
// signature headers when signer is not nil.
//
// The request is returned with its failure too, holding only Derived, so
// that the failure's message can be redacted like the request would be.
func (c *Client) Build(step *automation.CallAPI, env render.Env, id string, signer *signing.Signer, now time.Time) (*Request, *retry.Failure) {
	req := &Request{Method: step.Method, Header: http.Header{}, Derived: stepDerived(step, env)}
	failed := func(f *retry.Failure) (*Request, *retry.Failure) { return &Request{Derived: req.Derived}, f }
	u, err := step.URL.Eval(env)
	if err != nil {
		if errors.Is(err, render.ErrInvalidURL) {
			return failed(fail(retry.InvalidURL, "url: %v", err))
		}
		return failed(fail(retry.Render, "url: %v", err))
	}
	req.URL = u
	body, contentType, f := renderBody(step, env, maxRequestBytes-len(u))
	if f != nil {
		return failed(f)
	}
	req.Body = body
	size := len(u) + len(body)
	henv, withBody := bodyEnv(step, env, body)
	for _, h := range step.Headers {
		if withBody && h.Value.Uses(render.RootBody) {
			req.Derived = derivedFromSecrets(req.Derived, h.Value, henv)
		}
		v, err := h.Value.String(henv)
		if err != nil {
			return failed(fail(retry.Render, "header %s: %v", h.Name, err))
		}
		if size += len(h.Name) + len(v); size > maxRequestBytes {
			return failed(tooLarge("header " + h.Name))
		}
		if i := strings.IndexFunc(v, isControl); i >= 0 {
			return failed(fail(retry.Render, "header %s: the value holds a control character at position %d (header values cannot contain CR, LF or other control characters)", h.Name, i))
		}
		req.Header.Add(h.Name, v)
	}
	if f := applyAuth(step.Auth, env, req); f != nil {
		return failed(f)
	}
	if contentType != "" {
		setDefault(req.Header, "Content-Type", contentType)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Idempotency-Key", id)
	req.Header.Set("Webhook-Id", id)
	if signer != nil {
		signer.Headers(req.Header, id, now, req.Body)
	}
	return req, nil
}

// renderBody renders the step's body, at most limit bytes, and names its
// content type; nil and "" for a step without a body.
func renderBody(step *automation.CallAPI, env render.Env, limit int) ([]byte, string, *retry.Failure) {
	switch step.ContentType {
	case automation.ContentText:
		s, err := step.Text.String(env)
		if err != nil {
			return nil, "", fail(retry.Render, "body: %v", err)
		}
		if len(s) > limit {
			return nil, "", tooLarge("body")
		}
		return []byte(s), "text/plain; charset=utf-8", nil
	case automation.ContentJSON:
		body, f := jsonBody(step, env, limit)
		return body, "application/json", f
	case automation.ContentForm:
		body, f := formBody(step, env, limit)
		return body, automation.ContentForm, f
	}
	return nil, "", nil
}

// maxRequestBytes bounds what a step renders (URL, body and headers
// together): each value is bounded by the evaluation budget, but a step
// has up to 50 headers and 200 body fields.
const maxRequestBytes = render.DefaultMaxResult

// tooLarge is the failure of a request over maxRequestBytes, found at what.
func tooLarge(what string) *retry.Failure {
	return fail(retry.Render, "%s: the request would be larger than %d MiB", what, maxRequestBytes>>20)
}

func isControl(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }

func setDefault(h http.Header, name, value string) {
	if h.Get(name) == "" {
		h.Set(name, value)
	}
}

// jsonBody renders the typed fields of a JSON body, in their declared
// order, at most limit bytes.
func jsonBody(step *automation.CallAPI, env render.Env, limit int) ([]byte, *retry.Failure) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range step.JSONFields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Key)
		b.Write(k)
		b.WriteByte(':')
		if f.Literal != nil {
			b.Write(f.Literal) // a JSON literal is sent as written
			continue
		}
		v, err := f.Value.Eval(env)
		if err != nil {
			return nil, fail(retry.Render, "body field %q: %v", f.Key, err)
		}
		v, err = render.Convert(v, f.Type)
		if err != nil {
			return nil, fail(retry.Render, "body field %q: %v", f.Key, err)
		}
		val, err := json.Marshal(v)
		if err != nil {
			return nil, fail(retry.Render, "body field %q: %v", f.Key, err)
		}
		if b.Write(val); b.Len() > limit {
			return nil, tooLarge(fmt.Sprintf("body field %q", f.Key))
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// formBody renders a form body (application/x-www-form-urlencoded): the
// fields in their declared order, repeated keys kept, keys and values
// escaped as url.Values.Encode does (a space is "+"), nil as "".
func formBody(step *automation.CallAPI, env render.Env, limit int) ([]byte, *retry.Failure) {
	var b strings.Builder
	for i, f := range step.FormFields {
		v, err := f.Value.String(env)
		if err != nil {
			return nil, fail(retry.Render, "body field %q: %v", f.Key, err)
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f.Key))
		b.WriteByte('=')
		if b.WriteString(url.QueryEscape(v)); b.Len() > limit {
			return nil, tooLarge(fmt.Sprintf("body field %q", f.Key))
		}
	}
	return []byte(b.String()), nil
}

// Result is what came of sending a request.
type Result struct {
	Status   int // 0 when no response arrived
	Header   http.Header
	Body     []byte // at most MaxResponseBytes
	Fields   map[string]any
	Failure  *retry.Failure
	Duration time.Duration
	// Derived holds credentials learned while sending (an OAuth 2.0
	// access token), which history hides like the request's Derived.
	Derived []string
}

// Do sends the request within the step's timeout, reads the response and
// captures the values the step asks for. A step with OAuth 2.0 auth first
// obtains its token, within the same timeout (see auth.go).
func (c *Client) Do(ctx context.Context, step *automation.CallAPI, req *Request) *Result {
	start := time.Now()
	stepCtx, cancel := context.WithTimeout(ctx, step.Timeout)
	defer cancel()
	res := c.authorized(ctx, stepCtx, step, req)
	res.Duration = time.Since(start)
	return res
}

// send sends the request once within stepCtx (ctx is the run's), reads the
// response and captures the values the step asks for.
func (c *Client) send(ctx, stepCtx context.Context, step *automation.CallAPI, req *Request) *Result {
	res := &Result{}
	// The request's own context: the step's, cut short by the header and
	// body-idle layers.
	reqCtx, cancelReq := context.WithCancelCause(withRedirects(stepCtx, step, req))
	defer cancelReq(nil)
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hreq, err := http.NewRequestWithContext(reqCtx, req.Method, req.URL, body)
	if err != nil {
		res.Failure = fail(retry.InvalidURL, "%v", err)
		return res
	}
	hreq.Header = req.Header // the client does not change a request's headers
	if res.Failure = c.checkDestination(hreq.URL); res.Failure != nil {
		return res
	}
	var headerTimer *time.Timer
	if d := c.cfg.HeaderTimeout; d > 0 && d < step.Timeout {
		headerTimer = time.AfterFunc(d, func() { cancelReq(errHeaderTimeout) })
	}
	resp, err := c.http.Do(hreq)
	if headerTimer != nil && !headerTimer.Stop() && err == nil {
		// The timer fired as the headers came (a busy machine): the
		// request is cancelled already, and its body would fail to read
		// with a cause that is not the body's. It is the header timeout.
		resp.Body.Close()
		err = context.Cause(reqCtx)
	}
	if err != nil {
		if errors.Is(context.Cause(reqCtx), errHeaderTimeout) && ctx.Err() == nil {
			res.Failure = fail(retry.Timeout, "no response headers within %s of sending the request", c.cfg.HeaderTimeout)
			return res
		}
		res.Failure = classify(ctx, stepCtx, err, step.Timeout)
		return res
	}
	defer resp.Body.Close()
	res.Status, res.Header = resp.StatusCode, resp.Header
	var rd io.Reader = resp.Body
	if d := c.cfg.BodyIdleTimeout; d > 0 && d < step.Timeout {
		idle := &idleReader{r: resp.Body, timer: time.AfterFunc(d, func() { cancelReq(errBodyStalled) }), d: d}
		defer idle.timer.Stop()
		rd = idle
	}
	data, tooLarge, err := readBounded(rd, c.cfg.MaxResponseBytes)
	res.Body = data
	if err != nil {
		if errors.Is(context.Cause(reqCtx), errBodyStalled) && ctx.Err() == nil {
			res.Failure = fail(retry.Timeout, "reading the response body: it stalled, nothing received for %s after %d bytes", c.cfg.BodyIdleTimeout, len(data))
			return res
		}
		res.Failure = classify(ctx, stepCtx, err, step.Timeout)
		res.Failure.Message = "reading the response body: " + res.Failure.Message
		return res
	}
	if resp.StatusCode >= 400 {
		res.Failure = statusFailure(resp, time.Now())
		if step.Continue {
			// onError "continue": the schema also captures from the
			// error's body, as far as it can (a capture failure leaves
			// the fields out; the step has failed already).
			res.Fields, _ = capture(step.Response, resp, data, tooLarge, c.cfg.MaxResponseBytes)
		}
		return res
	}
	res.Fields, res.Failure = capture(step.Response, resp, data, tooLarge, c.cfg.MaxResponseBytes)
	return res
}

// idleReader restarts timer after every read that got data: the timer
// fires (and cancels the request) only after d without any.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.d)
	}
	return n, err
}

// readBounded reads at most limit bytes and reports whether there was more.
func readBounded(r io.Reader, limit int64) ([]byte, bool, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return data, false, err
	}
	if int64(len(data)) > limit {
		return data[:limit], true, nil
	}
	return data, false, nil
}

func statusFailure(resp *http.Response, now time.Time) *retry.Failure {
	class := retry.HTTP4xx
	if resp.StatusCode >= 500 {
		class = retry.HTTP5xx
	}
	f := fail(class, "the receiver answered %s", resp.Status)
	f.Status = resp.StatusCode
	if retry.HonoursRetryAfter(resp.StatusCode) {
		if d, ok := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			// 0 (or a date gone by) asks for "now": the shortest wait,
			// not the schedule's, which a zero RetryAfter would mean.
			f.RetryAfter = max(d, retry.MinRetryAfter)
		}
	}
	return f
}

// classify names the class of a transport error. ctx is the run's context
// (cancelled when the node shuts down), stepCtx the step's.
func classify(ctx, stepCtx context.Context, err error, timeout time.Duration) *retry.Failure {
	var nerr net.Error
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, egress.ErrBlocked):
		return fail(retry.BlockedDestination, "%s", unwrapURLError(err))
	case ctx.Err() != nil:
		return fail(retry.Network, "interrupted: the node is shutting down")
	case errors.Is(stepCtx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return fail(retry.Timeout, "no complete response within the step's timeout of %s", timeout)
	case errors.As(err, &dnsErr):
		return fail(retry.Network, "DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(retry.Network, "connection refused: %s", unwrapURLError(err))
	case errors.Is(err, syscall.ECONNRESET):
		return fail(retry.Network, "connection reset: %s", unwrapURLError(err))
	case errors.As(err, &nerr) && nerr.Timeout():
		return fail(retry.Timeout, "%s", unwrapURLError(err))
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && strings.Contains(uerr.Err.Error(), "redirect") {
		return fail(retry.Network, "%s", uerr.Err)
	}
	return fail(retry.Network, "%s", unwrapURLError(err))
}

func unwrapURLError(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}

// capture extracts automation fields from a successful response: the body
// (text), values of the JSON body (pointers), headers and the status.
// Numbers of a JSON body are json.Number, their text as received, so that
// they keep every digit; the status is a json.Number too, the form every
// number has once stored.
func capture(r automation.CompiledResponse, resp *http.Response, body []byte, tooLarge bool, limit int64) (map[string]any, *retry.Failure) {
	if tooLarge && r.Type != automation.ResponseNone {
		return nil, fail(retry.Response, "response body exceeds %d bytes (--max-response-bytes)", limit)
	}
	fields := make(map[string]any, len(r.Schema)+1)
	var doc any
	empty := false
	switch r.Type {
	case automation.ResponseText:
		fields[r.Field] = string(body)
	case automation.ResponseJSON:
		// A 204, or a 200 without a body: nothing to point into.
		empty = len(bytes.TrimSpace(body)) == 0
		if !empty {
			v, err := jsonnum.Decode(body)
			if err != nil {
				return nil, fail(retry.Response, "the response is not valid JSON: %v", err)
			}
			doc = v
		}
	}
	for _, m := range r.Schema {
		switch {
		case m.Status:
			fields[m.Field] = json.Number(strconv.Itoa(resp.StatusCode))
		case m.Header != "":
			vs := resp.Header.Values(m.Header)
			if len(vs) == 0 {
				if m.Required {
					return nil, fail(retry.Response, "required header %s is not in the response", m.Header)
				}
				fields[m.Field] = nil
				continue
			}
			fields[m.Field] = vs[0]
		default:
			v, ok := m.Pointer.Get(doc)
			if empty {
				v, ok = nil, false
			}
			if !ok {
				if m.Required {
					if empty {
						return nil, fail(retry.Response, "required pointer %s resolves to nothing: the response has no body (status %d)", m.Pointer.String(), resp.StatusCode)
					}
					return nil, fail(retry.Response, "required pointer %s resolves to nothing in the response", m.Pointer.String())
				}
				fields[m.Field] = nil
				continue
			}
			fields[m.Field] = v
		}
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return fields, nil
}

// Redactor hides secret values in text.
type Redactor interface {
	String(s string) string
}

// HistoryRequest is a request as history keeps it: secret values, the
// password of a URL's user info and always-redacted headers hidden, the
// body cut at limit bytes, and the redirects it went through.
func HistoryRequest(req *Request, r Redactor, limit int) *automation.HTTPRequest {
	body, truncated := historyBody(req.Body, r, limit)
	return &automation.HTTPRequest{
		Method:        req.Method,
		URL:           historyURL(req.URL, r),
		Headers:       historyHeaders(req.Header, r),
		Body:          body,
		BodyTruncated: truncated,
		Redirects:     HistoryRedirects(req, r),
	}
}

// HistoryRedirects are the redirects of a request as history keeps them:
// their URLs redacted like the request's.
func HistoryRedirects(req *Request, r Redactor) []automation.Redirect {
	if len(req.Redirects) == 0 {
		return nil
	}
	out := make([]automation.Redirect, len(req.Redirects))
	for i, h := range req.Redirects {
		h.URL = historyURL(h.URL, r)
		out[i] = h
	}
	return out
}

// historyURL is a URL as history keeps it: secret values hidden, and the
// password of its user info, whatever it is.
func historyURL(raw string, r Redactor) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.User(u.User.Username())
			prefix := u.Scheme + "://" + u.User.String()
			if rest, ok := strings.CutPrefix(u.String(), prefix); ok {
				raw = prefix + ":" + secret.Redacted + rest
			}
		}
	}
	return r.String(raw)
}

// HistoryResponse is a response as history keeps it, like HistoryRequest.
func HistoryResponse(res *Result, r Redactor, limit int) *automation.HTTPResponse {
	body, truncated := historyBody(res.Body, r, limit)
	return &automation.HTTPResponse{
		Status:        res.Status,
		Headers:       historyHeaders(res.Header, r),
		Body:          body,
		BodyTruncated: truncated,
	}
}

func historyHeaders(h http.Header, r Redactor) map[string]string {
	out := make(map[string]string, len(h))
	for name, vs := range h {
		if secret.AlwaysRedactedHeader(name) {
			out[name] = secret.Redacted
			continue
		}
		out[name] = r.String(strings.Join(vs, ", "))
	}
	return out
}

func historyBody(b []byte, r Redactor, limit int) (string, bool) {
	// Redact first: a secret cut in two by the limit would no longer match.
	s := r.String(string(b))
	truncated := len(b) > limit
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") // drop a rune cut in half
	}
	return s, truncated
}
