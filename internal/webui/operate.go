package webui

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
)

// Operating failures (issue 11): the Runs page of every automation with a
// bulk retry, Resume, the last 24 hours of each automation, alert channels.

// chartBuckets is how many bars the automations list's 24-hour chart has.
const chartBuckets = 24

// chart draws a run-stats bar chart as inline SVG, server-rendered (no
// script): one bar per bucket, succeeded runs green below failed runs red,
// scaled to the busiest bucket. Only numbers go into it.
func chart(st *autohook.RunStats) template.HTML {
	const w, h, bw = 96, 24, 4
	var b strings.Builder
	title := "no runs in the last 24 hours"
	if st != nil && st.Succeeded+st.Failed > 0 {
		title = fmt.Sprintf("last 24 hours: %d succeeded, %d failed", st.Succeeded, st.Failed)
	}
	fmt.Fprintf(&b, `<svg class="spark" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`, w, h, w, h, title, title)
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" class="spark-base"/>`, h-1, w, h-1)
	if st != nil {
		peak := 1
		for _, bk := range st.Buckets {
			peak = max(peak, bk.Succeeded+bk.Failed)
		}
		for i, bk := range st.Buckets {
			x := i * bw
			okH := (bk.Succeeded*(h-2) + peak - 1) / peak
			failH := (bk.Failed*(h-2) + peak - 1) / peak
			if okH > 0 {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="spark-ok"/>`, x, h-1-okH, bw-1, okH)
			}
			if failH > 0 {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="spark-fail"/>`, x, h-1-okH-failH, bw-1, failH)
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers and fixed text only
}

// resumeAutomation makes a paused automation active again.
func (u *UI) resumeAutomation(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a, err := u.svc.ResumeAutomation(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "“" + a.Name + "” is active again. Runs skipped while it was paused stay skipped: retry them from the Runs page.",
		Link: "/runs?status=skipped&automation=" + url.QueryEscape(a.ID), Label: "Skipped runs"})
	redirect(w, r, backTo(r, "/settings/automations/"+url.PathEscape(a.ID)))
	return nil
}

// runsData is the Runs page: runs of every automation, filtered.
type runsData struct {
	Runs        []*automation.Run
	Automations []*automation.Automation
	Names       map[string]string
	Automation  string // the filter's automation id
	Status      string
	Since       string // datetime-local values
	Until       string
	Statuses    []automation.Status
	Older       string
	Newer       string
	// Retry: the status filter is one a bulk retry takes; Matching counts
	// the runs it would retry (at most the bound, More when beyond).
	Retry    bool
	Matching int
	More     bool
}

const formTime = "2006-01-02T15:04"

// runFilterOf reads the Runs page's filter from its query.
func runFilterOf(q url.Values, d *runsData) autohook.RunFilter {
	f := autohook.RunFilter{AutomationID: q.Get("automation")}
	d.Automation = f.AutomationID
	for _, st := range automation.Statuses {
		if string(st) == q.Get("status") {
			f.Status, d.Status = st, string(st)
		}
	}
	if t, err := time.ParseInLocation(formTime, q.Get("since"), time.UTC); err == nil {
		f.Since, d.Since = t, q.Get("since")
	}
	if t, err := time.ParseInLocation(formTime, q.Get("until"), time.UTC); err == nil {
		f.Until, d.Until = t, q.Get("until")
	}
	return f
}

// runsPage lists the runs of every automation, newest first, with filters
// and, for failed or skipped runs, a bulk retry whose confirmation says
// how many runs it retries.
func (u *UI) runsPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	q := r.URL.Query()
	d := &runsData{Statuses: automation.Statuses, Names: map[string]string{}}
	f := runFilterOf(q, d)
	as, _, err := u.svc.Automations(r.Context(), s.OrgID, autohook.AutomationFilter{}, autohook.Page{Limit: 500})
	if err != nil {
		return err
	}
	d.Automations = as
	for _, a := range as {
		d.Names[a.ID] = a.Name
	}
	cursor := q.Get("cursor")
	runs, next, err := u.svc.Runs(r.Context(), s.OrgID, f, autohook.Page{Cursor: cursor, Limit: runsPerPage})
	if errors.Is(err, autohook.ErrBadInput) || errors.Is(err, autohook.ErrNotFound) {
		redirect(w, r, r.URL.Path)
		return nil
	}
	if err != nil {
		return err
	}
	d.Runs = runs
	d.Older, d.Newer = pageLinks(r.URL, cursor, next)
	if f.Status == automation.StatusFailed || f.Status == automation.StatusSkipped {
		d.Retry = true
		// Count what a bulk retry takes: at most MaxBulkRetry, and whether
		// more match.
		n, err := u.svc.CountRuns(r.Context(), s.OrgID, f, autohook.MaxBulkRetry+1)
		if err != nil {
			return err
		}
		d.Matching, d.More = min(n, autohook.MaxBulkRetry), n > autohook.MaxBulkRetry
	}
	u.render(w, r, http.StatusOK, "runs", &page{Title: "Runs", Section: "runs", Session: s, Data: d})
	return nil
}

// bulkRetry retries the runs the Runs page's filter matches.
func (u *UI) bulkRetry(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	var d runsData
	f := runFilterOf(r.PostForm, &d)
	q := url.Values{"automation": {d.Automation}, "since": {d.Since}, "until": {d.Until}}
	if d.Status != "" {
		q.Set("status", d.Status)
	}
	// the filter only: the form's CSRF token must not go into an address
	// (history, logs, Referer)
	back := "/runs?" + q.Encode()
	n, more, err := u.svc.RetryRuns(r.Context(), s.OrgID, f)
	var perr *problem.Error
	switch {
	case errors.As(err, &perr):
		setFlash(w, r, flash{Kind: "error", Msg: "Not retried: " + perr.Error()})
	case err != nil:
		return err
	case more:
		setFlash(w, r, flash{Kind: "ok", Msg: fmt.Sprintf("Retrying %d runs. More match: retry again for the rest.", n)})
	default:
		setFlash(w, r, flash{Kind: "ok", Msg: fmt.Sprintf("Retrying %d run%s.", n, plural(n))})
	}
	if err == nil {
		q.Del("status")
		back = "/runs?" + q.Encode() // the retried runs are queued now: show them all
	}
	redirect(w, r, back)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// alertsData is the alert channels page.
type alertsData struct {
	Channels []*autohook.AlertChannel
	Alerts   []*autohook.Alert
	Names    map[string]string // channel names by id
}

// alertsPage lists the alert channels, with a form to add one and Send
// test, and the latest alerts with their delivery.
func (u *UI) alertsPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	chs, _, err := u.svc.AlertChannels(r.Context(), s.OrgID, autohook.Page{Limit: 500})
	if errors.Is(err, autohook.ErrForbidden) {
		chs = nil // an editor reads the alerts sent, not the channels (their URLs are credentials)
	} else if err != nil {
		return err
	}
	alerts, _, err := u.svc.Alerts(r.Context(), s.OrgID, autohook.Page{Limit: 50})
	if err != nil {
		return err
	}
	d := &alertsData{Channels: chs, Alerts: alerts, Names: map[string]string{}}
	for _, c := range chs {
		d.Names[c.ID] = c.Name
	}
	u.render(w, r, http.StatusOK, "alerts", &page{Title: "Alerts", Section: "alerts", Session: s, Data: d})
	return nil
}

func (u *UI) createAlertChannel(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	c := &autohook.AlertChannel{Name: r.PostFormValue("name"), Type: r.PostFormValue("type")}
	if c.Type == autohook.ChannelWebhook {
		c.URL = strings.TrimSpace(r.PostFormValue("url"))
	} else {
		for _, a := range strings.FieldsFunc(r.PostFormValue("to"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			c.To = append(c.To, a)
		}
	}
	err := u.svc.CreateAlertChannel(r.Context(), s.OrgID, c)
	var perr *problem.Error
	switch {
	case errors.As(err, &perr):
		setFlash(w, r, flash{Kind: "error", Msg: "Not added: " + perr.Error()})
	case err != nil:
		return err
	default:
		setFlash(w, r, flash{Kind: "ok", Msg: "Channel “" + c.Name + "” added: every alert goes to it. Send it a test to check."})
	}
	redirect(w, r, "/settings/alerts")
	return nil
}

func (u *UI) deleteAlertChannel(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	if err := u.svc.DeleteAlertChannel(r.Context(), s.OrgID, r.PathValue("id")); err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "Channel deleted."})
	redirect(w, r, "/settings/alerts")
	return nil
}

func (u *UI) testAlertChannel(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	if _, err := u.svc.TestAlertChannel(r.Context(), s.OrgID, r.PathValue("id")); err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "Test alert sent: its delivery shows below in a moment."})
	redirect(w, r, "/settings/alerts")
	return nil
}
