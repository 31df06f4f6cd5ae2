package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// hardRun is the part of a run these tests read.
type hardRun struct {
	Status string `json:"status"`
	Error  *struct {
		Class   string `json:"class"`
		Message string `json:"message"`
	} `json:"error"`
	Steps []struct {
		Attempts []struct {
			Request *struct {
				Method    string            `json:"method"`
				URL       string            `json:"url"`
				Headers   map[string]string `json:"headers"`
				Body      string            `json:"body"`
				Redirects []struct {
					Status         int      `json:"status"`
					Method         string   `json:"method"`
					URL            string   `json:"url"`
					HeadersDropped []string `json:"headersDropped"`
					BodyDropped    bool     `json:"bodyDropped"`
				} `json:"redirects"`
			} `json:"request"`
			Error *struct {
				Class   string `json:"class"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"attempts"`
	} `json:"steps"`
}

// runOnce saves a manual automation of one call_api step on the leads
// collection, runs it on a record with fields, waits for the run to be
// want and returns it with the automation's save warnings.
func runOnce(nd *node, step map[string]any, fields map[string]any, want string) (hardRun, []map[string]any) {
	nd.t.Helper()
	var a struct {
		ID       string           `json:"id"`
		Warnings []map[string]any `json:"warnings"`
	}
	step["id"], step["type"] = "call", "call_api"
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "hardening", "collection": "leads", "trigger": map[string]any{"type": "manual"}, "steps": []any{step},
	}, &a)
	var rec, run map[string]any
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": fields}, &rec)
	nd.must(202, "POST", "/api/v1/automations/"+a.ID+"/runs", map[string]any{"recordId": rec["id"]}, &run)
	raw, _ := json.Marshal(nd.waitRun(run["id"].(string), want))
	var out hardRun
	if err := json.Unmarshal(raw, &out); err != nil {
		nd.t.Fatal(err)
	}
	if len(out.Steps) != 1 || len(out.Steps[0].Attempts) == 0 {
		nd.t.Fatalf("run %s: want an attempt: %s", run["id"], raw)
	}
	if want != "failed" && out.Steps[0].Attempts[0].Request == nil {
		nd.t.Fatalf("run %s: want the attempt's request: %s", run["id"], raw)
	}
	return out, a.Warnings
}

func hasWarning(warnings []map[string]any, path, text string) bool {
	for _, w := range warnings {
		if w["path"] == path && strings.Contains(w["message"].(string), text) {
			return true
		}
	}
	return false
}

// TestHostFromRecord: a record value in the host cannot change where the
// request goes, secrets and all (issue 18, finding 5: a record named
// "127.0.0.3:19000/steal?" sent the request, bearer secret included, to
// 127.0.0.3:19000). A constant that would is refused at save.
func TestHostFromRecord(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	l, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Skipf("no loopback alias 127.0.0.3: %v", err)
	}
	var stolen atomic.Int64
	thief := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) })}}
	thief.Start()
	t.Cleanup(thief.Close)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	nd.must(204, "PUT", "/api/v1/secrets/CRM_TOKEN", map[string]any{"value": "crm-token-value"}, nil)
	step := map[string]any{"url": "http://{record.name}.crm.example.com/customers",
		"headers": []any{map[string]any{"name": "Authorization", "value": "Bearer {secrets.CRM_TOKEN}"}}, "maxAttempts": 1}
	run, warnings := runOnce(nd, step, map[string]any{"name": thief.Listener.Addr().String() + "/steal?"}, "failed")
	if run.Error == nil || run.Error.Class != "invalid_url" || !strings.Contains(run.Error.Message, "{record.name}") {
		t.Errorf("run error = %+v, want invalid_url naming {record.name}", run.Error)
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the record's host got %d requests", n)
	}
	if !hasWarning(warnings, "steps[0].url", "host comes from a value") {
		t.Errorf("save warnings %v: want one at steps[0].url about the host", warnings)
	}
	// Known at save: a constant that is not a label.
	a := nd.Do(t, "POST", "/api/v1/automations", map[string]any{"name": "const", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"type": "call_api", "url": "http://{'127.0.0.3:19000/steal?'}.crm.example.com/"}}})
	if a.Status != 422 || !strings.Contains(string(a.Body), `"steps[0].url"`) {
		t.Errorf("a constant host part that is not a label: %d %s, want 422 at steps[0].url", a.Status, a.Body)
	}
}

// TestBlockedRequestInHistory: a request refused by the destination policy
// is an attempt in history, its request shown (issue 10, item 10); a
// full-width spelling of a denied host is refused as the host (issue 18,
// finding 6).
func TestBlockedRequestInHistory(t *testing.T) {
	t.Parallel()
	nd := startNode(t, func(c *server.Config) {
		c.AllowPrivateNetworks = false
		c.DenyHosts = []string{"runsc", "*.internal.example"}
	})
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	for _, tc := range []struct{ url, message string }{
		{"http://127.0.0.1:9/hook", "loopback"},
		{"http://ｒｕｎｓｃ/hook", "denied host name"},
		{"http://ＲＵＮＳＣ/hook", "denied host name"},
		{"http://runſc/hook", "denied host name"},
		{"http://api．internal．example/hook", "denied host name"},
	} {
		run, _ := runOnce(nd, map[string]any{"url": tc.url, "method": "POST", "headers": []any{map[string]any{"name": "X-Note", "value": "{record.name}"}},
			"body": map[string]any{"contentType": "text/plain", "text": "hello {record.name}"}}, map[string]any{"name": "Ada"}, "failed")
		att := run.Steps[0].Attempts[0]
		if att.Error == nil || att.Error.Class != "blocked_destination" || !strings.Contains(att.Error.Message, tc.message) {
			t.Errorf("%s: attempt error %+v, want blocked_destination (%s)", tc.url, att.Error, tc.message)
		}
		if r := att.Request; r == nil || r.Method != "POST" || r.URL == "" || r.Headers["X-Note"] != "Ada" || r.Body != "hello Ada" {
			t.Errorf("%s: attempt request %+v, want the request that was refused", tc.url, r)
		}
	}
}

// TestRedirectsEndToEnd: a receiver's redirect to another origin gets
// nothing of the step's (headers with secrets, the body), the hop is in
// history; a redirect to the node's own address, in any spelling, is
// refused like a first request to it (issue 18, finding 4; issue 10,
// item 10).
func TestRedirectsEndToEnd(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	nd.must(204, "PUT", "/api/v1/secrets/KEY", map[string]any{"value": "the-api-key-value"}, nil)
	other := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	_, port, _ := net.SplitHostPort(nd.Server.Addr)
	var to string
	from := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
	})
	step := func() map[string]any {
		return map[string]any{"method": "POST", "url": from.URL + "/start?key={secrets.KEY}", "maxAttempts": 1,
			"headers": []any{map[string]any{"name": "X-Api-Key", "value": "{secrets.KEY}"}, map[string]any{"name": "X-Token", "value": "literal"}},
			"body":    map[string]any{"contentType": "text/plain", "text": "secret body {secrets.KEY}"}}
	}

	to = other.URL + "/landing"
	run, _ := runOnce(nd, step(), map[string]any{"name": "Ada"}, "succeeded")
	got := other.Next(t)
	for _, h := range []string{"X-Api-Key", "X-Token", "Referer", "Content-Type"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("the other origin got %s: %q", h, v)
		}
	}
	if len(got.Body) != 0 || strings.Contains(got.URL.String(), "the-api-key-value") {
		t.Errorf("the other origin got body %q at %s, want no body", got.Body, got.URL)
	}
	hops := run.Steps[0].Attempts[0].Request.Redirects
	if len(hops) != 1 || hops[0].Status != 307 || hops[0].URL != other.URL+"/landing" || !hops[0].BodyDropped || strings.Join(hops[0].HeadersDropped, ",") != "Content-Type,X-Api-Key,X-Token" {
		t.Errorf("history redirects %+v, want the 307 hop to %s with the body and Content-Type, X-Api-Key, X-Token dropped", hops, other.URL)
	}
	// With keepBodyOnRedirect the body goes along; the headers still not.
	s := step()
	s["keepBodyOnRedirect"] = true
	runOnce(nd, s, map[string]any{"name": "Ada"}, "succeeded")
	got = other.Next(t)
	if string(got.Body) != "secret body the-api-key-value" || got.Header.Get("X-Api-Key") != "" {
		t.Errorf("keepBodyOnRedirect: other origin got body %q, X-Api-Key %q; want the body only", got.Body, got.Header.Get("X-Api-Key"))
	}

	for _, self := range []string{nd.Base, "http://127.0.0.1:0" + port, "http://localhost:" + port, "http://[::ffff:127.0.0.1]:" + port} {
		to = self + "/api/v1/collections"
		run, _ := runOnce(nd, step(), map[string]any{"name": "Ada"}, "failed")
		att := run.Steps[0].Attempts[0]
		if att.Error == nil || att.Error.Class != "blocked_destination" || !strings.Contains(att.Error.Message, "own address") {
			t.Errorf("redirect to %s: attempt error %+v, want blocked_destination, the node's own address", to, att.Error)
		}
		if att.Request == nil {
			t.Fatalf("redirect to %s: no request in history", to)
		}
		if hops := att.Request.Redirects; len(hops) != 1 || !strings.HasSuffix(hops[0].URL, "/api/v1/collections") {
			t.Errorf("redirect to %s: history redirects %+v, want the refused hop", to, hops)
		}
	}
}

// TestPasswordInURL: user:password@ in a URL is warned about at save and
// hidden in history, the user name kept (issue 18 finding 9, issue 10
// item 10); it is still sent, as Basic auth.
func TestPasswordInURL(t *testing.T) {
	t.Parallel()
	nd := startNode(t)
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	nd.must(204, "PUT", "/api/v1/secrets/PW", map[string]any{"value": "pw-from-secrets"}, nil)
	rc := servertest.NewReceiver(t, nil)
	host := strings.TrimPrefix(rc.URL, "http://")
	for _, tc := range []struct{ url, password string }{
		{"http://user:{secrets.PW}@" + host + "/x", "pw-from-secrets"},
		{"http://user:{record.name}@" + host + "/x", "Ada"},
		{"http://user:literal-pw@" + host + "/x", "literal-pw"},
	} {
		run, warnings := runOnce(nd, map[string]any{"url": tc.url}, map[string]any{"name": "Ada"}, "succeeded")
		if !hasWarning(warnings, "steps[0].url", "password") {
			t.Errorf("%s: save warnings %v, want one about the password at steps[0].url", tc.url, warnings)
		}
		if got, want := run.Steps[0].Attempts[0].Request.URL, "http://user:[redacted]@"+host+"/x"; got != want {
			t.Errorf("%s: history URL %q, want %q", tc.url, got, want)
		}
		got := rc.Next(t)
		if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+tc.password)); got.Header.Get("Authorization") != want {
			t.Errorf("%s: Authorization %q, want %q", tc.url, got.Header.Get("Authorization"), want)
		}
	}
}

// TestDataFilesPrivate: the database files are 0600 even in a data dir
// that already existed with 0755 (issue 18, finding 9).
func TestDataFilesPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// No SecretKey: the key is generated into the dir.
	nd := startNode(t, func(c *server.Config) { c.DataDir, c.SecretKey = dir, "" })
	nd.must(201, "POST", "/api/v1/collections", leads, nil) // something in the WAL
	for _, name := range []string{"autohook.db", "autohook.db-wal", "autohook.db-shm", "secret.key", "node.id"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", name, mode)
		}
	}
}
