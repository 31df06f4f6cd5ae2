package webui_test

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBrowserTeam walks a team through the UI in a real browser: the owner
// invites Ana as an editor; Ana opens the invitation, sets her name and
// password, signs in with her email and edits an automation; Vic, a viewer,
// sees the automation read-only (no Save, no Secrets link, the Secrets page
// refused); the owner sees both of Ana's changes in the audit log.
func TestBrowserTeam(t *testing.T) {
	n := startNode(t)
	b := newBrowser(t, n.Base, 120*time.Second)
	n.api("POST", "/collections", `{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"}]}`, nil)
	var a struct{ ID string }
	n.api("POST", "/automations", `{"name":"Push lead","collection":"leads","trigger":{"type":"manual"},"steps":[{"id":"push","type":"call_api","method":"POST","url":"https://crm.example.com/one"}]}`, &a)
	var vic struct{ URL string }
	n.api("POST", "/invitations", `{"email":"vic@example.com","role":"viewer"}`, &vic)

	signIn := func(login, password string) {
		t.Helper()
		b.open("/login")
		b.fill("login", login)
		b.fill("password", password)
		b.click(`button[type="submit"]`)
		b.waitPath("/records")
	}
	signOut := func() {
		t.Helper()
		b.click(`form[action="/logout"] button`)
		b.waitPath("/login")
	}
	join := func(invitation, name, password string) {
		t.Helper()
		u, err := url.Parse(invitation)
		if err != nil || !strings.HasPrefix(u.Path, "/invitations/") {
			t.Fatalf("invitation URL %q", invitation)
		}
		b.open(u.Path)
		b.waitText("h1", "Join Autohook")
		b.fill("name", name)
		b.fill("password", password)
		b.fill("confirm", password)
		b.screenshot("invitation")
		b.click("#join")
		b.waitPath("/login")
		b.waitText(".flash", "Welcome, "+name)
	}

	// The owner invites Ana as an editor.
	signIn("admin", adminPassword)
	b.click(`.mainnav a[href="/settings/automations"]`)
	b.waitAt("/settings/automations")
	b.click(`.sidenav a[href="/settings/people"]`)
	b.waitAt("/settings/people")
	b.fill("email", "ana@example.com")
	b.choose("role", "editor")
	b.click("#send-invite")
	b.waitText("#invited", "ana@example.com")
	invitation := eval[string](b, `document.querySelector('#invitation-url').value`)
	b.screenshot("people-invite")
	signOut()

	// Ana joins, signs in with her email and edits the automation.
	join(invitation, "Ana", "ana-password-1")
	if got := eval[string](b, `document.querySelector('[name=login]').value`); got != "ana@example.com" {
		t.Errorf("the sign-in form's login is %q, want Ana's email", got)
	}
	signIn("ana@example.com", "ana-password-1")
	b.waitText(".topbar .user", "editor")
	b.open("/settings/automations/" + a.ID)
	b.fill("steps.0.url", "https://crm.example.com/two")
	b.click("#save")
	b.waitAt("/settings/automations")
	b.waitText(".flash", "Saved")
	// The invitation is used up.
	b.open(mustPath(t, invitation))
	b.waitText("h1", "Invitation not valid")
	b.open("/records")
	signOut()

	// Vic, a viewer, sees it read-only.
	join(vic.URL, "Vic", "vic-password-1")
	signIn("vic@example.com", "vic-password-1")
	b.open("/settings/automations/" + a.ID)
	b.waitText("#read-only", "cannot change it")
	if got := eval[int](b, `document.querySelectorAll('#save, #test-dry, #test-send').length`); got != 0 {
		t.Errorf("a viewer sees %d Save or test buttons", got)
	}
	if got := eval[bool](b, `document.querySelector('[name="steps.0.url"]').matches(':disabled')`); !got {
		t.Error("a viewer's inputs are not disabled")
	}
	if got := eval[string](b, `document.querySelector('[name="steps.0.url"]').value`); got != "https://crm.example.com/two" {
		t.Errorf("the viewer sees url %q, want Ana's", got)
	}
	if got := eval[int](b, `document.querySelectorAll('.sidenav a[href="/settings/secrets"], .sidenav a[href="/settings/people"], .sidenav a[href="/settings/audit"]').length`); got != 0 {
		t.Errorf("a viewer's menu links to %d pages of secrets, people or the audit log", got)
	}
	b.screenshot("automation-read-only")
	b.open("/settings/secrets")
	b.waitText("h1", "Not allowed")
	b.open("/records")
	signOut()

	// The owner sees Ana's changes in the audit log.
	signIn("admin", adminPassword)
	b.open("/settings/audit")
	b.waitText("#audit", "automation.updated")
	rows := eval[[]string](b, `Array.from(document.querySelectorAll('#audit tbody tr')).map(function(tr){return tr.innerText.replace(/\s+/g, " ");})`)
	var sawEdit, sawJoin bool
	for _, r := range rows {
		sawEdit = sawEdit || strings.Contains(r, "Ana") && strings.Contains(r, "automation.updated") && strings.Contains(r, "Push lead") && strings.Contains(r, `"toVersion":2`)
		sawJoin = sawJoin || strings.Contains(r, "Ana") && strings.Contains(r, "invitation.accepted")
	}
	if !sawEdit || !sawJoin {
		t.Errorf("the audit page does not show Ana's edit (%v) and joining (%v):\n%s", sawEdit, sawJoin, strings.Join(rows, "\n"))
	}
	b.screenshot("audit")
}

func mustPath(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}
