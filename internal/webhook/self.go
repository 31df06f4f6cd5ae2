package webhook

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/autohook/autohook/internal/egress"
)

// ownAddrs is where the node itself serves: a request there is refused as
// blocked_destination, so that an automation cannot be pointed back at the
// server that runs it. It is compared with the address a connection is
// about to be made to, after DNS, on the first request and on every
// redirect: "localhost", another name of the host, 127.0.0.1:018083 and
// [::ffff:127.0.0.1] are all the address they resolve to.
type ownAddrs struct {
	p atomic.Pointer[ownSet]
}

type ownSet struct {
	addrs    []netip.AddrPort // addresses listened on
	wildcard []uint16         // ports listened on at every local address (0.0.0.0, ::)
}

// SetSelf names the addresses (ip:port, as the node's listener reports
// them) the node serves on. An unspecified address (0.0.0.0:8080, [::]:8080)
// stands for the port on every address of the machine. Entries that are
// not an ip:port are ignored.
func (c *Client) SetSelf(addrs []string) {
	set := &ownSet{}
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			continue
		}
		ip := ap.Addr().WithZone("").Unmap()
		if ip.IsUnspecified() {
			set.wildcard = append(set.wildcard, ap.Port())
			continue
		}
		set.addrs = append(set.addrs, netip.AddrPortFrom(ip, ap.Port()))
	}
	c.self.p.Store(set)
}

// contains reports whether a connection to ap reaches the node.
func (o *ownAddrs) contains(ap netip.AddrPort) bool {
	set := o.p.Load()
	if set == nil {
		return false
	}
	ip, port := ap.Addr().WithZone("").Unmap(), ap.Port()
	for _, a := range set.addrs {
		// Connecting to 0.0.0.0 or :: reaches the local host.
		if a.Port() == port && (a.Addr() == ip || ip.IsUnspecified()) {
			return true
		}
	}
	for _, p := range set.wildcard {
		if p == port && isLocal(ip) {
			return true
		}
	}
	return false
}

// isLocal reports whether ip is an address of this machine.
func isLocal(ip netip.Addr) bool {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: refuse rather than call ourselves
	}
	for _, a := range ifaddrs {
		if n, ok := a.(*net.IPNet); ok {
			if addr, ok := netip.AddrFromSlice(n.IP); ok && addr.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// control refuses a connection to the node's own address; it has the
// signature of net.Dialer.ControlContext and runs after the destination
// policy's check.
func (o *ownAddrs) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil // the policy refuses what is not an address and port
	}
	if o.contains(ap) {
		return &egress.BlockedError{IP: ap.Addr().WithZone("").Unmap(), Reason: "this Autohook server's own address, port " + strconv.Itoa(int(ap.Port()))}
	}
	return nil
}

// isSelf reports whether rawURL names the node by an IP address and port
// (in any spelling: 127.0.0.1:018083, [::ffff:127.0.0.1]), so that such a
// request fails before anything is dialled. Host names are judged when the
// connection is made, on the address they resolve to.
func (c *Client) isSelf(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	ap, ok := literalAddrPort(u)
	return ok && c.self.contains(ap)
}
