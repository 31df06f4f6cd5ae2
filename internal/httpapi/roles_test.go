package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/service"
)

// TestRoleMatrix runs every route of the API with a key of every role (and
// the instance admin's) and checks the status: the least role a route takes
// is stated here, apart from autohook.MinRole, so the two must agree. It
// also walks the route table for the audit log: every mutating route that
// succeeds writes exactly one entry, of the action stated here (or none,
// for the routes that change no configuration, each with its reason), and
// a refused call writes none. A route without a row fails both, naming
// itself. Both databases.
func TestRoleMatrix(t *testing.T) {
	noLimit := func(c *Config) { c.RateLimit = -1 }
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		h, admin, svc := newTestStack(t, "", noLimit)
		testRoleMatrix(t, h, admin, svc)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		h, admin, svc := newTestStack(t, pgtest.NewDatabase(t), noLimit)
		testRoleMatrix(t, h, admin, svc)
	})
}

// roleCase is one route of the matrix.
type roleCase struct {
	min autohook.Role // the least role that may call the route
	// adminOnly: only the instance admin's key, whatever its role
	adminOnly bool
	ok        int // the status of a call the role may make
	// req returns the path and body of one call; it may create what the
	// call needs (with the admin's key), fresh for each call.
	req func(t *testing.T) (path, body string)
	// audit is the action a successful call records; noAudit, for a
	// mutating route that records none, says why.
	audit, noAudit string
}

// Routes that record no audit entry, and why.
const (
	reasonRecords = "records are the organisation's data, not its configuration: a record keeps its version and its runs tell what fired (SECURITY.md, Audit log)"
	reasonDryRun  = "a dry run writes nothing"
)

var seq atomic.Int64

func uniqName(p string) string { return fmt.Sprintf("%s%d", p, seq.Add(1)) }

func testRoleMatrix(t *testing.T, h http.Handler, admin string, svc *service.Service) {
	ctx := context.Background()
	a := setupA(t, h, admin)
	keys := map[string]string{"admin": admin}
	for _, r := range autohook.Roles {
		var k struct {
			Key  string        `json:"key"`
			Role autohook.Role `json:"role"`
		}
		mustCall(t, h, admin, "POST", "/api/v1/api-keys", `{"name":"`+string(r)+`-key","role":"`+string(r)+`"}`, 201).decode(t, &k)
		if k.Role != r {
			t.Fatalf("created a %s key, answered role %q", r, k.Role)
		}
		keys[string(r)] = k.Key
	}
	var def struct {
		Role autohook.Role `json:"role"`
	}
	mustCall(t, h, admin, "POST", "/api/v1/api-keys", `{"name":"no role given"}`, 201).decode(t, &def)
	if def.Role != autohook.RoleOwner {
		t.Errorf("a key created without a role has %q, want owner", def.Role)
	}
	r := call(t, h, "Bearer "+admin, "POST", "/api/v1/api-keys", `{"name":"x","role":"admin"}`)
	if r.status != 422 || !strings.Contains(string(r.body), `"path":"role"`) {
		t.Errorf("an unknown role: %d %s, want 422 naming role", r.status, r.body)
	}

	// fresh objects, made with the admin's key
	collection := func(t *testing.T) string {
		key := uniqName("tmp")
		mustCall(t, h, admin, "POST", "/api/v1/collections", `{"key":"`+key+`","name":"Tmp","fields":[{"key":"name","type":"text"}]}`, 201)
		return key
	}
	rec := func(t *testing.T) string {
		return decodeID(t, mustCall(t, h, admin, "POST", "/api/v1/collections/leads/records", `{"fields":{"name":"tmp"}}`, 201))
	}
	manual := func(name string) string {
		return `{"name":"` + name + `","collection":"leads","trigger":{"type":"manual"},` +
			`"steps":[{"id":"mark","type":"update_record","set":[{"field":"note","value":"x"}]}]}`
	}
	auto := func(t *testing.T) string {
		return decodeID(t, mustCall(t, h, admin, "POST", "/api/v1/automations", manual(uniqName("tmp auto ")), 201))
	}
	run := func(t *testing.T) string {
		return decodeID(t, mustCall(t, h, admin, "POST", "/api/v1/automations/"+a.automationID+"/runs", `{"recordId":"`+a.rec1+`"}`, 202))
	}
	secret := func(t *testing.T) string {
		name := uniqName("TMP_")
		mustCall(t, h, admin, "PUT", "/api/v1/secrets/"+name, `{"value":"a-long-enough-value"}`, 204)
		return name
	}
	apiKey := func(t *testing.T) string {
		return decodeID(t, mustCall(t, h, admin, "POST", "/api/v1/api-keys", `{"name":"tmp"}`, 201))
	}
	user := func(t *testing.T) string {
		t.Helper()
		inv, err := svc.CreateInvitation(ctx, a.orgID, uniqName("person")+"@example.com", autohook.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		u, err := svc.AcceptInvitation(ctx, inv.Token, autohook.Acceptance{Name: "Tmp", Password: "a-good-password"})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	fixed := func(path, body string) func(*testing.T) (string, string) {
		return func(*testing.T) (string, string) { return path, body }
	}

	cases := map[string]roleCase{
		"POST /api/v1/collections": {min: autohook.RoleEditor, ok: 201, audit: autohook.AuditCollectionCreated, req: func(t *testing.T) (string, string) {
			return "/api/v1/collections", `{"key":"` + uniqName("c") + `","name":"C","fields":[{"key":"name","type":"text"}]}`
		}},
		"GET /api/v1/collections":       {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/collections", "")},
		"GET /api/v1/collections/{key}": {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/collections/leads", "")},
		"PUT /api/v1/collections/{key}": {min: autohook.RoleEditor, ok: 200, audit: autohook.AuditCollectionUpdated, req: fixed("/api/v1/collections/contacts", `{"name":"A's contacts","fields":[{"key":"name","type":"text"},{"key":"note","type":"text"}]}`)},
		"DELETE /api/v1/collections/{key}": {min: autohook.RoleEditor, ok: 204, audit: autohook.AuditCollectionDeleted, req: func(t *testing.T) (string, string) {
			return "/api/v1/collections/" + collection(t), ""
		}},
		"POST /api/v1/collections/{key}/records":             {min: autohook.RoleEditor, ok: 201, noAudit: reasonRecords, req: fixed("/api/v1/collections/leads/records", `{"fields":{"name":"n"}}`)},
		"GET /api/v1/collections/{key}/records":              {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/collections/leads/records", "")},
		"GET /api/v1/collections/{key}/records/{id}":         {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/collections/leads/records/"+a.rec1, "")},
		"PATCH /api/v1/collections/{key}/records/{id}":       {min: autohook.RoleEditor, ok: 200, noAudit: reasonRecords, req: fixed("/api/v1/collections/leads/records/"+a.rec2, `{"fields":{"value":8}}`)},
		"DELETE /api/v1/collections/{key}/records/{id}":      {min: autohook.RoleEditor, ok: 204, noAudit: reasonRecords, req: func(t *testing.T) (string, string) { return "/api/v1/collections/leads/records/" + rec(t), "" }},
		"GET /api/v1/collections/{key}/records/{id}/actions": {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/collections/leads/records/"+a.rec1+"/actions", "")},
		"POST /api/v1/automations": {min: autohook.RoleEditor, ok: 201, audit: autohook.AuditAutomationCreated, req: func(t *testing.T) (string, string) {
			return "/api/v1/automations", manual(uniqName("new "))
		}},
		"GET /api/v1/automations":       {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/automations", "")},
		"POST /api/v1/automations/test": {min: autohook.RoleEditor, ok: 200, noAudit: reasonDryRun, req: fixed("/api/v1/automations/test", `{"automation":`+manual("t")+`,"recordId":"`+a.rec1+`"}`)},
		"GET /api/v1/automations/{id}":  {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/automations/"+a.automationID, "")},
		"PUT /api/v1/automations/{id}":  {min: autohook.RoleEditor, ok: 200, audit: autohook.AuditAutomationUpdated, req: fixed("/api/v1/automations/"+a.automationID, manual(markerAuto))},
		"DELETE /api/v1/automations/{id}": {min: autohook.RoleEditor, ok: 204, audit: autohook.AuditAutomationDeleted, req: func(t *testing.T) (string, string) {
			return "/api/v1/automations/" + auto(t), ""
		}},
		"POST /api/v1/automations/{id}/runs":                 {min: autohook.RoleEditor, ok: 202, audit: autohook.AuditRunStarted, req: fixed("/api/v1/automations/"+a.automationID+"/runs", `{"recordId":"`+a.rec1+`"}`)},
		"GET /api/v1/automations/{id}/runs":                  {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/automations/"+a.automationID+"/runs", "")},
		"GET /api/v1/automations/{id}/versions":              {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/automations/"+a.automationID+"/versions", "")},
		"GET /api/v1/automations/{id}/versions/{n}":          {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/automations/"+a.automationID+"/versions/1", "")},
		"POST /api/v1/automations/{id}/versions/{n}/restore": {min: autohook.RoleEditor, ok: 200, audit: autohook.AuditAutomationRestored, req: fixed("/api/v1/automations/"+a.automationID+"/versions/1/restore", "")},
		"GET /api/v1/export":                                 {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/export", "")},
		"POST /api/v1/import": {min: autohook.RoleEditor, ok: 200, audit: autohook.AuditConfigImported, req: fixed("/api/v1/import",
			`{"collections":[{"key":"imported","name":"Imported","fields":[{"key":"note","type":"text"}]}],"automations":[]}`)},
		"GET /api/v1/runs":      {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/runs", "")},
		"GET /api/v1/runs/{id}": {min: autohook.RoleViewer, ok: 200, req: fixed("/api/v1/runs/"+a.runID, "")},
		"POST /api/v1/runs/{id}/retry": {min: autohook.RoleEditor, ok: 202, audit: autohook.AuditRunRetried, req: func(t *testing.T) (string, string) {
			id := run(t)
			mustCall(t, h, admin, "POST", "/api/v1/runs/"+id+"/cancel", "", 200)
			return "/api/v1/runs/" + id + "/retry", ""
		}},
		"POST /api/v1/runs/{id}/cancel": {min: autohook.RoleEditor, ok: 200, audit: autohook.AuditRunCancelled, req: func(t *testing.T) (string, string) {
			return "/api/v1/runs/" + run(t) + "/cancel", ""
		}},
		"PUT /api/v1/secrets/{name}": {min: autohook.RoleOwner, ok: 204, audit: autohook.AuditSecretPut, req: fixed("/api/v1/secrets/"+sharedSecret, `{"value":"`+markerValue1+`"}`)},
		"GET /api/v1/secrets":        {min: autohook.RoleEditor, ok: 200, req: fixed("/api/v1/secrets", "")},
		"DELETE /api/v1/secrets/{name}": {min: autohook.RoleOwner, ok: 204, audit: autohook.AuditSecretDeleted, req: func(t *testing.T) (string, string) {
			return "/api/v1/secrets/" + secret(t), ""
		}},
		"POST /api/v1/api-keys": {min: autohook.RoleOwner, ok: 201, audit: autohook.AuditAPIKeyCreated, req: fixed("/api/v1/api-keys", `{"name":"ci","role":"viewer"}`)},
		"GET /api/v1/api-keys":  {min: autohook.RoleOwner, ok: 200, req: fixed("/api/v1/api-keys", "")},
		"DELETE /api/v1/api-keys/{id}": {min: autohook.RoleOwner, ok: 204, audit: autohook.AuditAPIKeyRevoked, req: func(t *testing.T) (string, string) {
			return "/api/v1/api-keys/" + apiKey(t), ""
		}},
		"POST /api/v1/organisations": {min: autohook.RoleOwner, adminOnly: true, ok: 201, audit: autohook.AuditOrganisationCreated, req: func(*testing.T) (string, string) {
			return "/api/v1/organisations", `{"name":"` + uniqName("Org ") + `"}`
		}},
		"GET /api/v1/organisations": {min: autohook.RoleOwner, adminOnly: true, ok: 200, req: fixed("/api/v1/organisations", "")},
		"POST /api/v1/invitations": {min: autohook.RoleOwner, ok: 201, audit: autohook.AuditInvitationCreated, req: func(*testing.T) (string, string) {
			return "/api/v1/invitations", `{"email":"` + uniqName("invitee") + `@example.com","role":"viewer"}`
		}},
		"GET /api/v1/users": {min: autohook.RoleOwner, ok: 200, req: fixed("/api/v1/users", "")},
		"PATCH /api/v1/users/{id}": {min: autohook.RoleOwner, ok: 200, audit: autohook.AuditUserRoleChanged, req: func(t *testing.T) (string, string) {
			return "/api/v1/users/" + user(t), `{"role":"viewer"}`
		}},
		"DELETE /api/v1/users/{id}": {min: autohook.RoleOwner, ok: 204, audit: autohook.AuditUserRemoved, req: func(t *testing.T) (string, string) {
			return "/api/v1/users/" + user(t), ""
		}},
		"GET /api/v1/audit":                    {min: autohook.RoleOwner, ok: 200, req: fixed("/api/v1/audit", "")},
		"POST /api/v1/automations/{id}/resume": {min: autohook.RoleEditor, ok: 200, audit: autohook.AuditAutomationResumed, req: fixed("/api/v1/automations/"+a.automationID+"/resume", "")},
		"POST /api/v1/runs/retry":              {min: autohook.RoleEditor, ok: 202, audit: autohook.AuditRunRetried, req: fixed("/api/v1/runs/retry", `{"status":"failed"}`)},
		"POST /api/v1/alert-channels": {min: autohook.RoleOwner, ok: 201, audit: autohook.AuditAlertChannelCreated, req: func(*testing.T) (string, string) {
			return "/api/v1/alert-channels", `{"name":"` + uniqName("ops") + `","type":"webhook","url":"https://hooks.example.com/T0"}`
		}},
		"GET /api/v1/alert-channels": {min: autohook.RoleOwner, ok: 200, req: fixed("/api/v1/alert-channels", "")},
		"DELETE /api/v1/alert-channels/{id}": {min: autohook.RoleOwner, ok: 204, audit: autohook.AuditAlertChannelDeleted, req: func(t *testing.T) (string, string) {
			id := decodeID(t, mustCall(t, h, admin, "POST", "/api/v1/alert-channels", `{"name":"`+uniqName("tmp")+`","type":"email","to":["ops@example.com"]}`, 201))
			return "/api/v1/alert-channels/" + id, ""
		}},
		"POST /api/v1/alert-channels/{id}/test": {min: autohook.RoleOwner, ok: 202, audit: autohook.AuditAlertChannelTested, req: fixed("/api/v1/alert-channels/"+a.channelID+"/test", "")},
		"GET /api/v1/alerts":                    {min: autohook.RoleEditor, ok: 200, req: fixed("/api/v1/alerts", "")},
	}

	newest := func(t *testing.T) string {
		var l struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		mustCall(t, h, admin, "GET", "/api/v1/audit?limit=1", "", 200).decode(t, &l)
		if len(l.Items) == 0 {
			return ""
		}
		return l.Items[0].ID
	}
	// since lists the entries newer than the entry id last.
	since := func(t *testing.T, last string) []autohook.AuditEntry {
		var l struct {
			Items []autohook.AuditEntry `json:"items"`
		}
		mustCall(t, h, admin, "GET", "/api/v1/audit?limit=100", "", 200).decode(t, &l)
		var out []autohook.AuditEntry
		for _, e := range l.Items {
			if e.ID == last {
				break
			}
			out = append(out, e)
		}
		return out
	}

	seen := map[string]bool{}
	for _, rt := range routes {
		name := rt.method + " " + rt.pattern
		seen[name] = true
		tc, ok := cases[name]
		if !ok {
			t.Errorf("route %s has no row in TestRoleMatrix (internal/httpapi/roles_test.go): give the least role that may call it "+
				"(and add its operation to autohook.MinRole), and the audit action a successful call records (or why it records none)", name)
			continue
		}
		if rt.method != "GET" && tc.audit == "" && tc.noAudit == "" {
			t.Errorf("route %s changes something but its row names no audit action: record one in the service, in the change's transaction, "+
				"and name it in the row's audit (or say in noAudit why there is none)", name)
		}
		t.Run(name, func(t *testing.T) {
			for _, who := range []string{"viewer", "editor", "owner", "admin"} {
				allowed := who == "admin" || (!tc.adminOnly && autohook.Role(who).AtLeast(tc.min))
				path, body := tc.req(t)
				last := newest(t)
				r := call(t, h, "Bearer "+keys[who], rt.method, path, body)
				entries := since(t, last)
				if !allowed {
					if r.status != 403 || !strings.Contains(string(r.body), `"code":"forbidden"`) {
						t.Errorf("%s key: %s %s: %d %s, want 403 forbidden", who, rt.method, path, r.status, r.body)
					}
					if len(entries) != 0 {
						t.Errorf("%s key: a refused %s %s recorded %d audit entries: %+v", who, rt.method, path, len(entries), entries)
					}
					continue
				}
				if r.status != tc.ok {
					t.Errorf("%s key: %s %s: %d %s, want %d", who, rt.method, path, r.status, r.body, tc.ok)
					continue
				}
				want := 0
				if tc.audit != "" {
					want = 1
				}
				if len(entries) != want {
					t.Errorf("%s key: %s %s recorded %d audit entries, want %d (%q): %+v", who, rt.method, path, len(entries), want, tc.audit, entries)
					continue
				}
				if want == 1 {
					e := entries[0]
					if e.Action != tc.audit || e.Actor.Type != autohook.ActorAPIKey || e.Actor.Name != who+"-key" && who != "admin" {
						t.Errorf("%s key: %s %s recorded %+v, want action %q by the %s key", who, rt.method, path, e, tc.audit, who)
					}
				}
			}
		})
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("TestRoleMatrix row %s matches no route", name)
		}
	}
}
