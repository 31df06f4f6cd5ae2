package egress_test

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/autohook/autohook/internal/egress"
)

func ExamplePolicy() {
	p := &egress.Policy{
		Allow:     []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, // an on-premises receiver
		DenyHosts: []string{"autohook.example.com", "*.autohook.example.com"},
	}
	client := &http.Client{
		Transport: &http.Transport{
			Proxy:       nil, // a proxy would be the address checked
			DialContext: p.Dialer(&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		},
		CheckRedirect: p.CheckRedirect,
	}
	_ = client

	fmt.Println(p.CheckHost("api.autohook.example.com"))
	fmt.Println(p.CheckAddr("db", netip.MustParseAddr("10.0.0.5")))
	fmt.Println(p.CheckAddr("hooks", netip.MustParseAddr("10.20.1.1")))
	fmt.Println(p.CheckAddr("meta", netip.MustParseAddr("::ffff:169.254.169.254")))
	// Output:
	// blocked destination: api.autohook.example.com: denied host name
	// blocked destination: db (10.0.0.5): private network
	// <nil>
	// blocked destination: meta (::ffff:169.254.169.254): cloud metadata
}
