package webui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

const adminPassword = "correct horse battery"

// node is a real Autohook server for a test, on port 0 with its own data
// dir, as `autohook serve` runs it (servertest.Start), with a web UI admin
// and the default rate limit.
type node struct {
	*servertest.Node
	t *testing.T
}

func startNode(t *testing.T, mutate ...func(*server.Config)) *node {
	t.Helper()
	n := servertest.Start(t, append([]func(*server.Config){func(c *server.Config) {
		c.AdminPassword = adminPassword
		c.RateLimit = 0 // the default
	}}, mutate...)...)
	return &node{Node: n, t: t}
}

// api calls the JSON API with the admin key, fails the test unless the
// status is below 300, and decodes the answer into out.
func (n *node) api(method, path string, body any, out any) int {
	n.t.Helper()
	a := n.Do(n.t, method, "/api/v1"+path, body)
	if a.Status >= 300 {
		n.t.Fatalf("%s %s: %d %s", method, path, a.Status, a.Body)
	}
	a.Decode(n.t, out)
	return a.Status
}

// client is a browser without script: a cookie jar, no redirects followed.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (n *node) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: n.t, base: n.Base, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a read response.
type response struct {
	*http.Response
	Body string
}

func (c *client) do(req *http.Request) *response {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, Body: string(b)}
}

func (c *client) get(path string) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) *response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the token of the first form of a page.
func csrf(t *testing.T, page string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf input in page:\n%s", page)
	}
	return m[1]
}

// signIn signs the client in as the admin and returns a CSRF token for
// its forms.
func (c *client) signIn() string {
	c.t.Helper()
	login := c.get("/login")
	resp := c.post("/login", url.Values{"csrf": {csrf(c.t, login.Body)}, "login": {"admin"}, "password": {adminPassword}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/records" {
		c.t.Fatalf("sign in: %d %s, want 303 to /records", resp.StatusCode, resp.Header.Get("Location"))
	}
	return csrf(c.t, c.get("/settings/secrets").Body)
}
