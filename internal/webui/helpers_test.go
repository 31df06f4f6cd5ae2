package webui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/server"
)

const (
	adminKey      = "ahk_webui-test-admin-key-0123"
	adminPassword = "correct horse battery"
)

// node is a real Autohook server for a test, on port 0 with its own data
// dir, as `autohook serve` runs it.
type node struct {
	t    *testing.T
	base string
}

func startNode(t *testing.T) *node {
	t.Helper()
	n, err := server.Start(context.Background(), server.Config{
		DataDir:              t.TempDir(),
		Listen:               "127.0.0.1:0",
		BootstrapAPIKey:      adminKey,
		AdminPassword:        adminPassword,
		AllowPrivateNetworks: true,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
		Out:                  io.Discard,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &node{t: t, base: "http://" + n.Addr}
}

// api calls the JSON API with the admin key and decodes the answer into out.
func (n *node) api(method, path string, body any, out any) int {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.base+"/api/v1"+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		n.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			n.t.Fatalf("decode %s: %v", data, err)
		}
	}
	return resp.StatusCode
}

// client is a browser without script: a cookie jar, no redirects followed.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (n *node) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: n.t, base: n.base, http: &http.Client{
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
