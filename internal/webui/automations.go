package webui

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
)

// automationRow is one line of the automations list.
type automationRow struct {
	A        *automation.Automation
	CollName string
	Last     *automation.Run
	Stats    *autohook.RunStats // the last 24 hours; nil without runs
}

// Rate is the row's 24-hour success rate in percent, -1 without runs.
func (r automationRow) Rate() int {
	if r.Stats == nil {
		return -1
	}
	return r.Stats.SuccessRate()
}

func (u *UI) automationsPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	as, _, err := u.svc.Automations(r.Context(), s.OrgID, autohook.AutomationFilter{}, autohook.Page{Limit: 500})
	if err != nil {
		return err
	}
	cs, err := u.allCollections(r, s.OrgID)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, c := range cs {
		names[c.Key] = c.Name
	}
	stats, err := u.svc.RunStats(r.Context(), s.OrgID, time.Now().Add(-24*time.Hour), chartBuckets)
	if err != nil {
		return err
	}
	rows := make([]automationRow, len(as))
	for i, a := range as {
		rows[i] = automationRow{A: a, CollName: names[a.Collection], Stats: stats[a.ID]}
		if rows[i].CollName == "" {
			rows[i].CollName = a.Collection
		}
		last, _, err := u.svc.Runs(r.Context(), s.OrgID, autohook.RunFilter{AutomationID: a.ID}, autohook.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(last) > 0 {
			rows[i].Last = last[0]
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return strings.ToLower(rows[i].A.Name) < strings.ToLower(rows[j].A.Name) })
	d := struct {
		Rows           []automationRow
		HasCollections bool
	}{rows, len(cs) > 0}
	u.render(w, r, http.StatusOK, "automations", &page{Title: "Automations", Section: "automations", Session: s, Data: d})
	return nil
}

// automationForm is the create/edit form of an automation, with its test
// panel.
type automationForm struct {
	A           *automation.Automation
	Signed      bool // a signing secret is stored: the input shows a placeholder
	Collections []*record.Collection
	Records     map[string][]recordOption // per collection, for the test
	Secrets     []string
	TestRecord  string
	Test        *testResult
	Warnings    []placedProblem
}

type recordOption struct {
	ID, Label string
}

type testResult struct {
	Sent bool
	*autohook.TestResult
}

// Triggers lists the trigger types with their labels, in the order of the
// product description.
func (f *automationForm) Triggers() [][2]string {
	return [][2]string{
		{automation.RecordAdded, "A record is added"},
		{automation.RecordUpdated, "A record is updated"},
		{automation.StageChanged, "A record changes stage"},
		{automation.RecordDue, "A record becomes due"},
		{automation.Manual, "Someone runs it from a record's menu (right-click)"},
	}
}

// Methods lists the HTTP methods of a Call API step.
func (f *automationForm) Methods() []string {
	return []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
}

// Action is where the form saves.
func (f *automationForm) Action() string {
	if f.A.ID == "" {
		return "/settings/automations/new"
	}
	return "/settings/automations/" + url.PathEscape(f.A.ID)
}

// Coll returns the selected collection, if it exists.
func (f *automationForm) Coll() *record.Collection {
	for _, c := range f.Collections {
		if c.Key == f.A.Collection {
			return c
		}
	}
	return nil
}

// dateFields lists a collection's date and datetime fields.
func dateFields(c *record.Collection) []record.Field {
	var out []record.Field
	for _, f := range c.Fields {
		if f.Type == record.Date || f.Type == record.DateTime {
			out = append(out, f)
		}
	}
	return out
}

// BlankStep is the step a new "+ Add step" starts from.
func (f *automationForm) BlankStep() automation.StepSpec {
	return automation.StepSpec{Type: automation.TypeCallAPI}
}

// TestPick is the record the test uses: the one chosen last, else the
// newest of the selected collection.
func (f *automationForm) TestPick() string {
	if f.TestRecord != "" {
		return f.TestRecord
	}
	if recs := f.Records[f.A.Collection]; len(recs) > 0 {
		return recs[0].ID
	}
	return ""
}

func (u *UI) newAutomationPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a := &automation.Automation{
		Enabled:    true,
		Collection: r.URL.Query().Get("collection"),
		Trigger:    automation.Trigger{Type: automation.RecordAdded},
		Steps:      []automation.StepSpec{{Type: automation.TypeCallAPI}},
	}
	f := &automationForm{A: a}
	if err := u.formExtras(r, s, f); err != nil {
		return err
	}
	if f.Coll() == nil && len(f.Collections) > 0 {
		a.Collection = f.Collections[0].Key
	}
	u.render(w, r, http.StatusOK, "automation", &page{Title: "New automation", Section: "automations", Session: s, Data: f})
	return nil
}

func (u *UI) editAutomationPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a, err := u.svc.Automation(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	f := &automationForm{A: a, Signed: a.Signing != nil}
	if a.Signing != nil {
		a.Signing = &automation.Signing{} // the form never shows a secret
	}
	if err := u.formExtras(r, s, f); err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "automation", &page{Title: a.Name, Section: "automations", Session: s, Data: f})
	return nil
}

// formExtras loads what the form offers: collections (with their fields and
// stages as suggestions), recent records to test with, secret names.
func (u *UI) formExtras(r *http.Request, s *autohook.WebSession, f *automationForm) error {
	var err error
	if f.Collections, err = u.allCollections(r, s.OrgID); err != nil {
		return err
	}
	f.Records = map[string][]recordOption{}
	for _, c := range f.Collections {
		recs, _, err := u.svc.Records(r.Context(), s.OrgID, c.Key, autohook.RecordFilter{}, autohook.Page{Limit: 20})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			f.Records[c.Key] = append(f.Records[c.Key], recordOption{ID: rec.ID, Label: recordName(c, rec.Fields, rec.ID)})
		}
	}
	secrets, err := u.svc.Secrets(r.Context(), s.OrgID)
	if errors.Is(err, autohook.ErrForbidden) {
		return nil // a viewer is not shown secrets' names; the form offers none
	}
	if err != nil {
		return err
	}
	for _, sec := range secrets {
		f.Secrets = append(f.Secrets, sec.Name)
	}
	return nil
}

// automationFromForm builds the automation document from the form's
// index-named inputs. Only the options of the chosen trigger, step type,
// body and response type are read, so hidden sections never cause
// problems; rows left entirely empty are dropped. Numbers that are not
// numbers are problems of their own.
func automationFromForm(v values) (*automation.Automation, problem.List) {
	var l problem.List
	num := func(name string) int {
		s := v.trim(name)
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			l.Add(name, "must be a whole number")
		}
		return n
	}
	a := &automation.Automation{
		ID:         v.trim("id"),
		Name:       v.trim("name"),
		Collection: v["collection"],
		Enabled:    v.on("enabled"),
		Condition:  strings.TrimSpace(v["condition"]),
		Trigger:    automation.Trigger{Type: v["trigger.type"]},
		Steps:      []automation.StepSpec{},
	}
	if v.trim("pauseAfterFailures") != "" {
		n := num("pauseAfterFailures")
		a.PauseAfterFailures = &n
	}
	switch a.Trigger.Type {
	case automation.RecordUpdated:
		a.Trigger.Fields = splitList(v["trigger.fields"])
	case automation.StageChanged:
		a.Trigger.From, a.Trigger.To = v.trim("trigger.from"), v.trim("trigger.to")
	case automation.RecordDue:
		a.Trigger.Field, a.Trigger.Offset = v.trim("trigger.field"), v.trim("trigger.offset")
	}
	for _, i := range v.indices("steps") {
		p := inputName("steps", i)
		s := automation.StepSpec{ID: v.trim(p + ".id"), Type: v[p+".type"], Name: v.trim(p + ".name"),
			If: strings.TrimSpace(v[p+".if"]), OnError: v[p+".onError"]}
		if s.OnError == automation.OnErrorFail {
			s.OnError = "" // the default
		}
		switch s.Type {
		case automation.TypeCallAPI:
			s.Method = v[p+".method"]
			s.URL = v.trim(p + ".url")
			for _, j := range v.indices(p + ".headers") {
				hp := inputName(p, "headers", j)
				h := automation.Header{Name: v.trim(hp + ".name"), Value: v[hp+".value"]}
				if h.Name != "" || h.Value != "" {
					s.Headers = append(s.Headers, h)
				}
			}
			switch ct := v[p+".body.contentType"]; ct {
			case "":
			case automation.ContentText:
				s.Body = &automation.Body{ContentType: ct, Text: v[p+".body.text"]}
			case automation.ContentJSON, automation.ContentForm:
				s.Body = &automation.Body{ContentType: ct}
				for _, j := range v.indices(p + ".body.fields") {
					fp := inputName(p, "body.fields", j)
					f := automation.BodyField{Key: v.trim(fp + ".key"), Value: v[fp+".value"]}
					if ct == automation.ContentJSON {
						f.Type = v[fp+".type"] // a form value is text: the type select is hidden
					}
					if f.Key != "" || f.Value != "" {
						s.Body.Fields = append(s.Body.Fields, f)
					}
				}
			default:
				s.Body = &automation.Body{ContentType: ct}
			}
			s.KeepBodyOnRedirect = v.on(p + ".keepBodyOnRedirect")
			s.TimeoutSeconds = num(p + ".timeoutSeconds")
			s.MaxAttempts = num(p + ".maxAttempts")
			s.MaxPerSecond = rate(&l, v, p+".maxPerSecond")
			s.Auth = authFromForm(v, p)
			s.Response = &automation.Response{Type: v[p+".response.type"]}
			if s.Response.Type == automation.ResponseText {
				s.Response.Field = v.trim(p + ".response.field")
			}
			// Values to capture, for every type: headers and the status
			// from any response, pointers from a json one.
			for _, j := range v.indices(p + ".response.schema") {
				mp := inputName(p, "response.schema", j)
				m := automation.Mapping{Field: v.trim(mp + ".field"), Required: v.on(mp + ".required")}
				switch v[mp+".source"] {
				case "status":
					m.Status = true
				case "header":
					m.Header = v.trim(mp + ".header")
				default:
					m.Pointer = v.trim(mp + ".pointer")
				}
				if m.Status || m.Pointer != "" || m.Header != "" || m.Field != "" {
					s.Response.Schema = append(s.Response.Schema, m)
				}
			}
			if (s.Response.Type == "" || s.Response.Type == automation.ResponseNone) && len(s.Response.Schema) == 0 {
				s.Response = nil
			}
		case automation.TypeUpdateRecord:
			for _, j := range v.indices(p + ".set") {
				sp := inputName(p, "set", j)
				as := automation.Assignment{Field: v.trim(sp + ".field"), Value: v[sp+".value"]}
				if as.Field != "" || as.Value != "" {
					s.Set = append(s.Set, as)
				}
			}
		}
		a.Steps = append(a.Steps, s)
	}
	if v.on("signing.enabled") {
		secret := v.trim("signing.secret")
		if secret == "" && a.ID != "" {
			secret = automation.SecretRedacted // keep the stored one
		}
		a.Signing = &automation.Signing{Secret: secret}
	}
	return a, l
}

// splitList reads "a, b c" as [a b c].
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		out = append(out, f)
	}
	return out
}

// clone copies a document, because compiling it fills in defaults that the
// form should not show as if the person had typed them.
func clone(a *automation.Automation) *automation.Automation {
	b, _ := json.Marshal(a)
	var c automation.Automation
	_ = json.Unmarshal(b, &c)
	return &c
}

// formFor is the form showing a posted document again: the signing secret
// is never echoed.
func formFor(a *automation.Automation, v values) *automationForm {
	f := &automationForm{A: a, Signed: v.on("signing.stored"), TestRecord: v["test.recordId"]}
	if a.Signing != nil {
		shown := *a
		shown.Signing = &automation.Signing{}
		f.A = &shown
	}
	return f
}

func (u *UI) saveAutomation(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	v := formValues(r.PostForm)
	a, probs := automationFromForm(v)
	if id := r.PathValue("id"); id != "" {
		a.ID = id
	} else {
		a.ID = ""
	}
	var warnings []problem.Problem
	if len(probs) == 0 {
		saved, warns, err := u.svc.SaveAutomation(r.Context(), s.OrgID, clone(a))
		warnings = warns
		var perr *problem.Error
		switch {
		case err == nil:
			fl := flash{Kind: "ok", Msg: "Saved “" + saved.Name + "”.", Link: "/settings/automations/" + url.PathEscape(saved.ID), Label: "Edit it again"}
			for _, w := range warns {
				fl.Items = append(fl.Items, "Warning: "+readablePath(w.Path)+": "+w.Message)
			}
			setFlash(w, r, fl)
			redirect(w, r, "/settings/automations")
			return nil
		case errors.As(err, &perr):
			probs = perr.Problems
		default:
			return err
		}
	}
	f := formFor(a, v)
	f.Warnings = (&fieldErrors{problems: warnings}).All()
	if err := u.formExtras(r, s, f); err != nil {
		return err
	}
	title := a.Name
	if a.ID == "" {
		title = "New automation"
	}
	u.render(w, r, http.StatusUnprocessableEntity, "automation", &page{Title: title, Section: "automations", Session: s, Errs: newFieldErrors(probs).withValues(v), Data: f})
	return nil
}

// testAutomation is the form's Test button: a dry run of the document as
// it stands in the form (saved or not) on a chosen record, optionally
// sending the requests. The form comes back as it was, with the results.
func (u *UI) testAutomation(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	v := formValues(r.PostForm)
	a, probs := automationFromForm(v)
	f := formFor(a, v)
	if len(probs) == 0 {
		in := autohook.TestInput{Automation: clone(a), RecordID: v["test.recordId"], Send: v["send"] == "1"}
		if in.RecordID == "" {
			in.Fields = map[string]any{}
		}
		res, warns, err := u.svc.TestAutomation(r.Context(), s.OrgID, in)
		f.Warnings = (&fieldErrors{problems: warns}).All()
		var perr *problem.Error
		switch {
		case err == nil:
			f.Test = &testResult{Sent: in.Send, TestResult: res}
		case errors.As(err, &perr):
			for _, p := range perr.Problems {
				p.Path = strings.TrimPrefix(p.Path, "automation.")
				if p.Path == "recordId" || strings.HasPrefix(p.Path, "record.") {
					p.Path = "test.recordId"
				}
				probs = append(probs, p)
			}
		default:
			return err
		}
	}
	if err := u.formExtras(r, s, f); err != nil {
		return err
	}
	title := a.Name
	if a.ID == "" {
		title = "New automation"
	}
	status := http.StatusOK
	if len(probs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	errs := newFieldErrors(probs).withValues(v)
	if errs != nil {
		errs.Verb = "tested" // shown in the Test section, where the page opens (#test)
	}
	u.render(w, r, status, "automation", &page{Title: title, Section: "automations", Session: s, Errs: errs, Data: f})
	return nil
}

// setEnabled turns an automation on or off from the list.
func (u *UI) setEnabled(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a, err := u.svc.Automation(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.Enabled = r.PostFormValue("enabled") == "true"
	_, _, err = u.svc.SaveAutomation(r.Context(), s.OrgID, a)
	var perr *problem.Error
	switch {
	case err == nil:
		state := "disabled"
		if a.Enabled {
			state = "enabled"
		}
		setFlash(w, r, flash{Kind: "ok", Msg: "“" + a.Name + "” is " + state + "."})
	case errors.As(err, &perr):
		setFlash(w, r, flash{Kind: "error", Msg: "“" + a.Name + "” cannot be saved as it is; open it to fix: " + perr.Error(), Link: "/settings/automations/" + url.PathEscape(a.ID), Label: "Open it"})
	default:
		return err
	}
	redirect(w, r, backTo(r, "/settings/automations"))
	return nil
}

func (u *UI) deleteAutomation(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	a, err := u.svc.Automation(r.Context(), s.OrgID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := u.svc.DeleteAutomation(r.Context(), s.OrgID, a.ID); err != nil {
		return err
	}
	setFlash(w, r, flash{Kind: "ok", Msg: "“" + a.Name + "” deleted. Its runs stay in history; waiting ones were cancelled."})
	redirect(w, r, "/settings/automations")
	return nil
}
