package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
)

// versionNumber reads the {n} of a versions path: a version that cannot be
// is not found, like one that was never saved.
func versionNumber(r *http.Request) (int64, error) {
	s := r.PathValue("n")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: automation %s has no version %q (versions are numbered from 1)", autohook.ErrNotFound, r.PathValue("id"), s)
	}
	return n, nil
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	pg, err := page(r)
	if err != nil {
		return err
	}
	items, next, err := a.svc.AutomationVersions(r.Context(), p.OrgID, r.PathValue("id"), pg)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

func (a *API) getVersion(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	n, err := versionNumber(r)
	if err != nil {
		return err
	}
	v, err := a.svc.AutomationVersion(r.Context(), p.OrgID, r.PathValue("id"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) restoreVersion(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	n, err := versionNumber(r)
	if err != nil {
		return err
	}
	saved, warnings, err := a.svc.RestoreVersion(r.Context(), p.OrgID, r.PathValue("id"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, savedAutomation{saved, nonNil(warnings)})
	return nil
}

func (a *API) exportConfig(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	doc, err := a.svc.Export(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
	return nil
}

func (a *API) importConfig(w http.ResponseWriter, r *http.Request, p *autohook.Principal) error {
	var opts autohook.ImportOptions
	var err error
	if opts.DryRun, err = queryBool(r, "dryRun"); err != nil {
		return err
	}
	if opts.Prune, err = queryBool(r, "prune"); err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return fmt.Errorf("%w: the request body is empty; send an export (GET /api/v1/export)", errBadRequest)
	}
	f, err := autohook.DecodeImport(data)
	if err != nil {
		return err
	}
	res, err := a.svc.Import(r.Context(), p.OrgID, f, opts)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// queryBool reads a true/false query parameter (absent: false).
func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, problem.New(name, "must be true or false, got %q", s)
	}
	return b, nil
}
