package webui_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
	"github.com/autohook/autohook/internal/webui"
)

// pages are the UI's GET pages that need a session.
var pages = []string{
	"/",
	"/records",
	"/records/leads",
	"/records/leads/new",
	"/records/leads/rec_x",
	"/settings",
	"/settings/collections",
	"/settings/collections/new",
	"/settings/collections/leads/edit",
	"/settings/automations",
	"/settings/automations/new",
	"/settings/automations/aut_x",
	"/settings/automations/aut_x/history",
	"/settings/automations/aut_x/versions",
	"/settings/automations/aut_x/versions/diff",
	"/settings/config",
	"/settings/config/export",
	"/settings/runs/run_x",
	"/settings/secrets",
}

func TestPagesRedirectToSignInWithoutSession(t *testing.T) {
	n := startNode(t)
	c := n.client()
	for _, p := range pages {
		resp := c.get(p)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("GET %s: status %d, want 303", p, resp.StatusCode)
			continue
		}
		want := "/login?next=" + url.QueryEscape(p)
		if p == "/" {
			want = "/login"
		}
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("GET %s: Location %q, want %q", p, got, want)
		}
	}
	// Posts without a session go to sign-in too, and change nothing.
	for _, p := range []string{"/settings/secrets", "/records/leads/new", "/settings/automations/new", "/settings/runs/run_x/retry"} {
		resp := c.post(p, url.Values{"name": {"X"}, "value": {"y"}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("POST %s: %d %s, want 303 to /login", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The script's JSON requests get 401 rather than a page.
	req, _ := http.NewRequest(http.MethodGet, n.Base+"/settings/runs/run_x/status", nil)
	req.Header.Set("Accept", "application/json")
	if resp := c.do(req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET status as JSON: %d, want 401", resp.StatusCode)
	}
	// After signing in, next leads back to the page asked for.
	login := c.get("/login?next=" + url.QueryEscape("/settings/secrets"))
	resp := c.post("/login", url.Values{"csrf": {csrf(t, login.Body)}, "login": {"admin"}, "password": {adminPassword}, "next": {"/settings/secrets"}})
	if got := resp.Header.Get("Location"); got != "/settings/secrets" {
		t.Errorf("after sign-in: Location %q, want /settings/secrets", got)
	}
	if resp := c.get("/"); resp.Header.Get("Location") != "/records" {
		t.Errorf("GET / signed in: Location %q, want /records", resp.Header.Get("Location"))
	}
}

// TestSignInNextStaysOnSite: a next that a browser would read as another
// origin is neither offered in the form nor followed after sign-in
// (issue 18, finding 7: /login?next=/%09/evil.example).
func TestSignInNextStaysOnSite(t *testing.T) {
	n := startNode(t)
	for _, next := range []string{"/\t/evil.example", "/%09/evil.example", "//evil.example", "/\\evil.example", "/%2F/evil.example", "/%5Cevil.example", "/\r\n/evil.example"} {
		c := n.client()
		login := c.get("/login?next=" + url.QueryEscape(next))
		if strings.Contains(login.Body, "evil.example") {
			t.Errorf("GET /login?next=%q: the form carries the next value", next)
		}
		resp := c.post("/login", url.Values{"csrf": {csrf(t, login.Body)}, "login": {"admin"}, "password": {adminPassword}, "next": {next}})
		if got := resp.Header.Get("Location"); got != "/records" {
			t.Errorf("sign-in with next=%q: Location %q, want /records", next, got)
		}
		// Signed in, /login?next= redirects at once: to this site only.
		if got := c.get("/login?next=" + url.QueryEscape(next)).Header.Get("Location"); got != "/records" {
			t.Errorf("GET /login?next=%q signed in: Location %q, want /records", next, got)
		}
	}
}

func TestSignInAndOut(t *testing.T) {
	n := startNode(t)
	c := n.client()
	login := c.get("/login")
	if login.StatusCode != http.StatusOK || !strings.Contains(login.Body, `name="password"`) {
		t.Fatalf("GET /login: %d %s", login.StatusCode, login.Body)
	}
	token := csrf(t, login.Body)

	wrong := c.post("/login", url.Values{"csrf": {token}, "login": {"admin"}, "password": {"not it"}})
	if wrong.StatusCode != http.StatusUnauthorized || !strings.Contains(wrong.Body, "not right") {
		t.Errorf("wrong password: %d, want 401 with a message", wrong.StatusCode)
	}
	for _, ck := range wrong.Cookies() {
		if ck.Name == "autohook_session" && ck.Value != "" {
			t.Errorf("wrong password set a session cookie")
		}
	}

	token = csrf(t, wrong.Body)
	resp := c.post("/login", url.Values{"csrf": {token}, "login": {"admin"}, "password": {adminPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Body)
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "autohook_session" {
			sess = ck
		}
	}
	if sess == nil {
		t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" || sess.Secure || sess.MaxAge <= 0 {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP, with a lifetime", sess)
	}
	page := c.get("/records")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET /records signed in: %d", page.StatusCode)
	}

	// Sign-out needs the token too.
	if r := c.post("/logout", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Errorf("sign out without token: %d, want 403", r.StatusCode)
	}
	if r := c.post("/logout", url.Values{"csrf": {csrf(t, page.Body)}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("sign out: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := c.get("/records"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign out: GET /records %d, want 303 to sign-in", r.StatusCode)
	}
}

func TestSessionCookieSecureBehindTLSProxy(t *testing.T) {
	n := startNode(t)
	c := n.client()
	login := c.get("/login")
	form := url.Values{"csrf": {csrf(t, login.Body)}, "login": {"admin"}, "password": {adminPassword}}
	req, _ := http.NewRequest(http.MethodPost, n.Base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp := c.do(req)
	found := false
	for _, ck := range resp.Cookies() {
		if ck.Name == "autohook_session" {
			found = true
			if !ck.Secure || !ck.HttpOnly {
				t.Errorf("session cookie behind TLS: %+v, want Secure and HttpOnly", ck)
			}
		}
	}
	if !found {
		t.Fatalf("no session cookie: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}
}

func TestCSRFRefused(t *testing.T) {
	n := startNode(t)
	c := n.client()

	// Sign-in itself needs the token of the form (login CSRF).
	c.get("/login")
	if r := c.post("/login", url.Values{"login": {"admin"}, "password": {adminPassword}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("sign in without token: %d, want 403", r.StatusCode)
	}

	token := c.signIn()
	posts := []string{
		"/settings/secrets",
		"/settings/collections/new",
		"/settings/automations/new",
		"/settings/automations/test",
		"/records/leads/new",
		"/settings/runs/run_x/cancel",
	}
	for _, p := range posts {
		for _, tok := range []string{"", "wrong-" + token} {
			form := url.Values{"name": {"KEY"}, "value": {"v"}, "key": {"leads"}}
			if tok != "" {
				form.Set("csrf", tok)
			}
			if r := c.post(p, form); r.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with token %q: %d, want 403", p, tok, r.StatusCode)
			}
		}
	}
	var secrets struct{ Items []any }
	n.api("GET", "/secrets", nil, &secrets)
	if len(secrets.Items) != 0 {
		t.Errorf("a refused post stored a secret: %v", secrets.Items)
	}
	// The header works for the script's requests; the form field for forms.
	req, _ := http.NewRequest(http.MethodPost, n.Base+"/settings/secrets", strings.NewReader("name=KEY&value=value-of-8"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", token)
	if r := c.do(req); r.StatusCode != http.StatusSeeOther {
		t.Errorf("POST with X-CSRF-Token: %d, want 303", r.StatusCode)
	}
	if r := c.post("/settings/secrets", url.Values{"csrf": {token}, "name": {"KEY2"}, "value": {"value-of-8"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("POST with csrf field: %d, want 303", r.StatusCode)
	}
	// A cross-site post is refused even before the token is checked.
	req, _ = http.NewRequest(http.MethodPost, n.Base+"/settings/secrets", strings.NewReader("name=KEY3&value=v&csrf="+url.QueryEscape(token)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := c.do(req); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", r.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	n := startNode(t)
	anon := n.client()
	signed := n.client()
	signed.signIn()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"X-Content-Type-Options":  "nosniff",
	}
	cases := []struct {
		name string
		c    *client
		path string
	}{
		{"login", anon, "/login"},
		{"redirect", anon, "/records"},
		{"stylesheet", anon, "/static/app.css"},
		{"script", anon, "/static/app.js"},
		{"page", signed, "/settings/automations"},
		{"not found", signed, "/settings/runs/run_missing"},
	}
	for _, tc := range cases {
		resp := tc.c.get(tc.path)
		for h, v := range want {
			if got := resp.Header.Get(h); got != v {
				t.Errorf("%s (%s): %s = %q, want %q", tc.name, tc.path, h, got, v)
			}
		}
	}
	if got := signed.get("/settings/automations").Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("signed-in page Cache-Control %q, want no-store", got)
	}
	// No inline script or style anywhere (the CSP would block them).
	for _, p := range []string{"/login"} {
		body := anon.get(p).Body
		if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
			t.Errorf("%s has inline script or style", p)
		}
	}
	for _, p := range []string{"/records", "/settings/automations/new", "/settings/collections/new", "/settings/secrets"} {
		resp := signed.get(p)
		for resp.StatusCode == http.StatusSeeOther {
			resp = signed.get(resp.Header.Get("Location"))
		}
		if strings.Contains(resp.Body, "<script>") || strings.Contains(resp.Body, " style=") || strings.Contains(resp.Body, " onclick=") {
			t.Errorf("%s has inline script or style", p)
		}
	}
}

func TestSecretValuesNeverShown(t *testing.T) {
	n := startNode(t)
	c := n.client()
	token := c.signIn()
	const value = "crm-secret-value-8c1f"
	if r := c.post("/settings/secrets", url.Values{"csrf": {token}, "name": {"CRM_KEY"}, "value": {value}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set secret: %d %s", r.StatusCode, r.Body)
	}
	page := c.get("/settings/secrets")
	if !strings.Contains(page.Body, "CRM_KEY") || strings.Contains(page.Body, value) {
		t.Errorf("secrets page: want the name and never the value")
	}
	// A bad name comes back beside its input, without the value.
	bad := c.post("/settings/secrets", url.Values{"csrf": {token}, "name": {"1 bad"}, "value": {value}})
	if bad.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, `class="field-error"`) || strings.Contains(bad.Body, value) {
		t.Errorf("bad secret name: %d; want 422 with a field error and without the value", bad.StatusCode)
	}

	// A signing secret is write-only: the form shows a placeholder.
	const signing = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads", "fields": []any{map[string]any{"key": "name", "type": "text"}}}, nil)
	var a struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Signed", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps":   []any{map[string]any{"type": "call_api", "url": "https://example.com/hook"}},
		"signing": map[string]any{"secret": signing},
	}, &a)
	form := c.get("/settings/automations/" + a.ID)
	if form.StatusCode != http.StatusOK || strings.Contains(form.Body, signing) || strings.Contains(form.Body, strings.TrimPrefix(signing, "whsec_")) {
		t.Errorf("automation form: %d; it must not contain the signing secret", form.StatusCode)
	}
	if !strings.Contains(form.Body, "[redacted]") {
		t.Errorf("automation form: want the [redacted] placeholder for the stored signing secret")
	}
}

func TestOutputEscaped(t *testing.T) {
	n := startNode(t)
	c := n.client()
	c.signIn()
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "<script>alert(1)</script>", "fields": []any{map[string]any{"key": "name", "type": "text"}}}, nil)
	n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{"name": `"><img src=x onerror=alert(2)>`}}, nil)
	page := c.get("/records/leads")
	if strings.Contains(page.Body, "<script>alert(1)") || strings.Contains(page.Body, "<img src=x") {
		t.Errorf("records page does not escape names and values")
	}
	if !strings.Contains(page.Body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("records page: want the escaped collection name")
	}
}

func TestRunPageRetryAndCancel(t *testing.T) {
	n := startNode(t)
	var status atomic.Int32
	status.Store(400)
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"error":"nope"}`))
	}))
	defer remote.Close()
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads", "fields": []any{map[string]any{"key": "name", "type": "text"}}}, nil)
	var a struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Failing", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"type": "call_api", "url": remote.URL + "/x", "maxAttempts": 3}},
	}, &a)
	// waitRun waits until the automation's newest run has status want.
	waitRun := func(want string) string {
		t.Helper()
		newest := servertest.Runs(t, &n.Client, a.ID)[0]["id"].(string)
		return servertest.WaitRun(t, &n.Client, newest, want)["id"].(string)
	}
	c := n.client()
	token := c.signIn()

	// A 400 is not retried: the run fails, and the page offers Retry.
	n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Acme"}}, nil)
	failed := waitRun("failed")
	page := c.get("/settings/runs/" + failed)
	for _, want := range []string{"http_4xx", `id="retry"`, "HTTP 400", `data-active="false"`, `&#34;error&#34;: &#34;nope&#34;`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("failed run page lacks %s", want)
		}
	}
	if strings.Contains(page.Body, `id="cancel"`) {
		t.Error("a failed run offers Cancel")
	}
	hist := c.get("/settings/automations/" + a.ID + "/history?status=failed")
	if !strings.Contains(hist.Body, failed) {
		t.Errorf("history filtered by failed lacks the run")
	}
	if hist := c.get("/settings/automations/" + a.ID + "/history?status=succeeded"); strings.Contains(hist.Body, failed) || !strings.Contains(hist.Body, "No succeeded runs") {
		t.Errorf("history filtered by succeeded shows the failed run, or no empty state")
	}
	if r := c.post("/settings/runs/"+failed+"/retry", url.Values{"csrf": {token}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/runs/"+failed {
		t.Fatalf("retry: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	waitRun("failed")
	if page := c.get("/settings/runs/" + failed); strings.Count(page.Body, "Attempt ") < 2 {
		t.Errorf("after retry the run page shows fewer than 2 attempts")
	}

	// A 503 is retried: the run waits, shows its next attempt, and can be
	// cancelled.
	status.Store(503)
	n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Beta"}}, nil)
	retrying := waitRun("retrying")
	page = c.get("/settings/runs/" + retrying)
	for _, want := range []string{"http_5xx", "Next attempt", `id="cancel"`, `data-active="true"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("retrying run page lacks %s", want)
		}
	}
	if r := c.post("/settings/runs/"+retrying+"/cancel", url.Values{"csrf": {token}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", r.StatusCode)
	}
	page = c.get("/settings/runs/" + retrying)
	if !strings.Contains(page.Body, "Run cancelled.") || !strings.Contains(page.Body, `badge-cancelled`) || !strings.Contains(page.Body, `data-active="false"`) {
		t.Errorf("after cancel the page does not say so")
	}
	// Cancelling again is a conflict, shown as a message.
	if r := c.post("/settings/runs/"+retrying+"/cancel", url.Values{"csrf": {token}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel again: %d", r.StatusCode)
	}
	if page := c.get("/settings/runs/" + retrying); !strings.Contains(page.Body, "already cancelled") {
		t.Errorf("cancelling a cancelled run: no message")
	}
}

// TestSignInFailuresLimited: after DefaultSignInFailureBurst wrong
// passwords from one address the form answers 429 and does not look at the
// password, the right one included. The limit's clock stands still: each
// wrong password costs a bcrypt comparison, slow under -race.
func TestSignInFailuresLimited(t *testing.T) {
	frozen := time.Now()
	n := startNode(t, func(c *server.Config) { c.LimitClock = func() time.Time { return frozen } })
	c := n.client()
	token := csrf(t, c.get("/login").Body)
	try := func(password string) *response {
		t.Helper()
		r := c.post("/login", url.Values{"csrf": {token}, "login": {"admin"}, "password": {password}})
		token = csrf(t, r.Body)
		return r
	}
	for i := range webui.DefaultSignInFailureBurst {
		if r := try("guess"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, r.StatusCode)
		}
	}
	r := try("guess")
	if r.StatusCode != http.StatusTooManyRequests || !strings.Contains(r.Body, "Too many failed sign-ins") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("wrong password past the limit: %d (Retry-After %q), want 429 with a message", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := try(adminPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password past the limit: %d, want 429 (the password is not looked at)", r.StatusCode)
	}
}

// TestAutomationFormKeepBodyOnRedirect: the form shows a step's
// keepBodyOnRedirect as a checkbox, checked when set.
func TestAutomationFormKeepBodyOnRedirect(t *testing.T) {
	n := startNode(t)
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads", "fields": []any{map[string]any{"key": "name", "type": "text"}}}, nil)
	var a struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Moves", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{
			map[string]any{"type": "call_api", "url": "https://api.example.com/x", "body": map[string]any{"contentType": "text/plain", "text": "hi"}, "keepBodyOnRedirect": true},
			map[string]any{"type": "call_api", "url": "https://api.example.com/y", "body": map[string]any{"contentType": "text/plain", "text": "hi"}},
		},
	}, &a)
	c := n.client()
	c.signIn()
	page := c.get("/settings/automations/" + a.ID).Body
	for _, want := range []string{
		`name="steps.0.keepBodyOnRedirect" id="f-steps.0.keepBodyOnRedirect" checked>`,
		`name="steps.1.keepBodyOnRedirect" id="f-steps.1.keepBodyOnRedirect">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("automation page lacks %s", want)
		}
	}
}

// TestRunPageShowsRedirects: a run's page lists the redirects a request
// went through, and what was not sent to another origin.
func TestRunPageShowsRedirects(t *testing.T) {
	n := startNode(t)
	landing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer landing.Close()
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, landing.URL+"/landing", http.StatusTemporaryRedirect)
	}))
	defer moved.Close()
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads", "fields": []any{map[string]any{"key": "name", "type": "text"}}}, nil)
	var a struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Moves", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []any{map[string]any{"type": "call_api", "method": "POST", "url": moved.URL + "/x",
			"headers": []any{map[string]any{"name": "X-Api-Key", "value": "k"}}, "body": map[string]any{"contentType": "text/plain", "text": "hi"}}},
	}, &a)
	n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Acme"}}, nil)
	var runs struct{ Items []struct{ ID, Status string } }
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n.api("GET", "/automations/"+a.ID+"/runs", nil, &runs)
		if len(runs.Items) > 0 && runs.Items[0].Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no succeeded run: %+v", runs.Items)
		}
	}
	c := n.client()
	c.signIn()
	page := c.get("/settings/runs/" + runs.Items[0].ID).Body
	for _, want := range []string{`<ol class="redirects">`, ">307<", landing.URL + "/landing", "not sent Content-Type, X-Api-Key, nor the body"} {
		if !strings.Contains(page, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
}

// A bulk retry that is refused sends the browser back to the Runs page
// with its filter, never with the form's CSRF token in the address.
func TestBulkRetryRedirectHasNoCSRFToken(t *testing.T) {
	n := startNode(t)
	c := n.client()
	token := c.signIn()
	for _, status := range []string{"succeeded", "failed"} { // refused (a 422 flash), then done
		resp := c.post("/runs/retry", url.Values{"csrf": {token}, "status": {status}, "automation": {""}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/runs?") {
			t.Fatalf("status %s: %d to %q, want 303 to the Runs page", status, resp.StatusCode, loc)
		}
		if strings.Contains(loc, "csrf") || strings.Contains(loc, url.QueryEscape(token)) {
			t.Errorf("status %s: the redirect %q carries the CSRF token", status, loc)
		}
	}
}
