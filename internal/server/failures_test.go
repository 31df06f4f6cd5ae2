package server_test

// End-to-end tests of what goes wrong: every failure class produced for real
// against loopback receivers and read back from history, automatic and manual
// retries, cancelling, signing, secrets that must never leak, and step
// timeouts that bound a run.
//
// Retried runs wait for River's job scheduler, which moves due jobs only every
// few seconds, so each test starts all of its runs at once and then checks
// them: a table's cases cost the time of the slowest, not their sum. The runs
// are watched by goroutines that poll history (so short-lived states such as
// "retrying" are seen whatever order the subtests check them in).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// ---- history as the API returns it ----

type histError struct {
	Class   string `json:"class"`
	Message string `json:"message"`
}

type histAttempt struct {
	N          int       `json:"n"`
	StartedAt  time.Time `json:"startedAt"`
	DurationMs float64   `json:"durationMs"`
	Request    *struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
	Response *struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"response"`
	Error  *histError     `json:"error"`
	Fields map[string]any `json:"fields"`
}

// end is when the attempt finished.
func (a histAttempt) end() time.Time {
	return a.StartedAt.Add(time.Duration(a.DurationMs * float64(time.Millisecond)))
}

func (a histAttempt) duration() time.Duration {
	return time.Duration(a.DurationMs * float64(time.Millisecond))
}

type histStep struct {
	ID            string        `json:"id"`
	Type          string        `json:"type"`
	Status        string        `json:"status"`
	NextAttemptAt *time.Time    `json:"nextAttemptAt"`
	Attempts      []histAttempt `json:"attempts"`
}

type histRun struct {
	ID                string         `json:"id"`
	AutomationID      string         `json:"automationId"`
	AutomationVersion int64          `json:"automationVersion"`
	Status            string         `json:"status"`
	FinishedAt        *time.Time     `json:"finishedAt"`
	NextAttemptAt     *time.Time     `json:"nextAttemptAt"`
	Fields            map[string]any `json:"fields"`
	Steps             []histStep     `json:"steps"`
	Error             *histError     `json:"error"`
}

func runFinished(status string) bool {
	return status == "succeeded" || status == "failed" || status == "cancelled"
}

// ---- small API helpers (no *testing.T, so goroutines may use them) ----

// apiDo sends one API request with the admin key and returns the status
// and the raw body.
func apiDo(base, method, path string, body any) (int, []byte, error) {
	c := servertest.Client{Base: base, Key: servertest.AdminKey}
	a, err := c.Send(context.Background(), method, path, body)
	return a.Status, a.Body, err
}

func fetchRun(base, id string) (histRun, []byte, error) {
	var run histRun
	status, data, err := apiDo(base, "GET", "/api/v1/runs/"+id, nil)
	if err != nil {
		return run, nil, err
	}
	if status != http.StatusOK {
		return run, data, fmt.Errorf("GET /api/v1/runs/%s: status %d: %s", id, status, data)
	}
	if err := json.Unmarshal(data, &run); err != nil {
		return run, data, fmt.Errorf("decode run %s: %w", data, err)
	}
	return run, data, nil
}

// watch follows one run in the background, keeping every distinct state it
// sees, until the run finishes (or until stop is closed, or a deadline).
type watch struct {
	runID string
	done  chan struct{}

	mu        sync.Mutex
	snapshots []histRun
	final     histRun
	err       error
}

func watchRun(base, runID string, limit time.Duration) *watch {
	w := &watch{runID: runID, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		deadline := time.Now().Add(limit)
		var last string
		for {
			run, _, err := fetchRun(base, runID)
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			key := run.Status
			for _, s := range run.Steps {
				next := ""
				if s.NextAttemptAt != nil {
					next = s.NextAttemptAt.String()
				}
				key += fmt.Sprintf("|%s:%d:%s", s.Status, len(s.Attempts), next)
			}
			w.mu.Lock()
			if key != last {
				w.snapshots = append(w.snapshots, run)
				last = key
			}
			if runFinished(run.Status) {
				w.final = run
				w.mu.Unlock()
				return
			}
			w.mu.Unlock()
			if time.Now().After(deadline) {
				w.mu.Lock()
				w.err = fmt.Errorf("run %s still %s after %v", runID, run.Status, limit)
				w.mu.Unlock()
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	}()
	return w
}

// wait returns the finished run, failing the test if it did not finish.
func (w *watch) wait(t *testing.T) histRun {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("run %s: the watcher did not return", w.runID)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		t.Fatalf("run %s: %v", w.runID, w.err)
	}
	return w.final
}

// firstWith returns the first state seen that satisfies ok.
func (w *watch) firstWith(ok func(histRun) bool) (histRun, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.snapshots {
		if ok(s) {
			return s, true
		}
	}
	return histRun{}, false
}

// ---- fixtures ----

// flNode starts a node with the leads collection.
func flNode(t *testing.T, mutate ...func(*server.Config)) *node {
	t.Helper()
	nd := startNode(t, mutate...)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	return nd
}

// forT returns a view of nd whose helpers report to t (a subtest).
func (nd *node) forT(t *testing.T) *node {
	c := *nd
	c.t = t
	return &c
}

func retrySchedule(d ...time.Duration) func(*server.Config) {
	return func(c *server.Config) {
		c.Retry = &retry.Policy{Schedule: d, Rand: func() float64 { return 0.5 }}
	}
}

// manualAutomation saves an automation with a manual trigger and these
// steps; it returns its id.
func manualAutomation(nd *node, name string, steps ...map[string]any) string {
	nd.t.Helper()
	var a map[string]any
	list := make([]any, len(steps))
	for i, s := range steps {
		list[i] = s
	}
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": name, "collection": "leads", "trigger": map[string]any{"type": "manual"}, "steps": list,
	}, &a)
	return a["id"].(string)
}

// startManualRun creates a record with fields and runs the automation on it; it
// returns the run's id.
func startManualRun(nd *node, automationID string, fields map[string]any) string {
	nd.t.Helper()
	var rec, run map[string]any
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": fields}, &rec)
	nd.must(202, "POST", "/api/v1/automations/"+automationID+"/runs", map[string]any{"recordId": rec["id"]}, &run)
	return run["id"].(string)
}

func readRun(nd *node, id string) histRun {
	nd.t.Helper()
	run, _, err := fetchRun(nd.Base, id)
	if err != nil {
		nd.t.Fatal(err)
	}
	return run
}

// stallUntilDone returns a function that blocks a receiver's handler until
// the client goes away or release is called; call release in a cleanup
// registered after the receivers', so that it runs before they close.
func stallUntilDone() (stall func(r *http.Request), release func()) {
	ch := make(chan struct{})
	return func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-ch:
		}
	}, func() { close(ch) }
}

// partialThenStall sends a 200, JSON headers and the first 8 bytes of a
// 100-byte body, then stalls.
func partialThenStall(stall func(r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"data":`)
		w.(http.Flusher).Flush()
		stall(r)
	}
}

// answerStatus answers with a status code and optional headers.
func answerStatus(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, "status %d", code)
	}
}

// answerSequence answers the nth request with answers[n], repeating the last.
func answerSequence(answers ...http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		i := min(int(n.Add(1))-1, len(answers)-1)
		answers[i](w, r)
	}
}

func answerJSON(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

// closedLoopbackPort returns a loopback address nothing listens on.
// closedLoopbackPort returns a loopback address that refuses connections:
// a socket bound to the port but not listening holds it for the test, so no
// other server can be given the port meanwhile.
func closedLoopbackPort(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// attemptOffsets lists attempt start times relative to the first, for the logs.
func attemptOffsets(s histStep) string {
	var parts []string
	for _, a := range s.Attempts {
		parts = append(parts, fmt.Sprintf("#%d +%v (%v)", a.N, a.StartedAt.Sub(s.Attempts[0].StartedAt).Round(time.Millisecond), a.duration().Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// ---- 1. every failure class, produced for real ----

// TestFailureClassesInHistory produces each failure class against real
// loopback receivers and checks what history shows: the class and message of
// each attempt, the response status, the run's status, whether it was
// retried and when the next attempt was due.
func TestFailureClassesInHistory(t *testing.T) {
	t.Parallel()
	const sched = 2 * time.Second // the schedule of the main node: distinct from every Retry-After below
	nodes := map[string]*node{
		// main: loopback allowed, small response limit, a 2 s retry schedule.
		"main": flNode(t, retrySchedule(sched), func(c *server.Config) { c.MaxResponseBytes = 1024 }),
		// strict: the default destination policy.
		"strict": flNode(t, func(c *server.Config) { c.AllowPrivateNetworks = false }),
		// layers: header and body-idle timeouts well inside a 5 s step.
		"layers": flNode(t, retrySchedule(sched), func(c *server.Config) {
			c.HeaderTimeout, c.BodyIdleTimeout = 800*time.Millisecond, 800*time.Millisecond // far above a busy machine's answer time
		}),
		// cidr: only 127.0.0.1 allowed, and the name localhost denied.
		"cidr": flNode(t, func(c *server.Config) {
			c.AllowPrivateNetworks = false
			c.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			c.DenyHosts = []string{"localhost"}
		}),
	}
	stall, release := stallUntilDone()
	big := `{"pad":"` + strings.Repeat("x", 2000) + `"}`
	// The target of the redirect: it must never be reached.
	forbidden := servertest.NewReceiver(t, nil)
	_, forbiddenPort, _ := net.SplitHostPort(forbidden.Listener.Addr().String())
	refused := closedLoopbackPort(t)

	type tc struct {
		name    string
		node    string
		answer  http.HandlerFunc // the receiver; nil: the step's URL needs none
		url     string           // the step's URL; "" means the receiver's URL + "/hook"
		step    map[string]any   // more step options
		fields  map[string]any   // the record
		class   string
		message []string // substrings of the attempt's error message
		resp    int      // the response status history shows; 0: no response
		sent    int      // requests the receiver must get: 1, or 0 when nothing may be sent
		retried bool     // retried: maxAttempts 2, so exactly 2 attempts
		delay   time.Duration
		// minDur and maxDur bound each attempt's duration when set.
		minDur, maxDur time.Duration
	}
	retryAt := func(d time.Duration) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", time.Now().Add(d).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}
	cases := []tc{
		{name: "500", node: "main", answer: answerStatus(500), class: "http_5xx", message: []string{"500"}, resp: 500, sent: 1, retried: true, delay: sched},
		{name: "503 with Retry-After 1", node: "main", answer: answerStatus(503, "Retry-After", "1"), class: "http_5xx", message: []string{"503"}, resp: 503, sent: 1, retried: true, delay: time.Second},
		{name: "429 with Retry-After 3", node: "main", answer: answerStatus(429, "Retry-After", "3"), class: "http_4xx", message: []string{"429"}, resp: 429, sent: 1, retried: true, delay: 3 * time.Second},
		{name: "429 with Retry-After as an HTTP date", node: "main", answer: retryAt(4 * time.Second), class: "http_4xx", message: []string{"429"}, resp: 429, sent: 1, retried: true, delay: 4 * time.Second},
		{name: "408", node: "main", answer: answerStatus(408), class: "http_4xx", message: []string{"408"}, resp: 408, sent: 1, retried: true, delay: sched},
		{name: "502 ignores Retry-After", node: "main", answer: answerStatus(502, "Retry-After", "1"), class: "http_5xx", message: []string{"502"}, resp: 502, sent: 1, retried: true, delay: sched},
		{name: "400", node: "main", answer: answerStatus(400), class: "http_4xx", message: []string{"400"}, resp: 400, sent: 1},
		{name: "404", node: "main", answer: answerStatus(404), class: "http_4xx", message: []string{"404"}, resp: 404, sent: 1},
		{
			name: "stalls before sending headers", node: "main",
			answer: func(w http.ResponseWriter, r *http.Request) { stall(r) },
			step:   map[string]any{"timeoutSeconds": 1},
			class:  "timeout", message: []string{"timeout", "1s"}, sent: 1, retried: true, delay: sched,
			minDur: 900 * time.Millisecond, maxDur: 3 * time.Second,
		},
		{
			name: "sends headers and part of the body, then stalls", node: "main",
			answer: partialThenStall(stall),
			step:   map[string]any{"timeoutSeconds": 1, "response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/data", "field": "d"}}}},
			class:  "timeout", message: []string{"reading the response body", "timeout"}, resp: 200, sent: 1, retried: true, delay: sched,
			minDur: 900 * time.Millisecond, maxDur: 3 * time.Second,
		},
		{
			name: "no headers within the header timeout", node: "layers",
			answer: func(w http.ResponseWriter, r *http.Request) { stall(r) },
			step:   map[string]any{"timeoutSeconds": 5},
			class:  "timeout", message: []string{"no response headers within 800ms"}, sent: 1, retried: true, delay: sched,
			minDur: 750 * time.Millisecond, maxDur: 3 * time.Second,
		},
		{
			name: "body stalls past the body-idle timeout", node: "layers",
			answer: partialThenStall(stall),
			step:   map[string]any{"timeoutSeconds": 5, "response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/data", "field": "d"}}}},
			class:  "timeout", message: []string{"reading the response body: it stalled, nothing received for 800ms after 8 bytes"}, resp: 200, sent: 1, retried: true, delay: sched,
			minDur: 750 * time.Millisecond, maxDur: 3 * time.Second,
		},
		{
			name: "malformed JSON", node: "main", answer: answerJSON(`{"data": {"externalId": `),
			step:  map[string]any{"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/data/externalId", "field": "externalId"}}}},
			class: "response", message: []string{"not valid JSON"}, resp: 200, sent: 1,
		},
		{
			name: "JSON larger than MaxResponseBytes", node: "main", answer: answerJSON(big),
			step:  map[string]any{"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/pad", "field": "pad"}}}},
			class: "response", message: []string{"1024"}, resp: 200, sent: 1,
		},
		{
			name: "required pointer resolves nothing", node: "main", answer: answerJSON(`{"data":{"id":"x"}}`),
			step: map[string]any{"response": map[string]any{"type": "json", "schema": []any{
				map[string]any{"pointer": "/data/id", "field": "id"},
				map[string]any{"pointer": "/data/externalId", "field": "externalId", "required": true},
			}}},
			class: "response", message: []string{"/data/externalId"}, resp: 200, sent: 1,
		},
		{
			name: "connection refused", node: "main", url: "http://" + refused + "/hook",
			class: "network", message: []string{"refused"}, retried: true, delay: sched,
		},
		{
			name: "rendered URL is not a URL", node: "main", url: "{record.name}", fields: map[string]any{"name": "not a url"},
			class: "invalid_url", message: []string{"invalid url"},
		},
		{
			name: "rendered URL has another scheme", node: "main", url: "{record.name}", fields: map[string]any{"name": "ftp://example.com/x"},
			class: "invalid_url", message: []string{"http or https"},
		},
		{
			name: "JSON number field is not a number", node: "main", answer: answerStatus(200),
			step: map[string]any{"method": "POST", "body": map[string]any{"contentType": "application/json", "fields": []any{
				map[string]any{"key": "customerName", "type": "string", "value": "{record.name}"},
				map[string]any{"key": "amount", "type": "number", "value": "abc"},
			}}},
			class: "render", message: []string{`"amount"`, "abc"}, sent: 0,
		},
		{
			name: "header value with CR LF", node: "main", answer: answerStatus(200),
			step:   map[string]any{"headers": []any{map[string]any{"name": "X-Note", "value": "{record.name}"}}},
			fields: map[string]any{"name": "x\r\nX-Injected: yes"},
			class:  "render", message: []string{"X-Note", "control character"}, sent: 0,
		},
		{
			name: "127.0.0.1 with private networks refused", node: "strict", answer: answerStatus(200),
			class: "blocked_destination", message: []string{"127.0.0.1", "loopback"}, sent: 0,
		},
		{
			name: "localhost by DNS with private networks refused", node: "strict", answer: answerStatus(200),
			url:   "http://localhost:{record.externalId}/hook",
			class: "blocked_destination", message: []string{"loopback"}, sent: 0,
		},
		{
			name: "redirect to a denied host", node: "cidr",
			answer: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "http://localhost:"+forbiddenPort+"/", http.StatusFound)
			},
			class: "blocked_destination", message: []string{"localhost", "denied"}, sent: 1,
		},
	}

	type started struct {
		rc *servertest.Receiver
		w  *watch
	}
	runs := make([]started, len(cases))
	for i, c := range cases {
		nd := nodes[c.node]
		var rc *servertest.Receiver
		if c.answer != nil {
			rc = servertest.NewReceiver(t, c.answer)
		}
		step := map[string]any{"id": "call", "type": "call_api", "url": c.url}
		if c.url == "" {
			step["url"] = rc.URL + "/hook"
		}
		if c.retried {
			step["maxAttempts"] = 2
		}
		for k, v := range c.step {
			step[k] = v
		}
		fields := c.fields
		if rc != nil && fields == nil {
			_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
			fields = map[string]any{"name": "Acme", "externalId": port}
		}
		if fields == nil {
			fields = map[string]any{}
		}
		id := manualAutomation(nd, c.name, step)
		runs[i] = started{rc: rc, w: watchRun(nd.Base, startManualRun(nd, id, fields), 40*time.Second)}
	}
	t.Cleanup(release) // before the receivers close

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, w := runs[i].rc, runs[i].w
			run := w.wait(t)
			if run.Status != "failed" {
				t.Fatalf("run status = %s, want failed", run.Status)
			}
			if run.Error == nil || run.Error.Class != c.class {
				t.Errorf("run error = %+v, want class %s", run.Error, c.class)
			}
			if len(run.Steps) != 1 {
				t.Fatalf("steps = %d, want 1", len(run.Steps))
			}
			step := run.Steps[0]
			if step.Status != "failed" || step.NextAttemptAt != nil {
				t.Errorf("step status = %s, nextAttemptAt = %v; want failed, null", step.Status, step.NextAttemptAt)
			}
			wantAttempts := 1
			if c.retried {
				wantAttempts = 2
			}
			if len(step.Attempts) != wantAttempts {
				t.Fatalf("attempts = %d, want %d: %+v", len(step.Attempts), wantAttempts, step.Attempts)
			}
			for j, a := range step.Attempts {
				if a.N != j+1 {
					t.Errorf("attempt %d: n = %d, want %d", j, a.N, j+1)
				}
				if a.Error == nil || a.Error.Class != c.class {
					t.Errorf("attempt %d: error = %+v, want class %s", a.N, a.Error, c.class)
					continue
				}
				for _, m := range c.message {
					if !strings.Contains(a.Error.Message, m) {
						t.Errorf("attempt %d: message %q, want it to contain %q", a.N, a.Error.Message, m)
					}
				}
				switch {
				case c.resp == 0 && a.Response != nil:
					t.Errorf("attempt %d: response = %+v, want none", a.N, a.Response)
				case c.resp != 0 && (a.Response == nil || a.Response.Status != c.resp):
					t.Errorf("attempt %d: response = %+v, want status %d", a.N, a.Response, c.resp)
				}
				if c.minDur > 0 && (a.duration() < c.minDur || a.duration() > c.maxDur) {
					t.Errorf("attempt %d lasted %v, want between %v and %v", a.N, a.duration(), c.minDur, c.maxDur)
				}
				if c.class == "render" || c.class == "invalid_url" {
					if a.Request != nil {
						t.Errorf("attempt %d: request = %+v, want none (nothing was sent)", a.N, a.Request)
					}
				} else if a.Request == nil || a.Request.Method != "GET" || a.Request.Headers["Idempotency-Key"] != run.ID+".call" {
					t.Errorf("attempt %d: request = %+v, want the GET that was sent", a.N, a.Request)
				}
			}
			if rc != nil {
				want := c.sent * wantAttempts
				if got := rc.Count(); got != want {
					t.Errorf("the receiver got %d requests, want %d", got, want)
				}
				for _, r := range rc.Requests() {
					if v := r.Header.Get("X-Injected"); v != "" {
						t.Errorf("header injected at the receiver: X-Injected = %q", v)
					}
				}
			}
			if c.node == "cidr" {
				if got := forbidden.Count(); got != 0 {
					t.Errorf("the redirect's target got %d requests, want 0", got)
				}
			}
			t.Logf("history: %s: %q; attempts %s", step.Attempts[0].Error.Class, step.Attempts[0].Error.Message, attemptOffsets(step))
			if !c.retried {
				if s, ok := w.firstWith(func(r histRun) bool { return r.Status == "retrying" }); ok {
					t.Errorf("a %s failure must not be retried; the run was retrying: %+v", c.class, s)
				}
				return
			}
			// While it waited: retrying, with the next attempt due after
			// the schedule's wait (or the server's Retry-After).
			waiting, ok := w.firstWith(func(r histRun) bool { return r.Status == "retrying" })
			if !ok {
				t.Fatalf("the run never showed status retrying")
			}
			ws := waiting.Steps[0]
			if ws.Status != "retrying" || ws.NextAttemptAt == nil || len(ws.Attempts) != 1 {
				t.Fatalf("while retrying: step status %s, nextAttemptAt %v, %d attempts; want retrying, a time, 1", ws.Status, ws.NextAttemptAt, len(ws.Attempts))
			}
			// The run's time is stored with microseconds, the step's with nanoseconds.
			if waiting.NextAttemptAt == nil || waiting.NextAttemptAt.Sub(*ws.NextAttemptAt).Abs() > time.Millisecond {
				t.Errorf("run nextAttemptAt = %v, want the step's %v", waiting.NextAttemptAt, ws.NextAttemptAt)
			}
			if waiting.Error == nil || waiting.Error.Class != c.class {
				t.Errorf("while retrying: run error = %+v, want class %s", waiting.Error, c.class)
			}
			got := ws.NextAttemptAt.Sub(ws.Attempts[0].end())
			lo, hi := c.delay-1500*time.Millisecond, c.delay+time.Second // an HTTP date has whole seconds
			if c.delay < 4*time.Second {
				lo, hi = c.delay-5*time.Millisecond, c.delay+750*time.Millisecond
			}
			if got < lo || got > hi {
				t.Errorf("nextAttemptAt is %v after the attempt ended, want about %v", got, c.delay)
			}
			if second := step.Attempts[1].StartedAt; second.Before(ws.NextAttemptAt.Add(-5 * time.Millisecond)) {
				t.Errorf("attempt 2 started at %v, before its nextAttemptAt %v", second, ws.NextAttemptAt)
			}
			t.Logf("nextAttemptAt = attempt 1 end + %v; attempt 2 started %v after nextAttemptAt",
				got.Round(time.Millisecond), step.Attempts[1].StartedAt.Sub(*ws.NextAttemptAt).Round(time.Millisecond))
		})
	}
}

// ---- 2. automatic retries ----

// TestRetries checks automatic retries: attempts numbered in order with the
// same idempotency key, only the failed step retried, the step's and the
// server's attempt limits.
func TestRetries(t *testing.T) { eachDB(t, testRetries) }

func testRetries(t *testing.T, db func(*server.Config)) {
	nd := flNode(t, db, retrySchedule(50*time.Millisecond, 100*time.Millisecond), func(c *server.Config) { c.MaxAttempts = 3 })

	type tc struct {
		name     string
		steps    func(a, b *servertest.Receiver) []map[string]any
		a, b     http.HandlerFunc // receivers A and B (B may be nil)
		status   string
		attempts []int // attempts per step
		sentA    int
		sentB    int
		class    string // the last attempt's class, when the run failed
		check    func(t *testing.T, run histRun, a, b *servertest.Receiver)
	}
	oneStep := func(extra map[string]any) func(a, b *servertest.Receiver) []map[string]any {
		return func(a, b *servertest.Receiver) []map[string]any {
			s := map[string]any{"id": "call", "type": "call_api", "method": "POST", "url": a.URL + "/hook",
				"body": map[string]any{"contentType": "application/json", "fields": []any{map[string]any{"key": "name", "type": "string", "value": "{record.name}"}}}}
			for k, v := range extra {
				s[k] = v
			}
			return []map[string]any{s}
		}
	}
	sameKeys := func(t *testing.T, run histRun, rc *servertest.Receiver, stepID string) {
		t.Helper()
		want := run.ID + "." + stepID
		for i, r := range rc.Requests() {
			if k, id := r.Header.Get("Idempotency-Key"), r.Header.Get("Webhook-Id"); k != want || id != want {
				t.Errorf("request %d: Idempotency-Key %q, webhook-id %q; want both %q", i+1, k, id, want)
			}
		}
	}
	cases := []tc{
		{
			name: "500, 500, then 200", steps: oneStep(nil),
			a:      answerSequence(answerStatus(500), answerStatus(500), answerStatus(200)),
			status: "succeeded", attempts: []int{3}, sentA: 3,
			check: func(t *testing.T, run histRun, a, b *servertest.Receiver) {
				sameKeys(t, run, a, "call")
				for i, at := range run.Steps[0].Attempts {
					wantClass, wantStatus := "http_5xx", 500
					if i == 2 {
						wantClass, wantStatus = "", 200
					}
					gotClass := ""
					if at.Error != nil {
						gotClass = at.Error.Class
					}
					if gotClass != wantClass {
						t.Errorf("attempt %d: class %q, want %q", at.N, gotClass, wantClass)
					}
					if at.Response == nil || at.Response.Status != wantStatus {
						t.Errorf("attempt %d: response %+v, want status %d", at.N, at.Response, wantStatus)
					}
				}
				for i, r := range a.Requests() {
					if string(r.Body) != `{"name":"Acme"}` {
						t.Errorf("request %d body = %s, want the same body on every attempt", i+1, r.Body)
					}
				}
			},
		},
		{
			name: "step 2 fails then succeeds; step 1 is not sent again",
			steps: func(a, b *servertest.Receiver) []map[string]any {
				return []map[string]any{
					{"id": "first", "type": "call_api", "url": a.URL + "/a", "response": map[string]any{"type": "json", "schema": []any{
						map[string]any{"pointer": "/id", "field": "aId", "required": true},
					}}},
					{"id": "second", "type": "call_api", "method": "POST", "url": b.URL + "/b/{fields.aId}",
						"body": map[string]any{"contentType": "text/plain", "text": "from {fields.aId}"}},
				}
			},
			a:      answerJSON(`{"id":"A-1"}`),
			b:      answerSequence(answerStatus(500), answerStatus(200)),
			status: "succeeded", attempts: []int{1, 2}, sentA: 1, sentB: 2,
			check: func(t *testing.T, run histRun, a, b *servertest.Receiver) {
				if got := run.Fields["aId"]; got != "A-1" {
					t.Errorf("run fields = %v, want aId A-1 (captured by step 1, kept)", run.Fields)
				}
				sameKeys(t, run, b, "second")
				for i, r := range b.Requests() {
					if r.URL.EscapedPath() != "/b/A-1" || string(r.Body) != "from A-1" {
						t.Errorf("step 2 request %d: %s %q, want /b/A-1 \"from A-1\" (the captured field)", i+1, r.URL.EscapedPath(), r.Body)
					}
				}
				if s := run.Steps[0]; s.Status != "succeeded" {
					t.Errorf("step 1 status = %s, want succeeded", s.Status)
				}
			},
		},
		{
			name: "maxAttempts 2, always 500", steps: oneStep(map[string]any{"maxAttempts": 2}),
			a:      answerStatus(500),
			status: "failed", attempts: []int{2}, sentA: 2, class: "http_5xx",
		},
		{
			name: "maxAttempts 1", steps: oneStep(map[string]any{"maxAttempts": 1}),
			a:      answerStatus(503),
			status: "failed", attempts: []int{1}, sentA: 1, class: "http_5xx",
		},
		{
			name: "server default MaxAttempts 3, always 500", steps: oneStep(nil),
			a:      answerStatus(500),
			status: "failed", attempts: []int{3}, sentA: 3, class: "http_5xx",
		},
		{
			name: "500 then 400 stops retrying", steps: oneStep(nil),
			a:      answerSequence(answerStatus(500), answerStatus(400)),
			status: "failed", attempts: []int{2}, sentA: 2, class: "http_4xx",
		},
	}
	type started struct {
		a, b *servertest.Receiver
		w    *watch
	}
	runs := make([]started, len(cases))
	for i, c := range cases {
		s := started{a: servertest.NewReceiver(t, c.a)}
		if c.b != nil {
			s.b = servertest.NewReceiver(t, c.b)
		}
		id := manualAutomation(nd, c.name, c.steps(s.a, s.b)...)
		s.w = watchRun(nd.Base, startManualRun(nd, id, map[string]any{"name": "Acme"}), 40*time.Second)
		runs[i] = s
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := runs[i]
			run := s.w.wait(t)
			if run.Status != c.status {
				t.Fatalf("run status = %s, want %s: %+v", run.Status, c.status, run)
			}
			if len(run.Steps) != len(c.attempts) {
				t.Fatalf("steps = %d, want %d", len(run.Steps), len(c.attempts))
			}
			for j, st := range run.Steps {
				if len(st.Attempts) != c.attempts[j] {
					t.Errorf("step %s: %d attempts, want %d", st.ID, len(st.Attempts), c.attempts[j])
				}
				for k, a := range st.Attempts {
					if a.N != k+1 {
						t.Errorf("step %s attempt %d: n = %d, want %d", st.ID, k, a.N, k+1)
					}
					if k > 0 && !a.StartedAt.After(st.Attempts[k-1].end()) {
						t.Errorf("step %s attempt %d started at %v, before attempt %d ended", st.ID, a.N, a.StartedAt, k)
					}
				}
				t.Logf("step %s: %s", st.ID, attemptOffsets(st))
			}
			if c.class != "" {
				last := run.Steps[len(run.Steps)-1]
				if a := last.Attempts[len(last.Attempts)-1]; a.Error == nil || a.Error.Class != c.class {
					t.Errorf("last attempt error = %+v, want %s", a.Error, c.class)
				}
				if run.Error == nil || run.Error.Class != c.class {
					t.Errorf("run error = %+v, want %s", run.Error, c.class)
				}
			}
			if got := s.a.Count(); got != c.sentA {
				t.Errorf("receiver A got %d requests, want %d", got, c.sentA)
			}
			if s.b != nil {
				if got := s.b.Count(); got != c.sentB {
					t.Errorf("receiver B got %d requests, want %d", got, c.sentB)
				}
			}
			if c.check != nil {
				c.check(t, run, s.a, s.b)
			}
		})
	}
}

// TestRetryIsNotLaterThanHistorySays checks that a retry happens when
// history says it is due, not seconds later.
//
// River's own scheduler makes jobs due within 5 s available early, without
// waking anyone when they come due; the promoter must still wake the workers
// on time (this failed about one run in ten before it did, seconds late).
// The bound, 2 s, catches that and not a busy machine: alone the attempts
// start well within 500 ms of their time, but under .ci/run (every package's
// tests with -race on 2 cores) one was seen 924 ms late.
func TestRetryIsNotLaterThanHistorySays(t *testing.T) { eachDB(t, testRetryIsNotLaterThanHistorySays) }

func testRetryIsNotLaterThanHistorySays(t *testing.T, db func(*server.Config)) {
	nd := flNode(t, db, retrySchedule(50*time.Millisecond, 100*time.Millisecond))
	rc := servertest.NewReceiver(t, answerSequence(answerStatus(503, "Retry-After", "1"), answerStatus(500), answerStatus(200)))
	id := manualAutomation(nd, "late", map[string]any{"type": "call_api", "url": rc.URL})
	w := watchRun(nd.Base, startManualRun(nd, id, nil), 30*time.Second)
	run := w.wait(t)
	if run.Status != "succeeded" || len(run.Steps[0].Attempts) != 3 {
		t.Fatalf("run %s with %d attempts, want succeeded with 3", run.Status, len(run.Steps[0].Attempts))
	}
	for n := 1; n <= 2; n++ {
		waiting, ok := w.firstWith(func(r histRun) bool {
			return r.Status == "retrying" && len(r.Steps[0].Attempts) == n
		})
		if !ok {
			t.Errorf("retry %d: never saw the run waiting", n)
			continue
		}
		due := *waiting.Steps[0].NextAttemptAt
		late := run.Steps[0].Attempts[n].StartedAt.Sub(due)
		if late > 2*time.Second {
			t.Errorf("attempt %d started %v after its nextAttemptAt %v, want within 2s", n+1, late, due)
		}
	}
}

// ---- 3. manual retry and cancel ----

// TestManualRetryAndCancel checks POST /runs/{id}/retry and /cancel: a
// retry continues from the failed step with the same key and attempt numbers
// that keep counting, picks up a fixed automation, and only finished runs
// can be retried or only unfinished ones cancelled.
func TestManualRetryAndCancel(t *testing.T) { eachDB(t, testManualRetryAndCancel) }

func testManualRetryAndCancel(t *testing.T, db func(*server.Config)) {
	nd := flNode(t, db, retrySchedule(10*time.Second))

	type apiError struct {
		Error struct{ Code, Message string }
	}
	conflict := func(t *testing.T, nd *node, path string) {
		t.Helper()
		var e apiError
		nd.must(409, "POST", path, nil, &e)
		if e.Error.Code != "conflict" {
			t.Errorf("POST %s: code %q, want conflict", path, e.Error.Code)
		}
	}

	// Started together; checked in order below.
	var bOK atomic.Bool
	rcA := servertest.NewReceiver(t, answerJSON(`{"id":"A-7"}`))
	rcB := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if !bOK.Load() {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(200)
	})
	twoStep := manualAutomation(nd, "two steps",
		map[string]any{"id": "a", "type": "call_api", "url": rcA.URL + "/a", "response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/id", "field": "aId"}}}},
		map[string]any{"id": "b", "type": "call_api", "url": rcB.URL + "/b/{fields.aId}", "maxAttempts": 1},
	)
	twoStepRun := startManualRun(nd, twoStep, nil)

	rcWait := servertest.NewReceiver(t, answerStatus(500))
	waiting := manualAutomation(nd, "waits", map[string]any{"id": "w", "type": "call_api", "url": rcWait.URL})
	waitingRun := startManualRun(nd, waiting, nil)

	rcOld := servertest.NewReceiver(t, answerStatus(404))
	rcNew := servertest.NewReceiver(t, answerStatus(200))
	fixDoc := map[string]any{
		"name": "to fix", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"id": "send", "type": "call_api", "url": rcOld.URL + "/old"}},
	}
	var fixA map[string]any
	nd.must(201, "POST", "/api/v1/automations", fixDoc, &fixA)
	fixID := fixA["id"].(string)
	fixRun := startManualRun(nd, fixID, nil)

	t.Run("retry continues from the failed step", func(t *testing.T) {
		nd := nd.forT(t)
		run := nd.waitRun(twoStepRun, "failed")
		var h histRun
		raw, _ := json.Marshal(run)
		_ = json.Unmarshal(raw, &h)
		if h.Steps[0].Status != "succeeded" || h.Steps[1].Status != "failed" {
			t.Fatalf("steps %s/%s, want succeeded/failed", h.Steps[0].Status, h.Steps[1].Status)
		}
		conflict(t, nd, "/api/v1/runs/"+twoStepRun+"/cancel") // finished
		bOK.Store(true)
		var accepted histRun
		nd.must(202, "POST", "/api/v1/runs/"+twoStepRun+"/retry", nil, &accepted)
		if accepted.Status != "queued" {
			t.Errorf("retry answered status %s, want queued", accepted.Status)
		}
		nd.waitRun(twoStepRun, "succeeded")
		h = readRun(nd, twoStepRun)
		if got := rcA.Count(); got != 1 {
			t.Errorf("step a's receiver got %d requests, want 1 (a succeeded step never runs again)", got)
		}
		if got := rcB.Count(); got != 2 {
			t.Errorf("step b's receiver got %d requests, want 2", got)
		}
		if n := len(h.Steps[0].Attempts); n != 1 {
			t.Errorf("step a: %d attempts, want 1", n)
		}
		var ns []int
		for _, a := range h.Steps[1].Attempts {
			ns = append(ns, a.N)
		}
		if fmt.Sprint(ns) != "[1 2]" {
			t.Errorf("step b attempts numbered %v, want [1 2]", ns)
		}
		if h.Fields["aId"] != "A-7" {
			t.Errorf("run fields = %v, want aId A-7 kept from step a", h.Fields)
		}
		want := twoStepRun + ".b"
		for i, r := range rcB.Requests() {
			if k := r.Header.Get("Idempotency-Key"); k != want || r.Header.Get("Webhook-Id") != want {
				t.Errorf("step b request %d: Idempotency-Key %q, webhook-id %q, want %q", i+1, k, r.Header.Get("Webhook-Id"), want)
			}
			if r.URL.EscapedPath() != "/b/A-7" {
				t.Errorf("step b request %d path %s, want /b/A-7", i+1, r.URL.EscapedPath())
			}
		}
		t.Logf("step b: %s", attemptOffsets(h.Steps[1]))
		conflict(t, nd, "/api/v1/runs/"+twoStepRun+"/retry") // succeeded
		conflict(t, nd, "/api/v1/runs/"+twoStepRun+"/cancel")
	})

	t.Run("cancel a run waiting to retry", func(t *testing.T) {
		nd := nd.forT(t)
		run := nd.waitRun(waitingRun, "retrying")
		var h histRun
		raw, _ := json.Marshal(run)
		_ = json.Unmarshal(raw, &h)
		if h.Steps[0].NextAttemptAt == nil {
			t.Fatalf("a retrying step without nextAttemptAt: %s", raw)
		}
		if d := h.Steps[0].NextAttemptAt.Sub(h.Steps[0].Attempts[0].end()); d < 10*time.Second-5*time.Millisecond || d > 11*time.Second {
			t.Errorf("nextAttemptAt = attempt end + %v, want about 10s", d)
		}
		// (retry on a retrying run starts its next attempt now: TestRetryNow)
		var cancelled histRun
		nd.must(200, "POST", "/api/v1/runs/"+waitingRun+"/cancel", nil, &cancelled)
		if cancelled.Status != "cancelled" {
			t.Errorf("cancel answered status %s, want cancelled", cancelled.Status)
		}
		servertest.WaitIdle(t, nd.Server) // whatever the cancel made due has been worked
		h = readRun(nd, waitingRun)
		if h.Status != "cancelled" || h.FinishedAt == nil || h.NextAttemptAt != nil {
			t.Errorf("run: status %s, finishedAt %v, nextAttemptAt %v; want cancelled, a time, null", h.Status, h.FinishedAt, h.NextAttemptAt)
		}
		if s := h.Steps[0]; s.Status != "cancelled" || s.NextAttemptAt != nil || len(s.Attempts) != 1 {
			t.Errorf("step: status %s, nextAttemptAt %v, %d attempts; want cancelled, null, 1", s.Status, s.NextAttemptAt, len(s.Attempts))
		}
		if got := rcWait.Count(); got != 1 {
			t.Errorf("the receiver got %d requests, want 1: nothing after the cancel", got)
		}
		conflict(t, nd, "/api/v1/runs/"+waitingRun+"/cancel") // finished
	})

	t.Run("retry after fixing the automation uses the new version", func(t *testing.T) {
		nd := nd.forT(t)
		nd.waitRun(fixRun, "failed")
		fixDoc["steps"] = []any{map[string]any{"id": "send", "type": "call_api", "url": rcNew.URL + "/new"}}
		var saved map[string]any
		nd.must(200, "PUT", "/api/v1/automations/"+fixID, fixDoc, &saved)
		nd.must(202, "POST", "/api/v1/runs/"+fixRun+"/retry", nil, nil)
		nd.waitRun(fixRun, "succeeded")
		h := readRun(nd, fixRun)
		if h.AutomationVersion != int64(saved["version"].(float64)) {
			t.Errorf("run automationVersion = %d, want the fixed version %v", h.AutomationVersion, saved["version"])
		}
		if rcOld.Count() != 1 || rcNew.Count() != 1 {
			t.Errorf("old URL got %d requests, new URL %d; want 1 and 1", rcOld.Count(), rcNew.Count())
		}
		at := h.Steps[0].Attempts
		if len(at) != 2 || at[0].N != 1 || at[1].N != 2 {
			t.Fatalf("attempts %+v, want n 1 and 2", at)
		}
		if !strings.HasSuffix(at[0].Request.URL, "/old") || !strings.HasSuffix(at[1].Request.URL, "/new") {
			t.Errorf("history URLs %s then %s, want /old then /new", at[0].Request.URL, at[1].Request.URL)
		}
		if oldReqs, newReqs := rcOld.Requests(), rcNew.Requests(); len(newReqs) == 1 && len(oldReqs) == 1 {
			if a, b := oldReqs[0].Header.Get("Idempotency-Key"), newReqs[0].Header.Get("Idempotency-Key"); a != b || a != fixRun+".send" {
				t.Errorf("Idempotency-Key %q then %q, want both %q", a, b, fixRun+".send")
			}
		}
	})
}

// ---- 4. signing ----

// TestSigningVerifiesWithTheOfficialLibrary checks that signed requests
// verify with the Standard Webhooks reference library, that the secret is
// never returned, and that saving the document as returned keeps signing.
func TestSigningVerifiesWithTheOfficialLibrary(t *testing.T) {
	t.Parallel()
	nd := flNode(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	verifier, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	other := make([]byte, 32)
	_, _ = rand.Read(other)
	wrong, _ := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString(other))
	rc := servertest.NewReceiver(t, nil)

	doc := map[string]any{
		"name": "signed", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"signing": map[string]any{"secret": secret},
		"steps": []any{map[string]any{"id": "hook", "type": "call_api", "method": "POST", "url": rc.URL + "/signed",
			"body": map[string]any{"contentType": "application/json", "fields": []any{
				map[string]any{"key": "name", "type": "string", "value": "{record.name}"},
				map[string]any{"key": "value", "type": "number", "value": "{record.value}"},
			}}}},
	}
	var created map[string]any
	nd.must(201, "POST", "/api/v1/automations", doc, &created)
	id := created["id"].(string)

	verify := func(t *testing.T, name string) {
		t.Helper()
		runID := startManualRun(nd.forT(t), id, map[string]any{"name": name, "value": 12.5})
		got := rc.Next(t)
		if err := verifier.Verify(got.Body, got.Header); err != nil {
			t.Errorf("standardwebhooks Verify: %v (headers %v, body %s)", err, got.Header, got.Body)
		}
		if err := wrong.Verify(got.Body, got.Header); err == nil {
			t.Errorf("the request also verifies with another secret")
		}
		if k, id := got.Header.Get("Idempotency-Key"), got.Header.Get("webhook-id"); k == "" || k != id || id != runID+".hook" {
			t.Errorf("Idempotency-Key %q, webhook-id %q; want both %q", k, id, runID+".hook")
		}
		if !strings.Contains(string(got.Body), name) {
			t.Errorf("body %s does not hold %q", got.Body, name)
		}
		nd.forT(t).waitRun(runID, "succeeded")
	}

	t.Run("verifies", func(t *testing.T) { verify(t, "first") })

	var fetched map[string]any
	_, raw, err := apiDo(nd.Base, "GET", "/api/v1/automations/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fetched); err != nil {
		t.Fatal(err)
	}
	if s := fetched["signing"].(map[string]any)["secret"]; s != "[redacted]" {
		t.Errorf("GET signing.secret = %v, want [redacted]", s)
	}
	if strings.Contains(string(raw), strings.TrimPrefix(secret, "whsec_")) {
		t.Errorf("GET returns the signing secret: %s", raw)
	}
	if strings.Contains(fmt.Sprint(created), strings.TrimPrefix(secret, "whsec_")) {
		t.Errorf("POST returns the signing secret: %v", created)
	}

	var saved map[string]any
	nd.must(200, "PUT", "/api/v1/automations/"+id, fetched, &saved)
	if saved["version"] == fetched["version"] {
		t.Errorf("PUT kept version %v, want a new one", saved["version"])
	}
	t.Run("still verifies after saving the redacted document", func(t *testing.T) { verify(t, "second") })
}

// ---- 5. secrets never leak ----

// logBuffer is a bytes.Buffer safe for concurrent writes (the logger) and
// reads (the test).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// jsonString is s as it appears between the quotes of a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestSecretsNeverLeak uses a secret in a header, the JSON body and the URL
// query of a call that fails once against a receiver that echoes what it got
// (the body as it came, the header and the query in response headers), then
// looks for the secret in every API answer, the log and every file of the
// data dir.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	checkSecretsNeverLeak(t, func(w http.ResponseWriter, r *http.Request, sent []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.Header().Set("X-Echo-Query", r.URL.RawQuery)
		w.WriteHeader(500)
		_, _ = io.WriteString(w, `{"error":"boom","request":`+string(sent)+`}`)
	})
}

// TestSecretEchoedInAJSONStringNeverLeaks is TestSecretsNeverLeak with a
// receiver that echoes the request body as a JSON string, a common shape of
// error answers ({"error":"...","payload":"{\"token\":...}"}).
func TestSecretEchoedInAJSONStringNeverLeaks(t *testing.T) {
	t.Parallel()
	checkSecretsNeverLeak(t, func(w http.ResponseWriter, r *http.Request, sent []byte) {
		body, _ := json.Marshal(map[string]any{"error": "boom", "payload": string(sent), "auth": r.Header.Get("Authorization"), "query": r.URL.RawQuery})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		_, _ = w.Write(body)
	})
}

func checkSecretsNeverLeak(t *testing.T, echo func(w http.ResponseWriter, r *http.Request, sent []byte)) {
	r := make([]byte, 8)
	_, _ = rand.Read(r)
	value := "leak-" + hex.EncodeToString(r) + " a/b&c=d+e"
	forms := map[string]string{
		"raw":          value,
		"query-escape": url.QueryEscape(value),
		"path-escape":  url.PathEscape(value),
		"json-escape":  jsonString(value),
		"distinctive":  "leak-" + hex.EncodeToString(r), // the part that no escaping changes
		// computed from the secret by the step's expressions
		"base64":          base64.StdEncoding.EncodeToString([]byte("user:" + value)),
		"base64 in query": url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(value))),
		"upper":           strings.ToUpper("leak-" + hex.EncodeToString(r)),
	}
	logs := &logBuffer{}
	dataDir := t.TempDir()
	nd := flNode(t, retrySchedule(50*time.Millisecond), func(c *server.Config) {
		c.DataDir = dataDir
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	// The receiver echoes everything it got back in an error, once.
	var self atomic.Pointer[servertest.Receiver]
	rc := servertest.NewReceiver(t, answerSequence(
		func(w http.ResponseWriter, r *http.Request) {
			got := self.Load().Requests() // the receiver has recorded the body
			echo(w, r, got[len(got)-1].Body)
		},
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		},
	))
	self.Store(rc)
	nd.must(204, "PUT", "/api/v1/secrets/API_TOKEN", map[string]any{"value": value}, nil)

	var answers [][]byte
	keep := func(method, path string, body any, want int) []byte {
		t.Helper()
		got, data, err := apiDo(nd.Base, method, path, body)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, want, data)
		}
		answers = append(answers, data)
		return data
	}
	raw := keep("POST", "/api/v1/automations", map[string]any{
		"name": "uses a secret", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"id": "call", "type": "call_api", "method": "POST",
			"url": rc.URL + "/hook?token={secrets.API_TOKEN}&lead={record.name}&sig={toBase64(secrets.API_TOKEN)}",
			"headers": []any{
				map[string]any{"name": "Authorization", "value": "Bearer {secrets.API_TOKEN}"},
				map[string]any{"name": "X-Shout", "value": "{upper(secrets.API_TOKEN)}"},
			},
			"body": map[string]any{"contentType": "application/json", "fields": []any{
				map[string]any{"key": "token", "type": "string", "value": "{secrets.API_TOKEN}"},
				map[string]any{"key": "note", "type": "string", "value": "key={secrets.API_TOKEN};"},
				map[string]any{"key": "basic", "type": "string", "value": "{toBase64('user:' + secrets.API_TOKEN)}"},
				map[string]any{"key": "hasToken", "type": "boolean", "value": "{secrets.API_TOKEN != ''}"},
				map[string]any{"key": "name", "type": "string", "value": "{record.name}"},
			}},
			"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/ok", "field": "ok"}}},
		}},
	}, 201)
	var created struct {
		ID       string
		Warnings []struct{ Path, Message string }
	}
	if err := json.Unmarshal(raw, &created); err != nil {
		t.Fatal(err)
	}
	if len(created.Warnings) != 1 || created.Warnings[0].Path != "steps[0].url" {
		t.Errorf("warnings = %+v, want one at steps[0].url", created.Warnings)
	}

	runID := startManualRun(nd, created.ID, map[string]any{"name": "Acme"})
	run := watchRun(nd.Base, runID, 30*time.Second).wait(t)
	if run.Status != "succeeded" || len(run.Steps[0].Attempts) != 2 {
		t.Fatalf("run %s with %d attempts, want succeeded after 2", run.Status, len(run.Steps[0].Attempts))
	}
	first := run.Steps[0].Attempts[0]
	if first.Error == nil || first.Error.Class != "http_5xx" || first.Response == nil || !strings.Contains(first.Response.Body, "boom") {
		t.Errorf("attempt 1 = %+v, want the echoing 500", first)
	}
	// The receiver did get the secret, everywhere it was used.
	got := rc.Requests()[0]
	if got.Header.Get("Authorization") != "Bearer "+value {
		t.Errorf("the receiver got Authorization %q, want the secret", got.Header.Get("Authorization"))
	}
	if q, _ := url.ParseQuery(got.URL.RawQuery); q.Get("token") != value {
		t.Errorf("the receiver got query %q, want token = the secret", got.URL.RawQuery)
	}
	var sent map[string]any
	if err := json.Unmarshal(got.Body, &sent); err != nil || sent["token"] != value || sent["note"] != "key="+value+";" || sent["basic"] != forms["base64"] {
		t.Errorf("the receiver got body %s, want the secret in token and note, and its base64 in basic", got.Body)
	}
	// A flag computed from a secret says too little to hide.
	if first.Request == nil || !strings.Contains(first.Request.Body, `"hasToken":true`) {
		t.Errorf("history request = %+v, want hasToken shown", first.Request)
	}
	if first.Request == nil || !strings.Contains(first.Request.URL, "[redacted]") || first.Request.Headers["Authorization"] != "[redacted]" {
		t.Errorf("history request = %+v, want the secret shown as [redacted]", first.Request)
	}

	keep("GET", "/api/v1/runs/"+runID, nil, 200)
	keep("GET", "/api/v1/runs", nil, 200)
	keep("GET", "/api/v1/automations/"+created.ID+"/runs", nil, 200)
	keep("GET", "/api/v1/automations/"+created.ID, nil, 200)
	keep("GET", "/api/v1/automations", nil, 200)
	secrets := keep("GET", "/api/v1/secrets", nil, 200)
	if !strings.Contains(string(secrets), "API_TOKEN") {
		t.Errorf("secrets list %s does not name API_TOKEN", secrets)
	}

	check := func(where string, data []byte) {
		t.Helper()
		for name, f := range forms {
			if bytes.Contains(data, []byte(f)) {
				i := bytes.Index(data, []byte(f))
				t.Errorf("%s holds the secret (%s form) near %q", where, name, data[max(0, i-60):min(len(data), i+len(f)+20)])
			}
		}
	}
	for i, a := range answers {
		check(fmt.Sprintf("API answer %d", i+1), a)
	}
	if !strings.Contains(logs.String(), "{") {
		t.Errorf("the log is empty: the check would prove nothing")
	}
	check("the log", []byte(logs.String()))
	files := 0
	err := filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		check("data file "+filepath.Base(path), data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "autohook.db")); err != nil || files < 2 {
		t.Errorf("data dir: %d files, db: %v; the check would prove nothing", files, err)
	}
	t.Logf("scanned %d API answers, %d bytes of log, %d data files", len(answers), len(logs.String()), files)
}

// TestCapturedFieldsDoNotLeakSecrets checks that a receiver that echoes a
// secret into a value the step captures does not put the secret in history.
func TestCapturedFieldsDoNotLeakSecrets(t *testing.T) {
	t.Parallel()
	nd := flNode(t)
	value := "cap-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	nd.must(204, "PUT", "/api/v1/secrets/TOKEN", map[string]any{"value": value}, nil)
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"you": r.Header.Get("X-Token")})
	})
	id := manualAutomation(nd, "echo", map[string]any{"type": "call_api", "url": rc.URL,
		"headers":  []any{map[string]any{"name": "X-Token", "value": "{secrets.TOKEN}"}},
		"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/you", "field": "you"}}}})
	runID := startManualRun(nd, id, nil)
	nd.waitRun(runID, "succeeded")
	_, raw, err := apiDo(nd.Base, "GET", "/api/v1/runs/"+runID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.Requests()[0].Header.Get("X-Token"); got != value {
		t.Fatalf("the receiver got X-Token %q, want the secret", got)
	}
	if strings.Contains(string(raw), value) {
		t.Errorf("run history holds the secret (captured from the response): %s", raw)
	}
}

// ---- 6. layered timeouts ----

// TestStepTimeoutBoundsTheRun checks that receivers that hold the
// connection cannot hold a run longer than the step's timeout.
func TestStepTimeoutBoundsTheRun(t *testing.T) {
	t.Parallel()
	nd := flNode(t)

	// Accepts connections, reads nothing, answers nothing.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		silent.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				<-stop
				c.Close()
			})
		}
	}()
	// Answers headers at once, then one byte of body every 100 ms, forever:
	// never idle long, so only an overall deadline stops it.
	trickle, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trickle.Close() })
	go func() {
		for {
			c, err := trickle.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n"); err != nil {
					return
				}
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := c.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			})
		}
	}()

	cases := []struct {
		name, url string
		resp      int
	}{
		{"accepts but never answers", "http://" + silent.Addr().String() + "/", 0},
		{"trickles the body", "http://" + trickle.Addr().String() + "/", 200},
	}
	type started struct {
		w     *watch
		begin time.Time
	}
	runs := make([]started, len(cases))
	for i, c := range cases {
		id := manualAutomation(nd, c.name, map[string]any{"type": "call_api", "url": c.url, "timeoutSeconds": 1, "maxAttempts": 1,
			"response": map[string]any{"type": "text", "field": "reply"}})
		begin := time.Now()
		runs[i] = started{w: watchRun(nd.Base, startManualRun(nd, id, nil), 20*time.Second), begin: begin}
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := runs[i].w.wait(t)
			took := time.Since(runs[i].begin)
			if run.Status != "failed" {
				t.Fatalf("run status = %s, want failed", run.Status)
			}
			a := run.Steps[0].Attempts[0]
			if a.Error == nil || a.Error.Class != "timeout" {
				t.Errorf("attempt error = %+v, want timeout", a.Error)
			}
			// Wide margins on purpose (a busy CI machine): what is checked
			// is that the 1 s step timeout, not a 30 s default or the
			// receiver's stall, ended the attempt.
			if d := a.duration(); d < 900*time.Millisecond || d > 2500*time.Millisecond {
				t.Errorf("attempt lasted %v, want about the 1s step timeout", d)
			}
			if took > 6*time.Second {
				t.Errorf("the run took %v to fail, want at most the 1s timeout + 5s", took)
			}
			if c.resp == 0 && a.Response != nil || c.resp != 0 && (a.Response == nil || a.Response.Status != c.resp) {
				t.Errorf("response = %+v, want status %d", a.Response, c.resp)
			}
			if _, ok := runs[i].w.firstWith(func(r histRun) bool { return r.Status == "running" }); !ok {
				t.Errorf("the run was never shown running while its step took 1s")
			}
			t.Logf("history: %s: %q; attempt %v, run failed %v after start", a.Error.Class, a.Error.Message, a.duration().Round(time.Millisecond), took.Round(time.Millisecond))
		})
	}
}

// TestPruning: history pruning is River's periodic job (run by the elected
// leader alone): a finished run older than the retention period goes, a run
// still retrying stays however old.
func TestPruning(t *testing.T) { eachDB(t, testPruning) }

func testPruning(t *testing.T, db func(*server.Config)) {
	nd := flNode(t, db, retrySchedule(time.Hour), func(c *server.Config) {
		c.Retention = 50 * time.Millisecond
		c.PruneEvery = 100 * time.Millisecond
	})
	rc := servertest.NewReceiver(t, answerStatus(500))
	finished := startManualRun(nd, manualAutomation(nd, "done", map[string]any{"type": "update_record", "set": []any{
		map[string]any{"field": "name", "value": "seen"}}}), nil)
	retrying := startManualRun(nd, manualAutomation(nd, "retrying", map[string]any{"type": "call_api", "url": rc.URL}), nil)
	deadline := time.Now().Add(20 * time.Second)
	for readRun(nd, retrying).Status != "retrying" {
		if time.Now().After(deadline) {
			t.Fatalf("the failing run never started waiting to retry")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		code, _, err := apiDo(nd.Base, "GET", "/api/v1/runs/"+finished, nil)
		if err != nil {
			t.Fatal(err)
		}
		if code == 404 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the finished run is still in history (%d) 20 s after it aged past a 50 ms retention", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // more pruning passes
	if run := readRun(nd, retrying); run.Status != "retrying" {
		t.Errorf("the retrying run: status %q, want retrying and kept", run.Status)
	}
}

// TestDerivedSecretInAnErrorNeverLeaks: a value computed from a secret that
// fails to convert is named in the error; history (the attempt's error and
// the run's) shows it redacted.
func TestDerivedSecretInAnErrorNeverLeaks(t *testing.T) {
	t.Parallel()
	nd := flNode(t)
	value := "drv-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	derived := base64.StdEncoding.EncodeToString([]byte("x:" + value))
	nd.must(204, "PUT", "/api/v1/secrets/T", map[string]any{"value": value}, nil)
	rc := servertest.NewReceiver(t, answerStatus(200))
	id := manualAutomation(nd, "converts", map[string]any{"type": "call_api", "method": "POST", "url": rc.URL,
		"body": map[string]any{"contentType": "application/json", "fields": []any{
			map[string]any{"key": "n", "type": "number", "value": "{toBase64('x:' + secrets.T)}"}}}})
	runID := startManualRun(nd, id, nil)
	run := watchRun(nd.Base, runID, 20*time.Second).wait(t)
	if run.Status != "failed" || run.Steps[0].Attempts[0].Error == nil || run.Steps[0].Attempts[0].Error.Class != "render" {
		t.Fatalf("run %s, want failed with a render error", run.Status)
	}
	code, body, err := apiDo(nd.Base, "GET", "/api/v1/runs/"+runID, nil)
	if err != nil || code != 200 {
		t.Fatalf("GET run: %d %v", code, err)
	}
	if strings.Contains(string(body), derived) || strings.Contains(string(body), value) {
		t.Errorf("history shows the value computed from the secret: %s", body)
	}
	if !strings.Contains(string(body), `body field \"n\"`) || !strings.Contains(string(body), "[redacted]") {
		t.Errorf("history %s: want the error to name the field and show [redacted]", body)
	}
	if len(rc.Requests()) != 0 {
		t.Errorf("the receiver got %d requests, want none", len(rc.Requests()))
	}
}
