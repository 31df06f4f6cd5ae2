package webhook_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/signing"
	"github.com/autohook/autohook/internal/webhook"
)

// received is what a test receiver saw of one request.
type received struct {
	method, path string
	header       http.Header
	body         string
}

// recorder is an httptest server that records the requests it gets and
// answers them with answer (200 {"id":"moved"} when nil).
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	next func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

func newRecorder(t *testing.T, answer func(w http.ResponseWriter, r *http.Request) bool) *recorder {
	rc := &recorder{next: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Method, r.URL.RequestURI(), r.Header.Clone(), string(b)})
		rc.mu.Unlock()
		if rc.next != nil && rc.next(w, r) {
			return
		}
		io.WriteString(w, `{"id":"moved"}`)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *recorder) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// TestDoRedirectHygiene: a redirect to another origin carries nothing of
// the user's: none of the step's headers (X-Api-Key, X-Token, Authorization,
// plain ones), no signature, no body unless the step keeps it, never a
// Referer; every hop is recorded (issue 18, finding 4).
func TestDoRedirectHygiene(t *testing.T) {
	t.Parallel()
	other := newRecorder(t, func(w http.ResponseWriter, r *http.Request) bool {
		if to := r.URL.Query().Get("back"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return true
		}
		return false
	})
	origin := newRecorder(t, func(w http.ResponseWriter, r *http.Request) bool {
		switch r.URL.Path {
		case "/307", "/307keep":
			http.Redirect(w, r, other.URL+"/target?from="+r.URL.Path[1:], http.StatusTemporaryRedirect)
		case "/302":
			http.Redirect(w, r, other.URL+"/target?from=302", http.StatusFound)
		case "/same":
			http.Redirect(w, r, "/target?from=same", http.StatusPermanentRedirect)
		case "/bounce":
			// to the other origin, which sends it back here
			http.Redirect(w, r, other.URL+"/bounce?back="+r.Host, http.StatusTemporaryRedirect)
		default:
			return false
		}
		return true
	})
	// the bounce comes back to the origin's /target
	other.next = func(w http.ResponseWriter, r *http.Request) bool {
		if host := r.URL.Query().Get("back"); host != "" {
			http.Redirect(w, r, "http://"+host+"/target?from=bounce", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	signer, err := signing.NewSigner(signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	c := loopbackClient(webhook.Config{})
	step := func(path string, keepBody bool) string {
		keep := ""
		if keepBody {
			keep = `"keepBodyOnRedirect": true, `
		}
		return `{"type": "call_api", "method": "PUT", "url": "` + origin.URL + path + `?key={secrets.TOKEN}", ` + keep + `
			"headers": [{"name": "X-Api-Key", "value": "{secrets.TOKEN}"}, {"name": "X-Token", "value": "literal-token"},
				{"name": "Authorization", "value": "Bearer {secrets.TOKEN}"}, {"name": "X-Plain", "value": "{record.name}"},
				{"name": "Referer", "value": "https://mine.example/"}],
			"body": {"contentType": "text/plain", "text": "payload {secrets.TOKEN}"},
			"response": {"type": "json", "schema": [{"pointer": "/id", "field": "id", "required": true}]}}`
	}
	do := func(t *testing.T, path string, keepBody bool) (*webhook.Request, *webhook.Result) {
		t.Helper()
		s := callAPI(t, step(path, keepBody))
		req, f := c.Build(s, env(baseRecord()), attemptID, signer, time.Now())
		if f != nil {
			t.Fatalf("Build: %v", f)
		}
		res := c.Do(t.Context(), s, req)
		if res.Failure != nil || res.Fields["id"] != "moved" {
			t.Fatalf("Do = %d %v, %v; want the redirect target's answer", res.Status, res.Fields, res.Failure)
		}
		return req, res
	}
	last := func(rc *recorder, from string) received {
		t.Helper()
		for _, r := range rc.requests() {
			if u, err := url.Parse(r.path); err == nil && u.Query().Get("from") == from {
				return r
			}
		}
		t.Fatalf("no request with from=%s arrived at %s", from, rc.URL)
		return received{}
	}
	private := []string{"X-Api-Key", "X-Token", "Authorization", "X-Plain", "Referer", "Webhook-Signature", "Webhook-Timestamp"}
	crossOrigin := []string{"Authorization", "Content-Type", "Webhook-Signature", "Webhook-Timestamp", "X-Api-Key", "X-Plain", "X-Token"}

	t.Run("307 to another origin: no header of the user's, no body", func(t *testing.T) {
		t.Parallel()
		req, _ := do(t, "/307", false)
		got := last(other, "307")
		for _, h := range private {
			if v := got.header.Get(h); v != "" {
				t.Errorf("%s arrived at the other origin: %q", h, v)
			}
		}
		if got.method != "PUT" || got.body != "" || got.header.Get("Content-Type") != "" {
			t.Errorf("other origin got %s with body %q, Content-Type %q; want PUT without body", got.method, got.body, got.header.Get("Content-Type"))
		}
		if got.header.Get("Idempotency-Key") != attemptID || got.header.Get("User-Agent") != userAgent {
			t.Errorf("Idempotency-Key %q, User-Agent %q: want Autohook's own headers kept", got.header.Get("Idempotency-Key"), got.header.Get("User-Agent"))
		}
		want := []automation.Redirect{{Status: 307, Method: "PUT", URL: other.URL + "/target?from=307", HeadersDropped: crossOrigin, BodyDropped: true}}
		if diff := cmp.Diff(want, req.Redirects); diff != "" {
			t.Errorf("Redirects mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("307 to another origin with keepBodyOnRedirect: the body, still no header", func(t *testing.T) {
		t.Parallel()
		req, _ := do(t, "/307keep", true)
		got := last(other, "307keep")
		if got.body != "payload tok-123" || got.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("other origin got body %q, Content-Type %q; want the body kept", got.body, got.header.Get("Content-Type"))
		}
		for _, h := range private {
			if v := got.header.Get(h); v != "" {
				t.Errorf("%s arrived at the other origin: %q", h, v)
			}
		}
		if n := len(req.Redirects); n != 1 || req.Redirects[0].BodyDropped || strings.Contains(strings.Join(req.Redirects[0].HeadersDropped, ","), "Content-Type") {
			t.Errorf("Redirects = %+v, want one hop that kept the body and its Content-Type", req.Redirects)
		}
	})
	t.Run("302 to another origin", func(t *testing.T) {
		t.Parallel()
		do(t, "/302", false)
		got := last(other, "302")
		for _, h := range private {
			if v := got.header.Get(h); v != "" {
				t.Errorf("%s arrived at the other origin: %q", h, v)
			}
		}
	})
	t.Run("same origin: every header and the body, no Referer", func(t *testing.T) {
		t.Parallel()
		req, _ := do(t, "/same", false)
		got := last(origin, "same")
		if got.body != "payload tok-123" || got.header.Get("X-Api-Key") != "tok-123" || got.header.Get("Webhook-Signature") == "" {
			t.Errorf("same origin got body %q, X-Api-Key %q, signature %q; want them all", got.body, got.header.Get("X-Api-Key"), got.header.Get("Webhook-Signature"))
		}
		if v := got.header.Get("Referer"); v != "" {
			t.Errorf("Referer %q on a redirect, want none", v)
		}
		if len(req.Redirects) != 1 || len(req.Redirects[0].HeadersDropped) != 0 || req.Redirects[0].BodyDropped {
			t.Errorf("Redirects = %+v, want one hop that dropped nothing", req.Redirects)
		}
	})
	t.Run("back to the origin after another: still nothing", func(t *testing.T) {
		t.Parallel()
		req, _ := do(t, "/bounce", false)
		got := last(origin, "bounce")
		for _, h := range private {
			if v := got.header.Get(h); v != "" {
				t.Errorf("%s arrived back at the origin after another one: %q", h, v)
			}
		}
		if got.body != "" {
			t.Errorf("body %q arrived back at the origin after another one", got.body)
		}
		if len(req.Redirects) != 2 {
			t.Errorf("Redirects = %+v, want two hops", req.Redirects)
		}
	})
	t.Run("history shows the hops, redacted", func(t *testing.T) {
		t.Parallel()
		redirecting := newRecorder(t, func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/go" {
				http.Redirect(w, r, origin.URL+"/target?from=history&"+r.URL.RawQuery, http.StatusFound)
				return true
			}
			return false
		})
		s := callAPI(t, `{"type": "call_api", "url": "`+redirecting.URL+`/go?key={secrets.TOKEN}", "response": {"type": "json"}}`)
		req, _ := c.Build(s, env(baseRecord()), attemptID, nil, time.Now())
		if res := c.Do(t.Context(), s, req); res.Failure != nil {
			t.Fatalf("Do: %v", res.Failure)
		}
		h := webhook.HistoryRequest(req, secret.NewRedactor("tok-123"), 1024)
		want := []automation.Redirect{{Status: 302, Method: "GET", URL: origin.URL + "/target?from=history&key=[redacted]"}}
		if diff := cmp.Diff(want, h.Redirects); diff != "" {
			t.Errorf("history redirects mismatch (-want +got):\n%s", diff)
		}
	})
}

// TestDoOwnAddress: the node's own address is refused in every spelling
// and on every redirect, judged on the address a request connects to
// (issue 18 finding 9, issue 10 item 10).
func TestDoOwnAddress(t *testing.T) {
	t.Parallel()
	self := newRecorder(t, nil)
	_, port, _ := net.SplitHostPort(self.Listener.Addr().String())
	// A node listening on every address, like --listen :8080.
	wild, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	wildSrv := &httptest.Server{Listener: wild, Config: &http.Server{Handler: self.Config.Handler}}
	wildSrv.Start()
	t.Cleanup(wildSrv.Close)
	_, wildPort, _ := net.SplitHostPort(wild.Addr().String())

	c := loopbackClient(webhook.Config{})
	c.SetSelf([]string{self.Listener.Addr().String(), wild.Addr().String()})
	redirector := newRecorder(t, func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		return true
	})
	urls := []string{
		"http://127.0.0.1:" + port + "/",
		"http://127.0.0.1:0" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://localhost:" + port + "/",
		"http://ｌｏｃａｌｈｏｓｔ:" + port + "/",
		"http://127.0.0.1:" + wildPort + "/",
		"http://127.0.0.2:" + wildPort + "/",
		"http://localhost:" + wildPort + "/",
		redirector.URL + "/?to=http://localhost:" + port + "/",
		redirector.URL + "/?to=http://127.0.0.1:0" + port + "/",
		redirector.URL + "/?to=http://127.1.0.9:" + wildPort + "/",
	}
	if name, err := os.Hostname(); err == nil {
		if addrs, err := net.LookupHost(name); err == nil && len(addrs) > 0 {
			urls = append(urls, "http://"+name+":"+wildPort+"/") // another name of this machine
		}
	}
	for _, u := range urls {
		res := send(t.Context(), t, c, `{"type": "call_api", "url": "`+u+`"}`)
		if res.Failure == nil || res.Failure.Class != retry.BlockedDestination || !strings.Contains(res.Failure.Message, "own address") {
			t.Errorf("Do(%s) = %d %v, want blocked_destination: the node's own address", u, res.Status, res.Failure)
		}
	}
	if n := len(self.requests()); n != 0 {
		t.Errorf("the node got %d requests from itself, want none: %v", n, self.requests())
	}
	// Another port of the same host is not the node.
	other := newRecorder(t, nil)
	if res := send(t.Context(), t, c, `{"type": "call_api", "url": "`+other.URL+`/"}`); res.Failure != nil {
		t.Errorf("Do(another port) = %v, want it sent", res.Failure)
	}
}
