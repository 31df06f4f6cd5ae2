package webui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// join accepts an invitation URL in a client without script and signs in
// with it; it returns a CSRF token for the member's forms.
func (c *client) join(invitation, email, name, password string) string {
	c.t.Helper()
	u, err := url.Parse(invitation)
	if err != nil {
		c.t.Fatal(err)
	}
	page := c.get(u.Path)
	if page.StatusCode != http.StatusOK || page.Header.Get("Referrer-Policy") != "no-referrer" {
		c.t.Fatalf("invitation page: %d, Referrer-Policy %q", page.StatusCode, page.Header.Get("Referrer-Policy"))
	}
	resp := c.post(u.Path, url.Values{"csrf": {csrf(c.t, page.Body)}, "email": {email}, "name": {name}, "password": {password}, "confirm": {password}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?login=") {
		c.t.Fatalf("accept: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), resp.Body)
	}
	login := c.get("/login")
	resp = c.post("/login", url.Values{"csrf": {csrf(c.t, login.Body)}, "login": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign in as %s: %d", email, resp.StatusCode)
	}
	return csrf(c.t, c.get("/settings/account").Body)
}

// TestMembers: what each role's pages offer and refuse, without script;
// a removed member is signed out at once; signing out everywhere ends
// every session; a new organisation's owner invitation works.
func TestMembers(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.api("POST", "/collections", `{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"}]}`, nil)
	var a struct{ ID string }
	n.api("POST", "/automations", `{"name":"Push lead","collection":"leads","trigger":{"type":"manual"},"steps":[{"id":"push","type":"call_api","method":"POST","url":"https://crm.example.com/one"}]}`, &a)
	invite := func(email, role string) string {
		var inv struct{ URL string }
		n.api("POST", "/invitations", `{"email":"`+email+`","role":"`+role+`"}`, &inv)
		return inv.URL
	}

	viewer := n.client()
	vcsrf := viewer.join(invite("vic@example.com", "viewer"), "vic@example.com", "Vic", "vic-password-1")
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/settings/automations/" + a.ID, 200},
		{"GET", "/settings/secrets", 403},
		{"GET", "/settings/people", 403},
		{"GET", "/settings/audit", 403},
		{"POST", "/settings/automations/" + a.ID + "/enabled", 403},
		{"POST", "/settings/secrets", 403},
		{"POST", "/settings/people/invite", 403},
		{"GET", "/settings/account", 200},
	} {
		var r *response
		if c.method == "GET" {
			r = viewer.get(c.path)
		} else {
			r = viewer.post(c.path, url.Values{"csrf": {vcsrf}, "enabled": {"false"}, "name": {"X_TOKEN"}, "value": {"a-long-secret"}, "email": {"x@example.com"}, "role": {"owner"}})
		}
		if r.StatusCode != c.status {
			t.Errorf("viewer: %s %s: %d, want %d", c.method, c.path, r.StatusCode, c.status)
		}
		if c.status == 403 && !strings.Contains(r.Body, "viewer") {
			t.Errorf("viewer: %s %s: the page does not say which role is missing", c.method, c.path)
		}
	}
	page := viewer.get("/settings/automations/" + a.ID).Body
	if strings.Contains(page, `id="save"`) || !strings.Contains(page, `id="read-only"`) || strings.Contains(page, `href="/settings/secrets"`) {
		t.Error("the viewer's automation page offers Save or links to Secrets")
	}

	// An editor's second browser; removing the editor signs both out.
	editor, editor2 := n.client(), n.client()
	ecsrf := editor.join(invite("ed@example.com", "editor"), "ed@example.com", "Ed", "ed-password-1")
	login := editor2.get("/login")
	editor2.post("/login", url.Values{"csrf": {csrf(t, login.Body)}, "login": {"ed@example.com"}, "password": {"ed-password-1"}})
	if r := editor.get("/settings/automations/" + a.ID); !strings.Contains(r.Body, `id="save"`) {
		t.Error("the editor's automation page has no Save button")
	}
	if r := editor.get("/settings/secrets"); r.StatusCode != 200 || !strings.Contains(r.Body, `id="secrets-read-only"`) || strings.Contains(r.Body, `action="/settings/secrets"`) {
		t.Errorf("the editor's Secrets page: %d; it must list names without the forms to set or delete them", r.StatusCode)
	}
	// The editor reads the alerts sent, not the channels: a webhook
	// channel's URL is a credential.
	n.api("POST", "/alert-channels", `{"name":"ops","type":"webhook","url":"https://hooks.example.com/T0/B0/s3cret"}`, nil)
	if r := editor.get("/settings/alerts"); r.StatusCode != 200 || strings.Contains(r.Body, "s3cret") || strings.Contains(r.Body, `id="add-channel"`) ||
		!strings.Contains(r.Body, `href="/settings/alerts"`) {
		t.Errorf("the editor's Alerts page: %d; it must list the alerts sent without the channels or the form to add one", r.StatusCode)
	}
	if r := viewer.get("/settings/alerts"); r.StatusCode != 403 || strings.Contains(r.Body, `href="/settings/alerts"`) {
		t.Errorf("the viewer's Alerts page: %d, want 403 and no link to it", r.StatusCode)
	}
	if r := editor.get("/records/leads"); !strings.Contains(r.Body, `href="/records/leads/new"`) {
		t.Error("the editor cannot add a record")
	}
	if r := viewer.get("/records/leads"); r.StatusCode != 200 || strings.Contains(r.Body, `href="/records/leads/new"`) {
		t.Errorf("the viewer's records page: %d; it must not offer to add a record", r.StatusCode)
	}
	// Sign out everywhere ends the other browser's session too.
	if r := editor.post("/settings/account/sign-out-everywhere", url.Values{"csrf": {ecsrf}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d", r.StatusCode)
	}
	for name, c := range map[string]*client{"this browser": editor, "the other browser": editor2} {
		if r := c.get("/records"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("%s after signing out everywhere: %d %s", name, r.StatusCode, r.Header.Get("Location"))
		}
	}

	// Removing Vic ends his session at once.
	var users struct {
		Items []struct{ ID, Email string }
	}
	n.api("GET", "/users", nil, &users)
	for _, u := range users.Items {
		if u.Email == "vic@example.com" {
			n.api("DELETE", "/users/"+u.ID, nil, nil)
		}
	}
	if r := viewer.get("/records"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("a removed member's next request: %d %s, want a redirect to sign in", r.StatusCode, r.Header.Get("Location"))
	}

	// A new organisation's first owner.
	var org struct {
		ID                 string
		OwnerInvitationURL string `json:"ownerInvitationUrl"`
	}
	n.api("POST", "/organisations", `{"name":"Beta"}`, &org)
	owner := n.client()
	owner.join(org.OwnerInvitationURL, "boss@beta.example", "Boss", "boss-password-1")
	if r := owner.get("/settings/people"); r.StatusCode != 200 || !strings.Contains(r.Body, "boss@beta.example") || strings.Contains(r.Body, "vic@example.com") {
		t.Errorf("Beta's owner's People page: %d", r.StatusCode)
	}
	if r := owner.get("/settings/automations/" + a.ID); r.StatusCode != 404 {
		t.Errorf("Beta's owner opens the first organisation's automation: %d, want 404", r.StatusCode)
	}
}
