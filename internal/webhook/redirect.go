package webhook

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/egress"
)

// Redirect rules. net/http, following a redirect, copies every header of
// the first request (dropping only Authorization, WWW-Authenticate and
// Cookie for another domain), re-sends the body on 307 and 308, and adds a
// Referer that holds the previous URL, query string and all. A step's
// headers may carry secrets under any name (X-Api-Key, X-Token), its body
// and URL too, so:
//   - Referer is never sent;
//   - once a redirect leads to another origin (scheme, host and port; an
//     upgrade from http to https on the same host and default ports is
//     the same origin), every later request carries only the headers that
//     hold nothing of the user's (User-Agent, Idempotency-Key, Webhook-Id),
//     no signature (it is bound to the first receiver and could be
//     replayed to it), and no body unless the step keeps it
//     (keepBodyOnRedirect: then Content-Type too);
//   - every hop goes through the destination policy, its host name here and
//     its address when dialled, where the node's own address is refused;
//   - every hop is recorded, for history.

// crossOriginHeaders are the headers kept on a redirect to another origin.
var crossOriginHeaders = []string{"User-Agent", "Idempotency-Key", "Webhook-Id"}

type redirectsKey struct{}

// redirects is what one request's redirects need: whether the body may
// follow to another origin, whether one was reached, and the request the
// hops are recorded in.
type redirects struct {
	keepBody bool
	left     bool // a redirect has led to another origin
	req      *Request
}

// withRedirects returns ctx carrying the redirect state of req, whose
// Redirects it clears: Do records the hops it follows there.
func withRedirects(ctx context.Context, step *automation.CallAPI, req *Request) context.Context {
	req.Redirects = nil
	return context.WithValue(ctx, redirectsKey{}, &redirects{keepBody: step.KeepBodyOnRedirect, req: req})
}

// redirectPolicy returns the http.Client's CheckRedirect: the rules above,
// then the policy's own check (the host name, at most MaxRedirects) and the
// node's own address given as an IP. A request without redirect state (an
// OAuth 2.0 token request) follows the same rules, unrecorded.
func redirectPolicy(p *egress.Policy, self *ownAddrs) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		st, _ := req.Context().Value(redirectsKey{}).(*redirects)
		if st == nil {
			st = &redirects{}
		}
		req.Header.Del("Referer")
		hop := automation.Redirect{Method: req.Method, URL: req.URL.String()}
		if req.Response != nil {
			hop.Status = req.Response.StatusCode
		}
		if !sameOrigin(via[0].URL, req.URL) {
			st.left = true
		}
		if st.left {
			hop.HeadersDropped = stripHeaders(req.Header, st.keepBody)
			if req.Body != nil && req.Body != http.NoBody && !st.keepBody {
				req.Body.Close()
				req.Body, req.GetBody, req.ContentLength = nil, nil, 0
				hop.BodyDropped = true
			}
		}
		if st.req != nil {
			st.req.Redirects = append(st.req.Redirects, hop)
		}
		if err := p.CheckRedirect(req, via); err != nil {
			return err
		}
		if ap, ok := literalAddrPort(req.URL); ok && self.contains(ap) {
			return &egress.BlockedError{Host: req.URL.Hostname(), IP: ap.Addr(), Reason: "this Autohook server's own address, port " + strconv.Itoa(int(ap.Port()))}
		}
		return nil
	}
}

// stripHeaders deletes from h every header but crossOriginHeaders (and,
// when the body goes along, Content-Type) and returns the names deleted,
// sorted.
func stripHeaders(h http.Header, keepBody bool) []string {
	var dropped []string
	for name := range h {
		if slices.Contains(crossOriginHeaders, name) || keepBody && name == "Content-Type" {
			continue
		}
		dropped = append(dropped, name)
		delete(h, name)
	}
	slices.Sort(dropped)
	return dropped
}

// sameOrigin reports whether b is on a's origin: the same scheme, host and
// port, or the upgrade of a's http to https on the same host with default
// ports.
func sameOrigin(a, b *url.URL) bool {
	if destHost(a.String()) != destHost(b.String()) {
		return false
	}
	pa, pb := portOf(a), portOf(b)
	if a.Scheme == b.Scheme {
		return pa == pb
	}
	return a.Scheme == "http" && b.Scheme == "https" && pa == "80" && pb == "443"
}

// portOf is u's port, the scheme's default when none is written, without
// leading zeros.
func portOf(u *url.URL) string {
	p := u.Port()
	if p == "" {
		return map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if n, err := strconv.ParseUint(p, 10, 16); err == nil {
		return strconv.FormatUint(n, 10)
	}
	return p
}

// literalAddrPort is u's address and port when its host is an IP literal
// (in any spelling: 127.0.0.1:018083, [::ffff:127.0.0.1]).
func literalAddrPort(u *url.URL) (netip.AddrPort, bool) {
	host, err := egress.NormalizeHost(u.Hostname())
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, false
	}
	p, err := strconv.ParseUint(portOf(u), 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(p)), true
}
