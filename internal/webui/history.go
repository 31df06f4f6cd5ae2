package webui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/retry"
)

// runsPerPage is the page size of History.
const runsPerPage = 50

type historyData struct {
	A        *automation.Automation
	Coll     *record.Collection // nil when deleted: records are then named by id
	Runs     []*automation.Run
	Status   string
	Statuses []automation.Status
	Older    string
	Newer    string
	Active   bool // some run on the page is still in flight: the page polls
}

// historyPage lists an automation's runs, newest first, filtered by status.
// While a run on it is in flight the page refreshes itself (see app.js).
func (u *UI) historyPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a, err := u.svc.Automation(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := &historyData{A: a, Statuses: automation.Statuses}
	if d.Coll, err = u.svc.Collection(r.Context(), s.OrgID, a.Collection); err != nil && !errors.Is(err, autohook.ErrNotFound) {
		return err
	}
	f := autohook.RunFilter{AutomationID: a.ID}
	for _, st := range automation.Statuses {
		if string(st) == q.Get("status") {
			f.Status, d.Status = st, string(st)
		}
	}
	cursor := q.Get("cursor")
	runs, next, err := u.svc.Runs(r.Context(), s.OrgID, f, autohook.Page{Cursor: cursor, Limit: runsPerPage})
	if errors.Is(err, autohook.ErrBadInput) {
		redirect(w, r, r.URL.Path)
		return nil
	}
	if err != nil {
		return err
	}
	d.Runs = runs
	d.Older, d.Newer = pageLinks(r.URL, cursor, next)
	for _, run := range runs {
		if !run.Status.Finished() {
			d.Active = true
		}
	}
	u.render(w, r, http.StatusOK, "history", &page{Title: "History of " + a.Name, Section: "automations", Session: s, Data: d})
	return nil
}

type runData struct {
	Run       *automation.Run
	Name      string // the automation's, when it still exists
	Exists    bool
	CanRetry  bool
	CanCancel bool
	Coll      *record.Collection          // nil when deleted
	Steps     map[string]autohook.RunStep // the version's steps, by id
	Problem   *automation.AttemptError    // why a failed run failed
	Retryable bool                        // the failure's class is one that retrying can cure
	Current   string                      // the id of the step in flight, when the run is running
}

// Duration is how long the run took (so far).
func (d *runData) Duration() string {
	end := time.Now()
	if d.Run.FinishedAt != nil {
		end = *d.Run.FinishedAt
	}
	return fmtMs(float64(end.Sub(d.Run.CreatedAt).Milliseconds()))
}

// runPage shows one run: each step and each attempt with its request,
// response, error class and duration, and the next attempt when one is
// due; Retry and Cancel when they apply.
func (u *UI) runPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	run, err := u.svc.Run(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	d := &runData{Run: run, Name: run.AutomationName, CanRetry: run.Status.Retryable() || run.Status == automation.StatusRetrying, CanCancel: !run.Status.Finished()}
	if a, err := u.svc.Automation(r.Context(), s.OrgID, run.AutomationID); err == nil {
		d.Name, d.Exists = a.Name, true
	} else if !errors.Is(err, autohook.ErrNotFound) {
		return err
	}
	if d.Name == "" {
		d.Name = run.AutomationID
	}
	if d.Coll, err = u.svc.Collection(r.Context(), s.OrgID, run.Collection); err != nil && !errors.Is(err, autohook.ErrNotFound) {
		return err
	}
	if d.Steps, err = u.svc.RunSteps(r.Context(), s.OrgID, run); err != nil {
		return err
	}
	if i := run.NextStep(); run.Status == automation.StatusRunning && i < len(run.Steps) {
		d.Current = run.Steps[i].ID
	}
	d.Problem = runStatusOf(run).Error
	if d.Problem != nil {
		d.Retryable = retry.Retryable(d.Problem.Class, 500)
	}
	u.render(w, r, http.StatusOK, "run", &page{Title: d.Name + " · run", Section: "automations", Session: s, Data: d})
	return nil
}

// runStatus is what the record menu's script follows after starting a run.
type runStatusJSON struct {
	ID       string                   `json:"id"`
	Status   automation.Status        `json:"status"`
	Finished bool                     `json:"finished"`
	Error    *automation.AttemptError `json:"error,omitempty"`
	URL      string                   `json:"url"`
	Name     string                   `json:"name,omitempty"`
}

func runStatusOf(run *automation.Run) runStatusJSON {
	out := runStatusJSON{ID: run.ID, Status: run.Status, Finished: run.Status.Finished(), Error: run.Error, URL: "/settings/runs/" + url.PathEscape(run.ID), Name: run.AutomationName}
	if out.Error == nil && run.Status == automation.StatusFailed {
		for _, st := range run.Steps {
			if n := len(st.Attempts); n > 0 && st.Attempts[n-1].Error != nil {
				out.Error = st.Attempts[n-1].Error
			}
		}
	}
	return out
}

func (u *UI) runStatus(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	run, err := u.svc.Run(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, runStatusOf(run))
	return nil
}

func (u *UI) retryRun(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.runAction(w, r, s, "Retrying: the run continues from its first step that is not done.", u.svc.RetryRun)
}

func (u *UI) cancelRun(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.runAction(w, r, s, "Run cancelled.", u.svc.CancelRun)
}

func (u *UI) runAction(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, done string, act func(ctx context.Context, orgID, id string) (*automation.Run, error)) error {
	id := r.PathValue("id")
	_, err := act(r.Context(), s.OrgID, id)
	switch {
	case err == nil:
		setFlash(w, r, flash{Kind: "ok", Msg: done})
	case errors.Is(err, autohook.ErrConflict):
		setFlash(w, r, flash{Kind: "error", Msg: conflictMessage(err.Error())})
	default:
		return err
	}
	redirect(w, r, "/settings/runs/"+url.PathEscape(id))
	return nil
}
