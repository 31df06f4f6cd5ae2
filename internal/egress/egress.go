// Package egress decides where outbound requests may go: it refuses
// loopback, private, link-local, CGNAT, multicast, reserved and cloud-metadata
// addresses (and host names on a deny list) unless a Policy allows them.
//
// The address check runs at connect time through [Policy.Dialer], after DNS
// resolution, so a name that resolves (or re-resolves) to a forbidden address
// cannot get round it; [Policy.CheckRedirect] repeats the host-name check on
// every redirect. The special-purpose ranges come from code.dny.dev/ssrf,
// which tracks the IANA registries; this package adds the categories that
// "allow private networks" relaxes, cloud metadata endpoints, and unwrapping
// of IPv4-mapped, NAT64 and 6to4 addresses.
package egress

import (
	"errors"
	"net/netip"
	"strings"

	"code.dny.dev/ssrf"
	"golang.org/x/net/idna"
)

// ErrBlocked is the sentinel every refusal wraps: errors.Is(err, ErrBlocked)
// holds for a *BlockedError however deeply it is wrapped (net.OpError,
// url.Error).
var ErrBlocked = errors.New("blocked destination")

// BlockedError says which destination was refused and why.
type BlockedError struct {
	Host   string     // host name as given; empty when only the address is known (at dial time)
	IP     netip.Addr // the address refused; invalid when the host name itself was refused
	Reason string     // short lower-case reason, such as "loopback" or "denied host name"
}

// Error returns "blocked destination: <host> (<ip>): <reason>", leaving out
// whichever of host and ip is unknown or redundant.
func (e *BlockedError) Error() string {
	var b strings.Builder
	b.WriteString(ErrBlocked.Error())
	b.WriteString(": ")
	ip := ""
	if e.IP.IsValid() {
		ip = e.IP.String()
	}
	switch {
	case e.Host != "" && ip != "" && e.Host != ip:
		b.WriteString(e.Host + " (" + ip + ")")
	case e.Host != "":
		b.WriteString(e.Host)
	default:
		b.WriteString(ip)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns ErrBlocked.
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// Policy says which destinations are allowed. The zero value (and a nil
// *Policy) is the strict default: only public unicast addresses. A Policy must
// not be modified while in use.
type Policy struct {
	// AllowPrivate (AUTOHOOK_ALLOW_PRIVATE_NETWORKS) allows loopback, private
	// (RFC 1918, fc00::/7), link-local and CGNAT (100.64.0.0/10) addresses.
	// Cloud metadata endpoints stay blocked unless listed in Allow.
	AllowPrivate bool
	// Allow lists ranges that are always allowed; it is checked before
	// anything else. IPv4 ranges may be written as IPv4 or IPv4-mapped IPv6.
	Allow []netip.Prefix
	// DenyHosts lists host names that are always refused, such as the
	// server's own: compared after the UTS #46 mapping that net/http
	// applies when it dials (so "ｒｕｎｓｃ", "ＲＵＮＳＣ" and "runſc" are
	// "runsc"), case-insensitively, ignoring a trailing dot, either exactly
	// or, for "*.example.com", any name ending in ".example.com" (but not
	// example.com itself).
	DenyHosts []string
}

// metadata lists cloud instance-metadata and credential endpoints. They are
// blocked even with AllowPrivate, since handing out an instance's credentials
// is never what "allow private networks" means.
var metadata = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack, DigitalOcean...
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task credentials
	netip.MustParseAddr("169.254.170.23"),  // AWS EKS pod identity agent
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IPv6 metadata
	netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS pod identity agent, IPv6
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("168.63.129.16"),   // Azure WireServer (a public address)
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	teredo    = netip.MustParsePrefix("2001::/32")
	sixToFour = netip.MustParsePrefix("2002::/16")
	nat64     = []netip.Prefix{
		ssrf.IPv6NAT64Prefix,                    // 64:ff9b::/96, well-known (RFC 6052)
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use (RFC 8215)
	}
	broadcast = netip.MustParseAddr("255.255.255.255")
)

// CheckHost refuses a host name on the deny list, before any DNS lookup;
// host is what url.URL.Hostname returns. A host that is an IP literal is also
// put through CheckAddr, so it fails early. A name that is not ASCII and has
// no IDNA form (so net/http could not dial it as written either) is refused.
// The error is a *BlockedError.
func (p *Policy) CheckHost(host string) error {
	name, err := NormalizeHost(host)
	if err != nil {
		return &BlockedError{Host: host, Reason: "invalid international host name"}
	}
	if name == "" {
		return &BlockedError{Host: host, Reason: "empty host"}
	}
	if p != nil {
		for _, pattern := range p.DenyHosts {
			pat, err := NormalizeHost(pattern)
			if err == nil && matchHost(pat, name) {
				return &BlockedError{Host: host, Reason: "denied host name"}
			}
		}
	}
	if ip, err := netip.ParseAddr(name); err == nil {
		return p.CheckAddr(host, ip)
	}
	return nil
}

// NormalizeHost returns the form of a host name that is compared: without
// brackets or a trailing dot, lower case, and for a name that is not ASCII,
// its ASCII (Punycode) form after the UTS #46 mapping (full-width letters,
// "ſ", "．" and other compatibility forms become what they stand for) —
// the form net/http resolves and dials (it uses idna.Lookup as well). The
// error says the name has no such form.
func NormalizeHost(h string) (string, error) {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if !isASCII(h) {
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", err
		}
		h = a
	}
	return strings.ToLower(strings.TrimSuffix(h, ".")), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func matchHost(pattern, name string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return suffix != "" && strings.HasSuffix(name, "."+suffix)
	}
	return pattern != "" && pattern == name
}

// CheckAddr refuses an address the policy does not allow; host is only used
// in the error, which is a *BlockedError. IPv4-mapped IPv6 addresses are
// judged as the IPv4 address they carry, and so are NAT64 (64:ff9b::/96,
// 64:ff9b:1::/48, taking the last 32 bits) and 6to4 (2002::/16) addresses.
func (p *Policy) CheckAddr(host string, ip netip.Addr) error {
	if p == nil {
		p = &Policy{}
	}
	if reason := p.refuse(ip); reason != "" {
		return &BlockedError{Host: host, IP: ip, Reason: reason}
	}
	return nil
}

// refuse returns why ip is refused, or "" if it is allowed.
func (p *Policy) refuse(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid address"
	}
	// A zone makes netip.Prefix.Contains report false, which would let a
	// zoned address slip past every range below; it says nothing about the
	// destination, so drop it.
	ip = ip.WithZone("").Unmap()
	if p.allowed(ip) {
		return ""
	}
	if v4, kind, ok := embeddedIPv4(ip); ok {
		if reason := p.refuse(v4); reason != "" {
			return kind + " " + v4.String() + ": " + reason
		}
		return ""
	}
	for _, m := range metadata {
		if ip == m {
			return "cloud metadata"
		}
	}
	if reason := privateReason(ip); reason != "" {
		if p.AllowPrivate {
			return ""
		}
		return reason
	}
	switch {
	case ip.IsUnspecified():
		return "unspecified"
	case ip == broadcast:
		return "broadcast"
	case ip.IsMulticast():
		return "multicast"
	case teredo.Contains(ip):
		return "teredo"
	}
	if ip.Is4() {
		for _, pfx := range ssrf.IPv4DeniedPrefixes {
			if pfx.Contains(ip) {
				return "reserved range " + pfx.String()
			}
		}
		return ""
	}
	if !ssrf.IPv6GlobalUnicast.Contains(ip) {
		return "outside ipv6 global unicast"
	}
	for _, pfx := range ssrf.IPv6DeniedPrefixes {
		if pfx.Contains(ip) {
			return "reserved range " + pfx.String()
		}
	}
	return ""
}

func (p *Policy) allowed(ip netip.Addr) bool {
	for _, pfx := range p.Allow {
		if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
		}
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// privateReason names the categories that AllowPrivate allows.
func privateReason(ip netip.Addr) string {
	switch {
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private network"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case cgnat.Contains(ip):
		return "shared address space (cgnat)"
	}
	return ""
}

// embeddedIPv4 returns the IPv4 address a NAT64 or 6to4 address stands for.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	if !ip.Is6() {
		return netip.Addr{}, "", false
	}
	b := ip.As16()
	for _, pfx := range nat64 {
		if pfx.Contains(ip) {
			return netip.AddrFrom4([4]byte(b[12:16])), "nat64 of", true
		}
	}
	if sixToFour.Contains(ip) {
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4 of", true
	}
	return netip.Addr{}, "", false
}
