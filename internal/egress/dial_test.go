package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// newClient returns a client that goes through p the way the webhook sender
// should: the policy's dialer, no proxy, CheckRedirect on every hop.
func newClient(t *testing.T, p *Policy) *http.Client {
	t.Helper()
	tr := &http.Transport{
		Proxy:       nil,
		DialContext: p.Dialer(&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: p.CheckRedirect, Timeout: 10 * time.Second}
}

// newServer starts a loopback server counting its requests.
func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func get(c *http.Client, u string) (int, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func port(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func TestClientLoopback(t *testing.T) {
	t.Parallel()
	srv, hits := newServer(t, nil)
	loopback := srv.Listener.Addr().(*net.TCPAddr).AddrPort().Addr()
	tests := []struct {
		name    string
		policy  *Policy
		url     string
		blocked bool
	}{
		{"default policy", &Policy{}, srv.URL, true},
		{"allow private", &Policy{AllowPrivate: true}, srv.URL, false},
		{"allow list", &Policy{Allow: []netip.Prefix{netip.PrefixFrom(loopback, loopback.BitLen())}}, srv.URL, false},
		{"allow list, other range", &Policy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, srv.URL, true},
		{"name resolving to loopback", &Policy{}, "http://localhost:" + port(t, srv) + "/", true},
		{"name resolving to loopback, allow private", &Policy{AllowPrivate: true}, "http://localhost:" + port(t, srv) + "/", false},
	}
	for _, tc := range tests {
		before := hits.Load()
		status, err := get(newClient(t, tc.policy), tc.url)
		if !tc.blocked {
			if err != nil || status != http.StatusNoContent {
				t.Errorf("%s: GET %s = %d, %v; want 204, nil", tc.name, tc.url, status, err)
			}
			continue
		}
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: GET %s = %d, %v; want ErrBlocked", tc.name, tc.url, status, err)
			continue
		}
		var ue *url.Error
		var oe *net.OpError
		var be *BlockedError
		if !errors.As(err, &ue) || !errors.As(err, &oe) || !errors.As(err, &be) {
			t.Errorf("%s: got %T %v, want a *url.Error around a *net.OpError around a *BlockedError", tc.name, err, err)
		}
		if got := hits.Load(); got != before {
			t.Errorf("%s: server saw %d requests, want none", tc.name, got-before)
		}
	}
}

func TestLocalhostBlockedAtDialTime(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil)
	p := &Policy{}
	// The name is not on any deny list, so only the dial-time check can
	// refuse it.
	if err := p.CheckHost("localhost"); err != nil {
		t.Fatalf("CheckHost(localhost) = %v, want nil", err)
	}
	_, err := get(newClient(t, p), "http://localhost:"+port(t, srv)+"/")
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("GET localhost = %v, want a *BlockedError", err)
	}
	if !be.IP.IsLoopback() || be.Reason != "loopback" {
		t.Errorf("BlockedError = %+v, want a loopback address and reason", be)
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	target, targetHits := newServer(t, nil)
	targetPort := port(t, target)
	allowLoopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name       string
		policy     *Policy
		location   string
		wantReason string // "" means the redirect is followed
	}{
		{
			name:       "denied host name",
			policy:     &Policy{Allow: allowLoopback, DenyHosts: []string{"self.autohook.test"}},
			location:   "http://self.autohook.test:" + targetPort + "/",
			wantReason: "denied host name",
		},
		{
			name:       "wildcard",
			policy:     &Policy{Allow: allowLoopback, DenyHosts: []string{"*.autohook.test"}},
			location:   "http://api.eu.autohook.test/",
			wantReason: "denied host name",
		},
		{
			name:       "ip literal outside the allow list",
			policy:     &Policy{Allow: allowLoopback},
			location:   "http://127.0.0.2:" + targetPort + "/",
			wantReason: "loopback",
		},
		{
			name:       "metadata literal",
			policy:     &Policy{Allow: allowLoopback, AllowPrivate: true},
			location:   "http://169.254.169.254/latest/meta-data/",
			wantReason: "cloud metadata",
		},
		{
			name:     "allowed name",
			policy:   &Policy{Allow: allowLoopback, DenyHosts: []string{"*.autohook.test"}},
			location: "http://localhost:" + targetPort + "/",
		},
	}
	for _, tc := range tests {
		start, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, tc.location, http.StatusFound)
		})
		before := targetHits.Load()
		status, err := get(newClient(t, tc.policy), start.URL)
		if tc.wantReason == "" {
			if err != nil || status != http.StatusNoContent || targetHits.Load() != before+1 {
				t.Errorf("%s: GET = %d, %v; want 204 from the target", tc.name, status, err)
			}
			continue
		}
		var be *BlockedError
		if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: GET = %d, %v; want a *BlockedError", tc.name, status, err)
			continue
		}
		if be.Reason != tc.wantReason {
			t.Errorf("%s: reason %q, want %q", tc.name, be.Reason, tc.wantReason)
		}
		if got := targetHits.Load(); got != before {
			t.Errorf("%s: target saw %d requests, want none", tc.name, got-before)
		}
	}
}

func TestTooManyRedirects(t *testing.T) {
	t.Parallel()
	srv, hits := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/again", http.StatusFound)
	})
	_, err := get(newClient(t, &Policy{AllowPrivate: true}), srv.URL)
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("GET = %v, want ErrTooManyRedirects", err)
	}
	if got, want := hits.Load(), int64(MaxRedirects+1); got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
}

func TestDialerKeepsBaseControl(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil)
	addr := srv.Listener.Addr().String()
	var calls atomic.Int64
	control := func(string, string, syscall.RawConn) error { calls.Add(1); return nil }
	controlCtx := func(context.Context, string, string, syscall.RawConn) error { calls.Add(1); return nil }
	tests := []struct {
		name      string
		policy    *Policy
		base      *net.Dialer
		wantCalls int64
		blocked   bool
	}{
		{"nil base", &Policy{AllowPrivate: true}, nil, 0, false},
		{"control, allowed", &Policy{AllowPrivate: true}, &net.Dialer{Control: control}, 1, false},
		{"control, blocked", &Policy{}, &net.Dialer{Control: control}, 0, true},
		{"control context, allowed", &Policy{AllowPrivate: true}, &net.Dialer{ControlContext: controlCtx}, 1, false},
		{"control context, blocked", &Policy{}, &net.Dialer{ControlContext: controlCtx}, 0, true},
	}
	for _, tc := range tests {
		calls.Store(0)
		d := tc.policy.Dialer(tc.base)
		conn, err := d.DialContext(t.Context(), "tcp", addr)
		if err == nil {
			conn.Close()
		}
		if got := errors.Is(err, ErrBlocked); got != tc.blocked {
			t.Errorf("%s: dial = %v, want blocked %v", tc.name, err, tc.blocked)
		}
		if got := calls.Load(); got != tc.wantCalls {
			t.Errorf("%s: base control called %d times, want %d", tc.name, got, tc.wantCalls)
		}
	}
	base := &net.Dialer{Timeout: time.Second}
	_ = (&Policy{}).Dialer(base)
	if base.Control != nil {
		t.Errorf("Dialer modified its base")
	}
}

func TestControlRefusesNonIP(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"/run/app.sock", "localhost:80", "", "1.2.3.4"} {
		err := (&Policy{AllowPrivate: true}).Control("tcp", addr, nil)
		if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "not an ip address and port") {
			t.Errorf("Control(%q) = %v, want it refused", addr, err)
		}
	}
}
