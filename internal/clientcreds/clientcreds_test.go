package clientcreds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// tokenServer is a token endpoint that counts its requests and answers
// token-<n> for the n-th, valid for expiresIn seconds (0: no expires_in).
type tokenServer struct {
	*httptest.Server
	requests  atomic.Int64
	expiresIn int
	status    atomic.Int64 // answer this status instead, when not 0
	mu        sync.Mutex
	got       []string // client_id/secret:scope of each request
	hold      chan struct{}
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	ts := &tokenServer{expiresIn: expiresIn}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.requests.Add(1)
		if ts.hold != nil {
			<-ts.hold
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			http.Error(w, "bad grant", http.StatusBadRequest)
			return
		}
		id, secret, _ := r.BasicAuth()
		ts.mu.Lock()
		ts.got = append(ts.got, id+"/"+secret+":"+r.PostForm.Get("scope"))
		ts.mu.Unlock()
		if s := ts.status.Load(); s != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(s))
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"no such client"}`)
			return
		}
		body := map[string]any{"access_token": fmt.Sprintf("token-%d", n), "token_type": "bearer"}
		if ts.expiresIn > 0 {
			body["expires_in"] = ts.expiresIn
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestTokenIsCachedAndSharedByConcurrentCallers(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	ts.hold = make(chan struct{})
	c := New(nil)
	cfg := Config{Org: "org1", TokenURL: ts.URL, ClientID: "abc", ClientSecret: "s3cret", Scopes: []string{"crm.write", "crm.read"}}
	var wg sync.WaitGroup
	toks := make([]string, 20)
	errs := make([]error, 20)
	for i := range toks {
		wg.Go(func() {
			tok, err := c.Token(context.Background(), cfg, ts.Client())
			errs[i] = err
			if tok != nil {
				toks[i] = tok.AccessToken
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let them all wait for the one request
	close(ts.hold)
	wg.Wait()
	for i := range toks {
		if errs[i] != nil || toks[i] != "token-1" {
			t.Errorf("caller %d: %q, %v; want token-1", i, toks[i], errs[i])
		}
	}
	tok, err := c.Token(context.Background(), cfg, ts.Client())
	if err != nil || tok.AccessToken != "token-1" {
		t.Errorf("later call: %v, %v; want the cached token-1", tok, err)
	}
	if n := ts.requests.Load(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
	if ts.got[0] != "abc/s3cret:crm.write crm.read" {
		t.Errorf("token request = %q, want the client's credentials in Basic auth and both scopes", ts.got[0])
	}
}

func TestTokenKeys(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	c := New(nil)
	base := Config{Org: "org1", TokenURL: ts.URL, ClientID: "abc", ClientSecret: "s1", Scopes: []string{"a", "b"}}
	get := func(cfg Config) string {
		t.Helper()
		tok, err := c.Token(context.Background(), cfg, ts.Client())
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	first := get(base)
	same := base
	same.Scopes = []string{"b", "a"} // the same scopes in another order
	if got := get(same); got != first {
		t.Errorf("same client, scopes reordered: %s, want the cached %s", got, first)
	}
	for name, mutate := range map[string]func(*Config){
		"another organisation": func(c *Config) { c.Org = "org2" },
		"another client":       func(c *Config) { c.ClientID = "xyz" },
		"another secret":       func(c *Config) { c.ClientSecret = "s2" },
		"other scopes":         func(c *Config) { c.Scopes = []string{"a"} },
		"another token url":    func(c *Config) { c.TokenURL += "/other" },
	} {
		cfg := base
		mutate(&cfg)
		if got := get(cfg); got == first {
			t.Errorf("%s: served %s, the token of another key", name, got)
		}
	}
	if n := ts.requests.Load(); n != 6 {
		t.Errorf("token requests = %d, want 6 (one per key)", n)
	}
}

// TestTokenLifetime: a token is served until shortly before it expires
// (10 s, or half a shorter lifetime), one without expires_in for
// NoExpiryLifetime.
func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	type step struct {
		advance time.Duration
		want    string
	}
	tests := []struct {
		name      string
		expiresIn int
		steps     []step
	}{
		{"60 s, renewed in the last 10", 60, []step{{0, "token-1"}, {45 * time.Second, "token-1"}, {6 * time.Second, "token-2"}}},
		{"4 s, renewed in the last 2", 4, []step{{0, "token-1"}, {1500 * time.Millisecond, "token-1"}, {time.Second, "token-2"}}},
		{"no expires_in", 0, []step{{0, "token-1"}, {NoExpiryLifetime - 11*time.Second, "token-1"}, {2 * time.Second, "token-2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newTokenServer(t, tt.expiresIn)
			clk := &clock{t: time.Now()}
			c := New(clk.now)
			cfg := Config{Org: "o", TokenURL: ts.URL, ClientID: "abc", ClientSecret: "s"}
			var after time.Duration
			for _, st := range tt.steps {
				clk.add(st.advance)
				after += st.advance
				tk, err := c.Token(context.Background(), cfg, ts.Client())
				if err != nil || tk.AccessToken != st.want {
					t.Errorf("after %v: %v, %v; want %s", after, tk, err, st.want)
				}
			}
		})
	}
}

func TestRenewReplacesTheRefusedTokenOnce(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	c := New(nil)
	cfg := Config{Org: "o", TokenURL: ts.URL, ClientID: "abc", ClientSecret: "s"}
	stale, err := c.Token(context.Background(), cfg, ts.Client())
	if err != nil {
		t.Fatal(err)
	}
	// Ten requests were refused with the same token at once: one renewal.
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Go(func() {
			tok, err := c.Renew(context.Background(), cfg, ts.Client(), stale)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = tok.AccessToken
		})
	}
	wg.Wait()
	for i, g := range got {
		if g != "token-2" {
			t.Errorf("renewal %d = %s, want token-2", i, g)
		}
	}
	if n := ts.requests.Load(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
	tok, _ := c.Token(context.Background(), cfg, ts.Client())
	if tok.AccessToken != "token-2" {
		t.Errorf("cached after renewal = %s, want token-2", tok.AccessToken)
	}
}

func TestTokenRequestRefused(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	ts.status.Store(http.StatusUnauthorized)
	c := New(nil)
	cfg := Config{Org: "o", TokenURL: ts.URL, ClientID: "abc", ClientSecret: "wrong"}
	_, err := c.Token(context.Background(), cfg, ts.Client())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" {
		t.Fatalf("Token = %v, want a RetrieveError with 401 invalid_client", err)
	}
	// Not cached: once the endpoint accepts, the next call succeeds.
	ts.status.Store(0)
	tok, err := c.Token(context.Background(), cfg, ts.Client())
	if err != nil || tok.AccessToken == "" {
		t.Errorf("after the endpoint recovered: %v, %v", tok, err)
	}
}

func TestTokenWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	ts.hold = make(chan struct{})
	defer close(ts.hold)
	c := New(nil)
	cfg := Config{Org: "o", TokenURL: ts.URL, ClientID: "abc", ClientSecret: "s"}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	go func() { _, _ = c.Token(context.Background(), cfg, ts.Client()) }() // holds the fetch until the test ends
	time.Sleep(20 * time.Millisecond)
	_, err := c.Token(ctx, cfg, ts.Client())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting caller = %v, want its context's deadline", err)
	}
}

func TestSweepDropsExpiredEntries(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 60)
	clk := &clock{t: time.Now()}
	c := New(clk.now)
	for i := range 5 {
		if _, err := c.Token(context.Background(), Config{Org: fmt.Sprint(i), TokenURL: ts.URL, ClientID: "a", ClientSecret: "s"}, ts.Client()); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 5 {
		t.Fatalf("Len = %d, want 5", c.Len())
	}
	clk.add(2 * time.Minute)
	if _, err := c.Token(context.Background(), Config{Org: "new", TokenURL: ts.URL, ClientID: "a", ClientSecret: "s"}, ts.Client()); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 1 {
		t.Errorf("Len after the expired ones were swept = %d, want 1", c.Len())
	}
}
