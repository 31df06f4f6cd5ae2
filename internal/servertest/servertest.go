// Package servertest is for tests only: it starts a real Autohook node (as
// `autohook serve` runs it) on port 0 with a temporary data dir and a known
// admin key, calls its JSON API, and runs loopback receivers that record the
// requests an automation sends. Only _test.go files may import it.
//
// It imports internal/server, which imports internal/httpapi and the rest
// of the stack: the internal tests of those packages (package httpapi, not
// httpapi_test) cannot use it.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/server"
)

// AdminKey is the instance admin's API key of a node started by Start,
// unless an option sets another BootstrapAPIKey.
const AdminKey = "ahk_test-admin-key-0123456789"

// SecretKey is the AUTOHOOK_SECRET_KEY of the nodes Start starts, unless an
// option sets another: the same for every node, so that nodes a test
// starts on one database agree on it (a node with another key than the
// database's refuses to start).
const SecretKey = "c2VydmVydGVzdC1zZWNyZXQta2V5LTMyLWJ5dGVzISE=" // "servertest-secret-key-32-bytes!!"

// Node is a node running for one test. Its Client calls the API with the
// bootstrap key.
type Node struct {
	Client
	Server *server.Node
}

// Start starts a node for t and shuts it down when t ends. Its Config is
// NodeConfig(t, options...).
func Start(t testing.TB, options ...func(*server.Config)) *Node {
	t.Helper()
	cfg := NodeConfig(t, options...)
	n, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &Node{Client: NewClient(t, n, cfg.BootstrapAPIKey), Server: n}
}

// NodeConfig is the Config of the nodes Start starts. The defaults: a
// fresh SQLite database in t.TempDir(), 127.0.0.1:0, AdminKey, private
// networks allowed (receivers are on loopback), logs and the start-up lines
// discarded, no rate limit (tests poll hard; the rate limit has its own
// tests), the key SecretKey. Options change the Config after the defaults,
// in order.
func NodeConfig(t testing.TB, options ...func(*server.Config)) server.Config {
	cfg := server.Config{
		DataDir:              t.TempDir(),
		Listen:               "127.0.0.1:0",
		BootstrapAPIKey:      AdminKey,
		SecretKey:            SecretKey,
		AllowPrivateNetworks: true,
		Logger:               slog.New(slog.DiscardHandler),
		Out:                  io.Discard,
		RateLimit:            -1,
	}
	for _, o := range options {
		o(&cfg)
	}
	return cfg
}

// NewClient returns a client of node n that sends key and checks every
// exchange against the served OpenAPI document (contract.go).
func NewClient(t testing.TB, n *server.Node, key string) Client {
	base := "http://" + n.Addr
	return Client{Base: base, Key: key, HTTP: contractClient(t, base)}
}

// Client calls a node's JSON API with one API key.
type Client struct {
	Base   string       // http://host:port
	Key    string       // sent as a bearer token
	HTTP   *http.Client // nil for http.DefaultClient
	Header http.Header  // more headers sent with every request
}

// As returns a client of the same node that sends key instead.
func (c *Client) As(key string) *Client {
	other := *c
	other.Key = key
	return &other
}

// With returns a client of the same node that also sends the header name:
// value with every request.
func (c *Client) With(name, value string) *Client {
	other := *c
	other.Header = c.Header.Clone()
	if other.Header == nil {
		other.Header = http.Header{}
	}
	other.Header.Set(name, value)
	return &other
}

// Answer is an API answer.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode decodes the body into out, failing the test if it is not JSON;
// a nil out decodes nothing.
func (a Answer) Decode(t testing.TB, out any) {
	t.Helper()
	if out == nil {
		return
	}
	if err := json.Unmarshal(a.Body, out); err != nil {
		t.Fatalf("status %d: decode %q: %v", a.Status, a.Body, err)
	}
}

// Send sends one request: body nil for none, a string as it is, anything
// else encoded as JSON. It takes no *testing.T, so that goroutines may use
// it; the error is a transport (or encoding) error, whatever the status.
func (c *Client) Send(ctx context.Context, method, path string, body any) (Answer, error) {
	var rd io.Reader
	if body != nil {
		b, ok := body.(string)
		if !ok {
			enc, err := json.Marshal(body)
			if err != nil {
				return Answer{}, err
			}
			b = string(enc)
		}
		rd = bytes.NewReader([]byte(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return Answer{}, err
	}
	for name, vs := range c.Header {
		req.Header[name] = vs
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: data}, err
}

// Do is Send that fails the test on a transport error; it does not look at
// the status.
func (c *Client) Do(t testing.TB, method, path string, body any) Answer {
	t.Helper()
	a, err := c.Send(context.Background(), method, path, body)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, c.Base, path, err)
	}
	return a
}

// Must is Do that fails the test unless the status is want and the body,
// if any, is JSON; it decodes the body into out unless out is nil.
func (c *Client) Must(t testing.TB, want int, method, path string, body, out any) Answer {
	t.Helper()
	a := c.Do(t, method, path, body)
	if a.Status != want {
		t.Fatalf("%s %s%s: status %d, want %d: %.2000s", method, c.Base, path, a.Status, want, a.Body)
	}
	if len(a.Body) > 0 && !json.Valid(a.Body) {
		t.Fatalf("%s %s%s: status %d: the answer is not JSON: %.2000q", method, c.Base, path, a.Status, a.Body)
	}
	if out != nil {
		if err := json.Unmarshal(a.Body, out); err != nil {
			t.Fatalf("%s %s%s: decode %q: %v", method, c.Base, path, a.Body, err)
		}
	}
	return a
}

// Request is a request a Receiver got.
type Request struct {
	Method string
	URL    *url.URL // as the receiver parsed it: URL.EscapedPath() is the path as sent
	Header http.Header
	Body   []byte
	At     time.Time // when it arrived
}

// Receiver is a loopback HTTP server that records every request, then
// answers it with a handler.
type Receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []Request
	got  chan Request
}

// NewReceiver starts a receiver for t, closed when t ends. answer answers
// each request after it is recorded (its body can be read again); nil
// answers 204 No Content.
func NewReceiver(t testing.TB, answer http.HandlerFunc) *Receiver {
	t.Helper()
	return NewReceiverOn(t, nil, answer)
}

// NewReceiverOn is NewReceiver on listener l (one in a network namespace,
// say); nil listens on loopback.
func NewReceiverOn(t testing.TB, l net.Listener, answer http.HandlerFunc) *Receiver {
	t.Helper()
	rc := &Receiver{got: make(chan Request, 1000)}
	rc.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		u := *r.URL
		rv := Request{Method: r.Method, URL: &u, Header: r.Header.Clone(), Body: body, At: at}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, rv)
		rc.mu.Unlock()
		select {
		case rc.got <- rv:
		default:
		}
		if answer != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			answer(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	if l != nil {
		rc.Server.Listener.Close()
		rc.Server.Listener = l
	}
	rc.Server.Start()
	t.Cleanup(rc.Close)
	return rc
}

// Requests returns a copy of the requests received so far, in order.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.reqs...)
}

// Count returns how many requests arrived.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// Next waits up to 15 s for the next request not yet taken by Next or Poll
// (of the first 1000).
func (rc *Receiver) Next(t testing.TB) Request {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no request arrived at the receiver")
		return Request{}
	}
}

// Poll returns the next request not yet taken by Next or Poll, if one has
// arrived, without waiting.
func (rc *Receiver) Poll() (Request, bool) {
	select {
	case r := <-rc.got:
		return r, true
	default:
		return Request{}, false
	}
}

// String describes a request for failure messages.
func (r Request) String() string {
	return fmt.Sprintf("%s %s %v %q", r.Method, r.URL, r.Header, r.Body)
}
