package webui_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserVersions walks through an automation's versions in a real
// browser: a save through the form is recorded as the person's, the
// Versions tab lists every version, Compare shows two versions side by
// side with the changed line marked on both sides, Restore asks first (and
// does nothing when refused), then saves version 1 again as version 4. Then
// Settings → Export / Import: a pasted file shows its plan, and Apply
// applies it.
func TestBrowserVersions(t *testing.T) {
	n := startNode(t)
	b := newBrowser(t, n.Base, 90*time.Second)
	n.api("POST", "/collections", `{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"}]}`, nil)
	var a struct{ ID string }
	doc := func(path string) string {
		return `{"name":"Push lead","collection":"leads","trigger":{"type":"manual"},"steps":[{"id":"push","type":"call_api","method":"POST","url":"https://crm.example.com` + path + `"}]}`
	}
	n.api("POST", "/automations", doc("/one"), &a)
	n.api("PUT", "/automations/"+a.ID, doc("/two"), nil)

	b.open("/login")
	b.fill("password", adminPassword)
	b.click(`button[type="submit"]`)
	b.waitPath("/records")

	// Version 3 through the form.
	b.open("/settings/automations/" + a.ID)
	b.fill("steps.0.url", "https://crm.example.com/three")
	b.click("#save")
	b.waitAt("/settings/automations")
	b.waitText(".flash", "Saved")

	// The Versions tab, from the automation's page.
	b.open("/settings/automations/" + a.ID)
	b.click(`a[href="/settings/automations/` + a.ID + `/versions"]`)
	b.waitAt("/settings/automations/" + a.ID + "/versions")
	if got := eval[int](b, `document.querySelectorAll('#versions tbody tr').length`); got != 3 {
		t.Fatalf("%d versions listed, want 3", got)
	}
	b.waitText(`#versions tr[data-version="3"]`, "Admin")
	b.waitText(`#versions tr[data-version="2"]`, "instance admin")
	b.screenshot("versions")

	// Compare version 1 with the current one.
	b.choose("from", "1")
	b.choose("to", "3")
	b.click(`#compare button[type="submit"]`)
	b.waitPath("/settings/automations/" + a.ID + "/versions/diff?from=1&to=3")
	changed := eval[[]string](b, `Array.from(document.querySelectorAll('#diff tr.diff-changed td.diff-line')).map(function(td){return td.innerText.trim();})`)
	if len(changed) != 2 || !strings.Contains(changed[0], `"url": "https://crm.example.com/one"`) || !strings.Contains(changed[1], `"url": "https://crm.example.com/three"`) {
		t.Fatalf("changed cells: %q, want version 1's url beside version 3's", changed)
	}
	if got := eval[int](b, `document.querySelectorAll('#diff tr.diff-same').length`); got < 10 {
		t.Errorf("%d unchanged rows: the rest of the document should be there too", got)
	}
	// The stylesheet marks them: removed red, added green.
	colours := eval[string](b, `getComputedStyle(document.querySelector('#diff tr.diff-changed .diff-left')).backgroundColor + "|" + getComputedStyle(document.querySelector('#diff tr.diff-changed .diff-right')).backgroundColor`)
	if left, right, _ := strings.Cut(colours, "|"); left == right || strings.Contains(colours, "rgba(0, 0, 0, 0)") {
		t.Errorf("changed cells are not marked: %s", colours)
	}
	b.screenshot("versions-diff")

	// Restore asks first; refusing changes nothing.
	b.do("refuse", chromedp.Evaluate[chromedp.Void](`window.confirm = function(m){ window.asked = m; return false; }`))
	b.click(`button[data-restore="1"]`)
	if got := eval[string](b, `window.asked || ""`); !strings.Contains(got, "Restore version 1? It is saved again as version 4") {
		t.Errorf("the confirmation said %q", got)
	}
	var versions struct {
		Items []struct {
			Version      int64
			RestoredFrom int64
			SavedBy      struct{ Type, Name string }
			Document     json.RawMessage
		}
	}
	n.api("GET", "/automations/"+a.ID+"/versions", nil, &versions)
	if len(versions.Items) != 3 {
		t.Fatalf("a refused restore saved a version: %d versions", len(versions.Items))
	}
	b.do("accept", chromedp.Evaluate[chromedp.Void](`window.confirm = function(m){ return true; }`))
	b.click(`button[data-restore="1"]`)
	b.waitAt("/settings/automations/" + a.ID + "/versions")
	b.waitText(".flash", "Restored version 1 as version 4.")
	b.waitText(`#versions tr[data-version="4"]`, "Restored from v1")
	n.api("GET", "/automations/"+a.ID+"/versions", nil, &versions)
	v4 := versions.Items[0]
	if v4.Version != 4 || v4.RestoredFrom != 1 || v4.SavedBy.Type != "user" || !strings.Contains(string(v4.Document), "/one") {
		t.Errorf("version 4: %+v %s", v4, v4.Document)
	}

	// Export / Import under Settings.
	b.click(`.sidenav a[href="/settings/config"]`)
	b.waitAt("/settings/config")
	exported := string(n.Do(t, "GET", "/api/v1/export", nil).Body)
	if got := eval[string](b, `document.querySelector('#export').textContent`); got != exported {
		t.Errorf("the page's export differs from the API's:\n%s\n%s", got, exported)
	}
	edited := strings.Replace(exported, "https://crm.example.com/one", "https://crm.example.com/four", 1)
	b.do("paste", chromedp.SetValue(byName("doc"), edited))
	b.click("#show-plan")
	b.waitText("#plan", "Push lead")
	if got := eval[string](b, `document.querySelector('#plan li[data-action="update"]').innerText`); !strings.Contains(got, "automation Push lead") || !strings.Contains(got, "steps[0].url") {
		t.Errorf("the plan's update: %q", got)
	}
	b.screenshot("import-plan")
	b.do("accept", chromedp.Evaluate[chromedp.Void](`window.confirm = function(m){ window.asked = m; return true; }`))
	b.click("#apply")
	b.waitAt("/settings/config")
	b.waitText(".flash", "Import applied: 0 created, 1 updated, 0 deleted, 1 unchanged.")
	n.api("GET", "/automations/"+a.ID+"/versions", nil, &versions)
	if versions.Items[0].Version != 5 || !strings.Contains(string(versions.Items[0].Document), "/four") {
		t.Errorf("after applying: version %d %s", versions.Items[0].Version, versions.Items[0].Document)
	}
}
