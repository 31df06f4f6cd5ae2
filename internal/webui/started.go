package webui

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/record"
)

// startedFlash is the message after a record was written: done ("Record
// added."), and the runs the write started, by their automations' names,
// so that a person sees at once that an automation ran (and can open the
// run). since is a moment before the write: the runs of rec created from
// then on are the write's.
func (u *UI) startedFlash(ctx context.Context, s *autohook.WebSession, rec *record.Record, since time.Time, done string) flash {
	f := flash{Kind: "ok", Msg: done, Link: recordURL(rec), Label: "Open the record"}
	runs, _, err := u.svc.Runs(ctx, s.OrgID, autohook.RunFilter{RecordID: rec.ID, Since: since}, autohook.Page{Limit: 20})
	if err != nil || len(runs) == 0 {
		return f // the write is done either way; the record's page lists its runs
	}
	if len(runs) == 1 {
		f.Msg = fmt.Sprintf("%s It started “%s”.", done, runs[0].AutomationName)
		f.Link, f.Label = "/settings/runs/"+url.PathEscape(runs[0].ID), "View the run"
		return f
	}
	f.Msg = fmt.Sprintf("%s It started %d runs:", done, len(runs))
	for _, run := range runs {
		f.Items = append(f.Items, run.AutomationName)
	}
	f.Label = "Open the record and its runs"
	return f
}
