package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
)

// MaxRedirects is how many redirects CheckRedirect follows; it refuses the
// one after.
const MaxRedirects = 10

// ErrTooManyRedirects is returned by CheckRedirect after MaxRedirects hops.
var ErrTooManyRedirects = errors.New("too many redirects")

// Control checks the address a connection is about to be made to, after DNS
// resolution; it has the signature of net.Dialer.Control. An address that is
// not an IP and port (a unix socket path, say) is refused. The error is a
// *BlockedError with an empty Host.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Host: address, Reason: "not an ip address and port"}
	}
	return p.CheckAddr("", ap.Addr())
}

// Dialer returns a copy of base (or of a zero net.Dialer when base is nil)
// whose connections are checked by Control, before any Control or
// ControlContext base already had.
//
// Use it as the DialContext of an http.Transport whose Proxy is nil: with a
// proxy, the address checked would be the proxy's.
func (p *Policy) Dialer(base *net.Dialer) *net.Dialer {
	d := &net.Dialer{}
	if base != nil {
		*d = *base
	}
	switch {
	case d.ControlContext != nil:
		// net.Dialer ignores Control when ControlContext is set.
		next := d.ControlContext
		d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
			if err := p.Control(network, address, c); err != nil {
				return err
			}
			return next(ctx, network, address, c)
		}
	case d.Control != nil:
		next := d.Control
		d.Control = func(network, address string, c syscall.RawConn) error {
			if err := p.Control(network, address, c); err != nil {
				return err
			}
			return next(network, address, c)
		}
	default:
		d.Control = p.Control
	}
	return d
}

// CheckRedirect has the signature of http.Client.CheckRedirect: it puts the
// host of every redirect through CheckHost (the address is checked again when
// the connection is made) and stops after MaxRedirects, returning
// ErrTooManyRedirects.
func (p *Policy) CheckRedirect(req *http.Request, via []*http.Request) error {
	// via holds every request made so far, so it has n entries on the nth redirect.
	if len(via) > MaxRedirects {
		return ErrTooManyRedirects
	}
	return p.CheckHost(req.URL.Hostname())
}
