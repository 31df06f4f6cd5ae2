package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// TestBasicAndBearerAuth: the auth object's headers arrive as the receiver
// expects them; history shows neither the password, nor the token, nor
// the Basic credential, even where the receiver echoes them.
func TestBasicAndBearerAuth(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	nd := startNode(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	rc := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"youSent": r.Header.Get("Authorization")})
	})
	const user, pass, token = "ada-lovelace", "basic-pass-7f3a9c", "bearer-tok-4d2e8b" // secrets have at least 8 bytes
	nd.must(201, "POST", "/api/v1/collections", leads, nil)
	for name, v := range map[string]string{"USER": user, "PASS": pass, "TOKEN": token} {
		nd.must(204, "PUT", "/api/v1/secrets/"+name, map[string]any{"value": v}, nil)
	}
	var auto map[string]any
	nd.must(201, "POST", "/api/v1/automations", map[string]any{
		"name": "auth", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{
			map[string]any{"id": "basic", "type": "call_api", "url": rc.URL + "/basic",
				"auth":     map[string]any{"type": "basic", "username": "{secrets.USER}", "password": "{secrets.PASS}"},
				"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/youSent", "field": "basicEcho"}}}},
			map[string]any{"id": "bearer", "type": "call_api", "url": rc.URL + "/bearer",
				"auth":     map[string]any{"type": "bearer", "token": "{secrets.TOKEN}"},
				"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/youSent", "field": "bearerEcho"}}}},
		},
	}, &auto)
	if w := auto["warnings"].([]any); len(w) != 0 {
		t.Errorf("warnings = %v, want none (credentials from secrets)", w)
	}
	nd.must(201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Acme"}}, nil)
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	for _, want := range []struct{ path, auth string }{{"/basic", "Basic " + basic}, {"/bearer", "Bearer " + token}} {
		got := rc.Next(t)
		if got.URL.Path != want.path || got.Header.Get("Authorization") != want.auth {
			t.Errorf("request %s with Authorization %q, want %s with %q", got.URL.Path, got.Header.Get("Authorization"), want.path, want.auth)
		}
		if u, p, ok := (&http.Request{Header: got.Header}).BasicAuth(); want.path == "/basic" && (!ok || u != user || p != pass) {
			t.Errorf("Basic auth decodes to %q, %q, %v; want %q, %q", u, p, ok, user, pass)
		}
	}
	runs := nd.waitRuns(auto["id"].(string), 1)
	raw := nd.Must(t, 200, "GET", "/api/v1/runs/"+runs[0]["id"].(string), nil, nil).Body
	var run histRun
	if err := json.Unmarshal(raw, &run); err != nil {
		t.Fatal(err)
	}
	if run.Status != "succeeded" {
		t.Fatalf("run %s: %s", run.Status, raw)
	}
	for _, s := range run.Steps {
		a := s.Attempts[0]
		if a.Request.Headers["Authorization"] != "[redacted]" {
			t.Errorf("step %s: history Authorization = %q, want [redacted]", s.ID, a.Request.Headers["Authorization"])
		}
	}
	for _, leak := range []string{pass, token, basic} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("history holds %q: %s", leak, raw)
		}
		if strings.Contains(logs.String(), leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
}

// tokenEndpoint is an OAuth 2.0 token endpoint (client credentials) that
// counts its requests and issues tokens an apiServer accepts.
type tokenEndpoint struct {
	*httptest.Server
	requests  atomic.Int64
	expiresIn atomic.Int64
	mu        sync.Mutex
	issued    []string
	revoked   map[string]bool
}

func newTokenEndpoint(t *testing.T, clientID, clientSecret string) *tokenEndpoint {
	te := &tokenEndpoint{revoked: map[string]bool{}}
	te.expiresIn.Store(3600)
	te.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := te.requests.Add(1)
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "client_credentials" || id != clientID || secret != clientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			// Like many real endpoints, it quotes what it got.
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"unknown client %s with secret %s"}`, id, secret)
			return
		}
		tok := fmt.Sprintf("oat-%d-%x", n, time.Now().UnixNano())
		te.mu.Lock()
		te.issued = append(te.issued, tok)
		te.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": te.expiresIn.Load(), "scope": r.PostForm.Get("scope")})
	}))
	t.Cleanup(te.Close)
	return te
}

// valid reports whether the API accepts tok.
func (te *tokenEndpoint) valid(tok string) bool {
	te.mu.Lock()
	defer te.mu.Unlock()
	return slices.Contains(te.issued, tok) && !te.revoked[tok]
}

func (te *tokenEndpoint) revokeAll() {
	te.mu.Lock()
	defer te.mu.Unlock()
	for _, tok := range te.issued {
		te.revoked[tok] = true
	}
}

func (te *tokenEndpoint) tokens() []string {
	te.mu.Lock()
	defer te.mu.Unlock()
	return slices.Clone(te.issued)
}

// TestOAuth2ClientCredentials: one token serves many runs; a 401 from the
// API fetches a new one once, within the same attempt; an expired token is
// renewed; another organisation with the same client gets its own; a token
// request the endpoint refuses fails the run with a clear message; and no
// token, nor the client secret, ever shows in history, a dry run or the log.
func TestOAuth2ClientCredentials(t *testing.T) {
	t.Parallel()
	const clientSecret = "client-secret-5b1e0d"
	logs := &logBuffer{}
	nd := startNode(t, func(c *server.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	te := newTokenEndpoint(t, "abc", clientSecret)
	var unauthorized atomic.Int64
	api := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !te.valid(tok) {
			unauthorized.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"token":%q}`, tok) // a receiver that echoes the token
	})
	doc := map[string]any{
		"name": "oauth", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"id": "crm", "type": "call_api", "method": "POST", "url": api.URL + "/customers",
			"body": map[string]any{"contentType": "application/json", "fields": []any{map[string]any{"key": "name", "type": "string", "value": "{record.name}"}}},
			"auth": map[string]any{"type": "oauth2_client_credentials", "tokenUrl": te.URL + "/token", "clientId": "abc",
				"clientSecret": "{secrets.CLIENT_SECRET}", "scopes": []string{"crm.write"}},
			"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/token", "field": "echoed"}}},
		}},
	}
	setup := func(c *servertest.Client) string {
		c.Must(t, 201, "POST", "/api/v1/collections", leads, nil)
		c.Must(t, 204, "PUT", "/api/v1/secrets/CLIENT_SECRET", map[string]any{"value": clientSecret}, nil)
		var auto map[string]any
		c.Must(t, 201, "POST", "/api/v1/automations", doc, &auto)
		return auto["id"].(string)
	}
	autoID := setup(&nd.Client)
	add := func(c *servertest.Client, name string) {
		c.Must(t, 201, "POST", "/api/v1/collections/leads/records", map[string]any{"fields": map[string]any{"name": name}}, nil)
	}
	total := 0
	waitSucceeded := func(c *servertest.Client, id string, n int) []histRun {
		t.Helper()
		runs := (&node{Node: &servertest.Node{Client: *c}, t: t}).waitRuns(id, n)
		var out []histRun
		for _, r := range runs {
			var run histRun
			c.Must(t, 200, "GET", "/api/v1/runs/"+r["id"].(string), nil, &run)
			if run.Status != "succeeded" || len(run.Steps[0].Attempts) != 1 {
				t.Errorf("run %s: %s with %d attempts, want succeeded at the first: %+v", run.ID, run.Status, len(run.Steps[0].Attempts), run)
			}
			out = append(out, run)
		}
		return out
	}

	// 1. Ten runs, one token.
	for i := range 10 {
		add(&nd.Client, fmt.Sprint("lead ", i))
	}
	total += 10
	waitSucceeded(&nd.Client, autoID, total)
	if n := te.requests.Load(); n != 1 {
		t.Errorf("token requests for 10 runs = %d, want 1", n)
	}
	first := te.tokens()[0]
	for _, r := range api.Requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+first {
			t.Errorf("the API got Authorization %q, want the one token", got)
		}
		if r.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(r.Body), `"name":"lead `) {
			t.Errorf("the API got %s", r)
		}
	}

	// 2. The API stops accepting the token: the run's one attempt meets a
	// 401, fetches a new token once and sends again.
	te.revokeAll()
	add(&nd.Client, "after revocation")
	total++
	waitSucceeded(&nd.Client, autoID, total)
	if n, u := te.requests.Load(), unauthorized.Load(); n != 2 || u != 1 {
		t.Errorf("after a revocation: %d token requests, %d 401s; want 2 and 1", n, u)
	}

	// 3. A token that expires in 1 s is renewed once expired, without a
	// 401 (renewed up to half its lifetime early).
	te.expiresIn.Store(1)
	te.revokeAll()
	add(&nd.Client, "short-lived token")
	total++
	waitSucceeded(&nd.Client, autoID, total)
	time.Sleep(1200 * time.Millisecond)
	add(&nd.Client, "after expiry")
	total++
	waitSucceeded(&nd.Client, autoID, total)
	if n, u := te.requests.Load(), unauthorized.Load(); n != 4 || u != 2 {
		t.Errorf("after expiry: %d token requests, %d 401s; want 4 and 2 (renewed before use)", n, u)
	}
	te.expiresIn.Store(3600)

	// 4. Another organisation, the same client and secret: its own token.
	var org map[string]any
	nd.must(201, "POST", "/api/v1/organisations", map[string]any{"name": "Beta"}, &org)
	beta := nd.As(org["apiKey"].(string))
	betaID := setup(beta)
	add(beta, "beta lead")
	betaRuns := waitSucceeded(beta, betaID, 1)
	if n := te.requests.Load(); n != 5 {
		t.Errorf("token requests after another organisation's run = %d, want 5 (tokens are per organisation)", n)
	}
	if got := betaRuns[0].Steps[0].Attempts[0].Fields["echoed"]; got != "[redacted]" {
		t.Errorf("the echoed token captured as %v, want [redacted]", got)
	}

	// 5. A dry run that sends shows no token either.
	dry := nd.Must(t, 200, "POST", "/api/v1/automations/test", map[string]any{"automation": doc, "record": map[string]any{"fields": map[string]any{"name": "dry"}}, "send": true}, nil).Body

	// 6. The endpoint refuses the client (a wrong secret): the run fails
	// at once (a 401 is not retried) with a clear message.
	nd.must(204, "PUT", "/api/v1/secrets/CLIENT_SECRET", map[string]any{"value": "wrong-secret-0c9a"}, nil)
	add(&nd.Client, "wrong secret")
	total++
	runs := nd.waitRuns(autoID, total)
	var failed histRun
	for _, r := range runs {
		if r["status"] == "failed" {
			nd.must(200, "GET", "/api/v1/runs/"+r["id"].(string), nil, &failed)
		}
	}
	if failed.Error == nil || failed.Error.Class != "http_4xx" ||
		!strings.HasPrefix(failed.Error.Message, "token request: the token endpoint answered 401 Unauthorized (invalid_client") {
		t.Errorf("failed run error = %+v, want http_4xx \"token request: the token endpoint answered 401 Unauthorized (invalid_client…\"", failed.Error)
	}
	if a := failed.Steps[0].Attempts; len(a) != 1 || a[0].Request == nil || a[0].Response != nil {
		t.Errorf("failed attempt = %+v, want one attempt showing the request, no response from the API", a)
	}

	// Nothing secret anywhere: every run of both organisations, the dry
	// run, the automation documents, the log.
	var everything strings.Builder
	for _, c := range []*servertest.Client{&nd.Client, beta} {
		var list struct{ Items []map[string]any }
		c.Must(t, 200, "GET", "/api/v1/automations", nil, &list)
		for _, a := range list.Items {
			everything.Write(c.Must(t, 200, "GET", "/api/v1/automations/"+a["id"].(string), nil, nil).Body)
			var runs struct{ Items []map[string]any }
			c.Must(t, 200, "GET", "/api/v1/automations/"+a["id"].(string)+"/runs?limit=500", nil, &runs)
			for _, r := range runs.Items {
				everything.Write(c.Must(t, 200, "GET", "/api/v1/runs/"+r["id"].(string), nil, nil).Body)
			}
		}
	}
	everything.Write(dry)
	everything.WriteString(logs.String())
	for _, leak := range append(te.tokens(), clientSecret, "wrong-secret-0c9a") {
		if strings.Contains(everything.String(), leak) {
			t.Errorf("%q shows in history, a dry run, a document or the log", leak)
		}
	}
	if !strings.Contains(string(dry), `"Authorization":"[redacted]"`) && !strings.Contains(string(dry), `"echoed":"[redacted]"`) {
		t.Errorf("dry run = %s, want the echoed token captured as [redacted]", dry)
	}
}
