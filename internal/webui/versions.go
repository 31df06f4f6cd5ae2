package webui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aymanbagabas/go-udiff/lcs"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
)

// versionsPerPage is the page size of an automation's Versions.
const versionsPerPage = 50

type versionsData struct {
	A        *automation.Automation
	Versions []*autohook.AutomationVersion
	Numbers  []int64 // every version, for the compare form
	From, To int64   // what the compare form proposes
	Older    string
	Newer    string
}

// versionsPage lists an automation's versions, newest first: when, who,
// a restore's origin; Compare any two, Restore one.
func (u *UI) versionsPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a, err := u.svc.Automation(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	cursor := r.URL.Query().Get("cursor")
	vs, next, err := u.svc.AutomationVersions(r.Context(), s.OrgID, a.ID, autohook.Page{Cursor: cursor, Limit: versionsPerPage})
	if errors.Is(err, autohook.ErrBadInput) {
		redirect(w, r, r.URL.Path)
		return nil
	}
	if err != nil {
		return err
	}
	d := &versionsData{A: a, Versions: vs, Numbers: versionNumbers(a.Version), From: max(a.Version-1, 1), To: a.Version}
	d.Older, d.Newer = pageLinks(r.URL, cursor, next)
	u.render(w, r, http.StatusOK, "versions", &page{Title: "Versions of " + a.Name, Section: "automations", Session: s, Data: d})
	return nil
}

// versionNumbers are 1 to current, newest first: every save is a version.
func versionNumbers(current int64) []int64 {
	out := make([]int64, 0, current)
	for n := current; n >= 1; n-- {
		out = append(out, n)
	}
	return out
}

type diffData struct {
	A        *automation.Automation
	From, To *autohook.AutomationVersion
	Rows     []diffRow
	Changes  int // rows that differ
	Numbers  []int64
}

// diffRow is one line of a side-by-side difference. Kind is "same",
// "changed" (both sides, different), "removed" (left only) or "added"
// (right only); a line number of 0 means no line on that side.
type diffRow struct {
	Kind            string
	LeftNo, RightNo int
	Left, Right     string
}

// versionsDiffPage shows two versions side by side: their documents
// (without ids and times), pretty-printed, line against line.
func (u *UI) versionsDiffPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a, err := u.svc.Automation(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	version := func(name string, def int64) (*autohook.AutomationVersion, error) {
		n := def
		if q := r.URL.Query().Get(name); q != "" {
			if n, err = strconv.ParseInt(q, 10, 64); err != nil {
				return nil, fmt.Errorf("%w: %s must be a version number", autohook.ErrBadInput, name)
			}
		}
		return u.svc.AutomationVersion(r.Context(), s.OrgID, a.ID, n)
	}
	from, err := version("from", max(a.Version-1, 1))
	if err != nil {
		return err
	}
	to, err := version("to", a.Version)
	if err != nil {
		return err
	}
	left, err := prettyVersion(from)
	if err != nil {
		return err
	}
	right, err := prettyVersion(to)
	if err != nil {
		return err
	}
	d := &diffData{A: a, From: from, To: to, Rows: sideBySide(left, right), Numbers: versionNumbers(a.Version)}
	for _, row := range d.Rows {
		if row.Kind != "same" {
			d.Changes++
		}
	}
	title := fmt.Sprintf("%s: version %d and version %d", a.Name, from.Version, to.Version)
	u.render(w, r, http.StatusOK, "diff", &page{Title: title, Section: "automations", Session: s, Data: d})
	return nil
}

// prettyVersion is a version's document as the diff shows it: the form an
// export holds (no id, version or times), one field per line.
func prettyVersion(v *autohook.AutomationVersion) (string, error) {
	doc, err := autohook.AutomationDocument(v.Document)
	if err != nil {
		return "", err
	}
	return autohook.PrettyDocument(doc), nil
}

// sideBySide pairs the lines of two texts: equal lines side by side, and
// each run of lines that differ as removed lines against added ones, row
// by row. The longest common subsequence comes from go-udiff's lcs (the
// diff algorithm of gopls).
func sideBySide(a, b string) []diffRow {
	left, right := strings.Split(a, "\n"), strings.Split(b, "\n")
	var rows []diffRow
	i, j := 0, 0
	same := func(until int) {
		for ; i < until; i, j = i+1, j+1 {
			rows = append(rows, diffRow{Kind: "same", LeftNo: i + 1, RightNo: j + 1, Left: left[i], Right: right[j]})
		}
	}
	for _, d := range lcs.DiffLines(left, right) {
		same(d.Start)
		removed, added := left[d.Start:d.End], right[d.ReplStart:d.ReplEnd]
		for k := range max(len(removed), len(added)) {
			row := diffRow{Kind: "changed"}
			if k < len(removed) {
				row.LeftNo, row.Left = d.Start+k+1, removed[k]
			} else {
				row.Kind = "added"
			}
			if k < len(added) {
				row.RightNo, row.Right = d.ReplStart+k+1, added[k]
			} else {
				row.Kind = "removed"
			}
			rows = append(rows, row)
		}
		i, j = d.End, d.ReplEnd
	}
	same(len(left))
	return rows
}

// restoreVersion saves a new version equal to version n, after the
// confirmation the form asks for.
func (u *UI) restoreVersion(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	id := r.PathValue("id")
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil {
		return autohook.ErrNotFound
	}
	back := "/settings/automations/" + id + "/versions"
	a, _, err := u.svc.RestoreVersion(r.Context(), s.OrgID, id, n)
	var perr *problem.Error
	if errors.As(err, &perr) {
		items := make([]string, len(perr.Problems))
		for i, p := range perr.Problems {
			items[i] = p.Path + ": " + p.Message
		}
		setFlash(w, r, flash{Kind: "error", Msg: fmt.Sprintf("Version %d was not restored: it no longer fits the collection as it is now.", n), Items: items})
		redirect(w, r, back)
		return nil
	}
	if err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: fmt.Sprintf("Restored version %d as version %d.", n, a.Version), Link: "/settings/automations/" + id, Label: "Open the automation"})
	redirect(w, r, back)
	return nil
}
