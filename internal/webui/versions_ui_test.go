package webui_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestVersionsPages, without a browser: the Versions tab lists who saved
// what, the difference shows the changed line on both sides, and Restore
// saves a new version recorded as the signed-in person's.
func TestVersionsPages(t *testing.T) {
	n := startNode(t)
	n.api("POST", "/collections", `{"key":"leads","fields":[{"key":"name","type":"text"}]}`, nil)
	var a struct{ ID string }
	doc := func(url string) string {
		return `{"name":"Push","collection":"leads","trigger":{"type":"manual"},"steps":[{"id":"push","type":"call_api","method":"POST","url":"` + url + `"}]}`
	}
	n.api("POST", "/automations", doc("https://crm.example.com/one"), &a)
	n.api("PUT", "/automations/"+a.ID, doc("https://crm.example.com/two"), nil)
	c := n.client()
	token := c.signIn()

	page := c.get("/settings/automations/" + a.ID + "/versions")
	for _, want := range []string{`data-version="2"`, `data-version="1"`, "instance admin", "Compare with current", `action="/settings/automations/` + a.ID + `/versions/1/restore"`, "Restore version 1? It is saved again as version 3"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the versions page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, `/versions/2/restore"`) {
		t.Error("the current version offers Restore")
	}
	diff := c.get("/settings/automations/" + a.ID + "/versions/diff?from=1&to=2")
	for _, want := range []string{`<tr class="diff-changed">`, `&#34;url&#34;: &#34;https://crm.example.com/one&#34;`, `&#34;url&#34;: &#34;https://crm.example.com/two&#34;`, "1 line differs."} {
		if !strings.Contains(diff.Body, want) {
			t.Errorf("the diff page lacks %q:\n%s", want, diff.Body)
		}
	}
	if r := c.get("/settings/automations/" + a.ID + "/versions/diff?from=9&to=2"); r.StatusCode != http.StatusNotFound {
		t.Errorf("a diff with an unknown version: %d", r.StatusCode)
	}
	if r := c.get("/settings/automations/" + a.ID + "/versions/diff?from=x"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a diff with a version that is not a number: %d", r.StatusCode)
	}

	resp := c.post("/settings/automations/"+a.ID+"/versions/1/restore", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings/automations/"+a.ID+"/versions" {
		t.Fatalf("restore: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	page = c.get("/settings/automations/" + a.ID + "/versions")
	for _, want := range []string{"Restored version 1 as version 3.", `data-version="3"`, "Restored from v1", "Admin <span class=\"muted small\">user</span>"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("after the restore, the versions page lacks %q", want)
		}
	}
	var v3 struct {
		SavedBy struct{ Type, Name string }
	}
	n.api("GET", "/automations/"+a.ID+"/versions/3", nil, &v3)
	if v3.SavedBy.Type != "user" || v3.SavedBy.Name != "Admin" {
		t.Errorf("version 3 saved by %+v, want the user Admin", v3.SavedBy)
	}
	// Without the CSRF token, nothing is restored.
	if r := c.post("/settings/automations/"+a.ID+"/versions/2/restore", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("restore without a token: %d", r.StatusCode)
	}
}

// TestConfigPages, without a browser: the export downloads as a file; an
// upload shows the plan and Apply applies it; a broken file shows its
// problems and changes nothing.
func TestConfigPages(t *testing.T) {
	n := startNode(t)
	n.api("POST", "/collections", `{"key":"leads","fields":[{"key":"name","type":"text"}]}`, nil)
	c := n.client()
	token := c.signIn()

	dl := c.get("/settings/config/export")
	exported := n.Do(t, "GET", "/api/v1/export", nil).Body
	if dl.StatusCode != 200 || dl.Body != string(exported) || !strings.Contains(dl.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %d %q %s", dl.StatusCode, dl.Header.Get("Content-Disposition"), dl.Body)
	}
	file := strings.Replace(string(exported), `"automations": []`, `"automations": [{"name":"Mark","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"update_record","set":[{"field":"name","value":"x"}]}]}]`, 1)

	// An upload: the plan, with Apply carrying the file.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", token)
	fw, _ := mw.CreateFormFile("file", "autohook.json")
	_, _ = fw.Write([]byte(file))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, n.Base+"/settings/config/plan", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	plan := c.do(req)
	for _, want := range []string{`data-action="unchanged"`, `data-action="create"`, "automation <strong>Mark</strong>", `action="/settings/config/apply"`} {
		if !strings.Contains(plan.Body, want) {
			t.Errorf("the plan page lacks %q", want)
		}
	}
	var autos struct{ Items []any }
	n.api("GET", "/automations", nil, &autos)
	if len(autos.Items) != 0 {
		t.Fatal("showing the plan created the automation")
	}
	applied := c.post("/settings/config/apply", url.Values{"csrf": {token}, "doc": {file}})
	if applied.StatusCode != http.StatusSeeOther || applied.Header.Get("Location") != "/settings/config" {
		t.Fatalf("apply: %d %s", applied.StatusCode, applied.Header.Get("Location"))
	}
	if page := c.get("/settings/config"); !strings.Contains(page.Body, "Import applied: 1 created, 0 updated, 0 deleted, 1 unchanged.") {
		t.Errorf("after applying, the page does not say so:\n%s", page.Body)
	}
	n.api("GET", "/automations", nil, &autos)
	if len(autos.Items) != 1 {
		t.Errorf("after applying: %d automations", len(autos.Items))
	}
	// The same file again: nothing to apply.
	if again := c.post("/settings/config/plan", url.Values{"csrf": {token}, "doc": {file}}); !strings.Contains(again.Body, `id="no-changes"`) || strings.Contains(again.Body, `id="apply"`) {
		t.Errorf("planning the same file again offers Apply")
	}
	// A broken file: its problems, and no change.
	broken := strings.Replace(file, `"value":"x"`, `"value":"{x"`, 1)
	for _, path := range []string{"/settings/config/plan", "/settings/config/apply"} {
		r := c.post(path, url.Values{"csrf": {token}, "doc": {broken}})
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "automations[0].steps[0].set[0].value: ") {
			t.Errorf("POST %s of a broken file: %d", path, r.StatusCode)
		}
	}
	if r := c.post("/settings/config/plan", url.Values{"csrf": {token}, "doc": {"{nope"}}); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "The file is not JSON") {
		t.Errorf("a file that is not JSON: %d", r.StatusCode)
	}
	var v struct{ Items []any }
	n.api("GET", "/automations", nil, &autos)
	n.api("GET", "/automations/"+autos.Items[0].(map[string]any)["id"].(string)+"/versions", nil, &v)
	if len(v.Items) != 1 {
		t.Errorf("a refused import saved a version: %d versions", len(v.Items))
	}
}
