package httpapi_test

// The security tests of the API: key revocation, rate limits, body limits,
// hostile input, header injection, Authorization variants, path traversal
// and secrets. docs/SECURITY.md lists every attack tried here and what the
// product answers. This file is package httpapi_test because the
// end-to-end tests start a whole node with internal/server, which imports
// package httpapi; it builds the API with httpapi.NewTestAPIWith, exported by
// tenancy_test.go.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/httpapi"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// answer is an API answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// envelope is the error envelope.
type envelope struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

func (a answer) envelope(t testing.TB) envelope {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(a.body, &env); err != nil || env.Error == nil {
		t.Fatalf("status %d: not the error envelope (%v): %.500s", a.status, err, a.body)
	}
	return env
}

func (a answer) detailPaths() []string {
	var env envelope
	_ = json.Unmarshal(a.body, &env)
	var out []string
	if env.Error != nil {
		for _, d := range env.Error.Details {
			out = append(out, d.Path)
		}
	}
	return out
}

// send sends one request to h with the Authorization header authz ("" for
// none).
func send(t testing.TB, h http.Handler, authz, method, path string, body io.Reader) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request with key that must answer want.
func must(t testing.TB, h http.Handler, key, method, path, body string, want int) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	a := send(t, h, "Bearer "+key, method, path, rd)
	if a.status != want {
		t.Fatalf("%s %s: status %d, want %d: %.1000s", method, path, a.status, want, a.body)
	}
	return a
}

func idOf(t testing.TB, a answer) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(a.body, &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s", a.body)
	}
	return v.ID
}

// noLimit turns the rate limits off: the tests make many requests at once,
// some with wrong keys on purpose.
func noLimit(c *httpapi.Config) { c.RateLimit, c.AuthFailureBurst = -1, -1 }

// fixture is an API with a collection "leads" and one automation.
type fixture struct {
	h            http.Handler
	admin        string
	automationID string
	recordID     string
}

const leadsCollection = `{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"},{"key":"value","type":"number"},` +
	`{"key":"note","type":"text"},{"key":"items","type":"json"}],"stages":["New","Won"]}`

// validAutomation is a complete automation document on "leads".
const validAutomation = `{
	"name": "Notify the CRM", "collection": "leads", "enabled": true,
	"trigger": {"type": "record_added"}, "condition": "record.value > 1000",
	"steps": [
		{"id": "crm", "type": "call_api", "method": "POST", "url": "https://api.example.com/customers/{record.name}",
		 "headers": [{"name": "X-Lead", "value": "lead-{record.id}"}],
		 "body": {"contentType": "application/json", "fields": [
			{"key": "customerName", "type": "string", "value": "{record.name}"},
			{"key": "orderValue", "type": "number", "value": "{record.value}"}]},
		 "timeoutSeconds": 30, "maxAttempts": 3,
		 "response": {"type": "json", "schema": [{"pointer": "/data/id", "field": "externalId"}]}},
		{"id": "save", "type": "update_record", "set": [{"field": "note", "value": "{fields.externalId}"}]}
	]
}`

// manualAutomation runs without the network: a manual trigger and an
// update_record step.
const manualAutomation = `{"name":"Mark","collection":"leads","trigger":{"type":"manual"},` +
	`"steps":[{"id":"mark","type":"update_record","set":[{"field":"note","value":"seen {record.name}"}]}]}`

func newFixture(t testing.TB, dbURL string, mutate func(*httpapi.Config)) *fixture {
	t.Helper()
	h, admin := httpapi.NewTestAPIWith(t, dbURL, mutate)
	f := &fixture{h: h, admin: admin}
	must(t, h, admin, "POST", "/api/v1/collections", leadsCollection, 201)
	f.automationID = idOf(t, must(t, h, admin, "POST", "/api/v1/automations", manualAutomation, 201))
	f.recordID = idOf(t, must(t, h, admin, "POST", "/api/v1/collections/leads/records", `{"fields":{"name":"Ada","value":5}}`, 201))
	return f
}

func TestKeyRevocation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", noLimit)
	h, admin := f.h, f.admin

	var k struct{ ID, Key string }
	if err := json.Unmarshal(must(t, h, admin, "POST", "/api/v1/api-keys", `{"name":"ci"}`, 201).body, &k); err != nil {
		t.Fatal(err)
	}
	must(t, h, k.Key, "GET", "/api/v1/collections", "", 200)
	must(t, h, admin, "DELETE", "/api/v1/api-keys/"+k.ID, "", 204)

	// The very next request with the revoked key is refused.
	a := send(t, h, "Bearer "+k.Key, "GET", "/api/v1/collections", nil)
	if a.status != 401 || a.envelope(t).Error.Code != "unauthorized" {
		t.Fatalf("revoked key: %d %s, want 401 unauthorized", a.status, a.body)
	}
	if !strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", a.header.Get("WWW-Authenticate"))
	}
	// On every route, writes included.
	for _, p := range []struct{ method, path, body string }{
		{"POST", "/api/v1/collections/leads/records", `{"fields":{"name":"x"}}`},
		{"POST", "/api/v1/api-keys", `{"name":"again"}`},
		{"DELETE", "/api/v1/api-keys/" + k.ID, ""},
		{"POST", "/api/v1/automations/" + f.automationID + "/runs", `{"recordId":"` + f.recordID + `"}`},
	} {
		if a := send(t, h, "Bearer "+k.Key, p.method, p.path, strings.NewReader(p.body)); a.status != 401 {
			t.Errorf("revoked key: %s %s = %d, want 401", p.method, p.path, a.status)
		}
	}
	// It is gone from the list; revoking it again finds nothing.
	if bytes.Contains(must(t, h, admin, "GET", "/api/v1/api-keys", "", 200).body, []byte(k.ID)) {
		t.Error("the revoked key is still listed")
	}
	must(t, h, admin, "DELETE", "/api/v1/api-keys/"+k.ID, "", 404)

	t.Run("a key revoking itself", func(t *testing.T) {
		var self struct{ ID, Key string }
		_ = json.Unmarshal(must(t, h, admin, "POST", "/api/v1/api-keys", `{"name":"self"}`, 201).body, &self)
		must(t, h, self.Key, "DELETE", "/api/v1/api-keys/"+self.ID, "", 204)
		must(t, h, self.Key, "GET", "/api/v1/collections", "", 401)
	})

	t.Run("the bootstrap key and another organisation", func(t *testing.T) {
		var keys struct {
			Items []struct {
				ID            string `json:"id"`
				InstanceAdmin bool   `json:"instanceAdmin"`
			} `json:"items"`
		}
		_ = json.Unmarshal(must(t, h, admin, "GET", "/api/v1/api-keys", "", 200).body, &keys)
		adminID := ""
		for _, it := range keys.Items {
			if it.InstanceAdmin {
				adminID = it.ID
			}
		}
		if adminID == "" {
			t.Fatal("the instance admin key is not listed")
		}
		var org struct{ APIKey string }
		_ = json.Unmarshal(must(t, h, admin, "POST", "/api/v1/organisations", `{"name":"Beta"}`, 201).body, &org)
		a := must(t, h, org.APIKey, "DELETE", "/api/v1/api-keys/"+adminID, "", 404)
		if a.envelope(t).Error.Code != "not_found" {
			t.Errorf("code: %s", a.body)
		}
		if bytes.Contains(must(t, h, org.APIKey, "GET", "/api/v1/api-keys", "", 200).body, []byte(adminID)) {
			t.Error("another organisation lists the instance admin key")
		}
		// A new organisation's own admin key is not an instance admin.
		must(t, h, org.APIKey, "POST", "/api/v1/organisations", `{"name":"Gamma"}`, 403)
		must(t, h, admin, "GET", "/api/v1/organisations", "", 200)
	})
}

// fakeClock is the rate limiter's clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	h, admin := httpapi.NewTestAPIWith(t, "", func(c *httpapi.Config) {
		c.RateLimit, c.RateBurst, c.Now = 2, 2, clock.Now
	})
	var other struct{ Key string }
	_ = json.Unmarshal(must(t, h, admin, "POST", "/api/v1/api-keys", `{"name":"other"}`, 201).body, &other)
	clock.Advance(10 * time.Second) // both buckets full

	get := func(key string) answer { return send(t, h, "Bearer "+key, "GET", "/api/v1/collections", nil) }
	expect := func(key string, statuses ...int) {
		t.Helper()
		for i, want := range statuses {
			a := get(key)
			if a.status != want {
				t.Fatalf("request %d: status %d, want %d: %s", i+1, a.status, want, a.body)
			}
			if want == 429 {
				if code := a.envelope(t).Error.Code; code != "rate_limited" {
					t.Errorf("code %q, want rate_limited", code)
				}
				if ra := a.header.Get("Retry-After"); ra != "1" {
					t.Errorf("Retry-After = %q, want 1 (half a second, rounded up)", ra)
				}
			}
		}
	}
	expect(admin, 200, 200, 429, 429)
	// Another key has its own bucket.
	expect(other.Key, 200, 200, 429)
	// Half a second gives one token back, a second two.
	clock.Advance(500 * time.Millisecond)
	expect(admin, 200, 429)
	clock.Advance(time.Second)
	expect(admin, 200, 200, 429)
	// A refused request takes no token: refusals do not push the wait out.
	for range 10 {
		expect(admin, 429)
	}
	clock.Advance(500 * time.Millisecond)
	expect(admin, 200, 429)
	// Writes count like reads, and a limited write does not read its body.
	big := strings.Repeat("x", httpapi.DefaultMaxBodyBytes+1)
	if a := send(t, h, "Bearer "+admin, "POST", "/api/v1/collections", strings.NewReader(big)); a.status != 429 {
		t.Errorf("limited write: %d, want 429", a.status)
	}
	// Unknown keys are refused before the limiter: 401, not 429.
	for range 5 {
		if a := get("ahk_unknown_key_0000000000000000"); a.status != 401 {
			t.Errorf("unknown key: %d, want 401", a.status)
		}
	}
}

// TestAuthFailureLimit: wrong keys from one address are answered 401 up to
// the burst, then 429 without the key being looked at, a right key
// included, until the budget refills; other addresses are not affected.
func TestAuthFailureLimit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	h, admin := httpapi.NewTestAPIWith(t, "", func(c *httpapi.Config) {
		c.RateLimit, c.AuthFailureBurst, c.Now = -1, 3, clock.Now
	})
	expect := func(addr, key string, want int) {
		t.Helper()
		a := listFrom(h, addr, "", key)
		if a.status != want {
			t.Fatalf("%s with key %.12s…: status %d, want %d: %s", addr, key, a.status, want, a.body)
		}
		if want == 429 {
			if code := a.envelope(t).Error.Code; code != "rate_limited" {
				t.Errorf("code %q, want rate_limited", code)
			}
			if ra := a.header.Get("Retry-After"); ra == "" {
				t.Error("no Retry-After")
			}
		}
	}
	const guesser, other = "198.51.100.7:4000", "203.0.113.9:4000"
	wrong := "ahk_guess_000000000000000000000000"
	expect(guesser, admin, 200) // a right key spends nothing
	for range 3 {
		expect(guesser, wrong, 401)
	}
	expect(guesser, wrong, 429)
	expect(guesser, admin, 429) // not even looked at
	expect(other, admin, 200)
	expect(other, wrong, 401)
	// The same host on another port, or another address of its IPv6 /64,
	// is the same client.
	expect("198.51.100.7:5000", wrong, 429)
	expect("[2001:db8:1:2::1]:4000", wrong, 401)
	expect("[2001:db8:1:2::1]:4000", wrong, 401)
	expect("[2001:db8:1:2::ffff]:4000", wrong, 401)
	expect("[2001:db8:1:2:ffff::9]:4000", wrong, 429)
	expect("[2001:db8:1:3::1]:4000", admin, 200)
	// One failure's worth of time gives one attempt back.
	clock.Advance(httpapi.AuthFailureEvery)
	expect(guesser, admin, 200)
	expect(guesser, wrong, 401)
	expect(guesser, wrong, 429)
}

// listFrom lists collections with key as a client at remote would, through
// a proxy that added xff ("" for none).
func listFrom(h http.Handler, remote, xff, key string) answer {
	req := httptest.NewRequest("GET", "/api/v1/collections", nil)
	req.RemoteAddr = remote
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: b}
}

// TestAuthFailureLimitBehindProxy: from a trusted proxy the client is named
// by X-Forwarded-For, so one client's guesses do not lock out the others;
// from anyone else the header is ignored.
func TestAuthFailureLimitBehindProxy(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	h, admin := httpapi.NewTestAPIWith(t, "", func(c *httpapi.Config) {
		c.RateLimit, c.AuthFailureBurst, c.Now = -1, 2, clock.Now
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	wrong := "ahk_guess_000000000000000000000000"
	for i, tc := range []struct {
		remote, xff, key string
		want             int
	}{
		{"10.0.0.5:1", "198.51.100.1", wrong, 401},
		{"10.0.0.5:1", "198.51.100.1", wrong, 401},
		{"10.0.0.5:1", "198.51.100.1", admin, 429},          // the guesser is limited…
		{"10.0.0.6:1", "6.6.6.6, 198.51.100.1", admin, 429}, // …whatever it writes in front
		{"10.0.0.5:1", "198.51.100.2", admin, 200},          // another client through the same proxy is not
		// Not a trusted proxy: the header is ignored, the address counts.
		{"192.0.2.7:1", "198.51.100.3", wrong, 401},
		{"192.0.2.7:1", "198.51.100.4", wrong, 401},
		{"192.0.2.7:1", "198.51.100.5", admin, 429},
	} {
		if got := listFrom(h, tc.remote, tc.xff, tc.key).status; got != tc.want {
			t.Errorf("request %d from %s (X-Forwarded-For %s): %d, want %d", i+1, tc.remote, tc.xff, got, tc.want)
		}
	}
}

// TestAuthFailureLimitConcurrent: wrong keys sent all at once get no more
// checks than the budget: attempts being checked count against it.
func TestAuthFailureLimitConcurrent(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	h, _ := httpapi.NewTestAPIWith(t, "", func(c *httpapi.Config) {
		c.RateLimit, c.AuthFailureBurst, c.Now = -1, 5, clock.Now
	})
	const n = 60
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			statuses <- listFrom(h, "198.51.100.7:4000", "", fmt.Sprintf("ahk_guess_%032d", i)).status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[401] > 5 || count[401]+count[429] != n {
		t.Errorf("answers %v: want at most 5 keys checked (401), the rest 429", count)
	}
}

// TestAuthFailureLimitValidBurst: 64 senders at once with one valid key
// from one address, no rate limit, 2,000 requests: none is refused by the
// failed-authentication limit, which counts only failures (issue 18,
// finding 8: 116 of 2,000 were answered 429).
func TestAuthFailureLimitValidBurst(t *testing.T) {
	t.Parallel()
	h, admin := httpapi.NewTestAPIWith(t, "", func(c *httpapi.Config) { c.RateLimit = -1 })
	const senders, each = 64, 32
	var refused, failed atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for range each {
				switch a := listFrom(h, "198.51.100.7:4000", "", admin); a.status {
				case 200:
				case 429:
					refused.Add(1)
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if refused.Load() != 0 || failed.Load() != 0 {
		t.Errorf("%d of %d requests with a valid key refused (429), %d otherwise failed; want none", refused.Load(), senders*each, failed.Load())
	}
}

// paddedCollection is a collection body of exactly n bytes.
func paddedCollection(n int) string {
	head, tail := `{"key":"big","name":"`, `"}`
	return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", noLimit)
	h, admin := f.h, f.admin
	limit := httpapi.DefaultMaxBodyBytes

	t.Run("exactly the limit is read", func(t *testing.T) {
		a := send(t, h, "Bearer "+admin, "POST", "/api/v1/collections", strings.NewReader(paddedCollection(limit)))
		if a.status != 422 || !slices.Contains(a.detailPaths(), "name") {
			t.Errorf("a body of exactly %d bytes: %d %.300s, want 422 at name (too long), not 413", limit, a.status, a.body)
		}
	})
	writes := []struct{ method, path string }{
		{"POST", "/api/v1/collections"},
		{"PUT", "/api/v1/collections/leads"},
		{"POST", "/api/v1/collections/leads/records"},
		{"PATCH", "/api/v1/collections/leads/records/" + f.recordID},
		{"POST", "/api/v1/automations"},
		{"PUT", "/api/v1/automations/" + f.automationID},
		{"POST", "/api/v1/automations/test"},
		{"POST", "/api/v1/automations/" + f.automationID + "/runs"},
		{"PUT", "/api/v1/secrets/BIG"},
		{"POST", "/api/v1/api-keys"},
		{"POST", "/api/v1/organisations"},
	}
	for _, w := range writes {
		t.Run("one byte over: "+w.method+" "+w.path, func(t *testing.T) {
			a := send(t, h, "Bearer "+admin, w.method, w.path, strings.NewReader(paddedCollection(limit+1)))
			if a.status != 413 {
				t.Fatalf("status %d, want 413: %.300s", a.status, a.body)
			}
			env := a.envelope(t)
			if env.Error.Code != "too_large" || !strings.Contains(env.Error.Message, "1048576") {
				t.Errorf("error %+v, want too_large naming the limit", env.Error)
			}
		})
	}
	t.Run("chunked, without Content-Length", func(t *testing.T) {
		var mu sync.Mutex
		var te []string
		var cl int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			te, cl = r.TransferEncoding, r.ContentLength
			mu.Unlock()
			h.ServeHTTP(w, r)
		}))
		defer srv.Close()
		for _, size := range []int{limit + 1, 8 * limit} {
			// A reader of unknown length: the client sends it chunked.
			body := io.MultiReader(strings.NewReader(`{"key":"big","name":"`), strings.NewReader(strings.Repeat("a", size)))
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/collections", body)
			req.Header.Set("Authorization", "Bearer "+admin)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%d bytes: %v", size, err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			if !slices.Contains(te, "chunked") || cl != -1 {
				t.Errorf("the request was not chunked: Transfer-Encoding %v, Content-Length %d", te, cl)
			}
			mu.Unlock()
			if resp.StatusCode != 413 || !bytes.Contains(data, []byte(`"too_large"`)) {
				t.Errorf("%d bytes chunked: %d %.300s, want 413 too_large", size, resp.StatusCode, data)
			}
		}
	})
}

// hostileCase is one hostile input and what the API must answer. Paths may
// hold {automation} and {record}, the fixture's ids. The fuzz target seeds
// its corpus from these bodies.
type hostileCase struct {
	name         string
	method, path string
	body         string
	status       int
	code         string
	details      []string // paths the details must name (all of them)
	msgHas       string
}

func manySteps(n int) string {
	steps := make([]string, n)
	for i := range steps {
		steps[i] = fmt.Sprintf(`{"id":"s%d","type":"update_record","set":[{"field":"note","value":"x"}]}`, i)
	}
	return `{"name":"Many","collection":"leads","trigger":{"type":"manual"},"steps":[` + strings.Join(steps, ",") + `]}`
}

// callAPIStep is an automation with one call_api step whose options are
// extra (a JSON fragment inside the step object) and whose condition is
// cond ("" for none).
func callAPIStep(extra, cond string) string {
	c := ""
	if cond != "" {
		b, _ := json.Marshal(cond)
		c = `"condition":` + string(b) + `,`
	}
	return `{"name":"Hostile","collection":"leads","trigger":{"type":"record_added"},` + c +
		`"steps":[{"id":"crm","type":"call_api","url":"https://api.example.com/x"` + extra + `}]}`
}

func headers(n int) string {
	hs := make([]string, n)
	for i := range hs {
		hs[i] = fmt.Sprintf(`{"name":"X-H%d","value":"v"}`, i)
	}
	return `,"headers":[` + strings.Join(hs, ",") + `]`
}

func header(name, value string) string {
	n, _ := json.Marshal(name)
	v, _ := json.Marshal(value)
	return `,"headers":[{"name":` + string(n) + `,"value":` + string(v) + `}]`
}

func textBody(text string) string {
	v, _ := json.Marshal(text)
	return `,"method":"POST","body":{"contentType":"text/plain","text":` + string(v) + `}`
}

// manyNodes is an expression of about 2n syntax nodes in under 4096 bytes.
func manyNodes(n int) string { return strings.TrimSuffix(strings.Repeat("1+", n), "+") + " > 0" }

var hostileCases = []hostileCase{
	// Malformed JSON: 400 with the line and column.
	{name: "malformed collection", method: "POST", path: "/api/v1/collections", body: `{"key": "x",`, status: 400, code: "bad_request", msgHas: "at line 1, column "},
	{name: "malformed automation, third line", method: "POST", path: "/api/v1/automations", body: "{\n  \"name\": \"x\",\n  \"steps\": [,]\n}", status: 400, code: "bad_request", msgHas: "at line 3, column 13"},
	{name: "malformed record", method: "POST", path: "/api/v1/collections/leads/records", body: `{"fields": {"name": "Ada"}`, status: 400, code: "bad_request", msgHas: "unexpected end of input"},
	{name: "not JSON at all", method: "PUT", path: "/api/v1/automations/{automation}", body: `<xml/>`, status: 400, code: "bad_request", msgHas: "at line 1, column 1"},
	{name: "malformed dry run", method: "POST", path: "/api/v1/automations/test", body: `{"automation": {"name": }}`, status: 400, code: "bad_request", msgHas: "line 1, column 25"},
	{name: "trailing data", method: "PUT", path: "/api/v1/secrets/TOKEN", body: `{"value": "a"}}`, status: 400, code: "bad_request", msgHas: "unexpected data after the JSON value"},
	{name: "byte order mark", method: "POST", path: "/api/v1/collections", body: "\ufeff{\"key\":\"bom\"}", status: 400, code: "bad_request", msgHas: "line 1, column 1"},
	{name: "deeply nested arrays", method: "POST", path: "/api/v1/collections", body: strings.Repeat("[", 20000), status: 400, code: "bad_request"},
	{name: "deeply nested objects", method: "POST", path: "/api/v1/automations", body: strings.Repeat(`{"a":`, 20000), status: 400, code: "bad_request"},
	{name: "a JSON array, not an object", method: "POST", path: "/api/v1/automations", body: `[]`, status: 422, code: "validation_failed"},
	{name: "null document", method: "POST", path: "/api/v1/automations", body: `null`, status: 422, code: "validation_failed"},

	// Unknown fields: every one named, at its exact path.
	{name: "unknown fields in an automation", method: "POST", path: "/api/v1/automations",
		body:   `{"nmae":"x","collection":"leads","trigger":{"tpye":"manual"},"steps":[{"type":"call_api","urll":"https://a.example","headers":[{"name":"X","vaule":"y"}]}]}`,
		status: 422, code: "validation_failed", details: []string{"nmae", "trigger.tpye", "steps[0].urll", "steps[0].headers[0].vaule"}},
	{name: "unknown field in a dry run's automation", method: "POST", path: "/api/v1/automations/test",
		body:   `{"automation":{"name":"x","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"update_record","sett":[]}]},"record":{"fields":{}}}`,
		status: 422, code: "validation_failed", details: []string{"automation.steps[0].sett"}},
	{name: "prototype pollution keys", method: "POST", path: "/api/v1/collections/leads/records", body: `{"fields":{"__proto__":{"admin":true},"constructor":1}}`,
		status: 422, code: "validation_failed", details: []string{"fields.__proto__", "fields.constructor"}},
	{name: "wrong JSON types", method: "POST", path: "/api/v1/automations", body: `{"name":1,"collection":["leads"],"enabled":"yes","trigger":"manual","steps":{}}`,
		status: 422, code: "validation_failed", details: []string{"name", "collection", "enabled", "trigger", "steps"}},

	// Oversized automations: refused at save, naming the path.
	{name: "21 steps", method: "POST", path: "/api/v1/automations", body: manySteps(21), status: 422, code: "validation_failed", details: []string{"steps"}},
	{name: "51 headers", method: "POST", path: "/api/v1/automations", body: callAPIStep(headers(51), ""), status: 422, code: "validation_failed", details: []string{"steps[0].headers"}},
	{name: "17 KiB text body template", method: "POST", path: "/api/v1/automations", body: callAPIStep(textBody(strings.Repeat("a", 17<<10)), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].body.text"}},
	{name: "17 KiB header template", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("X-Big", strings.Repeat("b", 17<<10)), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].value"}},
	{name: "17 KiB URL", method: "POST", path: "/api/v1/automations", body: `{"name":"x","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"call_api","url":"https://a.example/` + strings.Repeat("u", 17<<10) + `"}]}`,
		status: 422, code: "validation_failed", details: []string{"steps[0].url"}},
	{name: "5000-character condition", method: "POST", path: "/api/v1/automations", body: callAPIStep("", `record.name == "`+strings.Repeat("x", 5000)+`"`),
		status: 422, code: "validation_failed", details: []string{"condition"}, msgHas: "longer than 4096 bytes"},
	{name: "5000-character expression in a header", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("X-Expr", `{"`+strings.Repeat("x", 5000)+`"}`), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].value"}},
	{name: "condition of more than 1000 nodes", method: "POST", path: "/api/v1/automations", body: callAPIStep("", manyNodes(600)),
		status: 422, code: "validation_failed", details: []string{"condition"}},
	{name: "template expression of more than 1000 nodes", method: "POST", path: "/api/v1/automations", body: callAPIStep(textBody("{"+manyNodes(600)+"}"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].body.text"}},
	{name: "201 body fields", method: "POST", path: "/api/v1/automations", body: callAPIStep(`,"method":"POST","body":{"contentType":"application/json","fields":[`+
		strings.TrimSuffix(strings.Repeat(`{"key":"k","type":"string","value":"v"},`, 201), ",")+`]}`, ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].body.fields"}},
	{name: "201-character name", method: "POST", path: "/api/v1/automations", body: `{"name":"` + strings.Repeat("n", 201) + `","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"update_record","set":[{"field":"note","value":"x"}]}]}`,
		status: 422, code: "validation_failed", details: []string{"name"}},
	{name: "timeout and attempts out of range", method: "POST", path: "/api/v1/automations", body: callAPIStep(`,"timeoutSeconds":100000,"maxAttempts":1000000`, ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].timeoutSeconds", "steps[0].maxAttempts"}},
	{name: "a root the expressions do not have", method: "POST", path: "/api/v1/automations", body: callAPIStep("", `env.HOME != ""`),
		status: 422, code: "validation_failed", details: []string{"condition"}},

	// Header names: tokens only, and not the framing headers.
	{name: "header name with a space", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("X Lead", "v"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},
	{name: "header name with CRLF", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("X-Lead\r\nX-Injected", "v"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},
	{name: "header name with a colon", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("X-Lead:", "v"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},
	{name: "empty header name", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("", "v"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},
	{name: "non-ASCII header name", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("X-Léad", "v"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},
	{name: "Host header", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("host", "169.254.169.254"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},
	{name: "Transfer-Encoding header", method: "POST", path: "/api/v1/automations", body: callAPIStep(header("Transfer-Encoding", "chunked"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},
	{name: "Content-Length header", method: "PUT", path: "/api/v1/automations/{automation}", body: callAPIStep(header("Content-Length", "0"), ""),
		status: 422, code: "validation_failed", details: []string{"steps[0].headers[0].name"}},

	// Records, collections, secrets and keys.
	{name: "text field over 64 KiB", method: "POST", path: "/api/v1/collections/leads/records", body: `{"fields":{"name":"` + strings.Repeat("t", 65<<10) + `"}}`,
		status: 422, code: "validation_failed", details: []string{"fields.name"}},
	{name: "json field over 256 KiB", method: "POST", path: "/api/v1/collections/leads/records", body: `{"fields":{"items":["` + strings.Repeat("j", 257<<10) + `"]}}`,
		status: 422, code: "validation_failed", details: []string{"fields.items"}},
	{name: "number out of range", method: "POST", path: "/api/v1/collections/leads/records", body: `{"fields":{"value":1e400}}`,
		status: 422, code: "validation_failed"},
	{name: "stage not of the collection", method: "PATCH", path: "/api/v1/collections/leads/records/{record}", body: `{"stage":"Deleted'); DROP TABLE records;--"}`,
		status: 422, code: "validation_failed", details: []string{"stage"}},
	{name: "collection key with a path", method: "POST", path: "/api/v1/collections", body: `{"key":"../etc/passwd"}`,
		status: 422, code: "validation_failed", details: []string{"key"}},
	{name: "collection key with SQL", method: "POST", path: "/api/v1/collections", body: `{"key":"x' OR '1'='1"}`,
		status: 422, code: "validation_failed", details: []string{"key"}},
	{name: "field key reserved", method: "POST", path: "/api/v1/collections", body: `{"key":"c","fields":[{"key":"id","type":"text"},{"key":"__proto__","type":"text"}]}`,
		status: 422, code: "validation_failed", details: []string{"fields[0].key", "fields[1].key"}},
	{name: "secret value over 64 KiB", method: "PUT", path: "/api/v1/secrets/TOKEN", body: `{"value":"` + strings.Repeat("s", 65<<10) + `"}`,
		status: 422, code: "validation_failed", details: []string{"value"}},
	{name: "secret name with a path", method: "PUT", path: "/api/v1/secrets/..%2F..%2Fetc", body: `{"value":"x"}`,
		status: 422, code: "validation_failed", details: []string{"name"}},
	{name: "API key name too long", method: "POST", path: "/api/v1/api-keys", body: `{"name":"` + strings.Repeat("k", 201) + `"}`,
		status: 422, code: "validation_failed", details: []string{"name"}},
	{name: "manual run with a hostile record id", method: "POST", path: "/api/v1/automations/{automation}/runs", body: `{"recordId":"../../rec' OR 1=1--"}`,
		status: 422, code: "validation_failed", details: []string{"recordId"}},
}

func (c hostileCase) resolve(f *fixture) string {
	return strings.NewReplacer("{automation}", f.automationID, "{record}", f.recordID).Replace(c.path)
}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", noLimit)
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, f.h, "Bearer "+f.admin, tc.method, tc.resolve(f), strings.NewReader(tc.body))
			if a.status != tc.status {
				t.Errorf("status %d, want %d: %.500s", a.status, tc.status, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			env := a.envelope(t)
			if env.Error.Code != tc.code {
				t.Errorf("code %q, want %q", env.Error.Code, tc.code)
			}
			if !strings.Contains(env.Error.Message, tc.msgHas) {
				t.Errorf("message %q, want it to hold %q", env.Error.Message, tc.msgHas)
			}
			got := a.detailPaths()
			for _, p := range tc.details {
				if !slices.Contains(got, p) {
					t.Errorf("details %v do not name %q", got, p)
				}
			}
			if len(a.body) > 64<<10 {
				t.Errorf("the error is %d bytes: hostile input should not be echoed in full", len(a.body))
			}
		})
	}
	// Nothing hostile was stored.
	var l struct{ Items []any }
	_ = json.Unmarshal(must(t, f.h, f.admin, "GET", "/api/v1/automations", "", 200).body, &l)
	if len(l.Items) != 1 {
		t.Errorf("%d automations stored, want only the fixture's", len(l.Items))
	}
}

func TestAuthorizationVariants(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", noLimit)
	h, admin := f.h, f.admin
	tests := []struct {
		name   string
		values []string // Authorization headers, in order; none for nil
		status int
	}{
		{"none", nil, 401},
		{"empty", []string{""}, 401},
		{"scheme only", []string{"Bearer"}, 401},
		{"scheme and spaces", []string{"Bearer    "}, 401},
		{"no scheme", []string{admin}, 401},
		{"Basic", []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(admin+":"))}, 401},
		{"tab instead of a space", []string{"Bearer\t" + admin}, 401},
		// RFC 7235: the scheme is case-insensitive; the key is not.
		{"lowercase bearer, valid key", []string{"bearer " + admin}, 200},
		{"uppercase BEARER, valid key", []string{"BEARER " + admin}, 200},
		{"lowercase bearer, wrong key", []string{"bearer ahk_wrong"}, 401},
		{"key in another case", []string{"Bearer " + strings.ToUpper(admin)}, 401},
		{"key with a suffix", []string{"Bearer " + admin + "x"}, 401},
		{"key and another word", []string{"Bearer " + admin + " extra"}, 401},
		{"key prefix only", []string{"Bearer " + admin[:len(admin)-1]}, 401},
		{"NUL in the key", []string{"Bearer " + admin + "\x00"}, 401},
		{"invalid UTF-8", []string{"Bearer \xff\xfe\xfd"}, 401},
		{"SQL in the key", []string{"Bearer ' OR '1'='1' --"}, 401},
		{"10 KB key", []string{"Bearer ahk_" + strings.Repeat("k", 10<<10)}, 401},
		{"1 MB key", []string{"Bearer ahk_" + strings.Repeat("k", 1<<20)}, 401},
		{"a wrong key first, the right one second", []string{"Bearer ahk_wrong", "Bearer " + admin}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/collections", nil)
			for _, v := range tt.values {
				req.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %.300s", rec.Code, tt.status, rec.Body.Bytes())
			}
			if tt.status == 401 {
				a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
				if a.envelope(t).Error.Code != "unauthorized" || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("answer %s, WWW-Authenticate %q", rec.Body.Bytes(), rec.Header().Get("WWW-Authenticate"))
				}
				if len(rec.Body.Bytes()) > 1024 {
					t.Errorf("the 401 is %d bytes: it echoes the key", rec.Body.Len())
				}
			}
		})
	}
}

func TestPathTraversal(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testPathTraversal(t, "")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testPathTraversal(t, pgtest.NewDatabase(t))
	})
}

func testPathTraversal(t *testing.T, dbURL string) {
	f := newFixture(t, dbURL, noLimit)
	long := strings.Repeat("r", 100<<10)
	tests := []struct {
		method, path string
		statuses     []int
	}{
		{"GET", "/api/v1/collections/%2e%2e", []int{404}},
		{"GET", "/api/v1/collections/..%2f..%2fapi-keys", []int{404}},
		{"GET", "/api/v1/collections/%2e%2e%2f%2e%2e%2fapi-keys/records", []int{404}},
		{"GET", "/api/v1/collections/leads/records/%2e%2e%2f%2e%2e%2fapi-keys", []int{404}},
		{"GET", "/api/v1/collections/leads/records/..%2F", []int{404}},
		{"DELETE", "/api/v1/collections/leads/records/%2e%2e", []int{404}},
		{"GET", "/api/v1/automations/%2e%2e%2fapi-keys", []int{404}},
		{"PUT", "/api/v1/automations/..%2f" + f.automationID, []int{404}},
		{"GET", "/api/v1/runs/..%5c..%5cwindows", []int{404}},
		{"DELETE", "/api/v1/api-keys/%2e%2e", []int{404}},
		{"DELETE", "/api/v1/secrets/..%2f..%2fetc%2fpasswd", []int{404}},
		{"GET", "/api/v1/collections/leads%27%20OR%20%271%27%3D%271", []int{404}},
		{"GET", "/api/v1/collections/leads/records/" + f.recordID + "%27%20OR%201=1--", []int{404}},
		{"GET", "/api/v1/collections/%25252e%25252e", []int{404}},
		{"GET", "/api/v1/collections/leads/records/" + long, []int{404}},
		{"GET", "/api/v1/automations/" + long, []int{404}},
		{"POST", "/api/v1/runs/" + long + "/retry", []int{404}},
		{"DELETE", "/api/v1/api-keys/" + long, []int{404}},
		// ServeMux cleans a path with literal dot segments by redirecting
		// to the clean path, which asks for the key again.
		{"GET", "/api/v1/collections/../api-keys", []int{307}},
		{"GET", "/api/v1/collections/leads/records/../../../api-keys", []int{307}},
		{"GET", "/api/v1/./collections", []int{307}},
	}
	for _, tt := range tests {
		name := tt.method + " " + tt.path
		if len(name) > 100 {
			name = name[:100] + "..."
		}
		t.Run(name, func(t *testing.T) {
			a := send(t, f.h, "Bearer "+f.admin, tt.method, tt.path, strings.NewReader(manualAutomation))
			if !slices.Contains(tt.statuses, a.status) {
				t.Fatalf("status %d, want one of %v: %.300s", a.status, tt.statuses, a.body)
			}
			if a.status == 307 {
				if loc := a.header.Get("Location"); !strings.HasPrefix(loc, "/api/v1/") || strings.Contains(loc, "..") {
					t.Errorf("redirect to %q", loc)
				}
				// Following it still takes the key.
				if b := send(t, f.h, "", "GET", a.header.Get("Location"), nil); b.status != 401 {
					t.Errorf("the clean path without a key: %d, want 401", b.status)
				}
				return
			}
			a.envelope(t)
			if len(a.body) > 4096 {
				t.Errorf("the answer is %d bytes: the id is echoed in full", len(a.body))
			}
		})
	}
}

// TestNULAndInvalidUTF8 sends ids, filters and names that no key, id or
// name can be, holding a NUL byte or invalid UTF-8: both databases answer
// alike (the store checks such text before PostgreSQL could refuse it), a
// key or filter finding nothing, a name refused, never an internal error.
func TestNULAndInvalidUTF8(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testNULAndInvalidUTF8(t, "")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testNULAndInvalidUTF8(t, pgtest.NewDatabase(t))
	})
}

func testNULAndInvalidUTF8(t *testing.T, dbURL string) {
	f := newFixture(t, dbURL, noLimit)
	nul := base64.RawURLEncoding.EncodeToString([]byte("\x00"))
	bad := base64.RawURLEncoding.EncodeToString([]byte("\xff\xfe"))
	tests := []struct {
		method, path, body string
		statuses           []int
	}{
		{"GET", "/api/v1/collections/%00", "", []int{404}},
		{"GET", "/api/v1/collections/%ff%fe", "", []int{404}},
		{"GET", "/api/v1/collections/leads/records/%00", "", []int{404}},
		{"PATCH", "/api/v1/collections/leads/records/rec_%00", `{"fields":{}}`, []int{404}},
		{"GET", "/api/v1/automations/%00", "", []int{404}},
		{"GET", "/api/v1/runs/%ff", "", []int{404}},
		{"POST", "/api/v1/runs/%00/cancel", "", []int{404}},
		{"DELETE", "/api/v1/api-keys/%00", "", []int{404}},
		{"DELETE", "/api/v1/secrets/%00", "", []int{404}},
		{"GET", "/api/v1/runs?recordId=%00", "", []int{200}},
		{"GET", "/api/v1/automations?collection=%ff&trigger=%00", "", []int{422}}, // trigger: one of the trigger types
		{"GET", "/api/v1/collections/leads/records?stage=%00", "", []int{200}},
		{"GET", "/api/v1/collections?cursor=" + nul, "", []int{400}},
		{"GET", "/api/v1/runs?cursor=" + bad, "", []int{400}},
		{"POST", "/api/v1/automations/{automation}/runs", `{"recordId":"\u0000"}`, []int{422}},
		{"POST", "/api/v1/collections/leads/records", `{"fields":{"name":"a\u0000b"}}`, []int{201}}, // a field value: JSON holds it
		{"POST", "/api/v1/api-keys", `{"name":"ci\u0000"}`, []int{422}},
		{"POST", "/api/v1/collections", `{"key":"nul","name":"N\u0000L"}`, []int{422}},
		{"POST", "/api/v1/automations", `{"name":"N\u0000L","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"update_record","set":[{"field":"note","value":"x"}]}]}`, []int{422}},
		{"POST", "/api/v1/organisations", `{"name":"N\u0000L"}`, []int{422}},
	}
	for _, tt := range tests {
		path := strings.ReplaceAll(tt.path, "{automation}", f.automationID)
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			a := send(t, f.h, "Bearer "+f.admin, tt.method, path, body)
			if !slices.Contains(tt.statuses, a.status) {
				t.Fatalf("status %d, want one of %v: %.300s", a.status, tt.statuses, a.body)
			}
		})
	}
}

func TestSecretsNeverReturned(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", noLimit)
	h, admin := f.h, f.admin
	const value = "sv-7d1e-never-shown-4b2a"
	must(t, h, admin, "PUT", "/api/v1/secrets/CRM_TOKEN", `{"value":"`+value+`"}`, 204)

	var list struct{ Items []map[string]any }
	a := must(t, h, admin, "GET", "/api/v1/secrets", "", 200)
	_ = json.Unmarshal(a.body, &list)
	if len(list.Items) != 1 {
		t.Fatalf("secrets: %s", a.body)
	}
	var keys []string
	for k := range list.Items[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"createdAt", "name", "updatedAt"}) {
		t.Errorf("a listed secret has %v, want name and times only", keys)
	}
	// No route answers a secret's value: there is no GET of one secret.
	must(t, h, admin, "GET", "/api/v1/secrets/CRM_TOKEN", "", 405)

	doc := callAPIStep(`,"method":"POST","headers":[{"name":"Authorization","value":"Bearer {secrets.CRM_TOKEN}"},`+
		`{"name":"X-Custom","value":"{secrets.CRM_TOKEN}"},{"name":"X-Lower","value":"{lower(secrets.CRM_TOKEN)}"}],`+
		`"body":{"contentType":"application/json","fields":[{"key":"token","type":"string","value":"{secrets.CRM_TOKEN}"},`+
		`{"key":"wrapped","type":"json","value":"{toJSON({\"t\": secrets.CRM_TOKEN})}"}]}`, "")
	saved := must(t, h, admin, "POST", "/api/v1/automations", doc, 201)
	id := idOf(t, saved)
	urlDoc := strings.Replace(doc, `https://api.example.com/x`, `https://api.example.com/x?token={secrets.CRM_TOKEN}`, 1)
	warned := must(t, h, admin, "PUT", "/api/v1/automations/"+id, urlDoc, 200)
	if !strings.Contains(string(warned.body), "credentials belong in headers") {
		t.Errorf("a secret in the URL gives no warning: %s", warned.body)
	}
	test := must(t, h, admin, "POST", "/api/v1/automations/test", `{"automation":`+urlDoc+`,"record":{"fields":{"name":"Ada","value":2000}}}`, 200)
	if !strings.Contains(string(test.body), "[redacted]") {
		t.Errorf("the dry run shows no redaction: %s", test.body)
	}
	for _, p := range []string{"/api/v1/secrets", "/api/v1/automations", "/api/v1/automations/" + id, "/api/v1/runs"} {
		if b := must(t, h, admin, "GET", p, "", 200).body; bytes.Contains(b, []byte(value)) {
			t.Errorf("GET %s shows the secret: %s", p, b)
		}
	}
	for _, b := range [][]byte{saved.body, warned.body, test.body} {
		if bytes.Contains(b, []byte(value)) {
			t.Errorf("an answer shows the secret: %s", b)
		}
	}
}

// TestSecretInUpdateRecordDryRun: a dry run's update_record step shows the
// values it would set, unredacted, so {secrets.X} there answers the secret.
func TestSecretInUpdateRecordDryRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "", noLimit)
	const value = "sv-dry-run-update-7f3c"
	must(t, f.h, f.admin, "PUT", "/api/v1/secrets/CRM_TOKEN", `{"value":"`+value+`"}`, 204)
	doc := `{"name":"Copy","collection":"leads","trigger":{"type":"manual"},"steps":[{"id":"copy","type":"update_record","set":[{"field":"note","value":"{secrets.CRM_TOKEN}"}]}]}`
	a := send(t, f.h, "Bearer "+f.admin, "POST", "/api/v1/automations/test", strings.NewReader(`{"automation":`+doc+`,"record":{"fields":{"name":"Ada"}}}`))
	switch {
	case a.status == 422: // refused: fine
	case a.status != 200:
		t.Fatalf("status %d: %s", a.status, a.body)
	case bytes.Contains(a.body, []byte(value)):
		t.Errorf("the dry run answers the secret: %s", a.body)
	}
}

// The tests below run a whole node (internal/server, as `autohook serve`
// does) with a receiver on loopback, because what they check happens when a
// run's request is built and sent.

// node is a running server for one test (servertest.Start).
type node struct {
	*servertest.Client
}

func startNode(t *testing.T) *node { return &node{&servertest.Start(t).Client} }

// startNodeWithKey starts a node whose instance admin key is key.
func startNodeWithKey(t *testing.T, key string) *node {
	t.Helper()
	n := servertest.Start(t, func(c *server.Config) { c.BootstrapAPIKey = key })
	return &node{&n.Client}
}

// do sends a request with the node's key; body is JSON-encoded unless it
// is a string.
func (nd *node) do(t testing.TB, method, path string, body any) answer {
	t.Helper()
	return answerOf(nd.Do(t, method, path, body))
}

// must is do that fails the test unless the status is want (and the answer
// JSON).
func (nd *node) must(t testing.TB, want int, method, path string, body any) answer {
	t.Helper()
	return answerOf(nd.Must(t, want, method, path, body, nil))
}

func answerOf(a servertest.Answer) answer {
	return answer{status: a.Status, header: a.Header, body: a.Body}
}

// run is the part of a run the tests look at.
type run struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  *struct {
		Class   string `json:"class"`
		Message string `json:"message"`
	} `json:"error"`
	Steps []struct {
		Status   string `json:"status"`
		Attempts []struct {
			Request *struct {
				Headers map[string]string `json:"headers"`
			} `json:"request"`
			Error *struct {
				Class string `json:"class"`
			} `json:"error"`
		} `json:"attempts"`
	} `json:"steps"`
}

// waitRun waits until run id is finished and returns it with its raw JSON.
func (nd *node) waitRun(t testing.TB, id string) (run, []byte) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		a := nd.must(t, 200, "GET", "/api/v1/runs/"+id, nil)
		var r run
		if err := json.Unmarshal(a.body, &r); err != nil {
			t.Fatal(err)
		}
		if r.Status == "succeeded" || r.Status == "failed" || r.Status == "cancelled" {
			return r, a.body
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is still %s: %s", id, r.Status, a.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runOf waits for the one run of automation autID on record recID.
func (nd *node) runOf(t testing.TB, autID, recID string) (run, []byte) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var l struct{ Items []run }
		_ = json.Unmarshal(nd.must(t, 200, "GET", "/api/v1/automations/"+autID+"/runs?recordId="+recID, nil).body, &l)
		if len(l.Items) == 1 {
			return nd.waitRun(t, l.Items[0].ID)
		}
		if len(l.Items) > 1 || time.Now().After(deadline) {
			t.Fatalf("automation %s has %d runs for record %s, want 1", autID, len(l.Items), recID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHeaderInjectionEndToEnd(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	recv := servertest.NewReceiver(t, nil)
	nd.must(t, 201, "POST", "/api/v1/collections", `{"key":"leads","fields":[{"key":"name","type":"text"},{"key":"note","type":"text"}]}`)
	autID := idOf(t, nd.must(t, 201, "POST", "/api/v1/automations", map[string]any{
		"name": "Header from a record", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{
			"id": "send", "type": "call_api", "method": "POST", "url": recv.URL + "/hook",
			"headers": []any{map[string]any{"name": "X-Lead", "value": "{record.name}"}},
			"body":    map[string]any{"contentType": "text/plain", "text": "lead {record.name}"},
		}},
	}))

	hostile := []string{
		"Ada\r\nX-Injected: yes",
		"Ada\nX-Injected: yes",
		"Ada\rX-Injected: yes",
		"Ada\r\n\r\nGET /admin HTTP/1.1\r\nHost: internal",
		"Ada\x00",
		"Ada\x7f",
		"Ada\x1b[31m",
	}
	for _, name := range hostile {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			recID := idOf(t, nd.must(t, 201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": name}}))
			r, raw := nd.runOf(t, autID, recID)
			if r.Status != "failed" || r.Error == nil || r.Error.Class != "render" {
				t.Fatalf("run: %s, want failed with class render", raw)
			}
			if len(r.Steps) != 1 || len(r.Steps[0].Attempts) != 1 {
				t.Fatalf("want one attempt: %s", raw)
			}
			at := r.Steps[0].Attempts[0]
			if at.Error == nil || at.Error.Class != "render" || at.Request != nil {
				t.Errorf("attempt: %s, want class render and no request", raw)
			}
		})
	}
	if n := len(recv.Requests()); n != 0 {
		t.Fatalf("the receiver got %d requests from hostile header values, want none", n)
	}

	t.Run("a clean value is sent as it is", func(t *testing.T) {
		recID := idOf(t, nd.must(t, 201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Zoë\tLovelace"}}))
		if r, raw := nd.runOf(t, autID, recID); r.Status != "succeeded" {
			t.Fatalf("run: %s", raw)
		}
		got := recv.Requests()
		if len(got) != 1 {
			t.Fatalf("the receiver got %d requests, want 1", len(got))
		}
		if v := got[0].Header.Get("X-Lead"); v != "Zoë\tLovelace" {
			t.Errorf("X-Lead = %q", v)
		}
		if v := got[0].Header.Values("X-Injected"); len(v) != 0 {
			t.Errorf("X-Injected = %q", v)
		}
	})

	t.Run("record values in the URL are escaped", func(t *testing.T) {
		nd.must(t, 201, "POST", "/api/v1/collections", `{"key":"urls","fields":[{"key":"name","type":"text"}]}`)
		urlAut := idOf(t, nd.must(t, 201, "POST", "/api/v1/automations", map[string]any{
			"name": "URL from a record", "collection": "urls", "trigger": map[string]any{"type": "record_added"},
			"steps": []any{map[string]any{"id": "send", "type": "call_api", "url": recv.URL + "/p/{record.name}?q={record.name}"}},
		}))
		name := "a/../../admin\r\nX-Injected: yes #frag"
		recID := idOf(t, nd.must(t, 201, "POST", "/api/v1/collections/urls/records", map[string]any{"fields": map[string]any{"name": name}}))
		if r, raw := nd.runOf(t, urlAut, recID); r.Status != "succeeded" {
			t.Fatalf("run: %s", raw)
		}
		got := recv.Requests()
		last := got[len(got)-1]
		if last.URL.Path != "/p/"+name || last.URL.Query().Get("q") != name {
			t.Errorf("path %q query %q: the value did not arrive as one segment and one query value", last.URL.Path, last.URL.RawQuery)
		}
		if strings.Contains(last.URL.EscapedPath(), "/admin") || len(last.Header.Values("X-Injected")) != 0 {
			t.Errorf("escaped path %q, headers %v", last.URL.EscapedPath(), last.Header)
		}
	})

	t.Run("CR LF written in a header template", func(t *testing.T) {
		before := len(recv.Requests())
		doc := map[string]any{
			"name": "Literal CRLF", "collection": "leads", "trigger": map[string]any{"type": "manual"},
			"steps": []any{map[string]any{
				"id": "send", "type": "call_api", "url": recv.URL + "/literal",
				"headers": []any{map[string]any{"name": "X-Static", "value": "a\r\nX-Injected: 1"}},
			}},
		}
		a := nd.do(t, "POST", "/api/v1/automations", doc)
		t.Logf("saving a header value with a literal CR LF: %d", a.status)
		switch a.status {
		case 422:
			if !slices.Contains(a.detailPaths(), "steps[0].headers[0].value") {
				t.Errorf("422 without the path: %s", a.body)
			}
		case 201:
			// Accepted at save; every run fails with class render.
			recID := idOf(t, nd.must(t, 201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "x"}}))
			runID := idOf(t, nd.must(t, 202, "POST", "/api/v1/automations/"+idOf(t, a)+"/runs", map[string]any{"recordId": recID}))
			if r, raw := nd.waitRun(t, runID); r.Status != "failed" || r.Error == nil || r.Error.Class != "render" {
				t.Errorf("run: %s, want failed with class render", raw)
			}
			test := nd.must(t, 200, "POST", "/api/v1/automations/test", map[string]any{"automation": doc, "recordId": recID, "send": true})
			if !bytes.Contains(test.body, []byte(`"class":"render"`)) {
				t.Errorf("the dry run does not show the render failure: %s", test.body)
			}
		default:
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		// The record_added automation on leads sent one request for the
		// record above; nothing reached /literal.
		for _, r := range recv.Requests()[before:] {
			if r.URL.Path == "/literal" {
				t.Errorf("a request with a literal CR LF header reached the receiver: %v", r.Header)
			}
		}
	})
}

// echoReceiver answers with what it got: the Authorization and X-Custom
// headers and the body, as JSON.
func echoReceiver(t *testing.T) *servertest.Receiver {
	return servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"echo": r.Header.Get("Authorization"), "custom": r.Header.Get("X-Custom"), "body": string(body)})
	})
}

const e2eSecret = "sv-e2e-9c41-never-in-an-answer"

// secretAutomation sends the secret in headers and the body, captures the
// receiver's echo, and stores what it captured in the record.
func secretAutomation(url, trigger string) map[string]any {
	return map[string]any{
		"name": "Uses a secret", "collection": "vault", "trigger": map[string]any{"type": trigger},
		"steps": []any{
			map[string]any{
				"id": "call", "type": "call_api", "method": "POST", "url": url,
				"headers": []any{
					map[string]any{"name": "Authorization", "value": "Bearer {secrets.CRM_TOKEN}"},
					map[string]any{"name": "X-Custom", "value": "{secrets.CRM_TOKEN}"},
				},
				"body": map[string]any{"contentType": "application/json", "fields": []any{
					map[string]any{"key": "token", "type": "string", "value": "{secrets.CRM_TOKEN}"},
				}},
				"response": map[string]any{"type": "json", "schema": []any{
					map[string]any{"pointer": "/echo", "field": "echo"},
					map[string]any{"pointer": "/custom", "field": "custom"},
					map[string]any{"pointer": "/body", "field": "body"},
				}},
			},
			map[string]any{"id": "save", "type": "update_record", "set": []any{
				map[string]any{"field": "note", "value": "{fields.echo} {fields.custom} {fields.body}"},
			}},
		},
	}
}

func setupVault(t *testing.T, nd *node) {
	nd.must(t, 204, "PUT", "/api/v1/secrets/CRM_TOKEN", map[string]any{"value": e2eSecret})
	nd.must(t, 201, "POST", "/api/v1/collections", `{"key":"vault","fields":[{"key":"name","type":"text"},{"key":"note","type":"text"}]}`)
}

// noSecretIn checks every answer the API gives about the node's data.
func noSecretIn(t *testing.T, nd *node, paths ...string) {
	t.Helper()
	for _, p := range append([]string{"/api/v1/secrets", "/api/v1/automations", "/api/v1/runs", "/api/v1/collections/vault/records"}, paths...) {
		if b := nd.must(t, 200, "GET", p, nil).body; bytes.Contains(b, []byte(e2eSecret)) {
			t.Errorf("GET %s shows the secret: %s", p, b)
		}
	}
}

func TestSecretsEndToEnd(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	recv := echoReceiver(t)
	setupVault(t, nd)
	autID := idOf(t, nd.must(t, 201, "POST", "/api/v1/automations", secretAutomation(recv.URL+"/echo", "record_added")))
	recID := idOf(t, nd.must(t, 201, "POST", "/api/v1/collections/vault/records", map[string]any{"fields": map[string]any{"name": "Ada"}}))
	r, raw := nd.runOf(t, autID, recID)
	if r.Status != "succeeded" {
		t.Fatalf("run: %s", raw)
	}
	// The receiver got the value: the secret is used...
	got := recv.Requests()
	if len(got) != 1 || got[0].Header.Get("Authorization") != "Bearer "+e2eSecret || got[0].Header.Get("X-Custom") != e2eSecret {
		t.Fatalf("the receiver got %v", got)
	}
	// ...and never shown: not in history, not in the record the echo went to.
	if bytes.Contains(raw, []byte(e2eSecret)) {
		t.Errorf("the run shows the secret: %s", raw)
	}
	if !bytes.Contains(raw, []byte("[redacted]")) {
		t.Errorf("the run shows no redaction: %s", raw)
	}
	rec := nd.must(t, 200, "GET", "/api/v1/collections/vault/records/"+recID, nil).body
	if bytes.Contains(rec, []byte(e2eSecret)) || !bytes.Contains(rec, []byte("[redacted]")) {
		t.Errorf("the record: %s", rec)
	}
	noSecretIn(t, nd, "/api/v1/runs/"+r.ID, "/api/v1/automations/"+autID+"/runs")
	// A dry run that does not send shows the request redacted.
	test := nd.must(t, 200, "POST", "/api/v1/automations/test", map[string]any{"automation": secretAutomation(recv.URL+"/echo", "manual"), "recordId": recID})
	if bytes.Contains(test.body, []byte(e2eSecret)) || !bytes.Contains(test.body, []byte("[redacted]")) {
		t.Errorf("the dry run: %s", test.body)
	}
}

// TestSecretEchoInDryRun: a dry run that sends shows the fields it captured
// from the response; a receiver that echoes the secret must not make the
// dry run answer it.
func TestSecretEchoInDryRun(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	recv := echoReceiver(t)
	setupVault(t, nd)
	recID := idOf(t, nd.must(t, 201, "POST", "/api/v1/collections/vault/records", map[string]any{"fields": map[string]any{"name": "Ada"}}))
	test := nd.must(t, 200, "POST", "/api/v1/automations/test", map[string]any{"automation": secretAutomation(recv.URL+"/echo", "manual"), "recordId": recID, "send": true})
	if len(recv.Requests()) != 1 {
		t.Fatalf("the dry run did not send: %s", test.body)
	}
	if bytes.Contains(test.body, []byte(e2eSecret)) {
		t.Errorf("the dry run answers the secret: %s", test.body)
	}
}

// TestSecretCopiedByUpdateRecord: an update_record step that sets a field
// from {secrets.X} must not put the value where the API shows it (the run's
// history, the record).
func TestSecretCopiedByUpdateRecord(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	setupVault(t, nd)
	a := nd.do(t, "POST", "/api/v1/automations", map[string]any{
		"name": "Copies a secret", "collection": "vault", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"id": "copy", "type": "update_record", "set": []any{
			map[string]any{"field": "note", "value": "token={secrets.CRM_TOKEN}"},
		}}},
	})
	if a.status == 422 {
		return // refused at save: nothing can show it
	}
	if a.status != 201 {
		t.Fatalf("save: %d %s", a.status, a.body)
	}
	recID := idOf(t, nd.must(t, 201, "POST", "/api/v1/collections/vault/records", map[string]any{"fields": map[string]any{"name": "Ada"}}))
	runID := idOf(t, nd.must(t, 202, "POST", "/api/v1/automations/"+idOf(t, a)+"/runs", map[string]any{"recordId": recID}))
	r, raw := nd.waitRun(t, runID)
	if r.Status != "succeeded" {
		t.Fatalf("run: %s", raw)
	}
	if bytes.Contains(raw, []byte(e2eSecret)) {
		t.Errorf("the run's history shows the secret: %s", raw)
	}
	noSecretIn(t, nd, "/api/v1/collections/vault/records/"+recID)
}

// TestKeyPrefixRevealsLittle: key lists show a prefix of each key, so that
// people can tell keys apart. For a key of AUTOHOOK_BOOTSTRAP_API_KEY (any
// string of 16 characters or more) the prefix is its first 10 characters:
// any key of the first organisation then learns most of the instance
// admin's key. A prefix must leave most of a key unknown.
func TestKeyPrefixRevealsLittle(t *testing.T) {
	t.Parallel()
	const chosen = "Zq8vW3nK5pT1xR7m" // 16 characters, the shortest allowed
	nd := startNodeWithKey(t, chosen)
	var member struct{ Key string }
	_ = json.Unmarshal(nd.must(t, 201, "POST", "/api/v1/api-keys", `{"name":"member"}`).body, &member)
	member2 := &node{nd.As(member.Key)}
	var keys struct {
		Items []struct {
			Prefix        string `json:"prefix"`
			InstanceAdmin bool   `json:"instanceAdmin"`
		} `json:"items"`
	}
	_ = json.Unmarshal(member2.must(t, 200, "GET", "/api/v1/api-keys", nil).body, &keys)
	for _, k := range keys.Items {
		if !k.InstanceAdmin {
			continue
		}
		if !strings.HasPrefix(chosen, k.Prefix) {
			t.Fatalf("prefix %q is not a prefix of the key", k.Prefix)
		}
		if shown := len(k.Prefix); shown > len(chosen)/4 {
			t.Errorf("a member's key list shows %d of the instance admin key's %d characters (%q)", shown, len(chosen), k.Prefix)
		}
	}
}
