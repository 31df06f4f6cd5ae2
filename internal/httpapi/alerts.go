package httpapi

import (
	"net/http"

	"github.com/autohook/autohook/internal/autohook"
)

// Alert channels and the alerts sent (issue 11).

func (a *API) createAlertChannel(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var in struct {
		Name string   `json:"name"`
		Type string   `json:"type"`
		URL  string   `json:"url"`
		To   []string `json:"to"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	c := &autohook.AlertChannel{Name: in.Name, Type: in.Type, URL: in.URL, To: in.To}
	if err := a.svc.CreateAlertChannel(r.Context(), p.OrgID, c); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *API) listAlertChannels(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.AlertChannels(r.Context(), p.OrgID, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) deleteAlertChannel(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	if err := a.svc.DeleteAlertChannel(r.Context(), p.OrgID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) testAlertChannel(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	al, err := a.svc.TestAlertChannel(r.Context(), p.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, al)
	return nil
}

func (a *API) listAlerts(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.Alerts(r.Context(), p.OrgID, pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}
