package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"code.dny.dev/ssrf"
	"golang.org/x/net/idna"
)

// addrCases lists addresses with whether the default policy and a policy
// with AllowPrivate block them.
var addrCases = []struct {
	addr           string
	blocked        bool // default policy
	blockedPrivate bool // AllowPrivate
}{
	// Public.
	{"8.8.8.8", false, false},
	{"1.1.1.1", false, false},
	{"93.184.216.34", false, false},
	{"2606:4700:4700::1111", false, false},
	{"2a00:1450:4001:80e::200e", false, false},
	// Unspecified, "this network".
	{"0.0.0.0", true, true},
	{"0.1.2.3", true, true},
	{"::", true, true},
	// Loopback.
	{"127.0.0.1", true, false},
	{"127.255.255.254", true, false},
	{"::1", true, false},
	// Private and unique local.
	{"10.0.0.1", true, false},
	{"172.16.0.1", true, false},
	{"172.31.255.255", true, false},
	{"172.32.0.1", false, false},
	{"192.168.1.1", true, false},
	{"fc00::1", true, false},
	{"fd12:3456::1", true, false},
	// Link-local.
	{"169.254.1.1", true, false},
	{"fe80::1", true, false},
	{"fe80::1%eth0", true, false},
	// CGNAT.
	{"100.64.0.1", true, false},
	{"100.127.255.255", true, false},
	{"100.128.0.1", false, false},
	// Cloud metadata: blocked even with AllowPrivate.
	{"169.254.169.254", true, true},
	{"169.254.170.2", true, true},
	{"fd00:ec2::254", true, true},
	{"100.100.100.200", true, true},
	{"168.63.129.16", true, true},
	// Multicast, broadcast, reserved, documentation.
	{"224.0.0.1", true, true},
	{"239.255.255.250", true, true},
	{"ff02::1", true, true},
	{"ff05::2", true, true},
	{"255.255.255.255", true, true},
	{"240.0.0.1", true, true},
	{"192.0.2.1", true, true},
	{"198.51.100.7", true, true},
	{"203.0.113.9", true, true},
	{"198.18.0.1", true, true},
	{"192.0.0.8", true, true},
	{"2001:db8::1", true, true},
	{"2001:db8::1%eth0", true, true},
	{"3fff::1", true, true},
	{"fec0::1", true, true}, // deprecated site-local: outside global unicast
	{"100::1", true, true},  // discard-only
	// IPv4-mapped IPv6: judged by the IPv4 address.
	{"::ffff:8.8.8.8", false, false},
	{"::ffff:127.0.0.1", true, false},
	{"::ffff:10.0.0.1", true, false},
	{"::ffff:169.254.169.254", true, true},
	{"::ffff:0.0.0.0", true, true},
	// IPv4-compatible and IPv4-translated forms are not global unicast.
	{"::127.0.0.1", true, true},
	{"::ffff:0:8.8.8.8", true, true},
	// NAT64.
	{"64:ff9b::808:808", false, false},
	{"64:ff9b::7f00:1", true, false},
	{"64:ff9b::a00:1", true, false},
	{"64:ff9b::a9fe:a9fe", true, true},
	{"64:ff9b::c000:201", true, true},
	{"64:ff9b:1::808:808", false, false},
	{"64:ff9b:1::7f00:1", true, false},
	{"64:ff9b:1:abcd::a9fe:a9fe", true, true},
	// 6to4.
	{"2002:808:808::1", false, false},
	{"2002:7f00:1::1", true, false},
	{"2002:c0a8:101::1", true, false},
	{"2002:a9fe:a9fe::", true, true},
	{"2002:e000:1::", true, true},
	// Teredo.
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", true, true},
	{"2001::1", true, true},
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	policies := []struct {
		name   string
		policy *Policy
		want   func(blocked, blockedPrivate bool) bool
	}{
		{"default", &Policy{}, func(b, _ bool) bool { return b }},
		{"nil", nil, func(b, _ bool) bool { return b }},
		{"allow private", &Policy{AllowPrivate: true}, func(_, bp bool) bool { return bp }},
	}
	for _, pol := range policies {
		for _, tc := range addrCases {
			ip := netip.MustParseAddr(tc.addr)
			err := pol.policy.CheckAddr("example.test", ip)
			if got, want := err != nil, pol.want(tc.blocked, tc.blockedPrivate); got != want {
				t.Errorf("%s: CheckAddr(%s) = %v, want blocked %v", pol.name, tc.addr, err, want)
			}
			if err == nil {
				continue
			}
			var be *BlockedError
			if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) {
				t.Errorf("%s: CheckAddr(%s) = %#v, want a *BlockedError wrapping ErrBlocked", pol.name, tc.addr, err)
				continue
			}
			if be.Host != "example.test" || be.IP != ip || be.Reason == "" {
				t.Errorf("%s: CheckAddr(%s) = %+v, want host, ip and a reason", pol.name, tc.addr, be)
			}
		}
	}
}

func TestCheckAddrAllow(t *testing.T) {
	t.Parallel()
	pfx := netip.MustParsePrefix
	tests := []struct {
		name  string
		allow []netip.Prefix
		addr  string
		want  bool // blocked
	}{
		{"loopback listed", []netip.Prefix{pfx("127.0.0.1/32")}, "127.0.0.1", false},
		{"other loopback not listed", []netip.Prefix{pfx("127.0.0.1/32")}, "127.0.0.2", true},
		{"mapped address matches v4 range", []netip.Prefix{pfx("127.0.0.1/32")}, "::ffff:127.0.0.1", false},
		{"v4 matches mapped range", []netip.Prefix{pfx("::ffff:10.0.0.0/104")}, "10.1.2.3", false},
		{"private range", []netip.Prefix{pfx("10.0.0.0/8")}, "10.9.9.9", false},
		{"private range, other private", []netip.Prefix{pfx("10.0.0.0/8")}, "192.168.0.1", true},
		{"metadata listed", []netip.Prefix{pfx("169.254.169.254/32")}, "169.254.169.254", false},
		{"link-local does not cover metadata by accident", []netip.Prefix{pfx("169.254.169.254/32")}, "169.254.1.1", true},
		{"ula range", []netip.Prefix{pfx("fd00::/8")}, "fd00:ec2::254", false},
		{"nat64 judged by embedded", []netip.Prefix{pfx("10.0.0.0/8")}, "64:ff9b::a00:1", false},
		{"nat64 prefix listed", []netip.Prefix{pfx("64:ff9b::/96")}, "64:ff9b::7f00:1", false},
		{"6to4 judged by embedded", []netip.Prefix{pfx("192.168.0.0/16")}, "2002:c0a8:101::1", false},
		{"zoned link-local", []netip.Prefix{pfx("fe80::/10")}, "fe80::1%eth0", false},
		{"documentation range", []netip.Prefix{pfx("192.0.2.0/24")}, "192.0.2.10", false},
	}
	for _, tc := range tests {
		p := &Policy{Allow: tc.allow}
		err := p.CheckAddr("", netip.MustParseAddr(tc.addr))
		if got := err != nil; got != tc.want {
			t.Errorf("%s: CheckAddr(%s) with Allow %v = %v, want blocked %v", tc.name, tc.addr, tc.allow, err, tc.want)
		}
	}
}

// TestAtLeastAsStrictAsSSRF cross-checks the table against code.dny.dev/ssrf:
// whatever its Guardian refuses, the default policy refuses too, except
// public addresses behind IPv4-mapped, NAT64 and 6to4 forms, which this
// package unwraps and ssrf refuses outright.
func TestAtLeastAsStrictAsSSRF(t *testing.T) {
	t.Parallel()
	g := ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())
	for _, tc := range addrCases {
		ip := netip.MustParseAddr(tc.addr)
		if _, _, ok := embeddedIPv4(ip.WithZone("")); ok || ip.Is4In6() {
			continue
		}
		if g.SafeAddr(ip.WithZone("")) != nil && !tc.blocked {
			t.Errorf("%s: ssrf refuses it, the table allows it", tc.addr)
		}
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *BlockedError
		want string
	}{
		{&BlockedError{Host: "db.internal", IP: netip.MustParseAddr("10.0.0.1"), Reason: "private network"}, "blocked destination: db.internal (10.0.0.1): private network"},
		{&BlockedError{IP: netip.MustParseAddr("127.0.0.1"), Reason: "loopback"}, "blocked destination: 127.0.0.1: loopback"},
		{&BlockedError{Host: "127.0.0.1", IP: netip.MustParseAddr("127.0.0.1"), Reason: "loopback"}, "blocked destination: 127.0.0.1: loopback"},
		{&BlockedError{Host: "self.example.com", Reason: "denied host name"}, "blocked destination: self.example.com: denied host name"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestCheckHost(t *testing.T) {
	t.Parallel()
	p := &Policy{DenyHosts: []string{"autohook.example.com", "*.internal.example", "Admin.Example.ORG.", "runsc", "münchen.example"}}
	tests := []struct {
		host string
		want bool // blocked
	}{
		{"autohook.example.com", true},
		{"AUTOHOOK.example.com.", true},
		{"other.example.com", false},
		{"api.internal.example", true},
		{"a.b.internal.example", true},
		{"internal.example", false}, // the wildcard covers subdomains only
		{"notinternal.example", false},
		{"admin.example.org", true},
		{"hooks.partner.test", false},
		{"localhost", false},   // a name: refused when dialled, not here
		{"127.0.0.1", true},    // an IP literal is checked at once
		{"::1", true},          // so is an IPv6 one
		{"[::1]", true},        // with brackets
		{"8.8.8.8", false},     // public literal
		{"", true},             // no host at all
		{"fe80::1%eth0", true}, // zoned literal
		// Names that net/http maps (UTS #46) to a denied one when it dials.
		{"runsc", true},
		{"ｒｕｎｓｃ", true},                // full-width
		{"ＲＵＮＳＣ", true},                // full-width capitals
		{"runſc", true},                // long s
		{"RUNſC.", true},               // long s, capitals, trailing dot
		{"runsc．", true},               // full-width full stop
		{"api．internal.example", true}, // the mapped dot makes it api.internal.example
		{"x.api．internal．example", true},
		{"MÜNCHEN.example", true},
		{"xn--mnchen-3ya.example", true}, // the Punycode form of a denied name
		{"runs\u00adc", true},            // a soft hyphen is mapped away
		{"a\u200db", true},               // a zero-width joiner outside a joining context: no IDNA form
		{"runsc\u3002", true},            // ideographic full stop
		{"ｅｘａｍｐｌｅ.com", false},           // mapped, not denied
	}
	for _, tc := range tests {
		err := p.CheckHost(tc.host)
		if got := err != nil; got != tc.want {
			t.Errorf("CheckHost(%q) = %v, want blocked %v", tc.host, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckHost(%q) = %v, want it to wrap ErrBlocked", tc.host, err)
		}
	}
	var nilPolicy *Policy
	if err := nilPolicy.CheckHost("example.com"); err != nil {
		t.Errorf("nil policy: CheckHost(example.com) = %v, want nil", err)
	}
}

func FuzzCheckAddr(f *testing.F) {
	for _, tc := range addrCases {
		f.Add(tc.addr)
	}
	f.Add("not an address")
	f.Add("1.2.3.4%zone")
	deflt, private := &Policy{}, &Policy{AllowPrivate: true}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := netip.ParseAddrPort(s); err != nil {
			// Control refuses whatever is not an address and port.
			if err := deflt.Control("tcp", s, nil); !errors.Is(err, ErrBlocked) {
				t.Fatalf("Control(%q) = %v, want ErrBlocked", s, err)
			}
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		errDefault := deflt.CheckAddr("h", ip)
		errPrivate := private.CheckAddr("h", ip)
		if errDefault == nil && errPrivate != nil {
			t.Fatalf("%s: allowed by default but blocked with AllowPrivate: %v", s, errPrivate)
		}
		for _, err := range []error{errDefault, errPrivate} {
			if err != nil && !errors.Is(err, ErrBlocked) {
				t.Fatalf("%s: %v does not wrap ErrBlocked", s, err)
			}
		}
		if ip.Is4() {
			mapped := netip.AddrFrom16(ip.As16())
			if got, want := deflt.CheckAddr("h", mapped) != nil, errDefault != nil; got != want {
				t.Fatalf("%s: mapped form %s blocked %v, want %v", s, mapped, got, want)
			}
		}
		// The same verdict at dial time.
		ap := netip.AddrPortFrom(ip.WithZone(""), 443)
		if got, want := deflt.Control("tcp", ap.String(), nil) != nil, errDefault != nil; got != want {
			t.Fatalf("%s: Control blocked %v, CheckAddr blocked %v", ap, got, want)
		}
	})
}

// FuzzCheckHost: whatever name net/http would resolve for a host (the
// host as written when it is ASCII, else its UTS #46 ASCII form), a
// denied name is refused in every spelling.
func FuzzCheckHost(f *testing.F) {
	for _, s := range []string{"runsc", "ｒｕｎｓｃ", "ＲＵＮＳＣ", "runſc", "runsc．", "a.internal.example", "api．internal．example",
		"MÜNCHEN.example", "xn--mnchen-3ya.example", "example.com", "[::1]", "", "a\u200db"} {
		f.Add(s)
	}
	p := &Policy{DenyHosts: []string{"runsc", "*.internal.example", "münchen.example"}}
	f.Fuzz(func(t *testing.T, host string) {
		err := p.CheckHost(host)
		if err != nil && !errors.Is(err, ErrBlocked) {
			t.Fatalf("CheckHost(%q) = %v, want it to wrap ErrBlocked", host, err)
		}
		dialled := host // what net/http's idnaASCII does before it dials
		if !isASCII(host) {
			a, err := idna.Lookup.ToASCII(host)
			if err != nil {
				return // refused above or not dialable as written
			}
			dialled = a
		}
		dialled = strings.ToLower(strings.TrimSuffix(dialled, "."))
		denied := dialled == "runsc" || strings.HasSuffix(dialled, ".internal.example") || dialled == "xn--mnchen-3ya.example"
		if denied && err == nil {
			t.Fatalf("CheckHost(%q) allowed a host that net/http dials as %q", host, dialled)
		}
	})
}
