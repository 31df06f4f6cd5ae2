package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
)

var routes = []route{
	{"POST", "/api/v1/collections", (*API).createCollection},
	{"GET", "/api/v1/collections", (*API).listCollections},
	{"GET", "/api/v1/collections/{key}", (*API).getCollection},
	{"PUT", "/api/v1/collections/{key}", (*API).putCollection},
	{"DELETE", "/api/v1/collections/{key}", (*API).deleteCollection},
	{"POST", "/api/v1/collections/{key}/records", (*API).createRecord},
	{"GET", "/api/v1/collections/{key}/records", (*API).listRecords},
	{"GET", "/api/v1/collections/{key}/records/{id}", (*API).getRecord},
	{"PATCH", "/api/v1/collections/{key}/records/{id}", (*API).patchRecord},
	{"DELETE", "/api/v1/collections/{key}/records/{id}", (*API).deleteRecord},
	{"GET", "/api/v1/collections/{key}/records/{id}/actions", (*API).recordActions},
	{"POST", "/api/v1/automations", (*API).createAutomation},
	{"GET", "/api/v1/automations", (*API).listAutomations},
	{"POST", "/api/v1/automations/test", (*API).testAutomation},
	{"GET", "/api/v1/automations/{id}", (*API).getAutomation},
	{"PUT", "/api/v1/automations/{id}", (*API).putAutomation},
	{"DELETE", "/api/v1/automations/{id}", (*API).deleteAutomation},
	{"POST", "/api/v1/automations/{id}/runs", (*API).startRun},
	{"POST", "/api/v1/automations/{id}/resume", (*API).resumeAutomation},
	{"GET", "/api/v1/automations/{id}/runs", (*API).listAutomationRuns},
	{"GET", "/api/v1/automations/{id}/versions", (*API).listVersions},
	{"GET", "/api/v1/automations/{id}/versions/{n}", (*API).getVersion},
	{"POST", "/api/v1/automations/{id}/versions/{n}/restore", (*API).restoreVersion},
	{"GET", "/api/v1/export", (*API).exportConfig},
	{"POST", "/api/v1/import", (*API).importConfig},
	{"GET", "/api/v1/runs", (*API).listRuns},
	{"GET", "/api/v1/runs/{id}", (*API).getRun},
	{"POST", "/api/v1/runs/retry", (*API).retryRuns},
	{"POST", "/api/v1/runs/{id}/retry", (*API).retryRun},
	{"POST", "/api/v1/runs/{id}/cancel", (*API).cancelRun},
	{"POST", "/api/v1/alert-channels", (*API).createAlertChannel},
	{"GET", "/api/v1/alert-channels", (*API).listAlertChannels},
	{"DELETE", "/api/v1/alert-channels/{id}", (*API).deleteAlertChannel},
	{"POST", "/api/v1/alert-channels/{id}/test", (*API).testAlertChannel},
	{"GET", "/api/v1/alerts", (*API).listAlerts},
	{"PUT", "/api/v1/secrets/{name}", (*API).putSecret},
	{"GET", "/api/v1/secrets", (*API).listSecrets},
	{"DELETE", "/api/v1/secrets/{name}", (*API).deleteSecret},
	{"POST", "/api/v1/api-keys", (*API).createAPIKey},
	{"GET", "/api/v1/api-keys", (*API).listAPIKeys},
	{"DELETE", "/api/v1/api-keys/{id}", (*API).deleteAPIKey},
	{"POST", "/api/v1/organisations", (*API).createOrganisation},
	{"GET", "/api/v1/organisations", (*API).listOrganisations},
	{"POST", "/api/v1/invitations", (*API).createInvitation},
	{"GET", "/api/v1/users", (*API).listUsers},
	{"PATCH", "/api/v1/users/{id}", (*API).patchUser},
	{"DELETE", "/api/v1/users/{id}", (*API).deleteUser},
	{"GET", "/api/v1/audit", (*API).listAudit},
}

func (a *API) createCollection(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in autohook.CollectionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c := in.Collection("")
	if err := a.svc.CreateCollection(r.Context(), p.OrgID, c); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *API) listCollections(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.Collections(r.Context(), p.OrgID, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) getCollection(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	c, err := a.svc.Collection(r.Context(), p.OrgID, r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) putCollection(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in autohook.CollectionInput
	if err := decode(r, &in); err != nil {
		return err
	}
	key := r.PathValue("key")
	if in.Key != "" && in.Key != key {
		return problem.New("key", "a collection's key cannot change (the URL says %q)", key)
	}
	c := in.Collection(key) // the URL's
	if err := a.svc.UpdateCollection(r.Context(), p.OrgID, c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) deleteCollection(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	if err := a.svc.DeleteCollection(r.Context(), p.OrgID, r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createRecord(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in autohook.RecordInput
	if err := decode(r, &in); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	in.IdempotencyKey = key
	rec, err := a.svc.CreateRecord(r.Context(), p.OrgID, r.PathValue("key"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rec)
	return nil
}

func (a *API) listRecords(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.Records(r.Context(), p.OrgID, r.PathValue("key"), autohook.RecordFilter{Stage: r.URL.Query().Get("stage")}, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) getRecord(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	rec, err := a.svc.Record(r.Context(), p.OrgID, r.PathValue("key"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (a *API) patchRecord(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in autohook.RecordInput
	if err := decode(r, &in); err != nil {
		return err
	}
	rec, err := a.svc.UpdateRecord(r.Context(), p.OrgID, r.PathValue("key"), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (a *API) deleteRecord(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	if err := a.svc.DeleteRecord(r.Context(), p.OrgID, r.PathValue("key"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) recordActions(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	items, err := a.svc.RecordActions(r.Context(), p.OrgID, r.PathValue("key"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeList(w, items, "")
	return nil
}

// savedAutomation is a saved document with the warnings of its compile.
type savedAutomation struct {
	*automation.Automation
	Warnings []problem.Problem `json:"warnings"`
}

func readAutomation(r *http.Request) (*automation.Automation, error) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	return automation.Decode(data)
}

func (a *API) createAutomation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	doc, err := readAutomation(r)
	if err != nil {
		return err
	}
	doc.ID = ""
	saved, warnings, err := a.svc.SaveAutomation(r.Context(), p.OrgID, doc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, savedAutomation{saved, nonNil(warnings)})
	return nil
}

func nonNil(ps []problem.Problem) []problem.Problem {
	if ps == nil {
		return []problem.Problem{}
	}
	return ps
}

func (a *API) putAutomation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	doc, err := readAutomation(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if doc.ID != "" && doc.ID != id {
		return problem.New("id", "does not match the URL (%q)", id)
	}
	doc.ID = id
	if _, err := a.svc.Automation(r.Context(), p.OrgID, id); err != nil {
		return err
	}
	saved, warnings, err := a.svc.SaveAutomation(r.Context(), p.OrgID, doc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, savedAutomation{saved, nonNil(warnings)})
	return nil
}

func (a *API) listAutomations(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	f := autohook.AutomationFilter{Collection: r.URL.Query().Get("collection"), TriggerType: r.URL.Query().Get("trigger")}
	if f.TriggerType != "" && !slices.Contains(automation.TriggerTypes, f.TriggerType) {
		return problem.New("trigger", "must be one of %s", strings.Join(automation.TriggerTypes, ", "))
	}
	items, next, err := a.svc.Automations(r.Context(), p.OrgID, f, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) getAutomation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	doc, err := a.svc.Automation(r.Context(), p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

func (a *API) deleteAutomation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	if err := a.svc.DeleteAutomation(r.Context(), p.OrgID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) startRun(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		RecordID string `json:"recordId"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.RecordID == "" {
		return problem.New("recordId", "is required: the record to run the automation on")
	}
	run, err := a.svc.StartRun(r.Context(), p.OrgID, r.PathValue("id"), in.RecordID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

func (a *API) testAutomation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		Automation json.RawMessage `json:"automation"`
		RecordID   string          `json:"recordId"`
		Record     *struct {
			Fields map[string]any `json:"fields"`
			Stage  string         `json:"stage"`
		} `json:"record"`
		Send bool `json:"send"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if len(in.Automation) == 0 {
		return problem.New("automation", "is required: the automation document to test")
	}
	doc, err := automation.Decode(in.Automation)
	if err != nil {
		return problem.Prefix("automation", err)
	}
	ti := autohook.TestInput{Automation: doc, RecordID: in.RecordID, Send: in.Send}
	if in.Record != nil {
		ti.Fields, ti.Stage = in.Record.Fields, in.Record.Stage
	}
	if ti.RecordID == "" && in.Record == nil {
		return problem.New("recordId", "give recordId (a stored record) or record (fields to test with)")
	}
	res, warnings, err := a.svc.TestAutomation(r.Context(), p.OrgID, ti)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, testResponse{res, nonNil(warnings)})
	return nil
}

// testResponse is the answer of POST /automations/test.
type testResponse struct {
	*autohook.TestResult
	Warnings []problem.Problem `json:"warnings"`
}

func runFilter(r *http.Request) (autohook.RunFilter, error) {
	q := r.URL.Query()
	f := autohook.RunFilter{RecordID: q.Get("recordId"), AutomationID: q.Get("automationId"), Status: automation.Status(q.Get("status"))}
	if f.Status != "" && !slices.Contains(automation.Statuses, f.Status) {
		return f, problem.New("status", "must be one of queued, running, retrying, succeeded, failed, cancelled, skipped")
	}
	var err error
	if f.Since, err = queryTime(r, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(r, "until"); err != nil {
		return f, err
	}
	return f, nil
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	f, err := runFilter(r)
	if err != nil {
		return err
	}
	return a.writeRuns(w, r, p, f)
}

func (a *API) listAutomationRuns(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	f, err := runFilter(r)
	if err != nil {
		return err
	}
	f.AutomationID = r.PathValue("id")
	return a.writeRuns(w, r, p, f)
}

func (a *API) writeRuns(w http.ResponseWriter, r *http.Request, p *autohook.Principal, f autohook.RunFilter) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.Runs(r.Context(), p.OrgID, f, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	run, err := a.svc.Run(r.Context(), p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run)
	return nil
}

func (a *API) retryRun(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	run, err := a.svc.RetryRun(r.Context(), p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

// retryRuns retries the runs a filter matches (bulk recovery), a bounded
// number per call.
func (a *API) retryRuns(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		AutomationID string `json:"automationId"`
		Status       string `json:"status"`
		RecordID     string `json:"recordId"`
		Since        string `json:"since"`
		Until        string `json:"until"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	f := autohook.RunFilter{AutomationID: in.AutomationID, RecordID: in.RecordID, Status: automation.Status(in.Status)}
	var probs problem.List
	for _, t := range []struct {
		name string
		in   string
		out  *time.Time
	}{{"since", in.Since, &f.Since}, {"until", in.Until, &f.Until}} {
		if t.in == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, t.in)
		if err != nil {
			probs.Add(t.name, "must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
		*t.out = v
	}
	if in.Status != "failed" && in.Status != "skipped" {
		probs.Add("status", "is required: failed or skipped (the runs to retry)")
	}
	if err := probs.Err(); err != nil {
		return err
	}
	n, more, err := a.svc.RetryRuns(r.Context(), p.OrgID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"retried": n, "more": more})
	return nil
}

func (a *API) resumeAutomation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	doc, err := a.svc.ResumeAutomation(r.Context(), p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

func (a *API) cancelRun(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	run, err := a.svc.CancelRun(r.Context(), p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run)
	return nil
}

func (a *API) putSecret(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		Value string `json:"value"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := a.svc.PutSecret(r.Context(), p.OrgID, r.PathValue("name"), in.Value); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listSecrets(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	items, err := a.svc.Secrets(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	writeList(w, items, "")
	return nil
}

func (a *API) deleteSecret(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	if err := a.svc.DeleteSecret(r.Context(), p.OrgID, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		Name string        `json:"name"`
		Role autohook.Role `json:"role"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := a.svc.CreateAPIKey(r.Context(), p.OrgID, in.Name, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.APIKeys(r.Context(), p.OrgID, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) deleteAPIKey(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	if err := a.svc.RevokeAPIKey(r.Context(), p.OrgID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createOrganisation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	org, err := a.svc.CreateOrganisation(r.Context(), p, in.Name)
	if err != nil {
		return err
	}
	out := struct {
		*autohook.CreatedOrganisation
		OwnerInvitationURL string `json:"ownerInvitationUrl"`
	}{CreatedOrganisation: org}
	if org.OwnerInvitation != nil {
		out.OwnerInvitationURL = a.invitationURL(r, org.OwnerInvitation.Token)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) listOrganisations(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.Organisations(r.Context(), p, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// maxIdempotencyKey is the longest Idempotency-Key accepted (a UUID is 36).
const maxIdempotencyKey = 255

// idempotencyKey returns the request's Idempotency-Key header ("" for
// none): printable ASCII without spaces, at most maxIdempotencyKey bytes.
func idempotencyKey(r *http.Request) (string, error) {
	vs := r.Header.Values("Idempotency-Key")
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1:
		return "", problem.New("Idempotency-Key", "give one header, not %d", len(vs))
	}
	k := vs[0]
	if k == "" || len(k) > maxIdempotencyKey {
		return "", problem.New("Idempotency-Key", "must be 1 to %d characters", maxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] <= ' ' || k[i] > '~' {
			return "", problem.New("Idempotency-Key", "must be printable ASCII without spaces (a UUID, say)")
		}
	}
	return k, nil
}

// invitationURL is the web UI's address of an invitation token: under
// Config.PublicURL, else the host the request was sent to.
func (a *API) invitationURL(r *http.Request, token string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return autohook.InvitationURL(a.publicURL, scheme, r.Host, token)
}

func (a *API) createInvitation(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		Email string        `json:"email"`
		Role  autohook.Role `json:"role"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	inv, err := a.svc.CreateInvitation(r.Context(), p.OrgID, in.Email, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		*autohook.Invitation
		URL string `json:"url"`
	}{inv.Invitation, a.invitationURL(r, inv.Token)})
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.Users(r.Context(), p.OrgID, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		Role autohook.Role `json:"role"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.svc.SetUserRole(r.Context(), p.OrgID, r.PathValue("id"), in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	if err := a.svc.RemoveUser(r.Context(), p.OrgID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := autohook.AuditFilter{Action: q.Get("action"), ActorID: q.Get("actorId")}
	if f.Since, err = queryTime(r, "since"); err != nil {
		return err
	}
	if f.Until, err = queryTime(r, "until"); err != nil {
		return err
	}
	items, next, err := a.svc.Audit(r.Context(), p.OrgID, f, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}
