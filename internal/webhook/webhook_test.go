package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/egress"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/webhook"
)

const (
	signingSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	userAgent     = "Autohook-Test/1"
	attemptID     = "run_01.send"
)

// compile compiles a one-step automation document around step (JSON) and
// returns the automation; signing adds a signing secret.
func compile(t testing.TB, step string, signing bool) *automation.Compiled {
	t.Helper()
	sign := ""
	if signing {
		sign = `, "signing": {"secret": "` + signingSecret + `"}`
	}
	doc := `{"name": "test", "collection": "orders", "trigger": {"type": "manual"}, "steps": [` + step + `]` + sign + `}`
	a, err := automation.Decode([]byte(doc))
	if err != nil {
		t.Fatalf("Decode(%s): %v", doc, err)
	}
	comp, _, err := automation.Compile(a, nil, "", automation.Options{})
	if err != nil {
		t.Fatalf("Compile(%s): %v", doc, err)
	}
	return comp
}

// callAPI compiles a call_api step (JSON).
func callAPI(t testing.TB, step string) *automation.CallAPI {
	t.Helper()
	s, ok := compile(t, step, false).Steps[0].(*automation.CallAPI)
	if !ok {
		t.Fatalf("step %s did not compile to a call_api step", step)
	}
	return s
}

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func env(record map[string]any) render.Env {
	return render.NewEnv(record, nil, map[string]any{"ext": "E-1"}, map[string]any{"TOKEN": "tok-123"}, nil, map[string]any{"id": "run_01"}, testNow)
}

// baseRecord is the record the Build tests render against.
func baseRecord() map[string]any {
	return map[string]any{
		"id":     "a/b c",
		"q":      "x&y=z",
		"name":   "Ada",
		"amount": 12.5,
		"vip":    true,
		"items":  map[string]any{"k": []any{1.0, 2.0}},
		"raw":    `{"b": 1, "c": [true, null]}`,
		"base":   "https://api.example.com",
	}
}

// header builds an http.Header from name, value pairs.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// withAutohookHeaders adds the headers Build always sets.
func withAutohookHeaders(h http.Header) http.Header {
	h.Set("User-Agent", userAgent)
	h.Set("Idempotency-Key", attemptID)
	h.Set("Webhook-Id", attemptID)
	return h
}

func TestBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		step   string
		record map[string]any // nil: baseRecord
		want   *webhook.Request
	}{
		{
			name: "GET without body, values escaped by position",
			step: `{"type": "call_api", "url": "https://api.example.com/orders/{record.id}?q={record.q}&run={run.id}#{record.name}"}`,
			want: &webhook.Request{
				Method: "GET",
				URL:    "https://api.example.com/orders/a%2Fb%20c?q=x%26y%3Dz&run=run_01#Ada",
				Header: withAutohookHeaders(header()),
			},
		},
		{
			name: "base URL from a value",
			step: `{"type": "call_api", "method": "DELETE", "url": "{record.base}/v1/{fields.ext}"}`,
			want: &webhook.Request{
				Method: "DELETE",
				URL:    "https://api.example.com/v1/E-1",
				Header: withAutohookHeaders(header()),
			},
		},
		{
			name: "headers rendered, names canonical",
			step: `{"type": "call_api", "url": "https://h.example/", "headers": [
				{"name": "x-customer", "value": "{upper(record.name)}"},
				{"name": "Authorization", "value": "Bearer {secrets.TOKEN}"},
				{"name": "X-Static", "value": "plain"},
				{"name": "X-Tab", "value": "a\tb"}]}`,
			want: &webhook.Request{
				Method: "GET",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header("X-Customer", "ADA", "Authorization", "Bearer tok-123", "X-Static", "plain", "X-Tab", "a\tb")),
			},
		},
		{
			name: "values computed from secrets, in URL, header and body, are Derived; those under 8 bytes are not",
			step: `{"type": "call_api", "method": "POST", "url": "https://h.example/?sig={toBase64(secrets.TOKEN)}", "headers": [
				{"name": "X-Shout", "value": "{upper(secrets.TOKEN)}"},
				{"name": "X-Len", "value": "{len(secrets.TOKEN)}"}],
				"body": {"contentType": "application/json", "fields": [
				{"key": "basic", "type": "string", "value": "{toBase64('u:' + secrets.TOKEN)}"},
				{"key": "set", "type": "boolean", "value": "{secrets.TOKEN != ''}"}]}}`,
			want: &webhook.Request{
				Method:  "POST",
				URL:     "https://h.example/?sig=dG9rLTEyMw%3D%3D",
				Header:  withAutohookHeaders(header("X-Shout", "TOK-123", "X-Len", "7", "Content-Type", "application/json")),
				Body:    []byte(`{"basic":"dTp0b2stMTIz","set":true}`),
				Derived: []string{"dG9rLTEyMw==", "dTp0b2stMTIz"},
			},
		},
		{
			name: "text body",
			step: `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "text/plain", "text": "Hello {record.name}, you owe {record.amount}"}}`,
			want: &webhook.Request{
				Method: "POST",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header("Content-Type", "text/plain; charset=utf-8")),
				Body:   []byte("Hello Ada, you owe 12.5"),
			},
		},
		{
			name: "JSON body: each type, declared key order",
			step: `{"type": "call_api", "method": "PUT", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [
				{"key": "z", "type": "string", "value": "{record.name}"},
				{"key": "a", "type": "number", "value": "{record.amount}"},
				{"key": "m", "type": "boolean", "value": "{record.vip}"},
				{"key": "j", "type": "json", "value": "{record.items}"},
				{"key": "parsed", "type": "json", "value": "{record.raw}"},
				{"key": "n", "type": "number", "value": "1500.00"},
				{"key": "b", "type": "boolean", "value": "false"},
				{"key": "s", "type": "string", "value": "{record.amount * 2}"},
				{"key": "computed", "type": "number", "value": "{record.amount * 2}"},
				{"key": "nothing", "type": "string", "value": "{record.missing}"},
				{"key": "quote\"d", "type": "string", "value": "<{record.name}>"}]}}`,
			want: &webhook.Request{
				Method: "PUT",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header("Content-Type", "application/json")),
				Body:   []byte(`{"z":"Ada","a":12.5,"m":true,"j":{"k":[1,2]},"parsed":{"b":1,"c":[true,null]},"n":1500.00,"b":false,"s":"25","computed":25,"nothing":null,"quote\"d":"\u003cAda\u003e"}`),
			},
		},
		{
			name:   "JSON literals sent as written, numbers with every digit",
			record: map[string]any{"big": json.Number("12345678901234567891"), "obj": map[string]any{"id": json.Number("12345678901234567891"), "p": json.Number("1.50")}},
			step: `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [
				{"key": "orderItems", "type": "json", "value": "[\n{ \"sku\": \"WIDGET-001\", \"quantity\": 10 }\n]"},
				{"key": "empty", "type": "json", "value": " {} "},
				{"key": "n", "type": "number", "value": "{record.big}"},
				{"key": "s", "type": "string", "value": "{record.big}"},
				{"key": "j", "type": "json", "value": "{record.obj}"},
				{"key": "made", "type": "json", "value": "{ {\"id\": record.big} }"},
				{"key": "text", "type": "json", "value": "[{record.big}]"}]}}`,
			want: &webhook.Request{
				Method: "POST",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header("Content-Type", "application/json")),
				Body: []byte(`{"orderItems":[` + "\n" + `{ "sku": "WIDGET-001", "quantity": 10 }` + "\n" + `],"empty":{},` +
					`"n":12345678901234567891,"s":"12345678901234567891","j":{"id":12345678901234567891,"p":1.50},` +
					`"made":{"id":12345678901234567891},"text":[12345678901234567891]}`),
			},
		},
		{
			name:   "form body: declared order, repeated keys, escaped, nil as empty",
			record: map[string]any{"name": "Ada Lovelace", "q": "x&y=z+1", "big": json.Number("12345678901234567891")},
			step: `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/x-www-form-urlencoded", "fields": [
				{"key": "name", "value": "{record.name}"},
				{"key": "q", "value": "{record.q}"},
				{"key": "tag", "value": "a"},
				{"key": "tag", "value": "b"},
				{"key": "id", "value": "{record.big}"},
				{"key": "a b&c", "value": "é"},
				{"key": "none", "value": "{record.missing}"}]}}`,
			want: &webhook.Request{
				Method: "POST",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header("Content-Type", "application/x-www-form-urlencoded")),
				Body:   []byte(`name=Ada+Lovelace&q=x%26y%3Dz%2B1&tag=a&tag=b&id=12345678901234567891&a+b%26c=%C3%A9&none=`),
			},
		},
		{
			name: "headers see the body as sent; a signature from a secret is Derived",
			step: `{"type": "call_api", "url": "https://h.example/", "headers": [
				{"name": "X-Signature", "value": "sha256={hmacSHA256(secrets.TOKEN, body)}"},
				{"name": "X-Body-Sha", "value": "{sha256(body)}"},
				{"name": "X-Length", "value": "{len(body)}"}],
				"body": {"contentType": "text/plain", "text": "Hello {record.name}"}}`,
			want: &webhook.Request{
				Method: "POST",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header(
					"X-Signature", "sha256="+hmacHex("tok-123", "Hello Ada"),
					"X-Body-Sha", sha256Hex("Hello Ada"),
					"X-Length", "9",
					"Content-Type", "text/plain; charset=utf-8")),
				Body:    []byte("Hello Ada"),
				Derived: []string{hmacHex("tok-123", "Hello Ada")},
			},
		},
		{
			name: "empty JSON body",
			step: `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json"}}`,
			want: &webhook.Request{
				Method: "POST",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header("Content-Type", "application/json")),
				Body:   []byte(`{}`),
			},
		},
		{
			name: "Content-Type given by the step wins",
			step: `{"type": "call_api", "url": "https://h.example/", "headers": [{"name": "content-type", "value": "application/vnd.api+json"}],
				"body": {"contentType": "application/json", "fields": [{"key": "a", "type": "number", "value": "1"}]}}`,
			want: &webhook.Request{
				Method: "POST",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header("Content-Type", "application/vnd.api+json")),
				Body:   []byte(`{"a":1}`),
			},
		},
		{
			name: "Autohook's headers replace the step's",
			step: `{"type": "call_api", "url": "https://h.example/", "headers": [
				{"name": "User-Agent", "value": "curl/8"},
				{"name": "Idempotency-Key", "value": "mine"},
				{"name": "Webhook-Id", "value": "mine"}]}`,
			want: &webhook.Request{
				Method: "GET",
				URL:    "https://h.example/",
				Header: withAutohookHeaders(header()),
			},
		},
	}
	c := webhook.New(webhook.Config{UserAgent: userAgent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := tt.record
			if rec == nil {
				rec = baseRecord()
			}
			got, f := c.Build(callAPI(t, tt.step), env(rec), attemptID, nil, testNow)
			if f != nil {
				t.Fatalf("Build = %v, want a request", f)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Build mismatch (-want +got):\n%s", diff)
			}
			if got.Header.Get("Webhook-Signature") != "" {
				t.Errorf("unsigned request has Webhook-Signature %q", got.Header.Get("Webhook-Signature"))
			}
		})
	}
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestBuildDefaultUserAgent(t *testing.T) {
	t.Parallel()
	req, f := webhook.New(webhook.Config{}).Build(callAPI(t, `{"type": "call_api", "url": "https://h.example/"}`), env(nil), "id-1", nil, testNow)
	if f != nil {
		t.Fatal(f)
	}
	if got := req.Header.Get("User-Agent"); got != "Autohook" {
		t.Errorf("User-Agent = %q, want Autohook", got)
	}
}

// TestBuildSigned checks the Standard Webhooks headers: the official
// library verifies them, they sign exactly the body sent, and webhook-id is
// the idempotency key.
func TestBuildSigned(t *testing.T) {
	t.Parallel()
	verifier, err := standardwebhooks.NewWebhook(signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, step string
	}{
		{"JSON body", `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [{"key": "name", "type": "string", "value": "{record.name}"}]}}`},
		{"text body", `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "text/plain", "text": "hi {record.name}\n"}}`},
		{"no body", `{"type": "call_api", "url": "https://h.example/"}`},
	}
	c := webhook.New(webhook.Config{UserAgent: userAgent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			comp := compile(t, tt.step, true)
			if comp.Signer == nil {
				t.Fatal("compiled automation has no signer")
			}
			now := time.Now()
			req, f := c.Build(comp.Steps[0].(*automation.CallAPI), env(baseRecord()), attemptID, comp.Signer, now)
			if f != nil {
				t.Fatal(f)
			}
			if err := verifier.Verify(req.Body, req.Header); err != nil {
				t.Errorf("official Verify: %v", err)
			}
			got := []string{req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("Idempotency-Key")}
			want := []string{attemptID, strconv.FormatInt(now.Unix(), 10), attemptID}
			if !cmp.Equal(got, want) {
				t.Errorf("webhook-id, webhook-timestamp, Idempotency-Key = %q, want %q", got, want)
			}
			if err := verifier.Verify(append(req.Body, ' '), req.Header); err == nil {
				t.Error("official Verify accepted a changed body")
			}
		})
	}
}

// TestBuildSignedEndToEnd sends a signed request and verifies it where it
// arrives, with the official library.
func TestBuildSignedEndToEnd(t *testing.T) {
	t.Parallel()
	verifier, err := standardwebhooks.NewWebhook(signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	verified := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verified <- verifier.Verify(body, r.Header)
	}))
	t.Cleanup(srv.Close)
	comp := compile(t, `{"type": "call_api", "url": "`+srv.URL+`/hook", "body": {"contentType": "application/json", "fields": [{"key": "amount", "type": "number", "value": "{record.amount}"}]}}`, true)
	step := comp.Steps[0].(*automation.CallAPI)
	c := loopbackClient(webhook.Config{})
	req, f := c.Build(step, env(baseRecord()), attemptID, comp.Signer, time.Now())
	if f != nil {
		t.Fatal(f)
	}
	if res := c.Do(t.Context(), step, req); res.Failure != nil {
		t.Fatalf("Do: %v", res.Failure)
	}
	if err := <-verified; err != nil {
		t.Errorf("receiver's official Verify: %v", err)
	}
}

func TestBuildFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		step   string
		record map[string]any // merged over baseRecord
		class  retry.Class
		want   []string // substrings of the message
	}{
		{
			name:  "URL evaluation fails",
			step:  `{"type": "call_api", "url": "https://h.example/{record.nope.deeper}"}`,
			class: retry.Render, want: []string{"url:"},
		},
		{
			name:   "URL not absolute",
			step:   `{"type": "call_api", "url": "{record.base}/x"}`,
			record: map[string]any{"base": ""},
			class:  retry.InvalidURL, want: []string{"url:", "absolute"},
		},
		{
			name:   "URL with another scheme",
			step:   `{"type": "call_api", "url": "{record.base}/x"}`,
			record: map[string]any{"base": "ftp://files.example"},
			class:  retry.InvalidURL, want: []string{"url:", "scheme"},
		},
		{
			name:   "URL with a space before the path",
			step:   `{"type": "call_api", "url": "{record.base}/x"}`,
			record: map[string]any{"base": "https://h.example x"},
			class:  retry.InvalidURL, want: []string{"url:"},
		},
		{
			name:  "header evaluation fails",
			step:  `{"type": "call_api", "url": "https://h.example/", "headers": [{"name": "X-Trace", "value": "{record.nope.deeper}"}]}`,
			class: retry.Render, want: []string{"header X-Trace"},
		},
		{
			name:   "header value with CR LF",
			step:   `{"type": "call_api", "url": "https://h.example/", "headers": [{"name": "x-name", "value": "{record.name}"}]}`,
			record: map[string]any{"name": "Ada\r\nX-Injected: 1"},
			class:  retry.Render, want: []string{"header X-Name", "control character", "position 3"},
		},
		{
			name:   "header value with LF only",
			step:   `{"type": "call_api", "url": "https://h.example/", "headers": [{"name": "X-Name", "value": "v={record.name}"}]}`,
			record: map[string]any{"name": "a\nb"},
			class:  retry.Render, want: []string{"header X-Name", "control character"},
		},
		{
			name:   "header value with NUL",
			step:   `{"type": "call_api", "url": "https://h.example/", "headers": [{"name": "X-Name", "value": "{record.name}"}]}`,
			record: map[string]any{"name": "a\x00b"},
			class:  retry.Render, want: []string{"header X-Name", "control character"},
		},
		{
			name:  "text body evaluation fails",
			step:  `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "text/plain", "text": "x {record.nope.deeper}"}}`,
			class: retry.Render, want: []string{"body:"},
		},
		{
			name:  "JSON field evaluation fails",
			step:  `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [{"key": "ok", "type": "string", "value": "x"}, {"key": "broken", "type": "string", "value": "{record.nope.deeper}"}]}}`,
			class: retry.Render, want: []string{`body field "broken"`},
		},
		{
			name:  "number conversion fails",
			step:  `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [{"key": "amount", "type": "number", "value": "{record.name}"}]}}`,
			class: retry.Render, want: []string{`body field "amount"`, "number"},
		},
		{
			name:  "boolean conversion fails",
			step:  `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [{"key": "vip", "type": "boolean", "value": "maybe"}]}}`,
			class: retry.Render, want: []string{`body field "vip"`, "boolean"},
		},
		{
			name:  "a value over its evaluation budget",
			step:  `{"type": "call_api", "url": "https://h.example/", "headers": [{"name": "X-Big", "value": "{len(map(1..5000, repeat('a', 1048576)))}"}]}`,
			class: retry.Render, want: []string{"header X-Big", "over the memory budget", "8 MiB"},
		},
		{
			name:  "JSON fields larger than a request together",
			step:  `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [{"key": "a", "type": "string", "value": "{repeat('a', 1048576) + repeat('a', 1048576)}"}, {"key": "b", "type": "string", "value": "{repeat('b', 1048576) + repeat('b', 1048576)}"}, {"key": "c", "type": "string", "value": "{repeat('c', 1048576)}"}]}}`,
			class: retry.Render, want: []string{`body field "b"`, "the request would be larger than 4 MiB"},
		},
		{
			name:  "headers larger than a request together",
			step:  `{"type": "call_api", "url": "https://h.example/", "headers": [{"name": "X-A", "value": "{repeat('a', 1048576) + repeat('a', 1048576)}"}, {"name": "X-B", "value": "{repeat('b', 1048576) + repeat('b', 1048576)}"}]}`,
			class: retry.Render, want: []string{"header X-B", "the request would be larger than 4 MiB"},
		},
		{
			name:   "JSON conversion fails",
			step:   `{"type": "call_api", "url": "https://h.example/", "body": {"contentType": "application/json", "fields": [{"key": "doc", "type": "json", "value": "{record.raw}"}]}}`,
			record: map[string]any{"raw": `{"unterminated": `},
			class:  retry.Render, want: []string{`body field "doc"`, "JSON"},
		},
	}
	c := webhook.New(webhook.Config{UserAgent: userAgent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := baseRecord()
			for k, v := range tt.record {
				rec[k] = v
			}
			req, f := c.Build(callAPI(t, tt.step), env(rec), attemptID, nil, testNow)
			if f == nil {
				t.Fatalf("Build = %+v, want a %s failure", req, tt.class)
			}
			// With a failure comes only what redacting its message needs.
			if req == nil || req.URL != "" || len(req.Header) != 0 || req.Body != nil {
				t.Errorf("Build returned %+v with its failure, want a request holding only Derived", req)
			}
			if f.Class != tt.class {
				t.Errorf("class = %q (%s), want %q", f.Class, f.Message, tt.class)
			}
			for _, w := range tt.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message = %q, want it to contain %q", f.Message, w)
				}
			}
			if got, want := f.Error(), string(f.Class)+": "+f.Message; got != want {
				t.Errorf("Error() = %q, want %q", got, want)
			}
		})
	}
}

// loopbackClient returns a client that may reach httptest servers.
func loopbackClient(cfg webhook.Config) *webhook.Client {
	if cfg.Policy == nil {
		cfg.Policy = &egress.Policy{AllowPrivate: true}
	}
	cfg.UserAgent = userAgent
	return webhook.New(cfg)
}

// send builds a call_api step (JSON) against baseRecord and sends it
// within ctx.
func send(ctx context.Context, t *testing.T, c *webhook.Client, step string) *webhook.Result {
	t.Helper()
	s := callAPI(t, step)
	req, f := c.Build(s, env(baseRecord()), attemptID, nil, time.Now())
	if f != nil {
		t.Fatalf("Build: %v", f)
	}
	return c.Do(ctx, s, req)
}

func TestDoSendsTheRequest(t *testing.T) {
	t.Parallel()
	type seen struct {
		Method, Path, RawQuery, Body string
		Header                       map[string]string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b), map[string]string{
			"Content-Type": r.Header.Get("Content-Type"), "User-Agent": r.Header.Get("User-Agent"),
			"Idempotency-Key": r.Header.Get("Idempotency-Key"), "Webhook-Id": r.Header.Get("Webhook-Id"),
			"X-Customer": r.Header.Get("X-Customer"),
		}}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	res := send(t.Context(), t, loopbackClient(webhook.Config{}), `{"type": "call_api", "method": "PATCH", "url": "`+srv.URL+`/orders/{record.id}?q={record.q}",
		"headers": [{"name": "X-Customer", "value": "{record.name}"}],
		"body": {"contentType": "application/json", "fields": [{"key": "amount", "type": "number", "value": "{record.amount}"}]}}`)
	if res.Failure != nil {
		t.Fatalf("Do: %v", res.Failure)
	}
	want := seen{
		Method: "PATCH", Path: "/orders/a%2Fb%20c", RawQuery: "q=x%26y%3Dz", Body: `{"amount":12.5}`,
		Header: map[string]string{"Content-Type": "application/json", "User-Agent": userAgent, "Idempotency-Key": attemptID, "Webhook-Id": attemptID, "X-Customer": "Ada"},
	}
	if diff := cmp.Diff(want, <-got); diff != "" {
		t.Errorf("request received mismatch (-want +got):\n%s", diff)
	}
	if res.Status != http.StatusCreated || res.Duration <= 0 {
		t.Errorf("Status, Duration = %d, %v; want 201, > 0", res.Status, res.Duration)
	}
}

func TestDoSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		response    string // the step's response option (JSON), "" for none
		want        map[string]any
	}{
		{"no response option", "application/json", `{"id": 1}`, ``, nil},
		{"response none", "text/plain", "ignored", `{"type": "none"}`, nil},
		{"text", "text/plain", "hello\nworld", `{"type": "text", "field": "reply"}`, map[string]any{"reply": "hello\nworld"}},
		{"text, empty body", "text/plain", "", `{"type": "text", "field": "reply"}`, map[string]any{"reply": ""}},
		{"text, JSON body kept as text", "application/json", `{"a": 1}`, `{"type": "text", "field": "reply"}`, map[string]any{"reply": `{"a": 1}`}},
		{
			name:        "JSON pointers",
			contentType: "application/json",
			body:        `{"data": {"id": "x1", "n": 3, "f": -2.5, "big": 1e400, "nested": {"a": [1, "two", true, null]}, "a/b": "slash", "t~": "tilde"}, "ok": true, "none": null}`,
			response: `{"type": "json", "schema": [
				{"pointer": "/data/id", "field": "id", "required": true},
				{"pointer": "/data/n", "field": "n"},
				{"pointer": "/data/f", "field": "f"},
				{"pointer": "/data/big", "field": "big"},
				{"pointer": "/data/nested", "field": "nested"},
				{"pointer": "/data/nested/a/1", "field": "second"},
				{"pointer": "/data/a~1b", "field": "slash"},
				{"pointer": "/data/t~0", "field": "tilde"},
				{"pointer": "/ok", "field": "ok"},
				{"pointer": "/none", "field": "none", "required": true},
				{"pointer": "/missing/deep", "field": "missing"}]}`,
			want: map[string]any{
				"id": "x1", "n": json.Number("3"), "f": json.Number("-2.5"), "big": json.Number("1e400"),
				"nested": map[string]any{"a": []any{json.Number("1"), "two", true, nil}},
				"second": "two", "slash": "slash", "tilde": "tilde", "ok": true, "none": nil, "missing": nil,
			},
		},
		{
			name:        "JSON array at the root",
			contentType: "application/json",
			body:        `[{"id": 7}, {"id": 8}]`,
			response:    `{"type": "json", "schema": [{"pointer": "/1/id", "field": "id", "required": true}, {"pointer": "/5/id", "field": "gone"}]}`,
			want:        map[string]any{"id": json.Number("8"), "gone": nil},
		},
		{
			name:        "JSON with a whole-document pointer",
			contentType: "application/json",
			body:        `{"a": 1}`,
			response:    `{"type": "json", "schema": [{"pointer": "", "field": "all"}]}`,
			want:        map[string]any{"all": map[string]any{"a": json.Number("1")}},
		},
		{
			name:        "JSON numbers keep every digit",
			contentType: "application/json",
			body:        `{"id": 12345678901234567891, "price": 1500.00, "tiny": 1E-7, "list": [99999999999999999999999]}`,
			response:    `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}, {"pointer": "/price", "field": "price"}, {"pointer": "/tiny", "field": "tiny"}, {"pointer": "/list", "field": "list"}]}`,
			want: map[string]any{
				"id": json.Number("12345678901234567891"), "price": json.Number("1500.00"), "tiny": json.Number("1E-7"),
				"list": []any{json.Number("99999999999999999999999")},
			},
		},
		{
			name:        "header and status with a JSON response",
			contentType: "application/json",
			body:        `{"id": "z"}`,
			response:    `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}, {"header": "content-type", "field": "ct"}, {"header": "X-Missing", "field": "missing"}, {"status": true, "field": "httpStatus"}]}`,
			want:        map[string]any{"id": "z", "ct": "application/json", "missing": nil, "httpStatus": json.Number("200")},
		},
		{
			name:        "header and status with a text response",
			contentType: "text/plain",
			body:        "ok",
			response:    `{"type": "text", "field": "reply", "schema": [{"header": "Content-Type", "field": "ct"}, {"status": true, "field": "httpStatus"}]}`,
			want:        map[string]any{"reply": "ok", "ct": "text/plain", "httpStatus": json.Number("200")},
		},
		{
			name:        "header and status with no body captured",
			contentType: "text/plain",
			body:        "ignored",
			response:    `{"type": "none", "schema": [{"header": "Content-Type", "field": "ct", "required": true}, {"status": true, "field": "httpStatus"}]}`,
			want:        map[string]any{"ct": "text/plain", "httpStatus": json.Number("200")},
		},
		{
			name:        "JSON, empty body: optional pointers capture null",
			contentType: "",
			body:        "",
			response:    `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}, {"pointer": "", "field": "all"}, {"status": true, "field": "httpStatus"}]}`,
			want:        map[string]any{"id": nil, "all": nil, "httpStatus": json.Number("200")},
		},
		{
			name:        "JSON, body of spaces: optional pointers capture null",
			contentType: "application/json",
			body:        " \r\n",
			response:    `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`,
			want:        map[string]any{"id": nil},
		},
		{
			name:        "JSON without content type",
			contentType: "",
			body:        ` {"id": "y"} `,
			response:    `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`,
			want:        map[string]any{"id": "y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			step := `{"type": "call_api", "url": "` + srv.URL + `/x"`
			if tt.response != "" {
				step += `, "response": ` + tt.response
			}
			res := send(t.Context(), t, loopbackClient(webhook.Config{}), step+`}`)
			if res.Failure != nil {
				t.Fatalf("Do: %v", res.Failure)
			}
			if res.Status != http.StatusOK {
				t.Errorf("Status = %d, want 200", res.Status)
			}
			if string(res.Body) != tt.body {
				t.Errorf("Body = %q, want %q", res.Body, tt.body)
			}
			if diff := cmp.Diff(tt.want, res.Fields); diff != "" {
				t.Errorf("Fields mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDoRedirect(t *testing.T) {
	t.Parallel()
	var bodies sync.Map
	mux := http.NewServeMux()
	mux.HandleFunc("/found", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	mux.HandleFunc("/temporary", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies.Store(r.Method, string(b))
		io.WriteString(w, `{"id": "moved"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := loopbackClient(webhook.Config{})
	const capture = `"response": {"type": "json", "schema": [{"pointer": "/id", "field": "id", "required": true}]}`

	t.Run("302 followed", func(t *testing.T) {
		res := send(t.Context(), t, c, `{"type": "call_api", "url": "`+srv.URL+`/found", `+capture+`}`)
		if res.Failure != nil || res.Status != 200 || res.Fields["id"] != "moved" {
			t.Errorf("Do = status %d, fields %v, failure %v; want 200 with the redirect target's id", res.Status, res.Fields, res.Failure)
		}
	})
	t.Run("307 followed with the body", func(t *testing.T) {
		res := send(t.Context(), t, c, `{"type": "call_api", "method": "PUT", "url": "`+srv.URL+`/temporary", "body": {"contentType": "text/plain", "text": "payload"}, `+capture+`}`)
		if res.Failure != nil || res.Status != 200 || res.Fields["id"] != "moved" {
			t.Errorf("Do = status %d, fields %v, failure %v; want 200 with the redirect target's id", res.Status, res.Fields, res.Failure)
		}
		if got, _ := bodies.Load("PUT"); got != "payload" {
			t.Errorf("body at the redirect target = %q, want payload", got)
		}
	})
	t.Run("redirect loop stops", func(t *testing.T) {
		res := send(t.Context(), t, c, `{"type": "call_api", "url": "`+srv.URL+`/loop"}`)
		if res.Failure == nil || res.Failure.Class != retry.Network || !strings.Contains(res.Failure.Message, "redirect") {
			t.Errorf("Do = %v, want a network failure about redirects", res.Failure)
		}
	})
}

// TestDoRedirectToBlocked follows a redirect from an allowed address to a
// refused one.
func TestDoRedirectToBlocked(t *testing.T) {
	t.Parallel()
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		if r.URL.Path == "/start" {
			// same server, but by its IPv6 loopback address, which the
			// policy does not allow
			_, port, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, "http://[::1]:"+port+"/target", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	c := loopbackClient(webhook.Config{Policy: &egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
	res := send(t.Context(), t, c, `{"type": "call_api", "url": "`+srv.URL+`/start"}`)
	if res.Failure == nil || res.Failure.Class != retry.BlockedDestination {
		t.Fatalf("Do = %v, want a blocked_destination failure", res.Failure)
	}
	if _, ok := hits.Load("/start"); !ok {
		t.Error("the allowed first request did not arrive")
	}
	if _, ok := hits.Load("/target"); ok {
		t.Error("the refused redirect target was reached")
	}
}

func TestDoFailures(t *testing.T) {
	t.Parallel()
	retryDate := func() string { return time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name       string
		status     int
		header     func() http.Header
		body       string
		response   string
		class      retry.Class
		wantStatus int
		minRetry   time.Duration // RetryAfter within [minRetry, maxRetry]
		maxRetry   time.Duration
		message    string
	}{
		{name: "404", status: 404, body: "no such order", class: retry.HTTP4xx, wantStatus: 404, message: "404 Not Found"},
		{name: "400 with JSON capture", status: 400, body: `{"error": "bad"}`, response: `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`, class: retry.HTTP4xx, wantStatus: 400},
		{name: "502", status: 502, body: "bad gateway", class: retry.HTTP5xx, wantStatus: 502, message: "502"},
		{
			name: "429 Retry-After seconds", status: 429, header: func() http.Header { return header("Retry-After", "7") },
			class: retry.HTTP4xx, wantStatus: 429, minRetry: 7 * time.Second, maxRetry: 7 * time.Second,
		},
		{
			name: "503 Retry-After HTTP date", status: 503, header: func() http.Header { return header("Retry-After", retryDate()) },
			class: retry.HTTP5xx, wantStatus: 503, minRetry: 27 * time.Second, maxRetry: 30 * time.Second,
		},
		{
			name: "503 Retry-After seconds", status: 503, header: func() http.Header { return header("Retry-After", "120") },
			class: retry.HTTP5xx, wantStatus: 503, minRetry: 120 * time.Second, maxRetry: 120 * time.Second,
		},
		{
			// "now": the floor that keeps it from becoming a tight loop,
			// not the schedule's minutes.
			name: "429 Retry-After 0", status: 429, header: func() http.Header { return header("Retry-After", "0") },
			class: retry.HTTP4xx, wantStatus: 429, minRetry: retry.MinRetryAfter, maxRetry: retry.MinRetryAfter,
		},
		{
			name: "500 Retry-After ignored", status: 500, header: func() http.Header { return header("Retry-After", "7") },
			class: retry.HTTP5xx, wantStatus: 500,
		},
		{
			name: "400 Retry-After ignored", status: 400, header: func() http.Header { return header("Retry-After", "7") },
			class: retry.HTTP4xx, wantStatus: 400,
		},
		{
			name: "429 Retry-After unreadable", status: 429, header: func() http.Header { return header("Retry-After", "soon") },
			class: retry.HTTP4xx, wantStatus: 429,
		},
		{name: "429 without Retry-After", status: 429, class: retry.HTTP4xx, wantStatus: 429},
		{
			name: "required pointer missing", status: 200, body: `{"data": {}}`,
			response: `{"type": "json", "schema": [{"pointer": "/data/id", "field": "id", "required": true}]}`,
			class:    retry.Response, wantStatus: 200, message: "/data/id",
		},
		{
			name: "malformed JSON", status: 200, body: `{"id": `,
			response: `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`,
			class:    retry.Response, wantStatus: 200, message: "not valid JSON",
		},
		{
			name: "JSON followed by more", status: 200, body: `{"id": 1} {"id": 2}`,
			response: `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`,
			class:    retry.Response, wantStatus: 200, message: "not valid JSON",
		},
		{
			name: "empty body for a required pointer", status: 200, body: ``,
			response: `{"type": "json", "schema": [{"pointer": "/id", "field": "id", "required": true}]}`,
			class:    retry.Response, wantStatus: 200, message: "required pointer /id resolves to nothing: the response has no body (status 200)",
		},
		{
			name: "204 for a required pointer", status: 204, body: ``,
			response: `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}, {"pointer": "/n", "field": "n", "required": true}]}`,
			class:    retry.Response, wantStatus: 204, message: "required pointer /n resolves to nothing: the response has no body (status 204)",
		},
		{
			name: "required header missing", status: 201, body: `{}`,
			response: `{"type": "json", "schema": [{"header": "Location", "field": "location", "required": true}]}`,
			class:    retry.Response, wantStatus: 201, message: "required header Location is not in the response",
		},
		{
			name: "HTML error page with 200", status: 200, body: `<html>oops</html>`,
			response: `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`,
			class:    retry.Response, wantStatus: 200, message: "not valid JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.header != nil {
					for k, vs := range tt.header() {
						w.Header()[k] = vs
					}
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			step := `{"type": "call_api", "url": "` + srv.URL + `/x"`
			if tt.response != "" {
				step += `, "response": ` + tt.response
			}
			res := send(t.Context(), t, loopbackClient(webhook.Config{}), step+`}`)
			f := res.Failure
			if f == nil {
				t.Fatalf("Do = status %d, fields %v; want a %s failure", res.Status, res.Fields, tt.class)
			}
			if f.Class != tt.class {
				t.Errorf("class = %q (%s), want %q", f.Class, f.Message, tt.class)
			}
			if res.Status != tt.wantStatus {
				t.Errorf("Result.Status = %d, want %d", res.Status, tt.wantStatus)
			}
			wantFailureStatus := 0
			if tt.class == retry.HTTP4xx || tt.class == retry.HTTP5xx {
				wantFailureStatus = tt.wantStatus
			}
			if f.Status != wantFailureStatus {
				t.Errorf("Failure.Status = %d, want %d", f.Status, wantFailureStatus)
			}
			if f.RetryAfter < tt.minRetry || f.RetryAfter > tt.maxRetry {
				t.Errorf("RetryAfter = %v, want between %v and %v", f.RetryAfter, tt.minRetry, tt.maxRetry)
			}
			if !strings.Contains(f.Message, tt.message) {
				t.Errorf("message = %q, want it to contain %q", f.Message, tt.message)
			}
			if string(res.Body) != tt.body {
				t.Errorf("Body = %q, want the response body %q kept for history", res.Body, tt.body)
			}
			if res.Fields != nil {
				t.Errorf("Fields = %v, want none with a failure", res.Fields)
			}
		})
	}
}

func TestDoMaxResponseBytes(t *testing.T) {
	t.Parallel()
	const limit = 32
	exact := `{"id": "` + strings.Repeat("x", limit-10) + `"}` // limit bytes
	if len(exact) != limit {
		t.Fatalf("test body is %d bytes, want %d", len(exact), limit)
	}
	large := `{"id": "` + strings.Repeat("y", 100) + `"}`
	text := strings.Repeat("0123456789", 10)
	tests := []struct {
		name, body, response string
		class                retry.Class // "" for success
		fields               map[string]any
		bodyKept             string
	}{
		{"JSON at the limit", exact, `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`, "", map[string]any{"id": strings.Repeat("x", limit-10)}, exact},
		{"JSON over the limit", large, `{"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}`, retry.Response, nil, large[:limit]},
		{"text at the limit", text[:limit], `{"type": "text", "field": "reply"}`, "", map[string]any{"reply": text[:limit]}, text[:limit]},
		{"text over the limit", text, `{"type": "text", "field": "reply"}`, retry.Response, nil, text[:limit]},
		{"text over the limit, status captured", text, `{"type": "text", "field": "reply", "schema": [{"status": true, "field": "s"}]}`, retry.Response, nil, text[:limit]},
		{"nothing captured over the limit", text, `{"type": "none"}`, "", nil, text[:limit]},
		{"status captured over the limit of a none response", text, `{"type": "none", "schema": [{"status": true, "field": "s"}]}`, "", map[string]any{"s": json.Number("200")}, text[:limit]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tt.body) }))
			t.Cleanup(srv.Close)
			res := send(t.Context(), t, loopbackClient(webhook.Config{MaxResponseBytes: limit}), `{"type": "call_api", "url": "`+srv.URL+`/", "response": `+tt.response+`}`)
			var class retry.Class
			if res.Failure != nil {
				class = res.Failure.Class
			}
			if class != tt.class {
				t.Fatalf("class = %q (%v), want %q", class, res.Failure, tt.class)
			}
			if want := "response body exceeds " + strconv.Itoa(limit) + " bytes"; class == retry.Response && !strings.Contains(res.Failure.Message, want) {
				t.Errorf("message = %q, want it to say %q", res.Failure.Message, want)
			}
			if diff := cmp.Diff(tt.fields, res.Fields); diff != "" {
				t.Errorf("Fields mismatch (-want +got):\n%s", diff)
			}
			if string(res.Body) != tt.bodyKept {
				t.Errorf("Body = %q, want %q", res.Body, tt.bodyKept)
			}
		})
	}
}

// stallingServer answers nothing until the client goes away; with
// partial, it sends the status and part of the body first.
func stallingServer(t *testing.T, partial bool) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if partial {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"id": `)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	return srv
}

func TestDoTimeout(t *testing.T) {
	t.Parallel()
	for _, partial := range []bool{false, true} {
		t.Run(fmt.Sprintf("partial=%v", partial), func(t *testing.T) {
			t.Parallel()
			srv := stallingServer(t, partial)
			start := time.Now()
			res := send(t.Context(), t, loopbackClient(webhook.Config{}), `{"type": "call_api", "url": "`+srv.URL+`/", "timeoutSeconds": 1,
				"response": {"type": "json", "schema": [{"pointer": "/id", "field": "id"}]}}`)
			took := time.Since(start)
			if res.Failure == nil || res.Failure.Class != retry.Timeout {
				t.Fatalf("Do = %v, want a timeout failure", res.Failure)
			}
			if took < time.Second || took >= 3*time.Second {
				t.Errorf("Do returned after %v, want about the step's timeout of 1s", took)
			}
			if partial {
				if res.Status != 200 || !strings.HasPrefix(res.Failure.Message, "reading the response body") {
					t.Errorf("Status = %d, message = %q; want 200 and a failure while reading the body", res.Status, res.Failure.Message)
				}
			} else if res.Status != 0 {
				t.Errorf("Status = %d, want 0 without a response", res.Status)
			}
		})
	}
}

// TestDoTimeoutLayers: within a 5 s step, a receiver that sends no headers
// fails at the header timeout, one that stalls mid-body at the body-idle
// timeout, each saying which; a slow but steady body is not a stall.
func TestDoTimeoutLayers(t *testing.T) {
	t.Parallel()
	const layer = 300 * time.Millisecond
	c := loopbackClient(webhook.Config{HeaderTimeout: layer, BodyIdleTimeout: layer})
	step := func(url string) string {
		return `{"type": "call_api", "url": "` + url + `/", "timeoutSeconds": 5, "response": {"type": "text", "field": "t"}}`
	}
	for _, tc := range []struct {
		partial bool
		want    string
	}{
		{false, "no response headers within 300ms of sending the request"},
		{true, "reading the response body: it stalled, nothing received for 300ms after 7 bytes"},
	} {
		t.Run(fmt.Sprintf("partial=%v", tc.partial), func(t *testing.T) {
			t.Parallel()
			srv := stallingServer(t, tc.partial)
			start := time.Now()
			res := send(t.Context(), t, c, step(srv.URL))
			took := time.Since(start)
			if res.Failure == nil || res.Failure.Class != retry.Timeout || res.Failure.Message != tc.want {
				t.Fatalf("Do = %v, want a timeout failure %q", res.Failure, tc.want)
			}
			// Far from the step's 5 s: the layer, not the step, ended it.
			if took < layer || took > 3*time.Second {
				t.Errorf("Do returned after %v, want about %v", took, layer)
			}
		})
	}
	t.Run("slow but steady body", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := range 8 {
				fmt.Fprintf(w, "%d", i)
				w.(http.Flusher).Flush()
				time.Sleep(layer / 3)
			}
		}))
		t.Cleanup(srv.Close)
		res := send(t.Context(), t, c, step(srv.URL))
		if res.Failure != nil || res.Fields["t"] != "01234567" {
			t.Errorf("Do = %v, fields %v; want the whole body, no failure", res.Failure, res.Fields)
		}
	})
}

// TestDoInterrupted cancels the run's context (the node shutting down)
// while a request is in flight: not a timeout of the step.
func TestDoInterrupted(t *testing.T) {
	t.Parallel()
	srv := stallingServer(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res := send(ctx, t, loopbackClient(webhook.Config{}), `{"type": "call_api", "url": "`+srv.URL+`/", "timeoutSeconds": 10}`)
	if res.Failure == nil || res.Failure.Class != retry.Network || !strings.Contains(res.Failure.Message, "shutting down") {
		t.Errorf("Do = %v, want a network failure saying the node is shutting down", res.Failure)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Do returned after %v, want soon after the cancellation", took)
	}
}

func TestDoConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res := send(t.Context(), t, loopbackClient(webhook.Config{}), `{"type": "call_api", "url": "http://`+addr+`/"}`)
	if res.Failure == nil || res.Failure.Class != retry.Network {
		t.Fatalf("Do = %v, want a network failure", res.Failure)
	}
	if !strings.Contains(res.Failure.Message, "connection refused") {
		t.Errorf("message = %q, want it to say connection refused", res.Failure.Message)
	}
	if res.Status != 0 {
		t.Errorf("Status = %d, want 0", res.Status)
	}
}

func TestDoBlockedDestination(t *testing.T) {
	t.Parallel()
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	tests := []struct {
		name   string
		policy *egress.Policy
		url    string
	}{
		{"loopback IP, default policy", nil, srv.URL + "/"},
		{"loopback IP, zero policy", &egress.Policy{}, srv.URL + "/"},
		{"localhost resolves to loopback", &egress.Policy{}, "http://localhost:" + port + "/"},
		{"denied host name even with private allowed", &egress.Policy{AllowPrivate: true, DenyHosts: []string{"localhost"}}, "http://LOCALHOST:" + port + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := webhook.New(webhook.Config{Policy: tt.policy, UserAgent: userAgent})
			res := send(t.Context(), t, c, `{"type": "call_api", "url": "`+tt.url+`"}`)
			if res.Failure == nil || res.Failure.Class != retry.BlockedDestination {
				t.Fatalf("Do = status %d, failure %v; want a blocked_destination failure", res.Status, res.Failure)
			}
			if !strings.Contains(res.Failure.Message, "blocked destination") {
				t.Errorf("message = %q, want it to say blocked destination", res.Failure.Message)
			}
		})
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if hits != 0 {
			t.Errorf("the server got %d requests, want none", hits)
		}
	})
}

func TestReserve(t *testing.T) {
	t.Parallel()
	const wait = 50 * time.Millisecond

	t.Run("third waits, then fails", func(t *testing.T) {
		t.Parallel()
		c := webhook.New(webhook.Config{MaxPerHost: 2})
		r1, ok1 := c.Reserve(t.Context(), "org", "https://a.example/1", wait)
		r2, ok2 := c.Reserve(t.Context(), "org", "https://a.example/2?x=1", wait)
		if !ok1 || !ok2 {
			t.Fatalf("first two Reserve = %v, %v; want both true", ok1, ok2)
		}
		start := time.Now()
		r3, ok3 := c.Reserve(t.Context(), "org", "https://A.EXAMPLE:443/3", wait)
		if ok3 || r3 != nil {
			t.Fatalf("third Reserve on the same host and port = %v, want false and no release", ok3)
		}
		if took := time.Since(start); took < wait {
			t.Errorf("third Reserve gave up after %v, want it to wait %v", took, wait)
		}
		r1()
		r4, ok4 := c.Reserve(t.Context(), "org", "https://a.example/4", wait)
		if !ok4 {
			t.Fatal("Reserve after a release = false, want true")
		}
		r2()
		r4()
	})

	t.Run("a release during the wait lets it through", func(t *testing.T) {
		t.Parallel()
		c := webhook.New(webhook.Config{MaxPerHost: 2})
		r1, _ := c.Reserve(t.Context(), "org", "http://b.example/", wait)
		c.Reserve(t.Context(), "org", "http://b.example/", wait)
		time.AfterFunc(50*time.Millisecond, r1)
		start := time.Now()
		_, ok := c.Reserve(t.Context(), "org", "http://b.example:80/", 5*time.Second)
		if !ok {
			t.Fatal("Reserve while another is released = false, want true")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Reserve took %v after the release, want it soon", took)
		}
	})

	t.Run("hosts and organisations are independent, ports and spellings are not", func(t *testing.T) {
		t.Parallel()
		c := webhook.New(webhook.Config{MaxPerHost: 2})
		for range 2 {
			if _, ok := c.Reserve(t.Context(), "org", "https://busy.example/", wait); !ok {
				t.Fatal("Reserve within the limit = false")
			}
		}
		// Issue 18, finding 3: ten ports of one stalled host are one
		// destination, whatever the scheme or the spelling of the name.
		for _, u := range []string{"http://busy.example/", "https://busy.example:8443/", "http://BUSY.example:19001/", "https://ｂｕｓｙ.example/", "http://busy.example.:80/"} {
			if _, ok := c.Reserve(t.Context(), "org", u, 0); ok {
				t.Errorf("Reserve(%s) = true, want false: the same host as busy.example", u)
			}
		}
		for _, u := range []string{"https://other.example/", "https://10.0.0.1/"} {
			if _, ok := c.Reserve(t.Context(), "org", u, 0); !ok {
				t.Errorf("Reserve(%s) = false, want true: another host than busy.example", u)
			}
		}
		if _, ok := c.Reserve(t.Context(), "another org", "https://busy.example/", 0); !ok {
			t.Error("Reserve by another organisation = false, want true: each organisation has its own places")
		}
		// IP addresses in any spelling are one host.
		for range 2 {
			c.Reserve(t.Context(), "org", "http://127.0.0.1:1/", 0)
		}
		for _, u := range []string{"http://127.0.0.1:2/", "http://[::ffff:127.0.0.1]:3/"} {
			if _, ok := c.Reserve(t.Context(), "org", u, 0); ok {
				t.Errorf("Reserve(%s) = true, want false: the same address as 127.0.0.1", u)
			}
		}
	})

	t.Run("cancelled context stops the wait", func(t *testing.T) {
		t.Parallel()
		c := webhook.New(webhook.Config{MaxPerHost: 1})
		c.Reserve(t.Context(), "org", "https://c.example/", wait)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		if _, ok := c.Reserve(ctx, "org", "https://c.example/", 10*time.Second); ok {
			t.Fatal("Reserve on a busy host with a cancelled context = true")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Reserve returned %v after the cancellation, want soon", took)
		}
	})

	t.Run("default limit", func(t *testing.T) {
		t.Parallel()
		c := webhook.New(webhook.Config{})
		for i := range webhook.DefaultMaxPerHost {
			if _, ok := c.Reserve(t.Context(), "org", "https://d.example/", 0); !ok {
				t.Fatalf("Reserve %d of %d = false", i+1, webhook.DefaultMaxPerHost)
			}
		}
		if _, ok := c.Reserve(t.Context(), "org", "https://d.example/", 0); ok {
			t.Errorf("Reserve %d = true, want the default limit of %d", webhook.DefaultMaxPerHost+1, webhook.DefaultMaxPerHost)
		}
	})
}

func TestHistoryRequest(t *testing.T) {
	t.Parallel()
	const token = "s3cr3t-t0ken"
	r := secret.NewRedactor(token)
	req := &webhook.Request{
		Method: "POST",
		URL:    "https://api.example.com/x?key=" + token,
		Header: header(
			"Authorization", "Bearer something-not-listed",
			"Cookie", "session=abc",
			"X-Api-Key", "k-1",
			"Proxy-Authorization", "Basic eA==",
			"X-Echo", "token "+token,
			"X-Plain", "hello",
			"X-Multi", "a",
			"X-Multi", "b",
			"Content-Type", "application/json",
		),
		Body: []byte(`{"token":"` + token + `","n":1}`),
	}
	req.Header["x-api-key"] = []string{"lower-case key"} // a non-canonical name still counts
	got := webhook.HistoryRequest(req, r, 1000)
	want := &automation.HTTPRequest{
		Method: "POST",
		URL:    "https://api.example.com/x?key=[redacted]",
		Headers: map[string]string{
			"Authorization":       "[redacted]",
			"Cookie":              "[redacted]",
			"X-Api-Key":           "[redacted]",
			"x-api-key":           "[redacted]",
			"Proxy-Authorization": "[redacted]",
			"X-Echo":              "token [redacted]",
			"X-Plain":             "hello",
			"X-Multi":             "a, b",
			"Content-Type":        "application/json",
		},
		Body: `{"token":"[redacted]","n":1}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HistoryRequest mismatch (-want +got):\n%s", diff)
	}
	if req.Header.Get("Authorization") != "Bearer something-not-listed" || !strings.Contains(string(req.Body), token) {
		t.Error("HistoryRequest changed the request itself")
	}
}

// TestHistoryURLPassword: the password of a URL's user info is hidden in
// history whatever it is (a secret, a literal, a value of the record), in
// the request's URL and its redirects' (issue 18 finding 9, issue 10 item
// 10); the user name stays.
func TestHistoryURLPassword(t *testing.T) {
	t.Parallel()
	r := secret.NewRedactor("tok-123")
	for _, tc := range []struct{ url, want string }{
		{"https://user:tok-123@api.example.com/x", "https://user:[redacted]@api.example.com/x"},
		{"https://user:literal-pw@api.example.com/x?a=1", "https://user:[redacted]@api.example.com/x?a=1"},
		{"https://us%40er:p%3Aw%2Fd@api.example.com:8443/", "https://us%40er:[redacted]@api.example.com:8443/"},
		{"https://user:@api.example.com/", "https://user:[redacted]@api.example.com/"},
		{"https://user@api.example.com/", "https://user@api.example.com/"},
		{"https://api.example.com/a:b@c", "https://api.example.com/a:b@c"},
	} {
		req := &webhook.Request{Method: "GET", URL: tc.url, Header: http.Header{},
			Redirects: []automation.Redirect{{Status: 302, Method: "GET", URL: tc.url}}}
		got := webhook.HistoryRequest(req, r, 100)
		if got.URL != tc.want || got.Redirects[0].URL != tc.want {
			t.Errorf("HistoryRequest(%s): URL %q, redirect %q; want %q", tc.url, got.URL, got.Redirects[0].URL, tc.want)
		}
	}
	// From a template: user:{secrets.PW}@host and a literal password.
	c := webhook.New(webhook.Config{})
	for _, tc := range []struct{ url, want string }{
		{"https://user:{secrets.TOKEN}@api.example.com/", "https://user:[redacted]@api.example.com/"},
		{"https://{record.name}:{record.id}@api.example.com/", "https://Ada:[redacted]@api.example.com/"},
	} {
		s := callAPI(t, `{"type": "call_api", "url": "`+tc.url+`"}`)
		req, f := c.Build(s, env(baseRecord()), attemptID, nil, testNow)
		if f != nil {
			t.Fatalf("Build(%s): %v", tc.url, f)
		}
		if got := webhook.HistoryRequest(req, r, 100).URL; got != tc.want {
			t.Errorf("history of %s = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestHistoryResponse(t *testing.T) {
	t.Parallel()
	const token = "s3cr3t-t0ken"
	res := &webhook.Result{
		Status: 401,
		Header: header("Set-Cookie", "id=1", "Set-Cookie", "other=2", "Www-Authenticate", "Bearer realm="+token, "Content-Type", "application/json"),
		Body:   []byte(`{"error":"bad token ` + token + `"}`),
	}
	got := webhook.HistoryResponse(res, secret.NewRedactor(token), 1000)
	want := &automation.HTTPResponse{
		Status: 401,
		Headers: map[string]string{
			"Set-Cookie":       "[redacted]",
			"Www-Authenticate": "Bearer realm=[redacted]",
			"Content-Type":     "application/json",
		},
		Body: `{"error":"bad token [redacted]"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HistoryResponse mismatch (-want +got):\n%s", diff)
	}

	// No response at all (a network failure).
	empty := webhook.HistoryResponse(&webhook.Result{}, secret.NewRedactor(token), 1000)
	if diff := cmp.Diff(&automation.HTTPResponse{Headers: map[string]string{}}, empty); diff != "" {
		t.Errorf("HistoryResponse of no response mismatch (-want +got):\n%s", diff)
	}
}

func TestHistoryBodyLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		body          string
		limit         int
		want          string
		wantTruncated bool
	}{
		{"nil body", "", 10, "", false},
		{"under the limit", "hello", 10, "hello", false},
		{"at the limit", "hello", 5, "hello", false},
		{"over the limit", "hello world", 5, "hello", true},
		{"limit 0", "x", 0, "", true},
		{"cut inside a 2-byte rune", "hé!", 2, "h", true},
		{"cut after a 2-byte rune", "hé!", 3, "hé", true},
		{"cut inside a 3-byte rune", "a€b", 3, "a", true},
		{"cut inside a 4-byte rune", "ok😀", 5, "ok", true},
		{"cut after a 4-byte rune", "ok😀!", 6, "ok😀", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			req := webhook.HistoryRequest(&webhook.Request{Method: "GET", URL: "https://h.example/", Header: http.Header{}, Body: body}, secret.NewRedactor(), tt.limit)
			if req.Body != tt.want || req.BodyTruncated != tt.wantTruncated {
				t.Errorf("request body = %q, truncated %v; want %q, %v", req.Body, req.BodyTruncated, tt.want, tt.wantTruncated)
			}
			res := webhook.HistoryResponse(&webhook.Result{Status: 200, Header: http.Header{}, Body: body}, secret.NewRedactor(), tt.limit)
			if res.Body != tt.want || res.BodyTruncated != tt.wantTruncated {
				t.Errorf("response body = %q, truncated %v; want %q, %v", res.Body, res.BodyTruncated, tt.want, tt.wantTruncated)
			}
		})
	}
}

// TestHistoryBodySecretAtTheLimit cuts a body in the middle of a secret:
// no part of the secret may be kept.
func TestHistoryBodySecretAtTheLimit(t *testing.T) {
	t.Parallel()
	const token = "s3cr3t-t0ken-0123456789"
	body := []byte(`{"token":"` + token + `"}`)
	limit := len(`{"token":"`) + 10 // inside the token
	got := webhook.HistoryRequest(&webhook.Request{Method: "POST", URL: "https://h.example/", Header: http.Header{}, Body: body}, secret.NewRedactor(token), limit)
	if strings.Contains(got.Body, token[:6]) {
		t.Errorf("history body = %q, holds the start of the secret %q", got.Body, token[:6])
	}
	if !got.BodyTruncated {
		t.Error("BodyTruncated = false, want true")
	}
}

// FuzzBuildEscaping renders arbitrary values into a URL path segment, a
// query value and a header: the path and query read back as the values, and
// a header never carries a control character (a failure is a render failure).
func FuzzBuildEscaping(f *testing.F) {
	for _, seed := range []string{"", "a/b c", "x&y=z", ".", "..", "%", "%2F", "?#", "é😀", "\xff\xfe", "a\r\nX-Injected: 1", "tab\there", "\x00", "\x7f"} {
		f.Add(seed)
	}
	step := callAPI(f, `{"type": "call_api", "url": "https://h.example/orders/{record.v}?q={record.v}", "headers": [{"name": "X-V", "value": "{record.v}"}]}`)
	c := webhook.New(webhook.Config{UserAgent: userAgent})
	f.Fuzz(func(t *testing.T, v string) {
		req, fail := c.Build(step, env(map[string]any{"v": v}), attemptID, nil, testNow)
		if fail != nil {
			if fail.Class != retry.Render || !strings.Contains(fail.Message, "header X-V") {
				t.Fatalf("Build(%q) = %v, want success or a render failure of the header", v, fail)
			}
			if !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				t.Fatalf("Build(%q) = %v, but the value holds no control character", v, fail)
			}
			return
		}
		u, err := url.Parse(req.URL)
		if err != nil {
			t.Fatalf("Build(%q) URL %q does not parse: %v", v, req.URL, err)
		}
		if u.Host != "h.example" {
			t.Errorf("Build(%q) URL host = %q, want h.example", v, u.Host)
		}
		if got, ok := strings.CutPrefix(u.Path, "/orders/"); !ok || got != v {
			t.Errorf("Build(%q) URL %q: path segment reads back as %q, want the value", v, req.URL, got)
		}
		if got := u.Query().Get("q"); got != v {
			t.Errorf("Build(%q) URL %q: query value reads back as %q, want the value", v, req.URL, got)
		}
		if got := req.Header.Get("X-V"); got != v {
			t.Errorf("Build(%q) header = %q, want the value", v, got)
		}
	})
}

// FuzzHistoryBody cuts arbitrary bodies: the result is a prefix of the body
// within the limit, valid UTF-8 when the body was, and flagged as truncated
// exactly when it is shorter.
func FuzzHistoryBody(f *testing.F) {
	for _, seed := range []struct {
		body  string
		limit int
	}{{"", 0}, {"hello", 3}, {"hé!", 2}, {"ok😀!", 5}, {"a€b", 3}, {"\xff", 1}} {
		f.Add(seed.body, seed.limit)
	}
	f.Fuzz(func(t *testing.T, body string, limit int) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		got := webhook.HistoryRequest(&webhook.Request{Method: "POST", URL: "https://h.example/", Header: http.Header{}, Body: []byte(body)}, secret.NewRedactor(), limit)
		if len(got.Body) > limit {
			t.Errorf("body of %d bytes over the limit of %d", len(got.Body), limit)
		}
		if got.BodyTruncated != (len(body) > limit) {
			t.Errorf("BodyTruncated = %v for %d bytes and limit %d", got.BodyTruncated, len(body), limit)
		}
		if utf8.ValidString(body) {
			if !strings.HasPrefix(body, got.Body) {
				t.Errorf("history body %q is not a prefix of %q", got.Body, body)
			}
			if !utf8.ValidString(got.Body) {
				t.Errorf("history body %q is not valid UTF-8", got.Body)
			}
			if len(body) > limit && len(got.Body) < limit-3 {
				t.Errorf("history body of %d bytes, want at least %d (only a cut rune dropped)", len(got.Body), limit-3)
			}
		}
	})
}
