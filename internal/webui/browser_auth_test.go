package webui_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// visible tells, for each input name, whether the input shows.
func visible(b *browser, names ...string) string {
	b.t.Helper()
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf(`(document.querySelector('[name=%q]').offsetParent !== null ? %q : "")`, n, n))
	}
	return eval[string](b, `[`+strings.Join(parts, ",")+`].filter(Boolean).join(" ")`)
}

// TestBrowserAuthAndRate: the automation form's auth section shows the
// fields of the chosen type only, saves them (and maxPerSecond) into the
// document, shows them again when editing, and places a problem beside
// its field.
func TestBrowserAuthAndRate(t *testing.T) {
	n := startNode(t)
	recv := newReceiver(t)
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads", "fields": []map[string]any{{"key": "name", "type": "text"}}}, nil)
	b := newBrowser(t, n.Base, 90*time.Second)
	b.open("/login")
	b.fill("password", adminPassword)
	b.click(`button[type="submit"]`)
	b.waitPath("/records")

	b.open("/settings/automations/new")
	b.fill("name", "OAuth CRM")
	b.fill("steps.0.url", recv.URL+"/customers")
	inputs := []string{"steps.0.auth.username", "steps.0.auth.password", "steps.0.auth.token",
		"steps.0.auth.tokenUrl", "steps.0.auth.clientId", "steps.0.auth.clientSecret", "steps.0.auth.scopes"}
	for _, tt := range []struct{ typ, want string }{
		{"", ""},
		{"basic", "steps.0.auth.username steps.0.auth.password"},
		{"bearer", "steps.0.auth.token"},
		{"oauth2_client_credentials", "steps.0.auth.tokenUrl steps.0.auth.clientId steps.0.auth.clientSecret steps.0.auth.scopes"},
	} {
		b.choose("steps.0.auth.type", tt.typ)
		if got := visible(b, inputs...); got != tt.want {
			t.Errorf("auth type %q shows %q, want %q", tt.typ, got, tt.want)
		}
	}
	b.fill("steps.0.auth.tokenUrl", recv.URL+"/token")
	b.fill("steps.0.auth.clientId", "abc")
	b.fill("steps.0.auth.clientSecret", "{secrets.CS}")
	b.fill("steps.0.auth.scopes", "crm.write crm.read")
	b.fill("steps.0.maxPerSecond", "2.5")
	b.screenshot("automation-form-auth")
	b.click("#save")
	b.waitAt("/settings/automations")
	b.waitText(".flash", "Saved “OAuth CRM”")

	var list struct {
		Items []struct {
			ID    string            `json:"id"`
			Steps []json.RawMessage `json:"steps"`
		}
	}
	n.api("GET", "/automations", nil, &list)
	var step struct {
		Auth         map[string]any `json:"auth"`
		MaxPerSecond float64        `json:"maxPerSecond"`
	}
	if err := json.Unmarshal(list.Items[0].Steps[0], &step); err != nil {
		t.Fatal(err)
	}
	want := `map[clientId:abc clientSecret:{secrets.CS} scopes:[crm.write crm.read] tokenUrl:` + recv.URL + `/token type:oauth2_client_credentials]`
	if got := fmt.Sprint(step.Auth); got != want || step.MaxPerSecond != 2.5 {
		t.Errorf("saved auth %s, maxPerSecond %v; want %s, 2.5", got, step.MaxPerSecond, want)
	}

	// Editing shows it all again; a bearer auth without a token is
	// refused beside the token's input.
	b.open("/settings/automations/" + list.Items[0].ID)
	if got := eval[string](b, `["type","tokenUrl","clientId","clientSecret","scopes"].map(function(k){return document.querySelector('[name="steps.0.auth.'+k+'"]').value}).join("|") + "|" + document.querySelector('[name="steps.0.maxPerSecond"]').value`); got != "oauth2_client_credentials|"+recv.URL+"/token|abc|{secrets.CS}|crm.write crm.read|2.5" {
		t.Errorf("the edit form shows %q", got)
	}
	b.choose("steps.0.auth.type", "bearer")
	b.click("#save")
	b.waitText("#problems", "Not saved")
	errText := b.errorBeside("steps.0.auth.token")
	if !strings.HasPrefix(errText, "true|") || !strings.Contains(errText, "is required") {
		t.Errorf("token error beside its input: got %q", errText)
	}
}
