package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/jsonnum"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
)

// recordsPerPage is the page size of the records table.
const recordsPerPage = 25

// allCollections lists the organisation's collections by name.
func (u *UI) allCollections(r *http.Request, orgID string) ([]*record.Collection, error) {
	cs, _, err := u.svc.Collections(r.Context(), orgID, autohook.Page{Limit: 500})
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool { return strings.ToLower(cs[i].Name) < strings.ToLower(cs[j].Name) })
	return cs, nil
}

// collectionsPage is /records: the first collection's records, or the empty
// state that leads to creating one.
func (u *UI) collectionsPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	cs, err := u.allCollections(r, s.OrgID)
	if err != nil {
		return err
	}
	if len(cs) > 0 {
		redirect(w, r, "/records/"+url.PathEscape(cs[0].Key))
		return nil
	}
	u.render(w, r, http.StatusOK, "records", &page{Title: "Records", Section: "records", Session: s, Data: &recordsData{}})
	return nil
}

type recordsData struct {
	Collections []*record.Collection
	Coll        *record.Collection
	Records     []*record.Record
	Actions     []autohook.Action
	Stage       string
	Older       string // link to the next page, "" on the last
	Newer       string // link to the previous page, "" on the first
	Here        string // this page, for actions to come back to
}

// manualActions lists a collection's enabled manual automations: what a
// record's menu offers (the same as RecordActions, once for all rows).
func (u *UI) manualActions(r *http.Request, orgID, coll string) ([]autohook.Action, error) {
	as, _, err := u.svc.Automations(r.Context(), orgID, autohook.AutomationFilter{Collection: coll, TriggerType: automation.Manual}, autohook.Page{Limit: 500})
	if err != nil {
		return nil, err
	}
	out := []autohook.Action{}
	for _, a := range as {
		if a.Enabled {
			out = append(out, autohook.Action{AutomationID: a.ID, Name: a.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (u *UI) recordsPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	cs, err := u.allCollections(r, s.OrgID)
	if err != nil {
		return err
	}
	coll, err := u.svc.Collection(r.Context(), s.OrgID, r.PathValue("coll"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := &recordsData{Collections: cs, Coll: coll, Stage: q.Get("stage"), Here: r.URL.RequestURI()}
	if d.Stage != "" && !coll.HasStage(d.Stage) {
		d.Stage = ""
	}
	cursor := q.Get("cursor")
	var recs []*record.Record
	var next string
	recs, next, err = u.svc.Records(r.Context(), s.OrgID, coll.Key, autohook.RecordFilter{Stage: d.Stage}, autohook.Page{Cursor: cursor, Limit: recordsPerPage})
	if errors.Is(err, autohook.ErrBadInput) {
		redirect(w, r, "/records/"+url.PathEscape(coll.Key))
		return nil
	}
	if err != nil {
		return err
	}
	d.Records = recs
	d.Older, d.Newer = pageLinks(r.URL, cursor, next)
	if d.Actions, err = u.manualActions(r, s.OrgID, coll.Key); err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "records", &page{Title: coll.Name, Section: "records", Session: s, Data: d})
	return nil
}

// pageLinks returns the links to the older and newer pages of a list that
// only pages forward: the cursors of the pages before are carried in
// "prev", so that "Newer" can go back.
func pageLinks(u *url.URL, cursor, next string) (older, newer string) {
	q := u.Query()
	var prev []string
	if q.Has("prev") {
		prev = strings.Split(q.Get("prev"), ",")
	}
	link := func(cur string, prev []string, hasPrev bool) string {
		q := u.Query()
		q.Del("cursor")
		q.Del("prev")
		if cur != "" {
			q.Set("cursor", cur)
		}
		if hasPrev {
			q.Set("prev", strings.Join(prev, ","))
		}
		if len(q) == 0 {
			return u.Path
		}
		return u.Path + "?" + q.Encode()
	}
	if next != "" {
		older = link(next, append(append([]string{}, prev...), cursor), true)
	}
	if cursor != "" {
		if len(prev) == 0 {
			newer = link("", nil, false)
		} else {
			newer = link(prev[len(prev)-1], prev[:len(prev)-1], len(prev) > 1)
		}
	}
	return older, newer
}

// recordForm is the add/edit form of a record.
type recordForm struct {
	Coll    *record.Collection
	Rec     *record.Record // nil when adding
	Values  map[string]string
	Stage   string
	Version int64
	Actions []autohook.Action
	Runs    []*automation.Run
	Message string // a form-level error
}

func (u *UI) newRecordPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	coll, err := u.svc.Collection(r.Context(), s.OrgID, r.PathValue("coll"))
	if err != nil {
		return err
	}
	f := &recordForm{Coll: coll, Values: map[string]string{}, Stage: coll.DefaultStage()}
	u.render(w, r, http.StatusOK, "record", &page{Title: "Add a record to " + coll.Name, Section: "records", Session: s, Data: f})
	return nil
}

func (u *UI) recordPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	coll, rec, err := u.pathRecord(r, s)
	if err != nil {
		return err
	}
	f := &recordForm{Coll: coll, Rec: rec, Values: inputValues(coll, rec.Fields), Stage: rec.Stage, Version: rec.Version}
	if err := u.recordExtras(r, s, f); err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "record", &page{Title: recordName(coll, rec.Fields, rec.ID), Section: "records", Session: s, Data: f})
	return nil
}

// pathRecord loads the collection and the record the URL names.
func (u *UI) pathRecord(r *http.Request, s *autohook.WebSession) (*record.Collection, *record.Record, error) {
	coll, err := u.svc.Collection(r.Context(), s.OrgID, r.PathValue("coll"))
	if err != nil {
		return nil, nil, err
	}
	rec, err := u.svc.Record(r.Context(), s.OrgID, coll.Key, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	return coll, rec, nil
}

// recordExtras loads the record's menu and its latest runs.
func (u *UI) recordExtras(r *http.Request, s *autohook.WebSession, f *recordForm) error {
	var err error
	if f.Actions, err = u.manualActions(r, s.OrgID, f.Coll.Key); err != nil {
		return err
	}
	if f.Runs, _, err = u.svc.Runs(r.Context(), s.OrgID, autohook.RunFilter{RecordID: f.Rec.ID}, autohook.Page{Limit: 10}); err != nil {
		return err
	}
	if len(f.Runs) == 0 {
		return nil
	}
	as, _, err := u.svc.Automations(r.Context(), s.OrgID, autohook.AutomationFilter{Collection: f.Coll.Key}, autohook.Page{Limit: 500})
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, a := range as {
		names[a.ID] = a.Name
	}
	for _, run := range f.Runs {
		if run.AutomationName == "" {
			run.AutomationName = names[run.AutomationID]
		}
	}
	return nil
}

// inputValues shows stored field values in the inputs that fit their types.
func inputValues(c *record.Collection, fields map[string]any) map[string]string {
	out := map[string]string{}
	for _, f := range c.Fields {
		v, ok := fields[f.Key]
		if !ok || v == nil {
			continue
		}
		switch f.Type {
		case record.Number:
			if n, ok := jsonnum.Text(v); ok {
				out[f.Key] = n
				continue
			}
		case record.Boolean:
			if b, ok := v.(bool); ok && b {
				out[f.Key] = "on"
			}
			continue
		case record.DateTime:
			if t, ok := record.Time(f.Type, v); ok {
				out[f.Key] = t.UTC().Format("2006-01-02T15:04:05")
				continue
			}
		case record.JSON:
			out[f.Key] = prettyJSON(v)
			continue
		}
		if s, ok := v.(string); ok {
			out[f.Key] = s
		} else {
			out[f.Key] = compactJSON(v)
		}
	}
	return out
}

// parseFields reads a record form: every field's input, converted to its
// type. An empty input is nil (no value); an unticked box is false.
func parseFields(c *record.Collection, v values) (map[string]any, problem.List) {
	var l problem.List
	out := map[string]any{}
	for _, f := range c.Fields {
		name := "fields." + f.Key
		raw := strings.TrimSpace(v[name])
		if f.Type == record.Boolean {
			out[f.Key] = v.on(name)
			continue
		}
		if raw == "" {
			out[f.Key] = nil
			continue
		}
		switch f.Type {
		case record.Text:
			out[f.Key] = v[name] // spaces inside text are the user's
		case record.Number:
			if !jsonnum.Valid(raw) {
				l.Add(name, "must be a number, like 1500 or 12.5")
				continue
			}
			out[f.Key] = json.Number(raw) // every digit, as typed
		case record.Date:
			out[f.Key] = raw
		case record.DateTime:
			t, err := parseLocalDateTime(raw)
			if err != nil {
				l.Add(name, "must be a date and time, like 2026-01-02T15:04")
				continue
			}
			out[f.Key] = t.Format(time.RFC3339)
		case record.JSON:
			dec := json.NewDecoder(strings.NewReader(raw))
			dec.UseNumber()
			var x any
			if err := dec.Decode(&x); err != nil || dec.More() {
				l.Add(name, "must be valid JSON, like {\"sku\": \"A-1\"} or [1, 2]")
				continue
			}
			out[f.Key] = x
		}
	}
	return out, l
}

// parseLocalDateTime reads a datetime-local input (or RFC 3339), as UTC.
func parseLocalDateTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date-time: %q", s)
}

func (u *UI) createRecord(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	coll, err := u.svc.Collection(r.Context(), s.OrgID, r.PathValue("coll"))
	if err != nil {
		return err
	}
	v := formValues(r.PostForm)
	fields, probs := parseFields(coll, v)
	for k, x := range fields {
		if x == nil {
			delete(fields, k)
		}
	}
	stage := v["stage"]
	f := &recordForm{Coll: coll, Values: rawValues(coll, v), Stage: stage}
	if len(probs) == 0 {
		in := autohook.RecordInput{Fields: fields}
		if len(coll.Stages) > 0 {
			in.Stage = &stage
		}
		since := time.Now()
		rec, err := u.svc.CreateRecord(r.Context(), s.OrgID, coll.Key, in)
		if err == nil {
			setFlash(w, r, u.startedFlash(r.Context(), s, rec, since, "Record added."))
			redirect(w, r, "/records/"+url.PathEscape(coll.Key))
			return nil
		}
		var perr *problem.Error
		if !errors.As(err, &perr) {
			return err
		}
		probs = perr.Problems
	}
	u.render(w, r, http.StatusUnprocessableEntity, "record", &page{Title: "Add a record to " + coll.Name, Section: "records", Session: s, Errs: newFieldErrors(probs), Data: f})
	return nil
}

// rawValues keeps what the person typed, to show it again with the errors.
func rawValues(c *record.Collection, v values) map[string]string {
	out := map[string]string{}
	for _, f := range c.Fields {
		out[f.Key] = v["fields."+f.Key]
	}
	return out
}

func recordURL(rec *record.Record) string {
	return "/records/" + url.PathEscape(rec.Collection) + "/" + url.PathEscape(rec.ID)
}

func (u *UI) updateRecord(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	coll, rec, err := u.pathRecord(r, s)
	if err != nil {
		return err
	}
	v := formValues(r.PostForm)
	fields, probs := parseFields(coll, v)
	stage := v["stage"]
	f := &recordForm{Coll: coll, Rec: rec, Values: rawValues(coll, v), Stage: stage, Version: rec.Version}
	if n, err := strconv.ParseInt(v["version"], 10, 64); err == nil {
		f.Version = n
	}
	if len(probs) == 0 {
		in := autohook.RecordInput{Fields: changedFields(coll, rec.Fields, fields), Version: &f.Version}
		if stage != rec.Stage && len(coll.Stages) > 0 {
			in.Stage = &stage
		}
		since := time.Now()
		_, err := u.svc.UpdateRecord(r.Context(), s.OrgID, coll.Key, rec.ID, in)
		var perr *problem.Error
		switch {
		case err == nil:
			fl := u.startedFlash(r.Context(), s, rec, since, "Record saved.")
			if fl.Link == recordURL(rec) {
				fl.Link = "" // the page it leads to
			}
			setFlash(w, r, fl)
			redirect(w, r, recordURL(rec))
			return nil
		case errors.Is(err, autohook.ErrConflict):
			f.Message = "Someone (or an automation) changed this record after you opened it. Open it again to see the latest values, then make your change."
		case errors.As(err, &perr):
			probs = perr.Problems
		default:
			return err
		}
	}
	if err := u.recordExtras(r, s, f); err != nil {
		return err
	}
	status := http.StatusUnprocessableEntity
	if f.Message != "" {
		status = http.StatusConflict
	}
	u.render(w, r, status, "record", &page{Title: recordName(coll, rec.Fields, rec.ID), Section: "records", Session: s, Errs: newFieldErrors(probs), Data: f})
	return nil
}

// changedFields keeps the fields whose value differs from the stored one,
// so that saving a form changes (and triggers on) only what was edited.
func changedFields(c *record.Collection, old, next map[string]any) map[string]any {
	out := map[string]any{}
	for _, f := range c.Fields {
		nv := next[f.Key]
		ov, had := old[f.Key]
		if nv == nil {
			if had && ov != nil {
				out[f.Key] = nil
			}
			continue
		}
		if f.Type == record.Boolean && !had && nv == false {
			continue // an unticked box on a record without the field is no change
		}
		norm, err := record.Normalise(f.Type, nv)
		if err != nil {
			out[f.Key] = nv // let the service name the problem
			continue
		}
		if !had || !sameJSON(ov, norm) {
			out[f.Key] = nv
		}
	}
	return out
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// changeStage moves a record to another stage (the menu's "Move to").
func (u *UI) changeStage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	coll, id := r.PathValue("coll"), r.PathValue("id")
	stage := r.PostFormValue("stage")
	since := time.Now()
	rec, err := u.svc.UpdateRecord(r.Context(), s.OrgID, coll, id, autohook.RecordInput{Stage: &stage})
	var perr *problem.Error
	switch {
	case err == nil:
		setFlash(w, r, u.startedFlash(r.Context(), s, rec, since, "Moved to "+rec.Stage+"."))
	case errors.As(err, &perr):
		setFlash(w, r, flash{Kind: "error", Msg: "The stage was not changed: " + perr.Error()})
	default:
		return err
	}
	redirect(w, r, backTo(r, "/records/"+url.PathEscape(coll)))
	return nil
}

// backTo is where an action returns: the "back" field when it is a path on
// this site, else def.
func backTo(r *http.Request, def string) string {
	if b := r.PostFormValue("back"); safeNext(b) {
		return b
	}
	return def
}

func (u *UI) deleteRecord(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	coll, id := r.PathValue("coll"), r.PathValue("id")
	if err := u.svc.DeleteRecord(r.Context(), s.OrgID, coll, id); err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "Record deleted. Its runs stay in history."})
	redirect(w, r, "/records/"+url.PathEscape(coll))
	return nil
}

// runAutomation runs a manual automation on a record, from the record's
// menu. The script asks for JSON and then follows the run; without the
// script the browser goes to the run's page, which updates itself.
func (u *UI) runAutomation(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	coll, id := r.PathValue("coll"), r.PathValue("id")
	if _, err := u.svc.Record(r.Context(), s.OrgID, coll, id); err != nil {
		return err
	}
	run, err := u.svc.StartRun(r.Context(), s.OrgID, r.PostFormValue("automation"), id)
	var perr *problem.Error
	if err != nil && (errors.Is(err, autohook.ErrConflict) || errors.As(err, &perr)) {
		msg := "The automation did not run: " + conflictMessage(err.Error())
		if perr != nil {
			msg = "The automation did not run: " + perr.Error()
		}
		if wantsJSON(r) {
			writeJSON(w, http.StatusConflict, map[string]string{"error": msg})
			return nil
		}
		setFlash(w, r, flash{Kind: "error", Msg: msg})
		redirect(w, r, backTo(r, "/records/"+url.PathEscape(coll)))
		return nil
	}
	if err != nil {
		return err
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, runStatusOf(run))
		return nil
	}
	redirect(w, r, "/settings/runs/"+url.PathEscape(run.ID))
	return nil
}
