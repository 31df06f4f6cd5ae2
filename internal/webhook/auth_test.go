package webhook_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/clientcreds"
	"github.com/autohook/autohook/internal/egress"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/webhook"
)

func TestBuildAuth(t *testing.T) {
	t.Parallel()
	basic := base64.StdEncoding.EncodeToString([]byte("Ada:tok-123"))
	tests := []struct {
		name    string
		auth    string
		header  string // Authorization
		derived []string
		oauth   *clientcreds.Config
	}{
		{
			name:    "basic from a record value and a secret",
			auth:    `{"type": "basic", "username": "{record.name}", "password": "{secrets.TOKEN}"}`,
			header:  "Basic " + basic,
			derived: []string{"tok-123", basic},
		},
		{
			name:    "basic with an empty password",
			auth:    `{"type": "basic", "username": "api"}`,
			header:  "Basic " + base64.StdEncoding.EncodeToString([]byte("api:")),
			derived: []string{base64.StdEncoding.EncodeToString([]byte("api:"))},
		},
		{
			name:    "bearer",
			auth:    `{"type": "bearer", "token": "{secrets.TOKEN}"}`,
			header:  "Bearer tok-123",
			derived: []string{"tok-123"},
		},
		{
			name:    "a literal credential is hidden too",
			auth:    `{"type": "bearer", "token": "literal-token"}`,
			header:  "Bearer literal-token",
			derived: []string{"literal-token"},
		},
		{
			name:    "oauth2: the client, no header yet",
			auth:    `{"type": "oauth2_client_credentials", "tokenUrl": "https://auth.example.com/{record.name}/token", "clientId": "abc", "clientSecret": "{secrets.TOKEN}", "scopes": ["crm.write"]}`,
			derived: []string{"tok-123"},
			oauth:   &clientcreds.Config{TokenURL: "https://auth.example.com/Ada/token", ClientID: "abc", ClientSecret: "tok-123", Scopes: []string{"crm.write"}},
		},
	}
	c := webhook.New(webhook.Config{UserAgent: userAgent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := callAPI(t, `{"type": "call_api", "url": "https://api.example.com/", "auth": `+tt.auth+`}`)
			req, f := c.Build(s, env(baseRecord()), attemptID, nil, testNow)
			if f != nil {
				t.Fatalf("Build: %v", f)
			}
			if got := req.Header.Get("Authorization"); got != tt.header {
				t.Errorf("Authorization = %q, want %q", got, tt.header)
			}
			for _, d := range tt.derived {
				if !slices.Contains(req.Derived, d) {
					t.Errorf("Derived = %q, want it to hold %q", req.Derived, d)
				}
			}
			if diff := cmp.Diff(tt.oauth, req.OAuth); diff != "" {
				t.Errorf("OAuth (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildAuthFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		auth   string
		record map[string]any
		class  retry.Class
		msg    string
	}{
		{"username with a colon from the record", `{"type": "basic", "username": "{record.name}", "password": "{secrets.TOKEN}"}`,
			map[string]any{"name": "a:b"}, retry.Render, "auth.username: the user name holds ':'"},
		{"token with a line break", `{"type": "bearer", "token": "{record.name}"}`,
			map[string]any{"name": "x\r\nX-Evil: 1"}, retry.Render, "auth.token: the value holds a control character at position 1"},
		{"empty token", `{"type": "bearer", "token": "{record.name}"}`,
			map[string]any{"name": ""}, retry.Render, "auth.token: the value is empty"},
		{"token fails to render", `{"type": "bearer", "token": "{record.name.nope}"}`,
			map[string]any{"name": 1}, retry.Render, "auth.token:"},
		{"token url not http", `{"type": "oauth2_client_credentials", "tokenUrl": "{record.name}", "clientId": "a", "clientSecret": "{secrets.TOKEN}"}`,
			map[string]any{"name": "ftp://auth/token"}, retry.InvalidURL, "auth.tokenUrl:"},
	}
	c := webhook.New(webhook.Config{UserAgent: userAgent})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := callAPI(t, `{"type": "call_api", "url": "https://api.example.com/", "auth": `+tt.auth+`}`)
			_, f := c.Build(s, env(tt.record), attemptID, nil, testNow)
			if f == nil || f.Class != tt.class || !strings.Contains(f.Message, tt.msg) {
				t.Errorf("Build failure = %v, want class %s with %q", f, tt.class, tt.msg)
			}
		})
	}
}

// oauthServers is a token endpoint and an API that accepts only the token
// it issued last (or, with acceptAll, any it issued).
type oauthServers struct {
	token, api    *httptest.Server
	tokenRequests atomic.Int64
	apiRequests   atomic.Int64
	expiresIn     int
	tokenStatus   atomic.Int64 // when not 0, the token endpoint answers this
	mu            sync.Mutex
	issued        []string
	revoked       map[string]bool
	apiAuth       []string // Authorization headers the API saw
	stallToken    chan struct{}
	always401     bool
	tokenURL      string // the token endpoint the step names; "" is token.URL
}

func newOAuthServers(t *testing.T, expiresIn int) *oauthServers {
	o := &oauthServers{expiresIn: expiresIn, revoked: map[string]bool{}}
	o.token = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.tokenRequests.Add(1)
		if o.stallToken != nil {
			select {
			case <-o.stallToken:
			case <-r.Context().Done():
				return
			}
		}
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok { // the library's second try: the credentials in the form
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if s := o.tokenStatus.Load(); s != 0 || id != "abc" || secret != "client-secret-1" {
			if s == 0 {
				s = http.StatusUnauthorized
			}
			w.WriteHeader(int(s))
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad client %s/%s"}`, id, secret)
			return
		}
		tok := fmt.Sprintf("access-%d-%s", n, r.PostForm.Get("scope"))
		o.mu.Lock()
		o.issued = append(o.issued, tok)
		o.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": o.expiresIn})
	}))
	o.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.apiRequests.Add(1)
		auth := r.Header.Get("Authorization")
		o.mu.Lock()
		o.apiAuth = append(o.apiAuth, auth)
		tok, _ := strings.CutPrefix(auth, "Bearer ")
		ok := slices.Contains(o.issued, tok) && !o.revoked[tok] && !o.always401
		o.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"echo":%q}`, tok) // a receiver echoing the token
	}))
	t.Cleanup(o.token.Close)
	t.Cleanup(o.api.Close)
	return o
}

func (o *oauthServers) revokeAll() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, tok := range o.issued {
		o.revoked[tok] = true
	}
}

func (o *oauthServers) step(timeout int) string {
	tokenURL := o.tokenURL
	if tokenURL == "" {
		tokenURL = o.token.URL
	}
	return fmt.Sprintf(`{"type": "call_api", "url": %q, "timeoutSeconds": %d, "response": {"type": "json", "schema": [{"pointer": "/echo", "field": "echo"}]},
		"auth": {"type": "oauth2_client_credentials", "tokenUrl": %q, "clientId": "abc", "clientSecret": "{secrets.CS}", "scopes": ["crm.write"]}}`,
		o.api.URL+"/orders", timeout, tokenURL+"/token")
}

// doOAuth builds and sends the OAuth step for org with the client secret cs.
func doOAuth(t *testing.T, c *webhook.Client, o *oauthServers, org, cs string, timeout int) *webhook.Result {
	t.Helper()
	s := callAPI(t, o.step(timeout))
	e := env(baseRecord())
	e["secrets"] = map[string]any{"CS": cs}
	req, f := c.Build(s, e, attemptID, nil, time.Now())
	if f != nil {
		t.Fatalf("Build: %v", f)
	}
	req.Org = org
	return c.Do(t.Context(), s, req)
}

func TestDoOAuthTokenCachedRenewedOn401AndOnExpiry(t *testing.T) {
	t.Parallel()
	o := newOAuthServers(t, 60)
	var ahead atomic.Int64 // how far the token cache's clock is ahead
	c := loopbackClient(webhook.Config{Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	ok := func(want string) {
		t.Helper()
		res := doOAuth(t, c, o, "org1", "client-secret-1", 5)
		if res.Failure != nil {
			t.Fatalf("Do: %v", res.Failure)
		}
		if res.Fields["echo"] != want {
			t.Errorf("the API saw token %v, want %s", res.Fields["echo"], want)
		}
		if !slices.Contains(res.Derived, want) {
			t.Errorf("Result.Derived = %q, want it to hold the token %s", res.Derived, want)
		}
	}
	for range 5 {
		ok("access-1-crm.write")
	}
	if n := o.tokenRequests.Load(); n != 1 {
		t.Errorf("token requests for 5 sends = %d, want 1", n)
	}
	// The API stops accepting the token: one 401, a new token, the same
	// request again, all within one Do.
	o.revokeAll()
	before := o.apiRequests.Load()
	ok("access-2-crm.write")
	if n := o.tokenRequests.Load(); n != 2 {
		t.Errorf("token requests after a 401 = %d, want 2", n)
	}
	if n := o.apiRequests.Load() - before; n != 2 {
		t.Errorf("API requests for the send that met a 401 = %d, want 2 (refused, then sent again)", n)
	}
	// Expiry: 60 s, renewed in the last 10.
	ahead.Add(int64(51 * time.Second))
	ok("access-3-crm.write")
	if n := o.tokenRequests.Load(); n != 3 {
		t.Errorf("token requests after expiry = %d, want 3", n)
	}
	// Another organisation with the same client never gets org1's token.
	res := doOAuth(t, c, o, "org2", "client-secret-1", 5)
	if res.Failure != nil || res.Fields["echo"] != "access-4-crm.write" {
		t.Errorf("org2: %v %v, want a token of its own, access-4-crm.write", res.Fields, res.Failure)
	}
}

func TestDoOAuth401Twice(t *testing.T) {
	t.Parallel()
	o := newOAuthServers(t, 3600)
	o.always401 = true
	c := loopbackClient(webhook.Config{})
	res := doOAuth(t, c, o, "org1", "client-secret-1", 5)
	if res.Failure == nil || res.Failure.Class != retry.HTTP4xx || res.Status != http.StatusUnauthorized {
		t.Fatalf("Do = %d %v, want the 401 as http_4xx", res.Status, res.Failure)
	}
	if n, m := o.tokenRequests.Load(), o.apiRequests.Load(); n != 2 || m != 2 {
		t.Errorf("token requests %d, API requests %d; want 2 and 2 (renewed once, not more)", n, m)
	}
	if len(res.Derived) != 2 {
		t.Errorf("Derived = %q, want both tokens", res.Derived)
	}
}

func TestDoOAuthTokenRequestFailures(t *testing.T) {
	t.Parallel()
	t.Run("the token endpoint refuses the client", func(t *testing.T) {
		t.Parallel()
		o := newOAuthServers(t, 3600)
		res := doOAuth(t, loopbackClient(webhook.Config{}), o, "org1", "wrong-secret", 5)
		f := res.Failure
		if f == nil || f.Class != retry.HTTP4xx || f.Status != http.StatusUnauthorized {
			t.Fatalf("Do = %v, want http_4xx with status 401", f)
		}
		want := "token request: the token endpoint answered 401 Unauthorized (invalid_client: bad client abc/wrong-secret)"
		if f.Message != want {
			t.Errorf("message = %q, want %q", f.Message, want)
		}
		if o.apiRequests.Load() != 0 {
			t.Errorf("the API got %d requests without a token, want none", o.apiRequests.Load())
		}
	})
	t.Run("the token endpoint is down for a while", func(t *testing.T) {
		t.Parallel()
		o := newOAuthServers(t, 3600)
		o.tokenStatus.Store(http.StatusServiceUnavailable)
		res := doOAuth(t, loopbackClient(webhook.Config{}), o, "org1", "client-secret-1", 5)
		if f := res.Failure; f == nil || f.Class != retry.HTTP5xx || !retry.Retryable(f.Class, f.Status) || !strings.HasPrefix(f.Message, "token request: ") {
			t.Fatalf("Do = %v, want a retryable http_5xx naming the token request", f)
		}
	})
	t.Run("the token endpoint stalls: the step's timeout bounds it", func(t *testing.T) {
		t.Parallel()
		o := newOAuthServers(t, 3600)
		o.stallToken = make(chan struct{})
		t.Cleanup(func() { close(o.stallToken) })
		start := time.Now()
		res := doOAuth(t, loopbackClient(webhook.Config{}), o, "org1", "client-secret-1", 1)
		if f := res.Failure; f == nil || f.Class != retry.Timeout || !strings.HasPrefix(f.Message, "token request: ") {
			t.Fatalf("Do = %v, want a timeout naming the token request", f)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Do took %v with a 1 s step timeout", d)
		}
	})
	for _, tt := range []struct {
		name   string
		client func(o *oauthServers) *webhook.Client
		msg    string
	}{
		{"the token endpoint is a denied host", func(o *oauthServers) *webhook.Client {
			_, port, _ := net.SplitHostPort(o.token.Listener.Addr().String())
			o.tokenURL = "http://localhost:" + port
			return loopbackClient(webhook.Config{Policy: &egress.Policy{AllowPrivate: true, DenyHosts: []string{"localhost"}}})
		}, "token request: blocked destination"},
		{"the token endpoint is a private address under the default policy", func(*oauthServers) *webhook.Client {
			return webhook.New(webhook.Config{Policy: &egress.Policy{}}) // the token request goes first
		}, "token request: blocked destination"},
		{"the token endpoint is this server", func(o *oauthServers) *webhook.Client {
			c := loopbackClient(webhook.Config{})
			c.SetSelf([]string{o.token.Listener.Addr().String()})
			return c
		}, "own address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := newOAuthServers(t, 3600)
			res := doOAuth(t, tt.client(o), o, "org1", "client-secret-1", 5)
			if f := res.Failure; f == nil || f.Class != retry.BlockedDestination || !strings.HasPrefix(f.Message, "token request: ") || !strings.Contains(f.Message, tt.msg) {
				t.Fatalf("Do = %v, want blocked_destination naming the token request and %q", f, tt.msg)
			}
			if o.tokenRequests.Load() != 0 || o.apiRequests.Load() != 0 {
				t.Error("a blocked token endpoint was reached, or the API without a token")
			}
		})
	}
}
