package webhook

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultMaxPerHost is how many requests may be in flight to one
// destination host at once.
const DefaultMaxPerHost = 64

// hostLimit bounds the requests in flight per destination (host and port),
// so that one slow or failing receiver cannot occupy every worker: runs to
// other receivers keep going while it stalls.
type hostLimit struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// Reserve takes a place for a request to rawURL's host, waiting at most
// wait for one. It returns the function that gives the place back, or false
// when the host stayed busy.
func (c *Client) Reserve(ctx context.Context, rawURL string, wait time.Duration) (release func(), ok bool) {
	key := hostKey(rawURL)
	deadline := time.Now().Add(wait)
	for {
		if c.hosts.tryTake(key) {
			return func() { c.hosts.give(key) }, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, false
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (h *hostLimit) tryTake(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n[key] >= h.max {
		return false
	}
	h.n[key]++
	return true
}

func (h *hostLimit) give(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n[key] <= 1 {
		delete(h.n, key) // the map holds only busy hosts
		return
	}
	h.n[key]--
}

// SetSelf names the addresses (host:port) the node itself serves on: a
// request to one of them is refused as blocked_destination, so an
// automation cannot be pointed back at the server that runs it.
func (c *Client) SetSelf(addrs []string) {
	m := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		m[strings.ToLower(a)] = true
	}
	c.self.Store(&m)
}

func (c *Client) isSelf(rawURL string) bool {
	m := c.self.Load()
	return m != nil && (*m)[hostKey(rawURL)]
}

// hostKey is the destination a request counts against: host and port.
func hostKey(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}
