package webhook

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/autohook/autohook/internal/egress"
)

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"https://api.example.com/a", "https://api.example.com/b?c", true},
		{"https://api.example.com/", "https://API.example.com:443/", true},
		{"https://api.example.com/", "https://ａｐｉ.example.com/", true},
		{"http://api.example.com/", "https://api.example.com/", true}, // an upgrade on default ports
		{"http://api.example.com:8080/", "https://api.example.com:8443/", false},
		{"https://api.example.com/", "http://api.example.com/", false}, // a downgrade
		{"https://api.example.com/", "https://api.example.com:8443/", false},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:08080/", true},
		{"http://127.0.0.1:8080/", "http://[::ffff:127.0.0.1]:8080/", true},
		{"https://api.example.com/", "https://api.example.com.evil.example/", false},
		{"https://api.example.com/", "https://example.com/", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := sameOrigin(a, b); got != tc.want {
			t.Errorf("sameOrigin(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// FuzzRedirectPolicy: whatever the first request's headers and wherever a
// redirect leads, a request that reached another origin carries only
// Autohook's own headers (and Content-Type with a body kept), never a
// Referer, and no body unless the step keeps it.
func FuzzRedirectPolicy(f *testing.F) {
	f.Add("X-Api-Key", "tok-123", "https://other.example/x", false, uint8(0))
	f.Add("Authorization", "Bearer t", "https://api.example.com:8443/", true, uint8(1))
	f.Add("X-Token", "t", "http://api.example.com/", false, uint8(2))
	f.Add("Webhook-Signature", "v1,abc", "https://ａｐｉ.example.com/", true, uint8(3))
	f.Add("Content-Type", "text/plain", "https://api.example.com/next", false, uint8(4))
	policy := redirectPolicy(&egress.Policy{}, &ownAddrs{})
	f.Fuzz(func(t *testing.T, name, value, to string, keepBody bool, hops uint8) {
		first, err := http.NewRequest(http.MethodPost, "https://api.example.com/start", strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		first.Header.Set("User-Agent", "Autohook")
		first.Header.Set("Idempotency-Key", "run.step")
		if httpguts.ValidHeaderFieldName(name) {
			first.Header.Set(name, value)
		}
		target, err := url.Parse(to)
		if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
			return
		}
		st := &redirects{keepBody: keepBody, req: &Request{}}
		ctx := context.WithValue(context.Background(), redirectsKey{}, st)
		via := []*http.Request{first.WithContext(ctx)}
		left := false
		for i := range int(hops%3) + 1 {
			// What net/http does: the first request's headers again, the
			// body again (307/308), a Referer.
			next := &http.Request{Method: http.MethodPost, URL: target, Header: first.Header.Clone(), Response: &http.Response{StatusCode: 307}}
			next.Header.Set("Referer", via[len(via)-1].URL.String())
			next.Body, _ = first.GetBody()
			next.GetBody, next.ContentLength = first.GetBody, first.ContentLength
			next = next.WithContext(ctx)
			err := policy(next, via)
			left = left || !sameOrigin(first.URL, target)
			if next.Header.Get("Referer") != "" {
				t.Fatalf("hop %d: a Referer was left: %v", i, next.Header)
			}
			if left {
				for h := range next.Header {
					if !slices.Contains(crossOriginHeaders, h) && !(keepBody && h == "Content-Type") {
						t.Fatalf("hop %d to %s: header %s left for another origin", i, target, h)
					}
				}
				if !keepBody && next.Body != nil {
					t.Fatalf("hop %d to %s: the body was left for another origin", i, target)
				}
			}
			if err != nil {
				return // refused by the policy (a name it cannot map, say)
			}
			via = append(via, next)
			// the next hop goes back to the first origin
			target = first.URL
		}
		if len(st.req.Redirects) == 0 {
			t.Fatal("no hop recorded")
		}
	})
}
