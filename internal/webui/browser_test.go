package webui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/autohook/autohook/internal/servertest"
)

var screenshots = flag.String("screenshots", "", "write a PNG of each main page (1280×900) to this folder")

// findChromium returns the browser the tests drive: Debian's chromium
// (.ci/run installs it with apt). Without one the browser tests skip, except
// in CI, where they must run.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: the browser tests must run in CI (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH (apt-get install chromium); skipping the browser tests")
	return ""
}

// browser is one headless Chromium tab on a running server.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, base string, limit time.Duration) *browser {
	t.Helper()
	path := findChromium(t)
	root, cancelRoot := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancelRoot)
	alloc, cancelAlloc := chromedp.NewExecAllocator(root,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

// do runs actions, failing the test (with a screenshot when asked) after
// 20 s.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("failed")
		loc, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 3000)`))
		b.t.Fatalf("%s: %v\npage: %s", what, err, loc)
	}
}

// eval evaluates JavaScript for a value.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// until waits until a JavaScript condition holds, across page loads.
func (b *browser) until(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function(){try{return document.readyState === "complete" && !!(`+cond+`);}catch(e){return false;}})()`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			loc, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 3000)`))
			b.t.Fatalf("%s: not within 20 s (last error: %v)\npage: %s", what, err, loc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPath waits until the browser shows a page whose path (and query)
// starts with prefix.
func (b *browser) waitPath(prefix string) {
	b.t.Helper()
	b.until("wait for "+prefix, fmt.Sprintf(`(location.pathname + location.search).startsWith(%q)`, prefix))
}

// waitAt waits until the browser shows exactly path.
func (b *browser) waitAt(path string) {
	b.t.Helper()
	b.until("wait for "+path, fmt.Sprintf(`location.pathname === %q`, path))
}

// errorBeside returns, for the input with a name, its aria-invalid and the
// error message shown beside it: "true|message".
func (b *browser) errorBeside(name string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(function(){
		var i = document.querySelector('[name=%q]');
		var e = i.parentElement.querySelector('.field-error');
		return i.getAttribute('aria-invalid') + '|' + (e ? e.innerText : '');
	})()`, name))
}

// byName selects the input with a name.
func byName(name string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`[name=%q]`, name)) }

// fill types into an input, replacing what it holds.
func (b *browser) fill(name, value string) {
	b.t.Helper()
	clear := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('[name=%q]').value = ""`, name))
	b.do("fill "+name, chromedp.WaitVisible(byName(name)), clear, chromedp.SendKeys(byName(name), value))
}

// choose picks an option of a select.
func (b *browser) choose(name, value string) {
	b.t.Helper()
	b.do("choose "+name, chromedp.SetValue(byName(name), value))
}

func (b *browser) click(sel string) {
	b.t.Helper()
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`document.querySelector(%q).innerText`, sel))
}

// waitText waits until the element's text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	b.until(fmt.Sprintf("wait for %q in %s", want, sel), fmt.Sprintf(`(function(){var e=document.querySelector(%q);return !!e && e.innerText.includes(%q);})()`, sel, want))
}

// screenshot writes the page to the -screenshots folder, when given.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if *screenshots == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	b.writePNG(ctx, name, chromedp.FullScreenshot(100))
}

// screenshotAsIs writes the viewport as it is (an open menu stays open:
// scrolling closes it), when -screenshots is given.
func (b *browser) screenshotAsIs(name string) {
	b.t.Helper()
	if *screenshots == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	b.writePNG(ctx, name, chromedp.CaptureScreenshot())
}

func (b *browser) writePNG(ctx context.Context, name string, shot chromedp.Action[[]byte]) {
	b.t.Helper()
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// rightClick sends a right mouse click to the first element of sel.
func (b *browser) rightClick(sel string) {
	b.t.Helper()
	b.do("right-click "+sel, chromedp.Query(chromedp.CSS(sel), chromedp.NodeVisible, chromedp.After(func(ctx context.Context, t *chromedp.Target, nodes []*chromedp.Node) error {
		_, err := chromedp.MouseClickNode(nodes[0], chromedp.ButtonRight)(ctx, t)
		return err
	})))
}

// receiver is the remote end of Call API: it records what arrives and
// answers like a CRM.
type receiver struct {
	*servertest.Receiver
	release chan struct{} // each request to /slow/… waits for one
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{release: make(chan struct{})}
	r.Receiver = servertest.NewReceiver(t, func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/slow/") {
			select {
			case <-r.release:
			case <-time.After(20 * time.Second):
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true,"data":{"externalId":"EXT-12345","status":"created"}}`)
	})
	return r
}

// TestBrowser walks through the product as a new user: sign in, create a
// collection and an automation through the forms (with a JSON field of each
// type and a response pointer), see an invalid form's error beside its
// field, add a record, see the request arrive, open History by right-click,
// see the run and its attempt, run the Test dry run, and run a manual
// automation from a record's right-click menu.
func TestBrowser(t *testing.T) {
	n := startNode(t)
	recv := newReceiver(t)
	b := newBrowser(t, n.Base, 90*time.Second)

	// Without a session every page leads to sign-in.
	b.open("/settings/automations")
	b.waitPath("/login?next=")
	b.screenshot("login")

	// Sign in as the admin created on first start.
	b.fill("password", adminPassword)
	b.click(`button[type="submit"]`)
	b.waitPath("/settings/automations") // back to the page asked for
	b.open("/")
	b.waitPath("/records")
	b.waitText("main", "Welcome to Autohook")

	// A collection, through its form: fields of every type, added with
	// "+ Add field" (the script names the new rows).
	b.click(`a[href="/settings/collections/new"]`)
	b.waitPath("/settings/collections/new")
	b.fill("name", "Leads")
	b.fill("key", "leads")
	// The first field's row is there, empty, with examples as placeholders.
	if got := eval[string](b, `document.querySelector('[name="fields.0.key"]').value + "|" + document.querySelector('[name="fields.0.key"]').placeholder`); got != "|name" {
		t.Errorf("a new collection's first field: value|placeholder %q, want |name", got)
	}
	b.fill("fields.0.key", "name")
	fields := [][2]string{{"value", "number"}, {"vip", "boolean"}, {"dueDate", "datetime"}, {"items", "json"}, {"externalId", "text"}}
	for i, f := range fields {
		b.click(`[data-add="tpl-coll-field"]`)
		p := fmt.Sprintf("fields.%d.", i+1)
		b.fill(p+"key", f[0])
		b.choose(p+"type", f[1])
	}
	for i, st := range []string{"New", "Qualified", "Won"} {
		b.fill(fmt.Sprintf("stages.%d", i), st)
	}
	// one stage too many, removed again
	b.click(`[data-add="tpl-coll-stage"]`)
	b.fill("stages.3", "Lost")
	b.click(`[data-list="stages"] [data-item]:last-child [data-remove]`)
	b.screenshot("collection-form")
	b.click(`form[data-rows] button.primary`)
	b.waitPath("/records/leads")
	b.waitText("main", "No records yet")

	// A secret for the Authorization header.
	b.open("/settings/secrets")
	b.fill("name", "CRM_KEY")
	b.fill("value", "crm-secret-123")
	b.click(`form button.primary`)
	b.waitText(".flash", "Secret CRM_KEY saved")
	if strings.Contains(eval[string](b, `document.documentElement.outerHTML`), "crm-secret-123") {
		t.Error("the secrets page shows the secret's value")
	}
	b.screenshot("secrets")

	// The automation, through Settings → Automations → "+ Add Automation".
	b.open("/settings/automations")
	b.waitText("main", "No automations yet")
	b.click("#add-automation")
	b.waitPath("/settings/automations/new")
	b.fill("name", "Notify External CRM on New Lead")
	b.choose("collection", "leads")
	b.choose("trigger.type", "record_added")
	b.fill("condition", "record.value > 1000")
	b.choose("steps.0.method", "POST")
	b.fill("steps.0.url", recv.URL+"/customers/{record.name}")
	b.click(`[data-add="tpl-header"]`)
	b.fill("steps.0.headers.0.name", "Bad Header") // invalid: a space
	b.fill("steps.0.headers.0.value", "Bearer {secrets.CRM_KEY}")
	b.choose("steps.0.body.contentType", "application/json")
	jsonFields := [][3]string{
		{"customerName", "string", "{record.name}"},
		{"orderValue", "number", "{record.value}"},
		{"isNewCustomer", "boolean", "true"},
		{"orderItems", "json", "{record.items}"},
	}
	for i, f := range jsonFields {
		b.click(`[data-list="body.fields"] [data-add="tpl-bodyfield"]`)
		p := fmt.Sprintf("steps.0.body.fields.%d.", i)
		b.fill(p+"key", f[0])
		b.choose(p+"type", f[1])
		b.fill(p+"value", f[2])
	}
	b.fill("steps.0.timeoutSeconds", "10")
	b.fill("steps.0.maxAttempts", "3")
	b.choose("steps.0.response.type", "json")
	b.click(`[data-add="tpl-schema"]`)
	b.fill("steps.0.response.schema.0.pointer", "/data/externalId")
	b.fill("steps.0.response.schema.0.field", "externalId")
	b.click(`[name="steps.0.response.schema.0.required"]`)
	// a second step that stores the answer, added and moved around
	b.click(`[data-add="tpl-step"]`)
	b.choose("steps.1.type", "update_record")
	b.click(`[data-list="steps"] > .items > [data-item]:last-child [data-add="tpl-set"]`)
	b.fill("steps.1.set.0.field", "externalId")
	b.fill("steps.1.set.0.value", "{fields.externalId}")
	b.click(`[data-list="steps"] > .items > [data-item]:last-child .step-head [data-move="-1"]`)
	if got := eval[string](b, `document.querySelector('[data-list="steps"] > .items > [data-item] .step-type').value`); got != "update_record" {
		t.Fatalf("after moving step 2 up, the first step is %q", got)
	}
	b.click(`[data-list="steps"] > .items > [data-item]:first-child .step-head [data-move="1"]`)
	if got := eval[string](b, `document.querySelector('[name="steps.1.set.0.field"]').value`); got != "externalId" {
		t.Fatalf("after moving it back, steps.1.set.0.field is %q", got)
	}

	// Saving the invalid form shows the error beside the header name and
	// keeps everything typed.
	b.click("#save")
	b.waitText("#problems", "Not saved")
	errText := b.errorBeside("steps.0.headers.0.name")
	if !strings.HasPrefix(errText, "true|") || !strings.Contains(errText, "not a valid header name") {
		t.Fatalf("header name error beside its input: got %q", errText)
	}
	if got := eval[string](b, `document.querySelector('[name="steps.0.body.fields.3.value"]').value + "|" + document.querySelector('[name="steps.1.set.0.value"]').value`); got != "{record.items}|{fields.externalId}" {
		t.Fatalf("the form did not keep the input: %q", got)
	}
	b.screenshot("automation-form-error")
	b.fill("steps.0.headers.0.name", "Authorization")
	b.click("#save")
	b.waitAt("/settings/automations")
	b.waitText(".flash", "Saved “Notify External CRM on New Lead”")
	b.waitText("#automations", "Record added")

	// The document saved is what the form said.
	var list struct {
		Items []struct {
			ID    string          `json:"id"`
			Steps json.RawMessage `json:"steps"`
		}
	}
	n.api("GET", "/automations", nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("automations: %d, want 1", len(list.Items))
	}
	autoID := list.Items[0].ID
	wantSteps := `[{"id":"step1","type":"call_api","method":"POST","url":"` + recv.URL + `/customers/{record.name}","headers":[{"name":"Authorization","value":"Bearer {secrets.CRM_KEY}"}],"body":{"contentType":"application/json","fields":[{"key":"customerName","type":"string","value":"{record.name}"},{"key":"orderValue","type":"number","value":"{record.value}"},{"key":"isNewCustomer","type":"boolean","value":"true"},{"key":"orderItems","type":"json","value":"{record.items}"}]},"timeoutSeconds":10,"maxAttempts":3,"response":{"type":"json","schema":[{"pointer":"/data/externalId","field":"externalId","required":true}]}},{"id":"step2","type":"update_record","set":[{"field":"externalId","value":"{fields.externalId}"}]}]`
	if got := string(list.Items[0].Steps); got != wantSteps {
		t.Errorf("saved steps:\n got %s\nwant %s", got, wantSteps)
	}

	// Editing and saving without a change keeps the document as it is.
	b.open("/settings/automations/" + autoID)
	b.screenshot("automation-form")
	b.click("#save")
	b.waitAt("/settings/automations")
	b.waitText(".flash", "Saved")
	n.api("GET", "/automations", nil, &list)
	if got := string(list.Items[0].Steps); got != wantSteps {
		t.Errorf("steps after an unchanged save:\n got %s\nwant %s", got, wantSteps)
	}

	// A record, through its form: inputs that fit each type.
	b.open("/records/leads")
	b.click(`a[href="/records/leads/new"]`)
	b.waitPath("/records/leads/new")
	b.fill("fields.name", "Acme")
	b.fill("fields.value", "1500")
	b.click(`[name="fields.vip"]`)
	b.do("due date", chromedp.SetValue(byName("fields.dueDate"), "2030-01-02T15:04:05"))
	b.fill("fields.items", `[{"sku": "WIDGET-001", "quantity": 10}]`)
	b.screenshot("record-form")
	b.click(`form.card button.primary`)
	b.waitAt("/records/leads")
	b.waitText(".flash", "Record added")
	b.waitText(".flash", "It started “Notify External CRM on New Lead”") // a sign that the automation ran

	// The request arrives at the receiver.
	got := recv.Next(t)
	if got.Method != "POST" || got.URL.Path != "/customers/Acme" || got.Header.Get("Authorization") != "Bearer crm-secret-123" {
		t.Errorf("received %s %s Authorization %q", got.Method, got.URL.Path, got.Header.Get("Authorization"))
	}
	var body map[string]any
	if err := json.Unmarshal(got.Body, &body); err != nil {
		t.Fatalf("body %q: %v", got.Body, err)
	}
	if body["customerName"] != "Acme" || body["orderValue"] != 1500.0 || body["isNewCustomer"] != true {
		t.Errorf("body %s", got.Body)
	}
	if items, ok := body["orderItems"].([]any); !ok || len(items) != 1 {
		t.Errorf("orderItems in %s: want the record's JSON array", got.Body)
	}

	// History, by right-clicking the automation.
	b.open("/settings/automations")
	b.rightClick(`tr[data-automation="` + autoID + `"] td`)
	b.do("menu opens", chromedp.WaitVisible(chromedp.CSS(`#menu-`+autoID)))
	if got := eval[string](b, `document.activeElement.innerText`); got != "History" {
		t.Errorf("focus in the opened menu: %q, want its first item", got)
	}
	b.screenshot("automation-list")
	b.click(`#menu-` + autoID + ` a[href$="/history"]`)
	b.waitPath("/settings/automations/" + autoID + "/history")
	b.waitText("#runs", "succeeded") // the page refreshes itself while the run is in flight
	b.screenshot("history")
	b.click(`#runs a[href^="/settings/runs/"]`)
	b.waitPath("/settings/runs/")
	b.waitText("main", "Attempt 1")
	run := b.text("main")
	for _, want := range []string{"step1", "step2", "POST", recv.URL + "/customers/Acme", "HTTP 200", "EXT-12345", "[redacted]"} {
		if !strings.Contains(run, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(run, "crm-secret-123") {
		t.Error("the run page shows the secret")
	}
	b.screenshot("run")

	// The record now holds the CRM's id.
	b.open("/records/leads")
	b.waitText("#records", "EXT-12345")
	b.screenshot("records")

	// Test on the form: a dry run for the record shows the request.
	b.open("/settings/automations/" + autoID)
	b.click("#test-dry")
	b.waitText("#test-results", "Dry run")
	res := b.text("#test-results")
	for _, want := range []string{"POST", recv.URL + "/customers/Acme", `"customerName": "Acme"`, "[redacted]"} {
		if !strings.Contains(res, want) {
			t.Errorf("dry run lacks %q:\n%s", want, res)
		}
	}
	if r, ok := recv.Poll(); ok {
		t.Errorf("the dry run sent a request: %s %s", r.Method, r.URL.Path)
	}
	b.screenshot("automation-test")
	// Sending shows the response and the fields the steps would set.
	b.click("#test-send")
	b.waitText("#test-results", "Sent")
	if res := b.text("#test-results"); !strings.Contains(res, "EXT-12345") || !strings.Contains(strings.ToLower(res), "fields it would set") {
		t.Errorf("sent test lacks the response or fields:\n%s", res)
	}
	recv.Next(t)

	// A manual automation runs from a record's right-click menu, and the
	// menu shows how the run went.
	var ping struct{ ID string }
	n.api("POST", "/automations", map[string]any{
		"name": "Ping CRM", "collection": "leads", "trigger": map[string]any{"type": "manual"},
		"steps": []any{map[string]any{"type": "call_api", "url": recv.URL + "/slow/{record.id}"}},
	}, &ping)
	b.open("/records/leads")
	b.rightClick(`#records tbody tr td`)
	b.do("record menu", chromedp.WaitVisible(chromedp.CSS(`#records .menu.open`)))
	b.screenshot("records-menu")
	b.do("enter on the first item", chromedp.KeyEvent("\r")) // focus is on its first item: ▶ Ping CRM
	if r := recv.Next(t); !strings.HasPrefix(r.URL.Path, "/slow/rec_") {
		t.Errorf("manual run requested %s", r.URL.Path)
	}
	b.waitText("#toasts", "Running")
	recv.release <- struct{}{}
	b.waitText("#toasts", "succeeded")

	// The same from the keyboard: the ⋯ button, Enter, arrows, Enter. Then
	// History shows the run in flight and updates by itself when it ends.
	b.do("keyboard menu",
		chromedp.Focus(chromedp.CSS(`#records tbody tr .menu-btn`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`#records .menu.open`)),
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.KeyEvent(kb.ArrowUp),
	)
	if got := eval[string](b, `document.activeElement.innerText`); !strings.Contains(got, "Ping CRM") {
		t.Errorf("after ↓ ↑ the focused item is %q", got)
	}
	b.do("run it", chromedp.KeyEvent("\r"))
	recv.Next(t)
	b.waitText("#toasts", "Running")
	b.open("/settings/automations/" + ping.ID + "/history")
	b.waitText("#runs", "succeeded") // the first run
	if got := eval[string](b, `document.querySelector('[data-live]').dataset.active`); got != "true" {
		t.Fatalf("history with a run in flight: data-active %q, want true", got)
	}
	eval[bool](b, `window.stillThisPage = true`)
	recv.release <- struct{}{}
	b.until("the in-flight run shows succeeded", `document.querySelectorAll('#runs .badge-succeeded').length === 2 && document.querySelector('[data-live]').dataset.active === "false"`)
	if !eval[bool](b, `window.stillThisPage === true`) {
		t.Error("History reloaded the whole page instead of updating in place")
	}

	// Phone width: the automation form still fits.
	if *screenshots != "" {
		b.do("phone", chromedp.EmulateViewport(390, 844))
		b.open("/settings/automations/" + autoID)
		b.screenshot("automation-form-phone")
		b.do("desktop", chromedp.EmulateViewport(1280, 900))
	}
}

// TestBrowserBodiesAndCaptures builds through the form a step with a form
// body, a header signed over the body, and captures of the status and a
// header: the type select is hidden for form fields, each capture shows
// only the input its source needs, the saved document is what the form
// said, and an unchanged edit keeps it.
func TestBrowserBodiesAndCaptures(t *testing.T) {
	n := startNode(t)
	b := newBrowser(t, n.Base, 60*time.Second)
	n.api("POST", "/collections", map[string]any{"key": "leads", "name": "Leads", "fields": []any{map[string]any{"key": "name", "type": "text"}}}, nil)
	n.api("PUT", "/secrets/K", map[string]any{"value": "signing-key"}, nil)
	b.open("/login")
	b.fill("password", adminPassword)
	b.click(`button[type="submit"]`)
	b.waitPath("/records")

	b.open("/settings/automations/new")
	b.fill("name", "Form post")
	b.choose("collection", "leads")
	b.choose("trigger.type", "manual")
	b.choose("steps.0.method", "POST")
	b.fill("steps.0.url", "https://crm.example.com/form")
	b.click(`[data-add="tpl-header"]`)
	b.fill("steps.0.headers.0.name", "X-Signature")
	b.fill("steps.0.headers.0.value", "sha256={hmacSHA256(secrets.K, body)}")
	b.choose("steps.0.body.contentType", "application/x-www-form-urlencoded")
	for i, f := range [][2]string{{"name", "{record.name}"}, {"source", "autohook"}} {
		b.click(`[data-list="body.fields"] [data-add="tpl-bodyfield"]`)
		p := fmt.Sprintf("steps.0.body.fields.%d.", i)
		b.fill(p+"key", f[0])
		b.fill(p+"value", f[1])
	}
	shown := func(name string) bool {
		return eval[bool](b, fmt.Sprintf(`document.querySelector('[name=%q]').offsetParent !== null`, name))
	}
	if shown("steps.0.body.fields.0.type") {
		t.Error("a form field shows the JSON type select")
	}
	if shown("steps.0.body.text") {
		t.Error("a form body shows the text input")
	}
	b.choose("steps.0.response.type", "text")
	b.fill("steps.0.response.field", "reply")
	b.click(`[data-add="tpl-schema"]`)
	b.choose("steps.0.response.schema.0.source", "status")
	b.fill("steps.0.response.schema.0.field", "httpStatus")
	if shown("steps.0.response.schema.0.pointer") || shown("steps.0.response.schema.0.header") {
		t.Error("a status capture shows the pointer or header input")
	}
	b.click(`[data-add="tpl-schema"]`)
	b.choose("steps.0.response.schema.1.source", "header")
	if !shown("steps.0.response.schema.1.header") || shown("steps.0.response.schema.1.pointer") {
		t.Error("a header capture shows the pointer input instead of the header name")
	}
	b.fill("steps.0.response.schema.1.header", "Location")
	b.fill("steps.0.response.schema.1.field", "location")
	b.click(`[name="steps.0.response.schema.1.required"]`)
	b.screenshot("automation-form-body-capture")
	b.click("#save")
	b.waitAt("/settings/automations")
	b.waitText(".flash", "Saved")

	var list struct {
		Items []struct {
			ID    string          `json:"id"`
			Steps json.RawMessage `json:"steps"`
		}
	}
	n.api("GET", "/automations", nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("automations: %d, want 1", len(list.Items))
	}
	wantSteps := `[{"id":"step1","type":"call_api","method":"POST","url":"https://crm.example.com/form",` +
		`"headers":[{"name":"X-Signature","value":"sha256={hmacSHA256(secrets.K, body)}"}],` +
		`"body":{"contentType":"application/x-www-form-urlencoded","fields":[{"key":"name","value":"{record.name}"},{"key":"source","value":"autohook"}]},` +
		`"response":{"type":"text","field":"reply","schema":[{"status":true,"field":"httpStatus"},{"header":"Location","field":"location","required":true}]}}]`
	if got := string(list.Items[0].Steps); got != wantSteps {
		t.Errorf("saved steps:\n got %s\nwant %s", got, wantSteps)
	}

	b.open("/settings/automations/" + list.Items[0].ID)
	if got := eval[string](b, `document.querySelector('[name="steps.0.response.schema.0.source"]').value + "|" + document.querySelector('[name="steps.0.response.schema.1.source"]').value`); got != "status|header" {
		t.Errorf("capture sources on the edit form = %q, want status|header", got)
	}
	b.click("#save")
	b.waitAt("/settings/automations")
	b.waitText(".flash", "Saved")
	n.api("GET", "/automations", nil, &list)
	if got := string(list.Items[0].Steps); got != wantSteps {
		t.Errorf("steps after an unchanged save:\n got %s\nwant %s", got, wantSteps)
	}
}
