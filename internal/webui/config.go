package webui

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/strictjson"
)

// configData is the Export / Import page: the export, and an import's
// file, plan and problems.
type configData struct {
	Export   string
	Doc      string // the file being imported, kept between plan and apply
	Prune    bool
	Plan     []planRow
	Warnings []problem.Problem
	Problems []string // why the file cannot be imported
	Changed  bool     // the plan changes something: Apply is offered
	Planned  bool
}

// planRow is a plan item as the page shows it.
type planRow struct {
	autohook.PlanItem
	Sign string
}

// maxFlashItems bounds the lines of the flash that reports an import.
const maxFlashItems = 12

var planSigns = map[string]string{autohook.ActionCreate: "+", autohook.ActionUpdate: "~", autohook.ActionUnchanged: "=", autohook.ActionDelete: "-"}

// configPage shows the organisation's export and the import form.
func (u *UI) configPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.renderConfig(w, r, s, http.StatusOK, &configData{})
}

func (u *UI) renderConfig(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, status int, d *configData) error {
	doc, err := u.svc.Export(r.Context(), s.OrgID)
	if err != nil {
		return err
	}
	d.Export = string(doc)
	u.render(w, r, status, "config", &page{Title: "Export / Import", Section: "config", Session: s, Data: d})
	return nil
}

// exportDownload sends the export as a file.
func (u *UI) exportDownload(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	doc, err := u.svc.Export(r.Context(), s.OrgID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="autohook-export.json"`)
	_, _ = w.Write(doc)
	return nil
}

// importFile reads the file of an import form: an upload, else the text
// pasted (or carried from the plan to Apply).
func importFile(r *http.Request) (string, error) {
	if f, _, err := r.FormFile("file"); err == nil {
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return "", err
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			return string(b), nil
		}
	} else if !errors.Is(err, http.ErrMissingFile) && !errors.Is(err, http.ErrNotMultipart) {
		return "", err
	}
	return r.PostFormValue("doc"), nil
}

// planImport shows what importing the file would do, with Apply when it
// changes something.
func (u *UI) planImport(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.importConfig(w, r, s, true)
}

// applyImport applies the file in one transaction and reports what it did.
func (u *UI) applyImport(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	return u.importConfig(w, r, s, false)
}

func (u *UI) importConfig(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, dryRun bool) error {
	doc, err := importFile(r)
	if err != nil {
		return err
	}
	d := &configData{Doc: doc, Prune: r.PostFormValue("prune") == "true"}
	if strings.TrimSpace(doc) == "" {
		d.Problems = []string{"Choose an export file or paste one."}
		return u.renderConfig(w, r, s, http.StatusUnprocessableEntity, d)
	}
	res, err := u.importDoc(r, s, doc, autohook.ImportOptions{DryRun: dryRun, Prune: d.Prune})
	var (
		perr *problem.Error
		serr *strictjson.SyntaxError
	)
	switch {
	case errors.As(err, &perr):
		for _, p := range perr.Problems {
			d.Problems = append(d.Problems, p.Path+": "+p.Message)
		}
		return u.renderConfig(w, r, s, http.StatusUnprocessableEntity, d)
	case errors.As(err, &serr):
		d.Problems = []string{"The file is not JSON: " + serr.Error()}
		return u.renderConfig(w, r, s, http.StatusUnprocessableEntity, d)
	case err != nil:
		return err
	}
	if dryRun {
		d.Planned, d.Changed, d.Warnings = true, res.Changed(), res.Warnings
		for _, p := range res.Plan {
			d.Plan = append(d.Plan, planRow{PlanItem: p, Sign: planSigns[p.Action]})
		}
		return u.renderConfig(w, r, s, http.StatusOK, d)
	}
	counts := map[string]int{}
	var items []string
	for _, p := range res.Plan {
		counts[p.Action]++
		if p.Action != autohook.ActionUnchanged {
			items = append(items, fmt.Sprintf("%s %s %s", planSigns[p.Action], p.Kind, p.Name))
		}
	}
	for _, p := range res.Warnings {
		items = append(items, "Warning: "+p.Path+": "+p.Message)
	}
	if len(items) > maxFlashItems { // the flash is a cookie: a few kilobytes
		items = append(items[:maxFlashItems-1], fmt.Sprintf("… and %d more", len(items)-maxFlashItems+1))
	}
	setFlash(w, r, flash{Kind: "ok", Msg: fmt.Sprintf("Import applied: %d created, %d updated, %d deleted, %d unchanged.",
		counts[autohook.ActionCreate], counts[autohook.ActionUpdate], counts[autohook.ActionDelete], counts[autohook.ActionUnchanged]), Items: items})
	redirect(w, r, "/settings/config")
	return nil
}

func (u *UI) importDoc(r *http.Request, s *autohook.WebSession, doc string, opts autohook.ImportOptions) (*autohook.ImportResult, error) {
	f, err := autohook.DecodeImport([]byte(doc))
	if err != nil {
		return nil, err
	}
	return u.svc.Import(r.Context(), s.OrgID, f, opts)
}
