package webui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// section returns the part of page from the element with id to the end
// of its first closing tag name after it (enough for the checks here).
func section(t *testing.T, page, id, closing string) string {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no #%s in the page", id)
	}
	j := strings.Index(page[i:], closing)
	if j < 0 {
		t.Fatalf("#%s is not closed by %s", id, closing)
	}
	return page[i : i+j]
}

// automationForm is the automation form as a browser posts it: one
// call_api step, the given condition, a test on recordID.
func automationForm(token, condition, target, recordID, send string) url.Values {
	return url.Values{
		"csrf": {token}, "name": {"Notify"}, "collection": {"leads"}, "enabled": {"on"},
		"trigger.type": {"record_added"}, "condition": {condition},
		"steps.0.type": {"call_api"}, "steps.0.method": {"POST"}, "steps.0.url": {target},
		"steps.0.body.contentType":  {"application/json"},
		"steps.0.body.fields.0.key": {"n"}, "steps.0.body.fields.0.type": {"string"}, "steps.0.body.fields.0.value": {"{record.name}"},
		"test.recordId": {recordID}, "send": {send},
	}
}

// TestNewcomerPages checks, page by page, what issue 17 found a newcomer
// meeting: names instead of ids, problems shown where the person is, a
// typo pointed at in the text typed, "would not run", a trailing slash.
func TestNewcomerPages(t *testing.T) {
	f := newLayoutFixture(t)
	c := f.n.client()
	token := c.signIn()

	t.Run("history names records and triggers", func(t *testing.T) {
		page := c.get("/settings/automations/" + f.autoID + "/history").Body
		runs := section(t, page, "runs", "</table>")
		for _, want := range []string{">Acme Corporation</a>", "Record added", `class="col-problem"`} {
			if !strings.Contains(runs, want) {
				t.Errorf("History lacks %s:\n%s", want, runs)
			}
		}
		for _, not := range []string{">" + f.recID + "<", ">record_added<", ">" + f.okRun + "<"} {
			if strings.Contains(runs, not) {
				t.Errorf("History shows the id or stored name %s", not)
			}
		}
	})

	t.Run("run page", func(t *testing.T) {
		failed := c.get("/settings/runs/" + f.failedRun).Body
		for _, want := range []string{"<h1>Sync to billing", "Acme Corporation</a> (Leads) · Manual",
			"POST " + "http://", "/invoices/{record.id}", "Attempt 3 of 3 — gave up", "Gave up after 3 attempts."} {
			if !strings.Contains(failed, want) {
				t.Errorf("the failed run's page lacks %q", want)
			}
		}
		if n := strings.Count(failed, `<details class="attempt"`); n != 3 {
			t.Errorf("%d attempts shown, want 3", n)
		}
		if n := strings.Count(failed, " open>"); n != 1 {
			t.Errorf("%d attempts open, want only the last", n)
		}
		cancelled := c.get("/settings/runs/" + f.cancelled).Body
		if strings.Contains(cancelled, "flash-error") || !strings.Contains(cancelled, `id="run-cancelled"`) {
			t.Error("a cancelled run shows a red error banner, or no cancelled notice")
		}
		live := c.get("/settings/runs/" + f.live).Body
		if !strings.Contains(live, "Request in flight") || strings.Contains(live, "No attempt yet") {
			var run map[string]any
			f.n.api("GET", "/runs/"+f.live, nil, &run)
			t.Errorf("a request in flight is not shown as such: %v\n%s", run, section(t, live, "run-live", "</section>"))
		}
	})

	t.Run("record page and menu", func(t *testing.T) {
		page := c.get("/records/leads/" + f.recID).Body
		if !strings.Contains(page, "<h1>Acme Corporation</h1>") {
			t.Error("the record page's heading is not the record's name")
		}
		list := c.get("/records/leads").Body
		if !strings.Contains(list, `aria-label="Actions for Acme Corporation"`) || !strings.Contains(list, "Run on Acme Corporation") {
			t.Error("the records menu names records by id")
		}
		if !strings.Contains(list, `class="hint-touch"`) {
			t.Error("no hint for touch screens")
		}
	})

	t.Run("test problems where the person is", func(t *testing.T) {
		resp := c.post("/settings/automations/test", automationForm(token, "record.vaule > ", f.recv.URL+"/x", f.recID, "0"))
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", resp.StatusCode)
		}
		test := section(t, resp.Body, "test", "</fieldset>")
		if !strings.Contains(test, "Not tested.") || !strings.Contains(test, `href="#f-condition"`) {
			t.Errorf("the Test section does not list the problems:\n%s", test)
		}
		if strings.Contains(resp.Body, "Not saved") {
			t.Error("a test says Not saved")
		}
		cond := section(t, resp.Body, "f-condition", "</div>")
		if !strings.Contains(cond, "expected a value after `&gt;`") || !strings.Contains(cond, "<pre class=\"caret\" aria-hidden=\"true\">record.vaule &gt; \n"+strings.Repeat(" ", 13)+"^</pre>") {
			t.Errorf("the condition's error has no caret under the text:\n%s", cond)
		}
		// A typo the parser accepts is found against the collection.
		resp = c.post("/settings/automations/new", automationForm(token, "record.vaule > 10", f.recv.URL+"/x", "", "0"))
		cond = section(t, resp.Body, "f-condition", "</div>")
		if !strings.Contains(cond, `did you mean record.value?`) || !strings.Contains(cond, "^</pre>") {
			t.Errorf("saving a typo:\n%s", cond)
		}
	})

	t.Run("would not run", func(t *testing.T) {
		var small struct{ ID string }
		f.n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{"name": "Tiny", "value": 5}}, &small)
		resp := c.post("/settings/automations/test", automationForm(token, "record.value > 1000", f.recv.URL+"/x", small.ID, "0"))
		if !strings.Contains(resp.Body, `id="would-not-run"`) || !strings.Contains(resp.Body, "Would not run:") {
			t.Error("a dry run on a record the condition excludes does not say it would not run")
		}
		resp = c.post("/settings/automations/test", automationForm(token, "record.value > 1000", f.recv.URL+"/x", f.recID, "0"))
		if strings.Contains(resp.Body, `id="would-not-run"`) {
			t.Error("a dry run on a record the condition includes says it would not run")
		}
	})

	t.Run("trailing slash", func(t *testing.T) {
		for from, to := range map[string]string{"/records/leads/": "/records/leads", "/settings/automations/?x=1": "/settings/automations?x=1", "/records/leads/" + f.recID + "/": "/records/leads/" + f.recID} {
			resp := c.get(from)
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != to {
				t.Errorf("GET %s: %d %s, want 301 to %s", from, resp.StatusCode, resp.Header.Get("Location"), to)
			}
		}
	})
}
