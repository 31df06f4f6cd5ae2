package webui_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/autohook/autohook/internal/servertest"
)

// TestBrowserOperate: the operator's loop in the browser. A partner that
// answers 401 pauses an automation; the automations list shows it paused,
// with its 24-hour chart and success rate; its page shows the paused
// banner with the reason, and Resume; the Runs page filters the skipped
// runs, and its bulk retry (whose confirmation says how many) retries them
// once the partner is fixed; alert channels live under Settings with Send
// test.
func TestBrowserOperate(t *testing.T) {
	n := startNode(t)
	var broken atomic.Bool
	broken.Store(true)
	partner := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	hook := servertest.NewReceiver(t, nil)
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads", "fields": []map[string]any{{"key": "name", "type": "text"}}}, nil)
	var saved struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Sync to partner", "collection": "leads", "trigger": map[string]any{"type": "record_added"}, "pauseAfterFailures": 3,
		"steps": []map[string]any{{"id": "partner", "type": "call_api", "url": partner.URL + "/sync", "if": `record.name != ""`}},
	}, &saved)
	var other struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Healthy hook", "collection": "leads", "trigger": map[string]any{"type": "record_added"},
		"steps": []map[string]any{{"id": "hook", "type": "call_api", "url": hook.URL + "/ok"}},
	}, &other)
	for i := range 8 {
		n.api("POST", "/collections/leads/records", map[string]any{"fields": map[string]any{"name": fmt.Sprint("Lead ", i)}}, nil)
		if i < 3 {
			waitRunsFinished(t, n, saved.ID, i+1) // the first three fail in a row: paused
		}
	}
	waitRunsFinished(t, n, saved.ID, 8)
	waitRunsFinished(t, n, other.ID, 8)

	b := newBrowser(t, n.Base, 120*time.Second)
	b.open("/login")
	b.fill("password", adminPassword)
	b.click(`button[type="submit"]`)
	b.waitPath("/records")

	// Automations list: state, chart, rate.
	b.open("/settings/automations")
	row := fmt.Sprintf(`tr[data-automation=%q]`, saved.ID)
	b.waitText(row+" [data-state]", "paused")
	if got := eval[int](b, `document.querySelectorAll("#automations svg.spark").length`); got != 2 {
		t.Errorf("%d charts in the automations list, want 2", got)
	}
	if got := eval[int](b, fmt.Sprintf(`document.querySelectorAll('tr[data-automation=%q] svg.spark rect.spark-ok').length`, other.ID)); got < 1 {
		t.Errorf("the healthy automation's chart has %d green bars", got)
	}
	if got := b.text(row + " .rate"); got != "0%" {
		t.Errorf("the paused automation's success rate shows %q, want 0%%", got)
	}
	if got := b.text(fmt.Sprintf(`tr[data-automation=%q] .rate`, other.ID)); got != "100%" {
		t.Errorf("the healthy automation's success rate shows %q, want 100%%", got)
	}
	b.screenshot("automations-paused")

	// The automation's page: the paused banner with the reason.
	b.open("/settings/automations/" + saved.ID)
	b.waitText("#paused", "3 runs in a row failed")
	b.waitText("#paused", "http_4xx")
	b.screenshot("automation-paused-banner")

	// Runs page: filter the skipped runs of this automation.
	b.open("/runs")
	b.choose("automation", saved.ID)
	b.choose("status", "skipped")
	b.click("#filter")
	b.waitPath("/runs?automation=" + saved.ID + "&status=skipped")
	if got := eval[int](b, `document.querySelectorAll("#runs tbody tr").length`); got != 5 {
		t.Errorf("%d skipped runs listed, want 5", got)
	}
	if got := eval[int](b, `document.querySelectorAll("#runs tbody tr:not([data-status=skipped])").length`); got != 0 {
		t.Errorf("%d listed runs are not skipped", got)
	}
	b.waitText("#retry-all", "Retry 5 runs")
	b.screenshot("runs-skipped")

	// Fix the partner, Resume from the banner, bulk retry.
	broken.Store(false)
	b.open("/settings/automations/" + saved.ID)
	b.click("#resume")
	b.waitText(".flash", "active again")
	if got := eval[int](b, `document.querySelectorAll("#paused").length`); got != 0 {
		t.Error("the paused banner still shows after Resume")
	}
	// Saving the form keeps pauseAfterFailures and the step's if.
	b.click("#save")
	b.waitText(".flash", "Saved")
	var doc struct {
		PauseAfterFailures int
		Steps              []struct{ If, OnError string }
	}
	n.api("GET", "/automations/"+saved.ID, nil, &doc)
	if doc.PauseAfterFailures != 3 || doc.Steps[0].If != `record.name != ""` || doc.Steps[0].OnError != "" {
		t.Errorf("after saving the form: %+v", doc)
	}
	b.open("/runs?automation=" + saved.ID + "&status=skipped")
	// The confirmation names how many: refused first (nothing happens),
	// then accepted.
	b.do("refuse", chromedp.Evaluate[chromedp.Void](`window.confirm = function(m){ window.asked = m; return false; }`))
	b.click("#retry-all")
	if got := eval[string](b, `window.asked || ""`); !strings.Contains(got, "Retry 5 skipped runs of “Sync to partner”?") {
		t.Errorf("the confirmation said %q", got)
	}
	b.do("accept", chromedp.Evaluate[chromedp.Void](`window.confirm = function(m){ return true; }`))
	b.click("#retry-all")
	b.waitText(".flash", "Retrying 5 runs")
	deadline := time.Now().Add(30 * time.Second)
	for partner.Count() < 3+5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	waitRunsStatus(t, n, saved.ID, "succeeded", 5)
	b.open("/runs?automation=" + saved.ID + "&status=succeeded")
	b.waitText("#runs", "succeeded")
	b.screenshot("runs-retried")

	// Alert channels: add one, Send test.
	b.open("/settings/alerts")
	b.fill("name", "ops")
	b.choose("type", "webhook")
	b.fill("url", hook.URL+"/alerts")
	b.click(`#add-channel button[type="submit"]`)
	b.waitText(".flash", "Channel “ops” added")
	before := hook.Count()
	b.click("#channels .send-test")
	b.waitText(".flash", "Test alert sent")
	deadline = time.Now().Add(30 * time.Second)
	for hook.Count() == before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if hook.Count() == before {
		t.Error("the test alert did not arrive")
	}
	b.open("/settings/alerts")
	b.waitText("#alerts", "sent")
	b.screenshot("alert-channels")
}

// waitRunsFinished waits until automation id has n finished runs.
func waitRunsFinished(t *testing.T, n *node, id string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct{ Items []struct{ Status string } }
		n.api("GET", "/runs?limit=500&automationId="+id, nil, &list)
		done := 0
		for _, r := range list.Items {
			switch r.Status {
			case "succeeded", "failed", "cancelled", "skipped":
				done++
			}
		}
		if done >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("automation %s: %d of %d runs finished after 30 s", id, done, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRunsStatus waits until automation id has want runs with status.
func waitRunsStatus(t *testing.T, n *node, id, status string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct{ Items []struct{ Status string } }
		n.api("GET", "/runs?limit=500&status="+status+"&automationId="+id, nil, &list)
		if len(list.Items) >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("automation %s: %d %s runs after 30 s, want %d", id, len(list.Items), status, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
