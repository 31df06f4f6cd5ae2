// Package webui provides Autohook's web UI: server-rendered pages (sign-in,
// records, automations with their form, test and history, secrets) built
// with html/template from files embedded in the binary, with one small
// hand-written script and one stylesheet. Every page works on the
// operations of autohook.Service, scoped by the signed-in user's
// organisation.
package webui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/httperr"
	"github.com/autohook/autohook/internal/throttle"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config wires the UI.
type Config struct {
	Service autohook.Service
	Logger  *slog.Logger
	// SignInFailureBurst is how many failed sign-ins one client address may
	// make at once, then one per SignInFailureEvery (0: the default;
	// negative: no limit).
	SignInFailureBurst int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client for that limit.
	TrustedProxies []netip.Prefix
	// Now is the clock of that limit; nil means time.Now.
	Now func() time.Time
	// PublicURL is where people reach this server, for invitation URLs;
	// "" uses the request's host.
	PublicURL string
}

// Failed sign-ins from one client address: DefaultSignInFailureBurst at
// once, then one every SignInFailureEvery; past that the form answers 429
// without looking at the password, so it cannot be guessed at speed.
const (
	DefaultSignInFailureBurst = 10
	SignInFailureEvery        = 6 * time.Second
)

// UI serves the web pages.
type UI struct {
	svc      autohook.Service
	log      *slog.Logger
	pages    map[string]*template.Template
	failures *throttle.Limiter // failed sign-ins per client address
	proxies  []netip.Prefix
	// publicURL is where people reach the server (invitation URLs).
	publicURL string
}

// New returns the UI. It panics when an embedded template does not parse,
// which a test catches.
func New(cfg Config) *UI {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SignInFailureBurst == 0 {
		cfg.SignInFailureBurst = DefaultSignInFailureBurst
	}
	var failures *throttle.Limiter
	if cfg.SignInFailureBurst > 0 {
		failures = throttle.New(1/SignInFailureEvery.Seconds(), cfg.SignInFailureBurst, cfg.Now)
	}
	// Roles are enforced by the service the UI is given (autohook.MinRole),
	// the same table as the API's; the pages only hide what a role cannot use.
	return &UI{svc: autohook.Authorize(cfg.Service), log: cfg.Logger, pages: parseTemplates(), failures: failures, proxies: cfg.TrustedProxies, publicURL: cfg.PublicURL}
}

// handler is a page or action of a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error

// Register adds the UI's routes to mux.
func (u *UI) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("Cache-Control", "no-cache") // revalidated: the files change with the binary
		files.ServeHTTP(w, r)
	})))
	mux.Handle("GET /login", secure(http.HandlerFunc(u.loginPage)))
	mux.Handle("POST /login", secure(http.HandlerFunc(u.login)))
	mux.Handle("POST /logout", secure(http.HandlerFunc(u.logout)))
	mux.Handle("GET /invitations/{token}", secure(http.HandlerFunc(u.invitationPage)))
	mux.Handle("POST /invitations/{token}", secure(http.HandlerFunc(u.acceptInvitation)))

	routes := []struct {
		pattern string
		h       handler
	}{
		{"GET /{$}", func(w http.ResponseWriter, r *http.Request, _ *autohook.WebSession) error {
			http.Redirect(w, r, "/records", http.StatusSeeOther)
			return nil
		}},
		{"GET /records", u.collectionsPage},
		{"GET /records/{coll}", u.recordsPage},
		{"GET /records/{coll}/new", u.newRecordPage},
		{"POST /records/{coll}/new", u.createRecord},
		{"GET /records/{coll}/{id}", u.recordPage},
		{"POST /records/{coll}/{id}", u.updateRecord},
		{"POST /records/{coll}/{id}/stage", u.changeStage},
		{"POST /records/{coll}/{id}/delete", u.deleteRecord},
		{"POST /records/{coll}/{id}/run", u.runAutomation},

		{"GET /settings", func(w http.ResponseWriter, r *http.Request, _ *autohook.WebSession) error {
			http.Redirect(w, r, "/settings/automations", http.StatusSeeOther)
			return nil
		}},
		{"GET /settings/collections", u.collectionSettings},
		{"GET /settings/collections/new", u.newCollectionPage},
		{"POST /settings/collections/new", u.createCollection},
		{"GET /settings/collections/{key}/edit", u.editCollectionPage},
		{"POST /settings/collections/{key}/edit", u.updateCollection},
		{"POST /settings/collections/{key}/delete", u.deleteCollection},

		{"GET /settings/automations", u.automationsPage},
		{"GET /settings/automations/new", u.newAutomationPage},
		{"POST /settings/automations/new", u.saveAutomation},
		{"POST /settings/automations/test", u.testAutomation},
		{"GET /settings/automations/{id}", u.editAutomationPage},
		{"POST /settings/automations/{id}", u.saveAutomation},
		{"POST /settings/automations/{id}/enabled", u.setEnabled},
		{"POST /settings/automations/{id}/delete", u.deleteAutomation},
		{"POST /settings/automations/{id}/resume", u.resumeAutomation},
		{"GET /settings/automations/{id}/history", u.historyPage},
		{"GET /settings/automations/{id}/versions", u.versionsPage},
		{"GET /settings/automations/{id}/versions/diff", u.versionsDiffPage},
		{"POST /settings/automations/{id}/versions/{n}/restore", u.restoreVersion},

		{"GET /settings/runs/{id}", u.runPage},
		{"GET /settings/runs/{id}/status", u.runStatus},
		{"POST /settings/runs/{id}/retry", u.retryRun},
		{"POST /settings/runs/{id}/cancel", u.cancelRun},

		{"GET /runs", u.runsPage},
		{"POST /runs/retry", u.bulkRetry},
		{"GET /settings/alerts", u.alertsPage},
		{"POST /settings/alerts", u.createAlertChannel},
		{"POST /settings/alerts/{id}/delete", u.deleteAlertChannel},
		{"POST /settings/alerts/{id}/test", u.testAlertChannel},
		{"GET /settings/secrets", u.secretsPage},
		{"POST /settings/secrets", u.putSecret},
		{"POST /settings/secrets/{name}/delete", u.deleteSecret},

		{"GET /settings/people", u.peoplePage},
		{"POST /settings/people/invite", u.invite},
		{"POST /settings/people/{id}/role", u.setRole},
		{"POST /settings/people/{id}/remove", u.removeUser},
		{"GET /settings/audit", u.auditPage},
		{"GET /settings/account", u.accountPage},
		{"POST /settings/account/password", u.changePassword},
		{"POST /settings/account/sign-out-everywhere", u.signOutEverywhere},

		{"GET /settings/config", u.configPage},
		{"GET /settings/config/export", u.exportDownload},
		{"POST /settings/config/plan", u.planImport},
		{"POST /settings/config/apply", u.applyImport},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, secure(u.signedIn(rt.h)))
		if strings.HasPrefix(rt.pattern, "GET ") && !strings.HasSuffix(rt.pattern, "{$}") {
			// "/records/leads/" is "/records/leads": a trailing slash typed
			// or pasted leads to the page, not to a 404.
			mux.Handle(rt.pattern+"/{$}", secure(http.HandlerFunc(dropSlash)))
		}
	}
}

// dropSlash redirects a page's path with a trailing slash to the path
// without it, keeping the query.
func dropSlash(w http.ResponseWriter, r *http.Request) {
	u := *r.URL
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
}

// csp allows only the UI's own script and stylesheet: no inline script or
// style, no framing, forms only to the UI itself.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// secure sets the security headers of every UI response and refuses
// cross-origin state changes that browsers identify (Sec-Fetch-Site,
// Origin), on top of the CSRF tokens.
func secure(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	guarded := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		guarded.ServeHTTP(w, r)
	})
}

// sessionCookie holds the session id; the store keeps only its hash.
const sessionCookie = "autohook_session"

// maxForm bounds a form post.
const maxForm = 1 << 20

// signedIn runs h for a signed-in user. Without a session a page redirects
// to sign-in (and back after it); a script's request gets 401. A POST must
// carry the session's CSRF token, in the csrf form field or the
// X-CSRF-Token header.
func (u *UI) signedIn(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess *autohook.WebSession
		if c, err := r.Cookie(sessionCookie); err == nil {
			s, err := u.svc.Session(r.Context(), c.Value)
			switch {
			case err == nil:
				sess = s
			case !errors.Is(err, autohook.ErrUnauthorized):
				u.fail(w, r, nil, err)
				return
			}
		}
		if sess == nil {
			if wantsJSON(r) {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "your session has ended; sign in again", "login": "/login"})
				return
			}
			next := r.URL.RequestURI()
			if r.Method != http.MethodGet {
				next = r.Header.Get("Referer")
				if ref, err := url.Parse(next); err == nil {
					next = ref.RequestURI()
				}
			}
			target := "/login"
			if safeNext(next) && next != "/" {
				target += "?next=" + url.QueryEscape(next)
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			token := r.Header.Get("X-CSRF-Token")
			if token == "" {
				token = r.PostFormValue("csrf")
			}
			if !sess.CheckCSRF(token) {
				u.forbidden(w, r, sess)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store") // pages carry the CSRF token and the organisation's data
		r = r.WithContext(autohook.WithActor(r.Context(), sess.Actor()))
		if err := h(w, r, sess); err != nil {
			u.fail(w, r, sess, err)
		}
	})
}

// forbidden answers a POST without a valid CSRF token.
func (u *UI) forbidden(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) {
	msg := "This form has expired or came from another site. Go back, reload the page and try again."
	if wantsJSON(r) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": msg})
		return
	}
	u.errorPage(w, r, s, http.StatusForbidden, "Not allowed", msg)
}

// safeNext reports whether next is a path on this site, so that sign-in
// cannot be used to send people elsewhere. Browsers read more into a
// Location than net/url does: they drop tabs and line breaks anywhere
// ("/\t/evil.example" is "//evil.example", another host) and take "\" for
// "/"; a proxy or a second redirect may decode "%2F" or "%09" once more.
// So next must be a plain path: no control, format or (but for the plain
// space) white-space characters and
// no backslash, in the text as given and in every percent-decoded form of
// it, none of which may start with "//".
func safeNext(next string) bool {
	for range 4 { // "%25252F" is three decodings from "/"; a fourth must change nothing
		if !localPath(next) {
			return false
		}
		dec, err := url.PathUnescape(next)
		if err != nil {
			return false
		}
		if dec == next {
			return true
		}
		next = dec
	}
	return false
}

// localPath reports whether s, read by a browser, is a path of this origin.
func localPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == '\\' || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) && r != ' ' || r == utf8.RuneError {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.Opaque == "" && u.User == nil
}

// wantsJSON reports whether the request comes from the UI's script, which
// asks for JSON.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// fail answers an error of a handler with the error table (httperr) in the
// UI's presentation: a page, or JSON for the UI's script.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, err error) {
	rep := httperr.Of(err)
	switch rep.Status {
	case httperr.StatusClientClosed:
		return
	case http.StatusServiceUnavailable:
		u.log.WarnContext(r.Context(), "ui request: database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	case http.StatusInternalServerError:
		u.log.ErrorContext(r.Context(), "ui request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	u.answer(w, r, s, rep)
}

// Panicked answers a request whose handler panicked (the caller has logged
// it): the 500 page, or JSON for the UI's script.
func (u *UI) Panicked(w http.ResponseWriter, r *http.Request) {
	u.answer(w, r, nil, httperr.Internal)
}

// answer presents rep: the UI's own words for each code of the table.
func (u *UI) answer(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, rep httperr.Reply) {
	title, msg := "Something went wrong", "Something went wrong on our side; the server log has the details."
	switch rep.Code {
	case httperr.CodeValidationFailed:
		title, msg = "Not saved", rep.Message
	case httperr.CodeTooLarge:
		title, msg = "Too large", fmt.Sprintf("The form is larger than %d bytes.", rep.Limit)
	case httperr.CodeNotFound:
		title, msg = "Not found", "This page does not exist, or what it showed has been deleted."
	case httperr.CodeConflict:
		title, msg = "Cannot do that now", conflictMessage(rep.Message)
	case httperr.CodeBadRequest:
		title, msg = "Bad request", rep.Message
	case httperr.CodeUnauthorized:
		title, msg = "Not signed in", "Your session has ended. Sign in again."
	case httperr.CodeForbidden:
		title, msg = "Not allowed", sentence(rep.Message)
	case httperr.CodeRateLimited:
		title, msg = "Too many requests", sentence(rep.Message)
	case httperr.CodeUnavailable:
		title = "Database unavailable"
		msg = "Autohook cannot use its database right now, so nothing was saved. It recovers by itself when the database is back: try again in a few seconds."
	}
	if rep.RetryAfter > 0 {
		w.Header().Set("Retry-After", throttle.RetryAfter(rep.RetryAfter))
	}
	if wantsJSON(r) {
		writeJSON(w, rep.Status, map[string]string{"error": msg})
		return
	}
	u.errorPage(w, r, s, rep.Status, title, msg)
}

// conflictMessage turns "conflict: the run is already failed" into "The run
// is already failed."
func conflictMessage(msg string) string {
	msg = strings.TrimPrefix(msg, autohook.ErrConflict.Error()+": ")
	if msg == "" {
		return "Someone changed this meanwhile."
	}
	return sentence(msg)
}

// sentence turns a message in the API's words into a sentence: capital
// first letter, final stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

func (u *UI) errorPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, status int, title, msg string) {
	u.render(w, r, status, "error", &page{Title: title, Session: s, Data: msg})
}

// page is what every template receives.
type page struct {
	Title   string
	Section string // the navigation entry to highlight
	Session *autohook.WebSession
	Flash   *flash
	Errs    *fieldErrors // validation problems to show beside their inputs
	Data    any
}

// CSRF is the token forms carry.
func (p *page) CSRF() string {
	if p.Session == nil {
		return ""
	}
	return p.Session.CSRF
}

// render executes a page template into a buffer first, so that an error
// never leaves half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	if p.Flash == nil {
		p.Flash = takeFlash(w, r)
	}
	var buf bytes.Buffer
	if p.Errs == nil {
		p.Errs = &fieldErrors{}
	}
	if p.Errs.recording {
		// first pass: learn where the page can show messages
		if err := u.execute(&buf, name, "layout", p); err != nil {
			u.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		}
		p.Errs.place()
		buf.Reset()
	}
	if err := u.execute(&buf, name, "layout", p); err != nil {
		u.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, "the page could not be shown; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (u *UI) execute(buf *bytes.Buffer, name, tmpl string, data any) error {
	t, ok := u.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	return t.ExecuteTemplate(buf, tmpl, data)
}
