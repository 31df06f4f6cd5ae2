package webui

import (
	"errors"
	"net/http"
	"sort"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
)

type secretsData struct {
	Secrets []autohook.Secret
	Name    string // kept when the form comes back with a problem; never the value
}

// secretsPage lists secret names and times; values are write-only and never
// appear in any page.
func (u *UI) secretsPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.showSecrets(w, r, s, http.StatusOK, nil, "")
}

func (u *UI) showSecrets(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, status int, probs problem.List, name string) error {
	secrets, err := u.svc.Secrets(r.Context(), s.OrgID)
	if err != nil {
		return err
	}
	sort.Slice(secrets, func(i, j int) bool { return secrets[i].Name < secrets[j].Name })
	u.render(w, r, status, "secrets", &page{Title: "Secrets", Section: "secrets", Session: s, Errs: newFieldErrors(probs), Data: &secretsData{Secrets: secrets, Name: name}})
	return nil
}

// putSecret sets or replaces a secret.
func (u *UI) putSecret(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	name, value := r.PostFormValue("name"), r.PostFormValue("value")
	replacing := r.PostFormValue("replace") == "1"
	err := u.svc.PutSecret(r.Context(), s.OrgID, name, value)
	var perr *problem.Error
	switch {
	case err == nil:
		msg := "Secret " + name + " saved. Use it as {secrets." + name + "}."
		if replacing {
			msg = "Secret " + name + " replaced."
		}
		setFlash(w, r, flash{Kind: "ok", Msg: msg})
		redirect(w, r, "/settings/secrets")
		return nil
	case errors.As(err, &perr):
		if replacing {
			setFlash(w, r, flash{Kind: "error", Msg: "Secret " + name + " was not replaced: " + perr.Error()})
			redirect(w, r, "/settings/secrets")
			return nil
		}
		return u.showSecrets(w, r, s, http.StatusUnprocessableEntity, perr.Problems, name)
	}
	return err
}

func (u *UI) deleteSecret(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	name := r.PathValue("name")
	if err := u.svc.DeleteSecret(r.Context(), s.OrgID, name); err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "Secret " + name + " deleted. Automations that use it will fail to render until it is set again."})
	redirect(w, r, "/settings/secrets")
	return nil
}
