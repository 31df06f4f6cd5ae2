package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/server"
	"github.com/autohook/autohook/internal/servertest"
)

// planItem is one line of an import's plan.
type planItem struct {
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Changes []string `json:"changes"`
}

type importAnswer struct {
	Plan     []planItem `json:"plan"`
	Warnings []struct {
		Path, Message string
	} `json:"warnings"`
	Applied bool `json:"applied"`
}

// configOf is an organisation's collections and automations, and how many
// versions each automation has: what an import may change.
func configOf(t *testing.T, c *servertest.Client) map[string]any {
	t.Helper()
	var colls, autos struct{ Items []map[string]any }
	c.Must(t, 200, "GET", "/api/v1/collections?limit=500", nil, &colls)
	c.Must(t, 200, "GET", "/api/v1/automations?limit=500", nil, &autos)
	versions := map[string]int{}
	for _, a := range autos.Items {
		var vs struct{ Items []any }
		c.Must(t, 200, "GET", "/api/v1/automations/"+a["id"].(string)+"/versions?limit=500", nil, &vs)
		versions[a["name"].(string)] = len(vs.Items)
	}
	return map[string]any{"collections": colls.Items, "automations": autos.Items, "versions": versions}
}

// exportOf is GET /api/v1/export, checked to be what an export promises.
func exportOf(t *testing.T, c *servertest.Client) []byte {
	t.Helper()
	a := c.Must(t, 200, "GET", "/api/v1/export", nil, nil)
	var ind bytes.Buffer
	if err := json.Indent(&ind, a.Body, "", "  "); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(ind.Bytes()), bytes.TrimSpace(a.Body)) || !bytes.HasSuffix(a.Body, []byte("}\n")) {
		t.Errorf("the export is not indented by two spaces, one field per line:\n%s", a.Body)
	}
	return a.Body
}

func actions(plan []planItem) map[string]string {
	out := map[string]string{}
	for _, p := range plan {
		out[p.Kind+" "+p.Name] = p.Action
	}
	return out
}

// seedConfig makes an organisation's configuration: two collections,
// a secret, and three automations that use them.
func seedConfig(t *testing.T, c *servertest.Client, receiverURL string) {
	t.Helper()
	c.Must(t, 201, "POST", "/api/v1/collections", `{"key":"leads","name":"Leads","fields":[{"key":"name","type":"text"},{"key":"value","type":"number"},{"key":"dueDate","type":"datetime"},{"key":"externalId","type":"text"},{"key":"items","type":"json"}],"stages":["New","Qualified","Won"]}`, nil)
	c.Must(t, 201, "POST", "/api/v1/collections", `{"key":"contacts","name":"Contacts","fields":[{"key":"email","type":"text","name":"E-mail"}]}`, nil)
	c.Must(t, 204, "PUT", "/api/v1/secrets/CRM_KEY", `{"value":"crm-secret-value"}`, nil)
	c.Must(t, 201, "POST", "/api/v1/automations", `{
		"name": "Notify CRM", "collection": "leads", "trigger": {"type": "record_added"},
		"condition": "record.value > 1000 && record.name != \"<test> & co\"",
		"steps": [
			{"id": "crm", "type": "call_api", "method": "POST", "url": "`+receiverURL+`/customers/{record.externalId}",
			 "headers": [{"name": "Authorization", "value": "Bearer {secrets.CRM_KEY}"}],
			 "body": {"contentType": "application/json", "fields": [
				{"key": "customerName", "type": "string", "value": "{record.name}"},
				{"key": "orderItems", "type": "json", "value": "{record.items}"}]},
			 "timeoutSeconds": 30, "maxAttempts": 3,
			 "response": {"type": "json", "schema": [{"pointer": "/data/externalId", "field": "externalId", "required": true}]}},
			{"type": "update_record", "set": [{"field": "externalId", "value": "{fields.externalId}"}]}
		]}`, nil)
	c.Must(t, 201, "POST", "/api/v1/automations", `{
		"name": "Due reminder", "collection": "leads", "enabled": false,
		"trigger": {"type": "record_due", "field": "dueDate", "offset": "-24h"},
		"steps": [{"id": "remind", "type": "call_api", "method": "POST", "url": "`+receiverURL+`/remind",
			"body": {"contentType": "text/plain", "text": "Due: {record.name}"}}]}`, nil)
	c.Must(t, 201, "POST", "/api/v1/automations", `{
		"name": "Welcome contact", "collection": "contacts", "trigger": {"type": "manual"},
		"steps": [{"id": "mail", "type": "call_api", "method": "POST", "url": "`+receiverURL+`/welcome?to={record.email}",
			"auth": {"type": "bearer", "token": "{secrets.MAIL_TOKEN}"}, "maxPerSecond": 5}]}`, nil)
}

// newOrganisation creates an organisation and returns a client with its key.
func newOrganisation(t *testing.T, n *node, name string) *servertest.Client {
	t.Helper()
	var org struct{ APIKey string }
	n.must(201, "POST", "/api/v1/organisations", map[string]string{"name": name}, &org)
	return n.As(org.APIKey)
}

// TestExportImport: an export imports into a fresh organisation as all
// create, exports again byte for byte, plans as all unchanged; an edit
// plans as exactly that automation's update with its paths; an invalid
// file changes nothing.
func TestExportImport(t *testing.T) {
	eachDB(t, func(t *testing.T, db func(*server.Config)) {
		n := startNode(t, db)
		a := &n.Client
		seedConfig(t, a, "https://crm.example.com")
		exported := exportOf(t, a)
		if again := exportOf(t, a); !bytes.Equal(exported, again) {
			t.Fatalf("two exports of the same state differ:\n%s\n%s", exported, again)
		}
		for _, leak := range []string{"crm-secret-value", `"aut_`, `"col_`, `"createdAt"`, `"version"`, `\u003c`} {
			if bytes.Contains(exported, []byte(leak)) {
				t.Errorf("the export holds %s:\n%s", leak, exported)
			}
		}
		if !bytes.HasPrefix(exported, []byte("{\n  \"formatVersion\": 1,\n  \"collections\": [\n    {\n      \"key\": \"contacts\",")) {
			t.Errorf("the export does not start with its format version and the collections by key:\n%.300s", exported)
		}

		b := newOrganisation(t, n, "Production")
		var plan importAnswer
		b.Must(t, 200, "POST", "/api/v1/import?dryRun=true", string(exported), &plan)
		want := map[string]string{"collection contacts": "create", "collection leads": "create",
			"automation Due reminder": "create", "automation Notify CRM": "create", "automation Welcome contact": "create"}
		if d := cmp.Diff(want, actions(plan.Plan)); d != "" || plan.Applied {
			t.Errorf("dry run into a fresh organisation (-want +got):\n%s\napplied %v", d, plan.Applied)
		}
		// B has no CRM_KEY (nor A a MAIL_TOKEN): warnings that name where
		// they are used.
		var warned []string
		for _, w := range plan.Warnings {
			warned = append(warned, w.Path+" "+strings.Fields(w.Message)[1])
		}
		if d := cmp.Diff([]string{"automations[1].steps[0].headers[0].value CRM_KEY", "automations[2].steps[0].auth.token MAIL_TOKEN"}, warned); d != "" {
			t.Errorf("warnings (-want +got):\n%s", d)
		}
		if d := cmp.Diff(map[string]any{"collections": []map[string]any{}, "automations": []map[string]any{}, "versions": map[string]int{}}, configOf(t, b)); d != "" {
			t.Errorf("a dry run changed B (-want +got):\n%s", d)
		}
		var applied importAnswer
		b.Must(t, 200, "POST", "/api/v1/import", string(exported), &applied)
		if !applied.Applied || !cmp.Equal(plan.Plan, applied.Plan) {
			t.Errorf("applied %v with plan %+v, want the dry run's %+v", applied.Applied, applied.Plan, plan.Plan)
		}
		if got := exportOf(t, b); !bytes.Equal(got, exported) {
			t.Errorf("B's export differs from A's:\n%s", lineDiff(string(exported), string(got)))
		}
		b.Must(t, 200, "POST", "/api/v1/import?dryRun=true", string(exported), &plan)
		for _, p := range plan.Plan {
			if p.Action != "unchanged" || len(p.Changes) != 0 {
				t.Errorf("importing again: %+v, want unchanged", p)
			}
		}
		before := configOf(t, b)
		b.Must(t, 200, "POST", "/api/v1/import", string(exported), &plan)
		if d := cmp.Diff(before, configOf(t, b)); d != "" {
			t.Errorf("an import of the same state changed B (-before +after):\n%s", d)
		}

		// An edit: exactly that automation, with its paths.
		edited := strings.Replace(string(exported), `"url": "https://crm.example.com/remind"`, `"url": "https://crm.example.com/remind-v2"`, 1)
		edited = strings.Replace(edited, `"offset": "-24h"`, `"offset": "-48h"`, 1)
		if edited == string(exported) {
			t.Fatal("the edit changed nothing")
		}
		b.Must(t, 200, "POST", "/api/v1/import?dryRun=true", edited, &plan)
		var updates []planItem
		for _, p := range plan.Plan {
			if p.Action != "unchanged" {
				updates = append(updates, p)
			}
		}
		wantUpdate := []planItem{{Kind: "automation", Name: "Due reminder", Action: "update", Changes: []string{"steps[0].url", "trigger.offset"}}}
		if d := cmp.Diff(wantUpdate, updates); d != "" {
			t.Errorf("plan of an edited file (-want +got):\n%s", d)
		}
		b.Must(t, 200, "POST", "/api/v1/import", edited, nil)
		if got := exportOf(t, b); string(got) != edited {
			t.Errorf("after applying the edit, the export is not the file:\n%s", lineDiff(edited, string(got)))
		}

		// An invalid file changes nothing: a good new collection and a
		// good edit beside a broken automation.
		var doc map[string]any
		if err := json.Unmarshal([]byte(edited), &doc); err != nil {
			t.Fatal(err)
		}
		autos := doc["automations"].([]any)
		autos[0].(map[string]any)["condition"] = "true"
		broken := autos[2].(map[string]any)["steps"].([]any)[0].(map[string]any)
		broken["url"] = "https://crm.example.com/{record.nope"
		doc["collections"] = append(doc["collections"].([]any), map[string]any{"key": "deals", "name": "Deals", "fields": []any{}, "stages": []any{}})
		before = configOf(t, b)
		for _, dry := range []string{"?dryRun=true", ""} {
			r := b.Do(t, "POST", "/api/v1/import"+dry, doc)
			if r.Status != 422 || !strings.Contains(string(r.Body), `"path":"automations[2].steps[0].url"`) {
				t.Errorf("import%s of a broken file: %d %s, want 422 naming automations[2].steps[0].url", dry, r.Status, r.Body)
			}
		}
		if d := cmp.Diff(before, configOf(t, b)); d != "" {
			t.Errorf("a refused import changed B (-before +after):\n%s", d)
		}
	})
}

// TestImportRules: duplicates, unknown fields, format versions, pruning,
// field type changes, ambiguous names and signing secrets.
func TestImportRules(t *testing.T) {
	n := startNode(t)
	a := &n.Client
	seedConfig(t, a, "https://crm.example.com")
	exported := exportOf(t, a)
	var doc map[string]any
	if err := json.Unmarshal(exported, &doc); err != nil {
		t.Fatal(err)
	}
	with := func(change func(d map[string]any)) map[string]any {
		var c map[string]any
		if err := json.Unmarshal(exported, &c); err != nil {
			t.Fatal(err)
		}
		change(c)
		return c
	}
	refused := func(what string, body any, query, path, message string) {
		t.Helper()
		before := configOf(t, a)
		r := a.Do(t, "POST", "/api/v1/import"+query, body)
		var env struct {
			Error struct {
				Code    string
				Details []struct{ Path, Message string }
			}
		}
		_ = json.Unmarshal(r.Body, &env)
		if r.Status != 422 || env.Error.Code != "validation_failed" || !slices.ContainsFunc(env.Error.Details, func(d struct{ Path, Message string }) bool {
			return d.Path == path && strings.Contains(d.Message, message)
		}) {
			t.Errorf("%s: %d %s, want 422 at %s saying %q", what, r.Status, r.Body, path, message)
		}
		if d := cmp.Diff(before, configOf(t, a)); d != "" {
			t.Errorf("%s changed the organisation (-before +after):\n%s", what, d)
		}
	}
	refused("a duplicate automation", with(func(d map[string]any) {
		d["automations"] = append(d["automations"].([]any), d["automations"].([]any)[1])
	}), "", "automations[3].name", `duplicate automation "Notify CRM": automations[1]`)
	refused("a duplicate collection", with(func(d map[string]any) {
		d["collections"] = append(d["collections"].([]any), d["collections"].([]any)[0])
	}), "?dryRun=true", "collections[2].key", `duplicate collection "contacts"`)
	refused("an unknown field", with(func(d map[string]any) {
		d["automations"].([]any)[0].(map[string]any)["steps"].([]any)[0].(map[string]any)["urll"] = "x"
	}), "", "automations[0].steps[0].urll", "unknown field")
	refused("another format version", with(func(d map[string]any) { d["formatVersion"] = 2 }), "", "formatVersion", "format 2")
	refused("a bad dryRun", exported, "?dryRun=maybe", "dryRun", "true or false")
	refused("a bad collection", with(func(d map[string]any) {
		d["collections"].([]any)[1].(map[string]any)["fields"] = []any{map[string]any{"key": "x", "type": "colour"}}
	}), "", "collections[1].fields[0].type", "must be one of")
	if r := a.Do(t, "POST", "/api/v1/import", "{not json"); r.Status != 400 {
		t.Errorf("malformed JSON: %d %s, want 400", r.Status, r.Body)
	}

	// Missing objects are kept; ?prune=true deletes them, shown in the plan.
	var plan importAnswer
	onlyLeads := with(func(d map[string]any) {
		d["collections"] = d["collections"].([]any)[1:]
		d["automations"] = d["automations"].([]any)[:2]
	})
	a.Must(t, 200, "POST", "/api/v1/import?dryRun=true", onlyLeads, &plan)
	if d := cmp.Diff(map[string]string{"collection leads": "unchanged", "automation Due reminder": "unchanged", "automation Notify CRM": "unchanged"}, actions(plan.Plan)); d != "" {
		t.Errorf("without prune (-want +got):\n%s", d)
	}
	a.Must(t, 200, "POST", "/api/v1/import?dryRun=true&prune=true", onlyLeads, &plan)
	if d := cmp.Diff(map[string]string{"collection leads": "unchanged", "automation Due reminder": "unchanged", "automation Notify CRM": "unchanged",
		"automation Welcome contact": "delete", "collection contacts": "delete"}, actions(plan.Plan)); d != "" {
		t.Errorf("with prune (-want +got):\n%s", d)
	}
	// A collection with records is never pruned.
	var rec struct{ ID string }
	a.Must(t, 201, "POST", "/api/v1/collections/contacts/records", `{"fields":{"email":"ada@example.com"}}`, &rec)
	refused("pruning a collection with records", onlyLeads, "?prune=true", "collections", `collection "contacts" is not in the file, and prune would delete it with its records`)
	a.Must(t, 204, "DELETE", "/api/v1/collections/contacts/records/"+rec.ID, nil, nil)
	a.Must(t, 200, "POST", "/api/v1/import?prune=true", onlyLeads, &plan)
	a.Must(t, 404, "GET", "/api/v1/collections/contacts", nil, nil)
	var autos struct{ Items []struct{ Name string } }
	a.Must(t, 200, "GET", "/api/v1/automations", nil, &autos)
	if len(autos.Items) != 2 {
		t.Errorf("after pruning: %+v", autos.Items)
	}

	// A field type change that stored values do not fit is refused; one
	// they fit is an update.
	a.Must(t, 201, "POST", "/api/v1/collections/leads/records", `{"fields":{"name":"Ada","value":12345678901234567891}}`, &rec)
	refused("a type change records do not fit", with(func(d map[string]any) {
		d["collections"].([]any)[1].(map[string]any)["fields"].([]any)[1].(map[string]any)["type"] = "boolean"
	}), "", "collections[1].fields[1].type", `field "value" cannot change from number to boolean: 1 record(s)`)
	a.Must(t, 200, "POST", "/api/v1/import?dryRun=true", with(func(d map[string]any) {
		d["collections"] = d["collections"].([]any)[1:]
		d["automations"] = []any{}
		d["collections"].([]any)[0].(map[string]any)["fields"].([]any)[1].(map[string]any)["type"] = "json"
	}), &plan)
	if d := cmp.Diff([]planItem{{Kind: "collection", Name: "leads", Action: "update", Changes: []string{"fields[1].type"}}}, plan.Plan); d != "" {
		t.Errorf("a type change the values fit (-want +got):\n%s", d)
	}

	// Two automations of one name in the organisation: which is meant?
	a.Must(t, 201, "POST", "/api/v1/automations", `{"name":"Due reminder","collection":"leads","trigger":{"type":"manual"},
		"steps":[{"type":"update_record","set":[{"field":"name","value":"x"}]}]}`, nil)
	refused("an ambiguous name", onlyLeads, "?dryRun=true", "automations[0].name", `the organisation has 2 automations named "Due reminder"`)
}

// TestImportSigning: an export leaves signing secrets out; importing keeps
// a stored one, and where there is none the automation is saved disabled
// and unsigned, with a warning.
func TestImportSigning(t *testing.T) {
	n := startNode(t)
	a := &n.Client
	recv := servertest.NewReceiver(t, nil)
	a.Must(t, 201, "POST", "/api/v1/collections", `{"key":"leads","fields":[{"key":"name","type":"text"}]}`, nil)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var saved struct{ ID string }
	a.Must(t, 201, "POST", "/api/v1/automations", `{"name":"Signed","collection":"leads","trigger":{"type":"record_added"},
		"steps":[{"type":"call_api","method":"POST","url":"`+recv.URL+`/hook"}],"signing":{"secret":"`+secret+`"}}`, &saved)
	exported := exportOf(t, a)
	if bytes.Contains(exported, []byte(secret)) || !bytes.Contains(exported, []byte(`"secret": "[redacted]"`)) {
		t.Fatalf("the export of a signed automation:\n%s", exported)
	}
	// The same organisation: the stored secret is kept, nothing changes.
	var plan importAnswer
	a.Must(t, 200, "POST", "/api/v1/import", string(exported), &plan)
	if d := cmp.Diff(map[string]string{"collection leads": "unchanged", "automation Signed": "unchanged"}, actions(plan.Plan)); d != "" || len(plan.Warnings) != 0 {
		t.Errorf("re-importing (-want +got):\n%s\nwarnings %+v", d, plan.Warnings)
	}
	// Another organisation: no secret to keep.
	b := newOrganisation(t, n, "Other")
	b.Must(t, 200, "POST", "/api/v1/import", string(exported), &plan)
	if len(plan.Warnings) != 1 || plan.Warnings[0].Path != "automations[0].signing.secret" || !strings.Contains(plan.Warnings[0].Message, "saved disabled and unsigned") {
		t.Errorf("warnings %+v", plan.Warnings)
	}
	var autos struct {
		Items []struct {
			Enabled bool
			Signing any
		}
	}
	b.Must(t, 200, "GET", "/api/v1/automations", nil, &autos)
	if len(autos.Items) != 1 || autos.Items[0].Enabled || autos.Items[0].Signing != nil {
		t.Errorf("B's imported automation: %+v, want disabled and unsigned", autos.Items)
	}
	// Importing it again changes nothing (there is still no secret to
	// keep) and warns again.
	plan = importAnswer{}
	b.Must(t, 200, "POST", "/api/v1/import?dryRun=true", string(exported), &plan)
	if d := cmp.Diff([]planItem{{Kind: "collection", Name: "leads", Action: "unchanged", Changes: []string{}},
		{Kind: "automation", Name: "Signed", Action: "unchanged", Changes: []string{}}}, plan.Plan); d != "" || len(plan.Warnings) != 1 {
		t.Errorf("plan until the secret is set (-want +got):\n%s\nwarnings %+v", d, plan.Warnings)
	}
	// A file may carry the secret itself: used, never exported.
	withSecret := strings.Replace(string(exported), `"secret": "[redacted]"`, `"secret": "`+secret+`"`, 1)
	b.Must(t, 200, "POST", "/api/v1/import", withSecret, &plan)
	if got := exportOf(t, b); !bytes.Equal(got, exported) {
		t.Errorf("B after importing the secret:\n%s", lineDiff(string(exported), string(got)))
	}
	a.Must(t, 200, "POST", "/api/v1/import?dryRun=true", strings.Replace(withSecret, secret, "whsec_"+strings.Repeat("A", 32), 1), &plan)
	if d := cmp.Diff(planItem{Kind: "automation", Name: "Signed", Action: "update", Changes: []string{"signing.secret"}}, plan.Plan[1]); d != "" {
		t.Errorf("another secret in the file (-want +got):\n%s", d)
	}
	// B's requests are signed with it.
	b.Must(t, 201, "POST", "/api/v1/collections/leads/records", `{"fields":{"name":"Ada"}}`, nil)
	if got := recv.Next(t); got.Header.Get("Webhook-Signature") == "" {
		t.Errorf("B's request is not signed: %v", got.Header)
	}
}

// TestVersionsAndRestore: every save is a version with who saved it;
// restoring version 1 after two edits is version 4 with version 1's
// document; a run in flight keeps the version it started with.
func TestVersionsAndRestore(t *testing.T) {
	eachDB(t, func(t *testing.T, db func(*server.Config)) {
		n := startNode(t, db)
		held := make(chan struct{})
		recv := servertest.NewReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/three") {
				select {
				case <-held:
				case <-time.After(20 * time.Second):
				}
			}
			w.WriteHeader(http.StatusNoContent)
		})
		var key struct{ Key, ID string }
		n.must(201, "POST", "/api/v1/api-keys", `{"name":"ci"}`, &key)
		ci := n.As(key.Key)
		ci.Must(t, 201, "POST", "/api/v1/collections", `{"key":"leads","fields":[{"key":"name","type":"text"}]}`, nil)
		doc := func(path string) string {
			return `{"name":"Push","collection":"leads","trigger":{"type":"manual"},"steps":[{"id":"push","type":"call_api","method":"POST","url":"` + recv.URL + path + `"}]}`
		}
		var a struct {
			ID      string
			Version int64
		}
		ci.Must(t, 201, "POST", "/api/v1/automations", doc("/one"), &a)
		n.must(200, "PUT", "/api/v1/automations/"+a.ID, doc("/two"), nil)
		ci.Must(t, 200, "PUT", "/api/v1/automations/"+a.ID, doc("/three"), nil)
		var rec struct{ ID string }
		ci.Must(t, 201, "POST", "/api/v1/collections/leads/records", `{"fields":{"name":"Ada"}}`, &rec)
		var run struct {
			ID                string
			AutomationVersion int64
		}
		ci.Must(t, 202, "POST", "/api/v1/automations/"+a.ID+"/runs", `{"recordId":"`+rec.ID+`"}`, &run)
		if got := recv.Next(t); got.URL.Path != "/three" {
			t.Fatalf("the run's request went to %s", got.URL.Path)
		}
		// The run is in flight, at version 3: restore version 1.
		var restored struct {
			ID       string
			Version  int64
			Warnings []any
		}
		ci.Must(t, 200, "POST", "/api/v1/automations/"+a.ID+"/versions/1/restore", nil, &restored)
		if restored.ID != a.ID || restored.Version != 4 || restored.Warnings == nil {
			t.Errorf("restore answered %+v, want version 4", restored)
		}
		type version struct {
			Version      int64
			SavedAt      time.Time
			SavedBy      *struct{ Type, ID, Name string }
			RestoredFrom int64
			Document     json.RawMessage
		}
		var list struct {
			Items      []version
			NextCursor string
		}
		n.must(200, "GET", "/api/v1/automations/"+a.ID+"/versions", nil, &list)
		var got []int64
		for _, v := range list.Items {
			got = append(got, v.Version)
		}
		if !slices.Equal(got, []int64{4, 3, 2, 1}) {
			t.Fatalf("versions %v, want 4 3 2 1", got)
		}
		if v := list.Items[0]; v.RestoredFrom != 1 || v.SavedBy == nil || *v.SavedBy != (struct{ Type, ID, Name string }{"api_key", key.ID, "ci"}) || v.SavedAt.IsZero() {
			t.Errorf("version 4: %+v %+v", v, v.SavedBy)
		}
		if v := list.Items[2]; v.SavedBy == nil || v.SavedBy.Type != "api_key" || v.SavedBy.Name != "instance admin" || v.RestoredFrom != 0 {
			t.Errorf("version 2 saved by %+v", v.SavedBy)
		}
		// Version 4's document is version 1's (ids and times aside).
		var v1, v4 version
		n.must(200, "GET", "/api/v1/automations/"+a.ID+"/versions/1", nil, &v1)
		n.must(200, "GET", "/api/v1/automations/"+a.ID+"/versions/4", nil, &v4)
		if d := cmp.Diff(configFields(t, v1.Document), configFields(t, v4.Document)); d != "" {
			t.Errorf("version 4 is not version 1 (-1 +4):\n%s", d)
		}
		if !strings.Contains(string(v4.Document), recv.URL+"/one") {
			t.Errorf("version 4: %s", v4.Document)
		}
		// Pages of three.
		var page1, page2 struct {
			Items      []version
			NextCursor string
		}
		n.must(200, "GET", "/api/v1/automations/"+a.ID+"/versions?limit=3", nil, &page1)
		if len(page1.Items) != 3 || page1.NextCursor == "" {
			t.Fatalf("first page: %d items, cursor %q", len(page1.Items), page1.NextCursor)
		}
		n.must(200, "GET", "/api/v1/automations/"+a.ID+"/versions?limit=3&cursor="+page1.NextCursor, nil, &page2)
		if len(page2.Items) != 1 || page2.Items[0].Version != 1 || page2.Items[0].RestoredFrom != 0 || page2.NextCursor != "" {
			t.Errorf("second page: %+v", page2)
		}
		// The run in flight finishes on version 3; a new run uses version 4.
		close(held)
		finished := n.waitRun(run.ID, "succeeded")
		if finished["automationVersion"] != float64(3) {
			t.Errorf("the run in flight finished as version %v, want 3", finished["automationVersion"])
		}
		ci.Must(t, 202, "POST", "/api/v1/automations/"+a.ID+"/runs", `{"recordId":"`+rec.ID+`"}`, &run)
		if got := recv.Next(t); got.URL.Path != "/one" {
			t.Errorf("a run after the restore went to %s, want /one", got.URL.Path)
		}
		if run.AutomationVersion != 4 {
			t.Errorf("a run after the restore is version %d", run.AutomationVersion)
		}
		// Not found: an unknown version, a version that cannot be, an
		// unknown automation.
		for _, p := range []string{"/versions/9", "/versions/0", "/versions/x", "/versions/9/restore"} {
			method := "GET"
			if strings.HasSuffix(p, "restore") {
				method = "POST"
			}
			if r := n.Do(t, method, "/api/v1/automations/"+a.ID+p, nil); r.Status != 404 {
				t.Errorf("%s %s: %d %s", method, p, r.Status, r.Body)
			}
		}
		n.must(404, "GET", "/api/v1/automations/aut_nope/versions", nil, nil)
		// A version that no longer fits its collection is refused by name.
		n.must(200, "PUT", "/api/v1/automations/"+a.ID, `{"name":"Push","collection":"leads","trigger":{"type":"manual"},"steps":[{"type":"update_record","set":[{"field":"name","value":"x"}]}]}`, nil)
		n.must(200, "PUT", "/api/v1/collections/leads", `{"fields":[{"key":"title","type":"text"}]}`, nil)
		r := n.Do(t, "POST", "/api/v1/automations/"+a.ID+"/versions/5/restore", nil)
		if r.Status != 422 || !strings.Contains(string(r.Body), `"path":"steps[0].set[0].field"`) {
			t.Errorf("restoring a version that no longer fits: %d %s", r.Status, r.Body)
		}
	})
}

// configFields drops what the server sets from a version's document.
func configFields(t *testing.T, doc json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "version", "createdAt", "updatedAt"} {
		delete(m, k)
	}
	return m
}

// lineDiff shows the lines of b that a does not have, and the other way.
func lineDiff(a, b string) string {
	return cmp.Diff(strings.Split(a, "\n"), strings.Split(b, "\n"))
}
