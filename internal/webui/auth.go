package webui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/throttle"
)

// loginCookie holds the token the sign-in form must echo (double submit):
// without a session there is no session token, and sign-in must not be
// forgeable either (login CSRF).
const loginCookie = "autohook_login"

// Cookies are SameSite=Lax rather than Strict: Lax keeps someone signed in
// when they follow a link to a run from a chat message or an e-mail (a
// top-level GET), while browsers still never send the cookie with a
// cross-site POST; every state change is a POST that also carries the CSRF
// token. Strict would break nothing here but make those links land on the
// sign-in page.
func cookie(r *http.Request, name, value, path string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: isTLS(r), SameSite: http.SameSiteLaxMode}
	if expires.IsZero() {
		c.MaxAge = -1
	} else {
		c.Expires = expires.UTC()
		c.MaxAge = int(time.Until(expires).Seconds())
	}
	return c
}

type loginData struct {
	Login, Next, Error, Token string
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if _, err := u.svc.Session(r.Context(), c.Value); err == nil {
			redirect(w, r, nextOf(r.URL.Query().Get("next")))
			return
		}
	}
	u.showLogin(w, r, http.StatusOK, loginData{Next: r.URL.Query().Get("next"), Login: r.URL.Query().Get("login")})
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	d.Token = base64.RawURLEncoding.EncodeToString(b)
	if d.Login == "" {
		d.Login = autohook.AdminLogin
	}
	if !safeNext(d.Next) {
		d.Next = ""
	}
	http.SetCookie(w, cookie(r, loginCookie, d.Token, "/login", time.Now().Add(time.Hour)))
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, status, "login", &page{Title: "Sign in", Data: d})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	login, password, next := r.PostFormValue("login"), r.PostFormValue("password"), r.PostFormValue("next")
	c, err := r.Cookie(loginCookie)
	token := r.PostFormValue("csrf")
	if err != nil || token == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(token)) != 1 {
		w.Header().Set("Cache-Control", "no-store")
		u.showLogin(w, r, http.StatusForbidden, loginData{Login: login, Next: next, Error: "The sign-in form expired. Please try again."})
		return
	}
	end, wait := u.failures.Begin(r.Context(), throttle.ClientKey(r, u.proxies))
	if end == nil {
		w.Header().Set("Retry-After", throttle.RetryAfter(wait))
		u.showLogin(w, r, http.StatusTooManyRequests, loginData{Login: login, Next: next,
			Error: "Too many failed sign-ins from your address. Please wait " + throttle.RetryAfter(wait) + " seconds and try again."})
		return
	}
	id, sess, err := u.svc.SignIn(r.Context(), login, password)
	end(errors.Is(err, autohook.ErrUnauthorized))
	if errors.Is(err, autohook.ErrUnauthorized) {
		u.showLogin(w, r, http.StatusUnauthorized, loginData{Login: login, Next: next, Error: "The login or password is not right."})
		return
	}
	if err != nil {
		u.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, cookie(r, loginCookie, "", "/login", time.Time{}))
	http.SetCookie(w, cookie(r, sessionCookie, id, "/", sess.ExpiresAt))
	redirect(w, r, nextOf(next))
}

// nextOf is where to go after sign-in: next when it is a path on this site.
func nextOf(next string) string {
	if safeNext(next) && next != "/login" {
		return next
	}
	return "/records"
}

// logout ends the session. It needs the CSRF token like every post, so
// another site cannot sign people out.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		redirect(w, r, "/login")
		return
	}
	sess, err := u.svc.Session(r.Context(), c.Value)
	if err != nil {
		http.SetCookie(w, cookie(r, sessionCookie, "", "/", time.Time{}))
		redirect(w, r, "/login")
		return
	}
	if !sess.CheckCSRF(r.PostFormValue("csrf")) {
		u.forbidden(w, r, sess)
		return
	}
	if err := u.svc.SignOut(r.Context(), c.Value); err != nil {
		u.fail(w, r, sess, err)
		return
	}
	http.SetCookie(w, cookie(r, sessionCookie, "", "/", time.Time{}))
	redirect(w, r, "/login")
}
