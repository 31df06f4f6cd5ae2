package webui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
)

// Can reports whether the signed-in person's role may call the operation
// op of autohook.Service: the pages hide what the role cannot use, by the
// same table (autohook.MinRole) that the service enforces.
func (p *page) Can(op string) bool {
	if p.Session == nil {
		return false
	}
	return autohook.Allowed(autohook.WithActor(context.Background(), p.Session.Actor()), op) == nil
}

type peopleData struct {
	Users []*autohook.User
	Roles []autohook.Role
	Me    string
	// the invitation just created, with its URL: shown once
	Invited *autohook.CreatedInvitation
	URL     string
	Email   string
	Role    autohook.Role
}

func (u *UI) peoplePage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.showPeople(w, r, s, http.StatusOK, &peopleData{Role: autohook.RoleEditor}, nil)
}

func (u *UI) showPeople(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, status int, d *peopleData, probs problem.List) error {
	users, _, err := u.svc.Users(r.Context(), s.OrgID, autohook.Page{Limit: 500})
	if err != nil {
		return err
	}
	d.Users, d.Roles, d.Me = users, autohook.Roles, s.User.ID
	u.render(w, r, status, "people", &page{Title: "People", Section: "people", Session: s, Errs: newFieldErrors(probs), Data: d})
	return nil
}

// invitationURL is the address of an invitation's page.
func (u *UI) invitationURL(r *http.Request, token string) string {
	scheme := "http"
	if isTLS(r) {
		scheme = "https"
	}
	return autohook.InvitationURL(u.publicURL, scheme, r.Host, token)
}

// invite creates an invitation and shows its URL once, on this answer
// (not through a redirect: the URL is a credential).
func (u *UI) invite(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	email, role := r.PostFormValue("email"), autohook.Role(r.PostFormValue("role"))
	inv, err := u.svc.CreateInvitation(r.Context(), s.OrgID, email, role)
	var perr *problem.Error
	if errors.As(err, &perr) {
		return u.showPeople(w, r, s, http.StatusUnprocessableEntity, &peopleData{Email: email, Role: role}, perr.Problems)
	}
	if err != nil {
		return err
	}
	return u.showPeople(w, r, s, http.StatusOK, &peopleData{Invited: inv, URL: u.invitationURL(r, inv.Token), Role: autohook.RoleEditor}, nil)
}

func (u *UI) setRole(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	usr, err := u.svc.SetUserRole(r.Context(), s.OrgID, r.PathValue("id"), autohook.Role(r.PostFormValue("role")))
	if err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: usr.Email + " is now " + string(usr.Role) + "."})
	redirect(w, r, "/settings/people")
	return nil
}

func (u *UI) removeUser(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	if err := u.svc.RemoveUser(r.Context(), s.OrgID, r.PathValue("id")); err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "Removed. Their sessions have ended."})
	redirect(w, r, "/settings/people")
	return nil
}

type auditData struct {
	Entries        []*autohook.AuditEntry
	Action, Actor  string
	Next, ThisPage string
}

// auditPage lists the audit log, newest first, filtered by action and
// actor.
func (u *UI) auditPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	q := r.URL.Query()
	d := &auditData{Action: q.Get("action"), Actor: q.Get("actor")}
	es, next, err := u.svc.Audit(r.Context(), s.OrgID, autohook.AuditFilter{Action: d.Action, ActorID: d.Actor}, autohook.Page{Limit: 100, Cursor: q.Get("cursor")})
	if err != nil {
		return err
	}
	d.Entries = es
	if next != "" {
		v := url.Values{"cursor": {next}}
		if d.Action != "" {
			v.Set("action", d.Action)
		}
		if d.Actor != "" {
			v.Set("actor", d.Actor)
		}
		d.Next = "/settings/audit?" + v.Encode()
	}
	u.render(w, r, http.StatusOK, "audit", &page{Title: "Audit log", Section: "audit", Session: s, Data: d})
	return nil
}

type accountData struct {
	TTL string
}

func (u *UI) accountPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.showAccount(w, r, s, http.StatusOK, nil)
}

func (u *UI) showAccount(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, status int, probs problem.List) error {
	u.render(w, r, status, "account", &page{Title: "Your account", Section: "account", Session: s, Errs: newFieldErrors(probs),
		Data: &accountData{TTL: ago(s.ExpiresAt)}})
	return nil
}

// changePassword changes the signed-in person's password; their other
// sessions end, this one stays.
func (u *UI) changePassword(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	c, _ := r.Cookie(sessionCookie)
	keep := ""
	if c != nil {
		keep = c.Value
	}
	if r.PostFormValue("password") != r.PostFormValue("confirm") {
		return u.showAccount(w, r, s, http.StatusUnprocessableEntity, problem.List{{Path: "confirm", Message: "is not the same as the new password"}})
	}
	err := u.svc.ChangePassword(r.Context(), s.OrgID, r.PostFormValue("current"), r.PostFormValue("password"), keep)
	var perr *problem.Error
	if errors.As(err, &perr) {
		return u.showAccount(w, r, s, http.StatusUnprocessableEntity, perr.Problems)
	}
	if err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "Password changed. You were signed out everywhere else."})
	redirect(w, r, "/settings/account")
	return nil
}

// signOutEverywhere ends every session of the signed-in person, this one
// too.
func (u *UI) signOutEverywhere(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	if err := u.svc.SignOutEverywhere(r.Context(), s.OrgID); err != nil {
		return err
	}
	http.SetCookie(w, cookie(r, sessionCookie, "", "/", time.Time{}))
	redirect(w, r, "/login")
	return nil
}

// invitationCookie holds the token the invitation form must echo (double
// submit, as the sign-in form: there is no session yet).
const invitationCookie = "autohook_invitation"

type invitationData struct {
	Invitation *autohook.Invitation
	Path       string
	Token      string // the form's CSRF token
	Email      string
	Name       string
}

func (u *UI) invitationPage(w http.ResponseWriter, r *http.Request) {
	inv, err := u.svc.Invitation(r.Context(), r.PathValue("token"))
	if err != nil {
		u.badInvitation(w, r, err)
		return
	}
	u.showInvitation(w, r, http.StatusOK, &invitationData{Invitation: inv}, nil)
}

func (u *UI) badInvitation(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, autohook.ErrNotFound) {
		w.Header().Set("Cache-Control", "no-store")
		u.errorPage(w, r, nil, http.StatusNotFound, "Invitation not valid",
			"This invitation has been used, has expired or does not exist. Ask the person who invited you for a new one.")
		return
	}
	u.fail(w, r, nil, err)
}

func (u *UI) showInvitation(w http.ResponseWriter, r *http.Request, status int, d *invitationData, probs problem.List) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	d.Token = base64.RawURLEncoding.EncodeToString(b)
	d.Path = r.URL.Path
	http.SetCookie(w, cookie(r, invitationCookie, d.Token, r.URL.Path, time.Now().Add(time.Hour)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // the path is a credential
	u.render(w, r, status, "invitation", &page{Title: "Join Autohook", Errs: newFieldErrors(probs), Data: d})
}

func (u *UI) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	token := r.PathValue("token")
	inv, err := u.svc.Invitation(r.Context(), token)
	if err != nil {
		u.badInvitation(w, r, err)
		return
	}
	d := &invitationData{Invitation: inv, Email: r.PostFormValue("email"), Name: r.PostFormValue("name")}
	c, cerr := r.Cookie(invitationCookie)
	if form := r.PostFormValue("csrf"); cerr != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		u.showInvitation(w, r, http.StatusForbidden, d, problem.List{{Path: "name", Message: "the form expired: please send it again"}})
		return
	}
	if r.PostFormValue("password") != r.PostFormValue("confirm") {
		u.showInvitation(w, r, http.StatusUnprocessableEntity, d, problem.List{{Path: "confirm", Message: "is not the same as the password"}})
		return
	}
	usr, err := u.svc.AcceptInvitation(r.Context(), token, autohook.Acceptance{Email: d.Email, Name: d.Name, Password: r.PostFormValue("password")})
	var perr *problem.Error
	if errors.As(err, &perr) {
		u.showInvitation(w, r, http.StatusUnprocessableEntity, d, perr.Problems)
		return
	}
	if err != nil {
		u.badInvitation(w, r, err)
		return
	}
	http.SetCookie(w, cookie(r, invitationCookie, "", r.URL.Path, time.Time{}))
	setFlash(w, r, flash{Kind: "ok", Msg: "Welcome, " + usr.Name + ": you are " + string(usr.Role) + ". Sign in with your email and password."})
	redirect(w, r, "/login?login="+url.QueryEscape(usr.Email))
}
