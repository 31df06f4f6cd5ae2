package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/alert"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/engine"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/service"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
	"github.com/autohook/autohook/internal/webhook"
)

// newTestAPIWith is newTestAPI on the database at dbURL ("" for a fresh
// SQLite file in a temporary dir), with the API's Config changed by mutate
// (nil for none). Unlike newTestAPI it takes any testing.TB, so that a fuzz
// target can build its API once, before f.Fuzz. The queue is not started.
func newTestAPIWith(tb testing.TB, dbURL string, mutate func(*Config)) (http.Handler, string) {
	tb.Helper()
	h, key, _ := newTestStack(tb, dbURL, mutate)
	return h, key
}

// newTestStack is newTestAPIWith that also returns the service, for what
// the API does not do (accepting an invitation is the web UI's).
func newTestStack(tb testing.TB, dbURL string, mutate func(*Config)) (http.Handler, string, *service.Service) {
	tb.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if dbURL == "" {
		dbURL = "sqlite:" + tb.TempDir() + "/db"
	}
	workers := river.NewWorkers()
	st, err := store.Open(ctx, store.Config{URL: dbURL, Workers: workers, Logger: log})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(context.Background()); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	box, err := secret.NewBox(make([]byte, secret.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	cat := catalog.New(st, box, automation.Options{}, false)
	fire := trigger.New(cat, log)
	web := webhook.New(webhook.Config{UserAgent: "Autohook/test"})
	eng := engine.New(st, cat, fire, web, box, engine.Config{Logger: log})
	eng.Register(workers)
	alert.New(alert.Config{Store: st, Logger: log}).Register(workers)
	svc := service.New(service.Config{Store: st, Catalog: cat, Firer: fire, Engine: eng, Box: box, Logger: log})
	if _, err := svc.Bootstrap(ctx, testAdminKey, testAdminPassword); err != nil {
		tb.Fatalf("bootstrap: %v", err)
	}
	cfg := Config{Service: svc, Logger: log}
	if mutate != nil {
		mutate(&cfg)
	}
	mux := http.NewServeMux()
	New(cfg).Register(mux)
	if t, ok := tb.(*testing.T); ok { // not a fuzz target's F: it cannot report from inside the target
		return checker(t).Handler(t, mux), testAdminKey, svc
	}
	return mux, testAdminKey, svc
}

// NewTestAPIWith exports newTestAPIWith to the external test package
// (security_test.go and fuzz_test.go are package httpapi_test because they
// start a whole node with internal/server, which imports this package).
func NewTestAPIWith(tb testing.TB, dbURL string, mutate func(*Config)) (http.Handler, string) {
	tb.Helper()
	return newTestAPIWith(tb, dbURL, mutate)
}

// TestTenancy checks, for every route of the API, that organisation B's key
// on organisation A's objects finds nothing (404, or a list without them),
// that B's writes leave A's data exactly as it was, and that B's own
// objects live in B's namespace only. It runs on both databases: tenancy is
// in the store's queries, which are written once for both.
func TestTenancy(t *testing.T) {
	// The snapshots make hundreds of requests with A's key in a second.
	noLimit := func(c *Config) { c.RateLimit = -1 }
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		h, admin := newTestAPIWith(t, "", noLimit)
		testTenancy(t, h, admin)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		h, admin := newTestAPIWith(t, pgtest.NewDatabase(t), noLimit)
		testTenancy(t, h, admin)
	})
}

// Markers that only organisation A's data holds: no answer to B may contain
// them.
const (
	markerName    = "Ada-of-organisation-A"
	markerAuto    = "A's manual automation"
	markerSecret  = "A_ONLY_TOKEN"
	markerValue1  = "a-secret-value-shared-name"
	markerValue2  = "a-secret-value-only-a"
	sharedSecret  = "SHARED_TOKEN"
	markerKeyName = "a-ci-key"
)

// orgA is what organisation A owns.
type orgA struct {
	key                        string // A's key (the instance admin's)
	extraKey, extraKeyID       string // a second API key of A
	adminKeyID                 string
	leadsID, contactsID        string // collection ids
	rec1, rec2, contactRec     string // record ids
	automationID, runID, orgID string
	adminUserID                string // the web UI admin
	channelID, alertID         string // an alert channel, a test alert sent to it
}

// tokens are the identifiers of A that must never appear in an answer to
// B (unless B sent them itself).
func (a *orgA) tokens() []string {
	return []string{a.extraKeyID, a.adminKeyID, a.leadsID, a.contactsID, a.rec1, a.rec2, a.contactRec, a.automationID, a.runID, a.orgID, a.adminUserID, a.channelID, a.alertID,
		markerName, markerAuto, markerSecret, markerValue1, markerValue2, markerKeyName, a.key, a.extraKey}
}

func decodeID(t *testing.T, r response) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	r.decode(t, &v)
	if v.ID == "" {
		t.Fatalf("no id in %s", r.body)
	}
	return v.ID
}

// setupA creates organisation A's objects with A's key.
func setupA(t *testing.T, h http.Handler, key string) *orgA {
	t.Helper()
	a := &orgA{key: key}
	a.leadsID = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/collections",
		`{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"},{"key":"value","type":"number"},{"key":"note","type":"text"}],"stages":["New","Won"]}`, 201))
	a.contactsID = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/collections",
		`{"key":"contacts","name":"A's contacts","fields":[{"key":"name","type":"text"},{"key":"note","type":"text"}]}`, 201))
	a.rec1 = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/collections/leads/records", `{"fields":{"name":"`+markerName+`","value":1500}}`, 201))
	a.rec2 = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/collections/leads/records", `{"fields":{"name":"`+markerName+` 2","value":7},"stage":"Won"}`, 201))
	a.contactRec = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/collections/contacts/records", `{"fields":{"name":"`+markerName+` contact"}}`, 201))
	a.automationID = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/automations", `{
		"name": "`+markerAuto+`", "collection": "leads", "trigger": {"type": "manual"},
		"steps": [{"id": "mark", "type": "update_record", "set": [{"field": "note", "value": "touched {record.name}"}]}]}`, 201))
	a.runID = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/automations/"+a.automationID+"/runs", `{"recordId":"`+a.rec1+`"}`, 202))
	a.channelID = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/alert-channels", `{"name":"`+markerName+` alerts","type":"email","to":["ops@a.example.com"]}`, 201))
	a.alertID = decodeID(t, mustCall(t, h, key, "POST", "/api/v1/alert-channels/"+a.channelID+"/test", "", 202))
	mustCall(t, h, key, "PUT", "/api/v1/secrets/"+sharedSecret, `{"value":"`+markerValue1+`"}`, 204)
	mustCall(t, h, key, "PUT", "/api/v1/secrets/"+markerSecret, `{"value":"`+markerValue2+`"}`, 204)
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	mustCall(t, h, key, "POST", "/api/v1/api-keys", `{"name":"`+markerKeyName+`"}`, 201).decode(t, &created)
	a.extraKey, a.extraKeyID = created.Key, created.ID
	var keys struct {
		Items []struct {
			ID            string `json:"id"`
			InstanceAdmin bool   `json:"instanceAdmin"`
		} `json:"items"`
	}
	mustCall(t, h, key, "GET", "/api/v1/api-keys", "", 200).decode(t, &keys)
	for _, k := range keys.Items {
		if k.InstanceAdmin {
			a.adminKeyID = k.ID
		}
	}
	if a.adminKeyID == "" {
		t.Fatal("A's key list does not show the instance admin key")
	}
	var users struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	mustCall(t, h, key, "GET", "/api/v1/users", "", 200).decode(t, &users)
	if len(users.Items) != 1 {
		t.Fatalf("A's users: %+v, want the admin", users.Items)
	}
	a.adminUserID = users.Items[0].ID
	var orgs struct {
		Items []struct {
			ID, Name string
		} `json:"items"`
	}
	mustCall(t, h, key, "GET", "/api/v1/organisations", "", 200).decode(t, &orgs)
	for _, o := range orgs.Items {
		if o.Name == "Default" {
			a.orgID = o.ID
		}
	}
	if a.orgID == "" {
		t.Fatalf("no Default organisation in %v", orgs.Items)
	}
	return a
}

// snapshot reads everything A can see of its own data with A's key, to
// compare before and after B's requests. lastUsedAt is left out: it is the
// one field a read may change.
func (a *orgA) snapshot(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	paths := []string{
		"/api/v1/collections",
		"/api/v1/collections/leads",
		"/api/v1/collections/contacts",
		"/api/v1/collections/leads/records",
		"/api/v1/collections/contacts/records",
		"/api/v1/collections/leads/records/" + a.rec1,
		"/api/v1/collections/leads/records/" + a.rec2,
		"/api/v1/collections/contacts/records/" + a.contactRec,
		"/api/v1/collections/leads/records/" + a.rec1 + "/actions",
		"/api/v1/automations",
		"/api/v1/automations/" + a.automationID,
		"/api/v1/automations/" + a.automationID + "/runs",
		"/api/v1/automations/" + a.automationID + "/versions",
		"/api/v1/export",
		"/api/v1/runs",
		"/api/v1/runs/" + a.runID,
		"/api/v1/secrets",
		"/api/v1/api-keys",
		"/api/v1/organisations",
		"/api/v1/users",
		"/api/v1/audit",
	}
	out := map[string]any{}
	for _, p := range paths {
		var v any
		mustCall(t, h, a.key, "GET", p, "", 200).decode(t, &v)
		out[p] = dropKey(v, "lastUsedAt")
	}
	return out
}

func dropKey(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, key)
		for k, e := range x {
			x[k] = dropKey(e, key)
		}
	case []any:
		for i, e := range x {
			x[i] = dropKey(e, key)
		}
	}
	return v
}

// tenancyCase is what B does on one route, and what it must get.
type tenancyCase struct {
	path, body string
	status     int
	code       string // the error code, for an error status
	detail     string // a path the error's details must name (422)
	list       bool   // the answer is a list (checked for A's objects)
}

func testTenancy(t *testing.T, h http.Handler, adminKey string) {
	a := setupA(t, h, adminKey)
	var orgB struct {
		ID     string `json:"id"`
		APIKey string `json:"apiKey"`
	}
	mustCall(t, h, adminKey, "POST", "/api/v1/organisations", `{"name":"Beta"}`, 201).decode(t, &orgB)
	if orgB.APIKey == "" || orgB.ID == a.orgID {
		t.Fatalf("organisation B: %+v", orgB)
	}
	b := orgB.APIKey
	before := a.snapshot(t, h)

	manualDoc := func(collection string) string {
		return `{"name":"B's automation","collection":"` + collection + `","trigger":{"type":"manual"},` +
			`"steps":[{"id":"mark","type":"update_record","set":[{"field":"note","value":"hijacked"}]}]}`
	}
	// One case per route: B's key on A's objects. The routes table drives
	// the matrix, so a new route without a case fails below.
	cases := map[string]tenancyCase{
		// B may use the same collection key as A: a collection of its own.
		"POST /api/v1/collections":                           {path: "/api/v1/collections", body: `{"key":"contacts","name":"B's contacts","fields":[{"key":"name","type":"text"},{"key":"note","type":"text"}]}`, status: 201},
		"GET /api/v1/collections":                            {path: "/api/v1/collections", status: 200, list: true},
		"GET /api/v1/collections/{key}":                      {path: "/api/v1/collections/leads", status: 404, code: "not_found"},
		"PUT /api/v1/collections/{key}":                      {path: "/api/v1/collections/leads", body: `{"name":"Hijacked","fields":[{"key":"name","type":"text"}],"stages":["Owned"]}`, status: 404, code: "not_found"},
		"DELETE /api/v1/collections/{key}":                   {path: "/api/v1/collections/leads", status: 404, code: "not_found"},
		"POST /api/v1/collections/{key}/records":             {path: "/api/v1/collections/leads/records", body: `{"fields":{"name":"planted by B"}}`, status: 404, code: "not_found"},
		"GET /api/v1/collections/{key}/records":              {path: "/api/v1/collections/leads/records", status: 404, code: "not_found"},
		"GET /api/v1/collections/{key}/records/{id}":         {path: "/api/v1/collections/leads/records/" + a.rec1, status: 404, code: "not_found"},
		"PATCH /api/v1/collections/{key}/records/{id}":       {path: "/api/v1/collections/leads/records/" + a.rec1, body: `{"fields":{"name":"changed by B"},"stage":"Won"}`, status: 404, code: "not_found"},
		"DELETE /api/v1/collections/{key}/records/{id}":      {path: "/api/v1/collections/leads/records/" + a.rec2, status: 404, code: "not_found"},
		"GET /api/v1/collections/{key}/records/{id}/actions": {path: "/api/v1/collections/leads/records/" + a.rec1 + "/actions", status: 404, code: "not_found"},
		// A's collection key is not in B's namespace.
		"POST /api/v1/automations": {path: "/api/v1/automations", body: manualDoc("leads"), status: 422, code: "validation_failed", detail: "collection"},
		"GET /api/v1/automations":  {path: "/api/v1/automations", status: 200, list: true},
		"POST /api/v1/automations/test": {path: "/api/v1/automations/test", body: `{"automation":` + manualDoc("leads") + `,"recordId":"` + a.rec1 + `"}`,
			status: 422, code: "validation_failed", detail: "automation.collection"},
		"GET /api/v1/automations/{id}":                       {path: "/api/v1/automations/" + a.automationID, status: 404, code: "not_found"},
		"PUT /api/v1/automations/{id}":                       {path: "/api/v1/automations/" + a.automationID, body: manualDoc("leads"), status: 404, code: "not_found"},
		"DELETE /api/v1/automations/{id}":                    {path: "/api/v1/automations/" + a.automationID, status: 404, code: "not_found"},
		"POST /api/v1/automations/{id}/runs":                 {path: "/api/v1/automations/" + a.automationID + "/runs", body: `{"recordId":"` + a.rec1 + `"}`, status: 404, code: "not_found"},
		"POST /api/v1/automations/{id}/resume":               {path: "/api/v1/automations/" + a.automationID + "/resume", status: 404, code: "not_found"},
		"GET /api/v1/automations/{id}/runs":                  {path: "/api/v1/automations/" + a.automationID + "/runs", status: 404, code: "not_found"},
		"GET /api/v1/automations/{id}/versions":              {path: "/api/v1/automations/" + a.automationID + "/versions", status: 404, code: "not_found"},
		"GET /api/v1/automations/{id}/versions/{n}":          {path: "/api/v1/automations/" + a.automationID + "/versions/1", status: 404, code: "not_found"},
		"POST /api/v1/automations/{id}/versions/{n}/restore": {path: "/api/v1/automations/" + a.automationID + "/versions/1/restore", status: 404, code: "not_found"},
		// B's export is B's configuration; B's import of A's names makes
		// B's own objects.
		"GET /api/v1/export": {path: "/api/v1/export", status: 200},
		"POST /api/v1/import": {path: "/api/v1/import", status: 200, body: `{"collections":[{"key":"leads","name":"B's leads","fields":[{"key":"note","type":"text"}]}],` +
			`"automations":[{"name":"B's import","collection":"leads","trigger":{"type":"manual"},"steps":[{"id":"mark","type":"update_record","set":[{"field":"note","value":"hijacked"}]}]}]}`},
		"GET /api/v1/runs":             {path: "/api/v1/runs?recordId=" + a.rec1, status: 200, list: true},
		"GET /api/v1/runs/{id}":        {path: "/api/v1/runs/" + a.runID, status: 404, code: "not_found"},
		"POST /api/v1/runs/{id}/retry": {path: "/api/v1/runs/" + a.runID + "/retry", status: 404, code: "not_found"},
		// A's automation named in a bulk retry's body is not B's: 422 at automationId.
		"POST /api/v1/runs/retry":               {path: "/api/v1/runs/retry", body: `{"automationId":"` + a.automationID + `","status":"failed"}`, status: 422, code: "validation_failed"},
		"POST /api/v1/runs/{id}/cancel":         {path: "/api/v1/runs/" + a.runID + "/cancel", status: 404, code: "not_found"},
		"POST /api/v1/alert-channels":           {path: "/api/v1/alert-channels", body: `{"name":"b","type":"webhook","url":"https://hooks.b.example.com/x"}`, status: 201},
		"GET /api/v1/alert-channels":            {path: "/api/v1/alert-channels", status: 200, list: true},
		"DELETE /api/v1/alert-channels/{id}":    {path: "/api/v1/alert-channels/" + a.channelID, status: 404, code: "not_found"},
		"POST /api/v1/alert-channels/{id}/test": {path: "/api/v1/alert-channels/" + a.channelID + "/test", status: 404, code: "not_found"},
		"GET /api/v1/alerts":                    {path: "/api/v1/alerts", status: 200, list: true},
		// Secrets are named per organisation: B's PUT of A's secret's name
		// creates B's own, and A's stays as it was.
		"PUT /api/v1/secrets/{name}":    {path: "/api/v1/secrets/" + sharedSecret, body: `{"value":"b-secret-value"}`, status: 204},
		"GET /api/v1/secrets":           {path: "/api/v1/secrets", status: 200, list: true},
		"DELETE /api/v1/secrets/{name}": {path: "/api/v1/secrets/" + markerSecret, status: 404, code: "not_found"},
		"POST /api/v1/api-keys":         {path: "/api/v1/api-keys", body: `{"name":"b-ci"}`, status: 201},
		"GET /api/v1/api-keys":          {path: "/api/v1/api-keys", status: 200, list: true},
		"DELETE /api/v1/api-keys/{id}":  {path: "/api/v1/api-keys/" + a.extraKeyID, status: 404, code: "not_found"},
		"POST /api/v1/organisations":    {path: "/api/v1/organisations", body: `{"name":"Gamma"}`, status: 403, code: "forbidden"},
		"GET /api/v1/organisations":     {path: "/api/v1/organisations", status: 403, code: "forbidden"},
		// People and the audit log are per organisation: B's invitation is
		// B's, A's users are not found.
		"POST /api/v1/invitations":  {path: "/api/v1/invitations", body: `{"email":"b-person@example.com","role":"editor"}`, status: 201},
		"GET /api/v1/users":         {path: "/api/v1/users", status: 200, list: true},
		"PATCH /api/v1/users/{id}":  {path: "/api/v1/users/" + a.adminUserID, body: `{"role":"viewer"}`, status: 404, code: "not_found"},
		"DELETE /api/v1/users/{id}": {path: "/api/v1/users/" + a.adminUserID, status: 404, code: "not_found"},
		"GET /api/v1/audit":         {path: "/api/v1/audit", status: 200, list: true},
	}
	seen := map[string]bool{}
	for _, rt := range routes {
		name := rt.method + " " + rt.pattern
		seen[name] = true
		tc, ok := cases[name]
		if !ok {
			t.Errorf("route %s has no tenancy case: add one to TestTenancy", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			r := call(t, h, "Bearer "+b, rt.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Errorf("B: %s %s: status %d, want %d: %s", rt.method, tc.path, r.status, tc.status, r.body)
			}
			checkNoLeak(t, a, tc.path+" "+tc.body, r.body)
			if tc.code != "" {
				var env struct {
					Error struct {
						Code    string           `json:"code"`
						Details []map[string]any `json:"details"`
					} `json:"error"`
				}
				r.decode(t, &env)
				if env.Error.Code != tc.code {
					t.Errorf("code %q, want %q: %s", env.Error.Code, tc.code, r.body)
				}
				if tc.detail != "" && !slices.ContainsFunc(env.Error.Details, func(d map[string]any) bool { return d["path"] == tc.detail }) {
					t.Errorf("details do not name %q: %s", tc.detail, r.body)
				}
			}
			if tc.list {
				var l struct {
					Items []json.RawMessage `json:"items"`
				}
				r.decode(t, &l)
				if l.Items == nil {
					t.Errorf("not a list: %s", r.body)
				}
			}
			if rt.method != "GET" {
				if diff := cmp.Diff(before, a.snapshot(t, h)); diff != "" {
					t.Errorf("B's %s %s changed A's data (-before +after):\n%s", rt.method, tc.path, diff)
				}
			}
		})
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("tenancy case %s matches no route", name)
		}
	}

	t.Run("same collection key, separate collections", func(t *testing.T) {
		var bc struct {
			ID     string `json:"id"`
			Name   string `json:"name"`
			Fields []any  `json:"fields"`
		}
		mustCall(t, h, b, "GET", "/api/v1/collections/contacts", "", 200).decode(t, &bc)
		if bc.ID == a.contactsID || bc.Name != "B's contacts" {
			t.Errorf("B's contacts is %+v; A's id is %s", bc, a.contactsID)
		}
		var ac struct {
			ID, Name string
		}
		mustCall(t, h, a.key, "GET", "/api/v1/collections/contacts", "", 200).decode(t, &ac)
		if ac.ID != a.contactsID || ac.Name != "A's contacts" {
			t.Errorf("A's contacts is %+v after B created its own", ac)
		}
		// B's records in its collection are B's: A's record id is unknown there.
		r := mustCall(t, h, b, "GET", "/api/v1/collections/contacts/records/"+a.contactRec, "", 404)
		checkNoLeak(t, a, a.contactRec, r.body)
		r = mustCall(t, h, b, "PATCH", "/api/v1/collections/contacts/records/"+a.contactRec, `{"fields":{"note":"B was here"}}`, 404)
		checkNoLeak(t, a, a.contactRec, r.body)
		var l struct {
			Items []any `json:"items"`
		}
		mustCall(t, h, b, "GET", "/api/v1/collections/contacts/records", "", 200).decode(t, &l)
		if len(l.Items) != 0 {
			t.Errorf("B's new collection lists %d records: %v", len(l.Items), l.Items)
		}
	})

	t.Run("B's manual run on A's record id", func(t *testing.T) {
		// The same collection key in both organisations, and A's record id:
		// B's automation runs on B's records only.
		bAuto := decodeID(t, mustCall(t, h, b, "POST", "/api/v1/automations", manualDoc("contacts"), 201))
		r := mustCall(t, h, b, "POST", "/api/v1/automations/"+bAuto+"/runs", `{"recordId":"`+a.contactRec+`"}`, 422)
		checkNoLeak(t, a, a.contactRec, r.body)
		if !strings.Contains(string(r.body), `"path":"recordId"`) {
			t.Errorf("error does not name recordId: %s", r.body)
		}
		r = mustCall(t, h, b, "POST", "/api/v1/automations/test", `{"automation":`+manualDoc("contacts")+`,"recordId":"`+a.contactRec+`"}`, 422)
		checkNoLeak(t, a, a.contactRec, r.body)
		if !strings.Contains(string(r.body), `"path":"recordId"`) {
			t.Errorf("dry run error does not name recordId: %s", r.body)
		}
		// A, the instance admin, does not see B's automation either.
		mustCall(t, h, a.key, "GET", "/api/v1/automations/"+bAuto, "", 404)
		mustCall(t, h, a.key, "POST", "/api/v1/automations/"+bAuto+"/runs", `{"recordId":"`+a.contactRec+`"}`, 404)
	})

	t.Run("B's lists hold only B's objects", func(t *testing.T) {
		for _, p := range []string{"/api/v1/collections", "/api/v1/automations", "/api/v1/runs", "/api/v1/secrets", "/api/v1/api-keys"} {
			r := mustCall(t, h, b, "GET", p, "", 200)
			checkNoLeak(t, a, "", r.body)
		}
		// Filtering by A's automation is filtering by an unknown one.
		r := mustCall(t, h, b, "GET", "/api/v1/runs?automationId="+a.automationID, "", 404)
		checkNoLeak(t, a, a.automationID, r.body)
		var runs struct {
			Items []any `json:"items"`
		}
		mustCall(t, h, b, "GET", "/api/v1/runs", "", 200).decode(t, &runs)
		if len(runs.Items) != 0 {
			t.Errorf("B sees %d runs, want none: %v", len(runs.Items), runs.Items)
		}
		var secrets struct {
			Items []struct{ Name string } `json:"items"`
		}
		mustCall(t, h, b, "GET", "/api/v1/secrets", "", 200).decode(t, &secrets)
		if len(secrets.Items) != 1 || secrets.Items[0].Name != sharedSecret {
			t.Errorf("B's secrets = %+v, want only its own %s", secrets.Items, sharedSecret)
		}
	})

	t.Run("B cannot revoke A's keys", func(t *testing.T) {
		for _, id := range []string{a.adminKeyID, a.extraKeyID} {
			r := mustCall(t, h, b, "DELETE", "/api/v1/api-keys/"+id, "", 404)
			checkNoLeak(t, a, id, r.body)
		}
		mustCall(t, h, a.extraKey, "GET", "/api/v1/collections", "", 200)
		mustCall(t, h, a.key, "GET", "/api/v1/organisations", "", 200)
	})

	t.Run("B deleting its own secret of A's name", func(t *testing.T) {
		mustCall(t, h, b, "DELETE", "/api/v1/secrets/"+sharedSecret, "", 204)
		var secrets struct {
			Items []struct{ Name string } `json:"items"`
		}
		mustCall(t, h, a.key, "GET", "/api/v1/secrets", "", 200).decode(t, &secrets)
		var names []string
		for _, s := range secrets.Items {
			names = append(names, s.Name)
		}
		if !slices.Contains(names, sharedSecret) || !slices.Contains(names, markerSecret) {
			t.Errorf("A's secrets = %v after B deleted its own %s", names, sharedSecret)
		}
	})

	if diff := cmp.Diff(before, a.snapshot(t, h)); diff != "" {
		t.Errorf("organisation B changed A's data (-before +after):\n%s", diff)
	}
}

// checkNoLeak fails when body holds one of A's identifiers or markers that
// the request (sent) did not hold already.
func checkNoLeak(t *testing.T, a *orgA, sent string, body []byte) {
	t.Helper()
	for _, tok := range a.tokens() {
		if tok != "" && !strings.Contains(sent, tok) && strings.Contains(string(body), tok) {
			t.Errorf("the answer to B holds A's %q: %s", tok, body)
		}
	}
}
