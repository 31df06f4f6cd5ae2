package webui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// layoutJS returns what is wrong with the layout of the page in the
// browser, one sentence a problem (none: an empty list). The rules hold on
// every page and at every width:
//   - the document is no wider than the viewport (nothing pans sideways);
//   - every visible form control and label lies inside its card (.card,
//     .step) and overlaps no other control or label (one inside another,
//     a checkbox in its label, is not an overlap);
//   - the chosen option of every select is shown whole, not cut;
//   - at desktop widths (1000 px and more), every table fits its frame: its
//     last column is visible without scrolling.
//
// Menus and toasts float above the page on purpose and are left out.
const layoutJS = `(function () {
  var out = [];
  var vw = document.documentElement.clientWidth;
  function visible(el) {
    if (el.closest('template, .menu, .toasts')) return false;
    var r = el.getBoundingClientRect();
    if (r.width <= 1 && r.height <= 1) return false;
    var s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && el.getClientRects().length > 0;
  }
  function name(el) {
    var s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (el.getAttribute('name')) s += '[name=' + el.getAttribute('name') + ']';
    var text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ').slice(0, 40);
    return s + (text ? ' "' + text + '"' : '');
  }
  function box(r) { return Math.round(r.left) + '..' + Math.round(r.right) + ' x ' + Math.round(r.top) + '..' + Math.round(r.bottom); }
  var sw = document.documentElement.scrollWidth;
  if (sw > vw + 1) {
    var wide = Array.prototype.filter.call(document.querySelectorAll('body *'), function (el) {
      var r = el.getBoundingClientRect();
      return r.right > vw + 1 && r.width > 0 && !Array.prototype.some.call(el.children, function (c) { return c.getBoundingClientRect().right > vw + 1; });
    }).slice(0, 3).map(function (el) { return name(el) + ' (right edge ' + Math.round(el.getBoundingClientRect().right) + ')'; });
    out.push('the page is ' + sw + ' px wide in a ' + vw + ' px viewport: ' + wide.join(', '));
  }
  var ctrls = Array.prototype.filter.call(document.querySelectorAll('input:not([type=hidden]), select, textarea, button, label'), visible);
  ctrls.forEach(function (el) {
    var card = el.closest('.card, .step');
    if (!card) return;
    var c = card.getBoundingClientRect(), r = el.getBoundingClientRect();
    if (r.left < c.left - 1 || r.right > c.right + 1 || r.top < c.top - 1 || r.bottom > c.bottom + 1) {
      out.push(name(el) + ' at ' + box(r) + ' lies outside its card at ' + box(c));
    }
  });
  for (var i = 0; i < ctrls.length; i++) {
    var a = ctrls[i], ra = a.getBoundingClientRect();
    for (var j = i + 1; j < ctrls.length; j++) {
      var b = ctrls[j];
      if (a.contains(b) || b.contains(a)) continue;
      var rb = b.getBoundingClientRect();
      var w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      var h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 1 && h > 1) out.push(name(a) + ' at ' + box(ra) + ' overlaps ' + name(b) + ' at ' + box(rb));
    }
  }
  var canvas = document.createElement('canvas').getContext('2d');
  ctrls.forEach(function (el) {
    if (el.tagName !== 'SELECT' || el.selectedIndex < 0) return;
    var s = getComputedStyle(el);
    canvas.font = s.font;
    var text = el.options[el.selectedIndex].text;
    var room = el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 16; // the arrow
    if (canvas.measureText(text).width > room + 1) out.push(name(el) + ' shows "' + text + '" cut: ' + Math.round(canvas.measureText(text).width) + ' px of text in ' + Math.round(room) + ' px');
  });
  if (vw >= 1000) {
    document.querySelectorAll('.table-wrap').forEach(function (wrap) {
      if (!visible(wrap)) return;
      var t = wrap.querySelector('table');
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        out.push('table ' + (t && t.id ? '#' + t.id : '') + ' is ' + wrap.scrollWidth + ' px wide in a ' + wrap.clientWidth + ' px frame: its last column needs scrolling');
      }
    });
  }
  return out;
})()`

// checkLayout fails the test for each layout problem of the page shown,
// and writes its screenshot (as name) when -screenshots is given.
func (b *browser) checkLayout(name string) {
	b.t.Helper()
	b.until("fonts and layout settle", `document.fonts.status === "loaded"`)
	for _, p := range eval[[]string](b, layoutJS) {
		b.t.Errorf("%s: %s", name, p)
	}
	b.screenshot(name)
	if readme, ok := readmeShots[name]; ok {
		b.screenshot(readme)
	}
}

// readmeShots are the pages the README shows (docs/screenshots), by the
// name TestLayout gives their screenshot.
var readmeShots = map[string]string{
	"automation-form-desktop": "automation-form",
	"history-desktop":         "history",
	"run-failed-desktop":      "run",
}

// widths are the viewports every page is checked at: a laptop and a phone.
var widths = []struct {
	name          string
	width, height int64
}{{"desktop", 1280, 900}, {"phone", 390, 844}}

// layoutFixture is a node with something on every page: a collection with
// a field of every type, records, a secret, automations, and runs that
// succeeded, failed after three attempts, were cancelled, and one in
// flight.
type layoutFixture struct {
	n                                 *node
	recv                              *receiver
	autoID, failID, slowID            string
	recID                             string
	okRun, failedRun, cancelled, live string
}

func newLayoutFixture(t *testing.T) *layoutFixture {
	t.Helper()
	f := &layoutFixture{}
	f.n = startNode(t, func(c *server.Config) {
		c.Retry = &retry.Policy{Schedule: []time.Duration{30 * time.Millisecond}, Rand: func() float64 { return 0.5 }}
	})
	f.recv = newReceiver(t)
	// slow holds each request until release, or until the test ends.
	release, hold := make(chan struct{}), make(chan struct{})
	slow := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-hold:
		}
		w.WriteHeader(http.StatusNoContent)
	})
	t.Cleanup(func() { close(hold) }) // before the receiver closes: it waits for its requests
	// billing takes Initech, refuses Umbrella, and is down for everyone else.
	fail := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), "Initech"):
			w.WriteHeader(http.StatusCreated)
		case strings.Contains(string(body), "Umbrella"):
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"error":"lead Umbrella has no billing address"}`)
		default:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, `{"error":"upstream billing system is down for maintenance until 18:00 UTC"}`)
		}
	})
	n := f.n
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads",
		"fields": []any{
			map[string]any{"key": "name", "type": "text"}, map[string]any{"key": "value", "type": "number"},
			map[string]any{"key": "vip", "type": "boolean"}, map[string]any{"key": "dueDate", "type": "datetime"},
			map[string]any{"key": "items", "type": "json"}, map[string]any{"key": "externalId", "type": "text"},
			map[string]any{"key": "email", "type": "text"},
		},
		"stages": []string{"New", "Qualified", "Won"}}, nil)
	n.api("POST", "/collections", map[string]any{"key": "orders", "name": "Orders", "fields": []any{map[string]any{"key": "number", "type": "text"}}}, nil)
	n.api("PUT", "/secrets/CRM_KEY", map[string]any{"value": "crm-secret-123"}, nil)
	n.api("PUT", "/secrets/BILLING_TOKEN", map[string]any{"value": "billing-token-456"}, nil)
	var a struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Notify External CRM on New Lead", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"condition": "record.value > 1000",
		"steps": []any{
			map[string]any{"id": "crm", "type": "call_api", "method": "POST", "url": f.recv.URL + "/customers/{record.name}",
				"headers": []any{map[string]any{"name": "Authorization", "value": "Bearer {secrets.CRM_KEY}"}},
				"body": map[string]any{"contentType": "application/json", "fields": []any{
					map[string]any{"key": "customerName", "type": "string", "value": "{record.name}"},
					map[string]any{"key": "orderValue", "type": "number", "value": "{record.value}"},
					map[string]any{"key": "orderItems", "type": "json", "value": "{record.items}"},
				}},
				"timeoutSeconds": 10, "maxAttempts": 3,
				"response": map[string]any{"type": "json", "schema": []any{map[string]any{"pointer": "/data/externalId", "field": "externalId", "required": true}}}},
			map[string]any{"id": "save", "type": "update_record", "set": []any{map[string]any{"field": "externalId", "value": "{fields.externalId}"}}},
		}}, &a)
	f.autoID = a.ID
	n.api("POST", "/automations", map[string]any{
		"name": "Sync to billing", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"id": "billing", "type": "call_api", "method": "POST", "url": fail.URL + "/invoices/{record.id}", "maxAttempts": 3,
			"headers": []any{map[string]any{"name": "X-Api-Key", "value": "{secrets.BILLING_TOKEN}"}},
			"body":    map[string]any{"contentType": "application/json", "fields": []any{map[string]any{"key": "lead", "type": "string", "value": "{record.name}"}}}}},
	}, &a)
	f.failID = a.ID
	n.api("POST", "/automations", map[string]any{
		"name": "Ping the slow CRM", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"id": "ping", "type": "call_api", "url": slow.URL + "/ping/{record.id}"}},
	}, &a)
	f.slowID = a.ID

	var rec struct{ ID string }
	var others []string
	for i, name := range []string{"Globex Corporation", "Initech", "Umbrella"} {
		n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{"name": name, "value": 200 * (i + 1), "email": strings.ToLower(strings.Fields(name)[0]) + "@example.com"}}, &rec)
		others = append(others, rec.ID)
	}
	n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{
		"name": "Acme Corporation", "value": 1500, "vip": true, "dueDate": "2030-01-02T15:04:05Z",
		"items": []any{map[string]any{"sku": "WIDGET-001", "quantity": 10}}, "email": "buyer@acme.example"}}, &rec)
	f.recID = rec.ID
	f.recv.Next(t)
	f.okRun = f.waitRuns(f.autoID, 1, "succeeded")[0]

	var run struct{ ID string }
	for _, id := range others[1:] { // Initech succeeds, Umbrella is refused
		n.api("POST", "/automations/"+f.failID+"/runs", map[string]any{"recordId": id}, nil)
	}
	n.api("POST", "/automations/"+f.failID+"/runs", map[string]any{"recordId": f.recID}, &run)
	f.failedRun = run.ID
	f.waitRuns(f.failID, 2, "failed")

	n.api("POST", "/automations/"+f.slowID+"/runs", map[string]any{"recordId": f.recID}, &run)
	f.cancelled = run.ID
	slow.Next(t)
	n.api("POST", "/runs/"+f.cancelled+"/cancel", nil, nil)
	release <- struct{}{}
	n.api("POST", "/automations/"+f.slowID+"/runs", map[string]any{"recordId": f.recID}, &run)
	f.live = run.ID
	slow.Next(t)                       // in flight until the test ends
	f.waitRuns(f.slowID, 1, "running") // the engine marks a run running once its request takes 250 ms
	return f
}

// waitRuns waits until the automation's runs are n, each with status want,
// and returns their ids.
func (f *layoutFixture) waitRuns(autID string, n int, want string) []string {
	f.n.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list struct {
			Items []struct{ ID, Status string }
		}
		f.n.api("GET", "/automations/"+autID+"/runs", nil, &list)
		var ids []string
		for _, r := range list.Items {
			if r.Status == want {
				ids = append(ids, r.ID)
			}
		}
		if len(ids) == n {
			return ids
		}
		if time.Now().After(deadline) {
			f.n.t.Fatalf("runs of %s: %+v, want %d %s", autID, list.Items, n, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLayout opens every page at a laptop's and a phone's width and checks
// the layout rules of layoutJS on each: a page that works but looks broken
// (the Secrets form's inputs outside their card, History's problem column
// past the table's edge, the records table panning on a phone) fails here.
func TestLayout(t *testing.T) {
	f := newLayoutFixture(t)
	b := newBrowser(t, f.n.Base, 4*time.Minute)

	pages := []struct{ name, path string }{
		{"records", "/records/leads"},
		{"records-empty", "/records/orders"},
		{"record", "/records/leads/" + f.recID},
		{"record-new", "/records/leads/new"},
		{"collections", "/settings/collections"},
		{"collection-form", "/settings/collections/leads/edit"},
		{"collection-new", "/settings/collections/new"},
		{"automations", "/settings/automations"},
		{"automation-form", "/settings/automations/" + f.autoID},
		{"automation-new", "/settings/automations/new"},
		{"history", "/settings/automations/" + f.failID + "/history"},
		{"history-all", "/settings/automations/" + f.autoID + "/history"},
		{"history-slow", "/settings/automations/" + f.slowID + "/history"},
		{"run", "/settings/runs/" + f.okRun},
		{"run-failed", "/settings/runs/" + f.failedRun},
		{"run-cancelled", "/settings/runs/" + f.cancelled},
		{"run-in-flight", "/settings/runs/" + f.live},
		{"secrets", "/settings/secrets"},
		{"not-found", "/settings/runs/run_nope"},
	}
	for _, w := range widths { // signed out
		b.do("viewport "+w.name, chromedp.EmulateViewport(w.width, w.height))
		b.open("/login")
		b.checkLayout("login-" + w.name)
	}
	b.fill("password", adminPassword)
	b.click(`button[type="submit"]`)
	b.waitPath("/records")
	for _, w := range widths {
		b.do("viewport "+w.name, chromedp.EmulateViewport(w.width, w.height))
		for _, p := range pages {
			b.open(p.path)
			b.checkLayout(p.name + "-" + w.name)
		}
		// The form's Test results, and the records menu, opened.
		b.open("/settings/automations/" + f.autoID)
		b.click("#test-dry")
		b.waitText("#test-results", "Dry run")
		b.checkLayout("automation-test-" + w.name)
		b.open("/records/leads")
		b.click(`#records tbody tr:last-child .menu-btn`)
		b.do("menu", chromedp.WaitVisible(chromedp.CSS(`#records .menu.open`)))
		// The menu opened from ⋯ lies within the screen.
		r := eval[[]float64](b, `(function(){var r=document.querySelector('#records .menu.open').getBoundingClientRect();return [r.left, r.right, r.top, r.bottom];})()`)
		if r[0] < 0 || r[1] > float64(w.width) || r[2] < 0 || r[3] > float64(w.height) {
			t.Errorf("%s: the records menu at %v, outside the %d×%d px screen", w.name, r, w.width, w.height)
		}
		for _, p := range eval[[]string](b, layoutJS) {
			t.Errorf("records-menu-%s: %s", w.name, p)
		}
		b.screenshotAsIs("records-menu-" + w.name)
	}
	if t.Failed() {
		var names []string
		for _, p := range pages {
			names = append(names, p.name)
		}
		t.Logf("pages: %s (run with -screenshots DIR to see them)", strings.Join(names, ", "))
	}
}
