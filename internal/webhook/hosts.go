package webhook

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/autohook/autohook/internal/egress"
)

// DefaultMaxPerHost is how many requests one organisation may have in
// flight to one destination host at once.
const DefaultMaxPerHost = 64

// hostLimit bounds the requests in flight per organisation and destination
// host, whatever the port or scheme, so that one slow or failing receiver
// cannot occupy every worker: runs to other receivers keep going while it
// stalls. Ports do not count apart: ten ports of one stalled host are one
// destination. Organisations do count apart: one that floods a host does
// not stop another's requests to it (each is bounded by its share of the
// node's runs in flight, in the engine).
type hostLimit struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// Reserve takes a place for a request of organisation org to rawURL's
// host, waiting at most wait for one. It returns the function that gives
// the place back, or false when the host stayed busy.
func (c *Client) Reserve(ctx context.Context, org, rawURL string, wait time.Duration) (release func(), ok bool) {
	key := org + " " + destHost(rawURL)
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

// destHost is the host a request counts against: its name as the
// destination policy compares it (IDNA-mapped, lower case), or an IP
// address in its one canonical form, so that spellings of one host count
// together.
func destHost(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	h, err := egress.NormalizeHost(u.Hostname())
	if err != nil {
		return strings.ToLower(u.Hostname())
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.WithZone("").Unmap().String()
	}
	return h
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

// hostKey names a request's destination in messages: host and port.
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
