package webui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
)

// collectionForm is the create/edit form of a collection.
type collectionForm struct {
	Coll  *record.Collection
	IsNew bool
	Types []record.FieldType
}

func (u *UI) collectionSettings(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	cs, err := u.allCollections(r, s.OrgID)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "collections", &page{Title: "Collections", Section: "collections", Session: s, Data: cs})
	return nil
}

func (u *UI) newCollectionPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	// Empty rows with examples as placeholders: nothing to delete before
	// typing, and rows left empty are dropped on save.
	c := &record.Collection{
		Fields: []record.Field{{Type: record.Text}},
		Stages: []string{"", "", ""},
	}
	u.render(w, r, http.StatusOK, "collection", &page{Title: "New collection", Section: "collections", Session: s, Data: &collectionForm{Coll: c, IsNew: true, Types: record.Types}})
	return nil
}

func (u *UI) editCollectionPage(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	c, err := u.svc.Collection(r.Context(), s.OrgID, r.PathValue("key"))
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "collection", &page{Title: "Collection " + c.Name, Section: "collections", Session: s, Data: &collectionForm{Coll: c, Types: record.Types}})
	return nil
}

// collectionFromForm reads the form: key, name, field rows, stage rows.
// Entirely empty rows are dropped.
func collectionFromForm(v values) *record.Collection {
	c := &record.Collection{Key: v.trim("key"), Name: v.trim("name"), Fields: []record.Field{}, Stages: []string{}}
	for _, i := range v.indices("fields") {
		p := inputName("fields", i)
		f := record.Field{Key: v.trim(p + ".key"), Name: v.trim(p + ".name"), Type: record.FieldType(v[p+".type"])}
		if f.Key == "" && f.Name == "" {
			continue
		}
		c.Fields = append(c.Fields, f)
	}
	for _, i := range v.indices("stages") {
		if s := v.trim(inputName("stages", i)); s != "" {
			c.Stages = append(c.Stages, s)
		}
	}
	return c
}

func (u *UI) createCollection(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	c := collectionFromForm(formValues(r.PostForm))
	err := u.svc.CreateCollection(r.Context(), s.OrgID, c)
	if err == nil {
		setFlash(w, r, flash{Kind: "ok", Msg: "Collection " + c.Name + " created. Add its first record, or an automation for it.", Link: "/settings/automations/new?collection=" + url.QueryEscape(c.Key), Label: "+ Add Automation"})
		redirect(w, r, "/records/"+url.PathEscape(c.Key))
		return nil
	}
	return u.collectionProblems(w, r, s, c, true, err)
}

func (u *UI) updateCollection(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	c := collectionFromForm(formValues(r.PostForm))
	c.Key = r.PathValue("key")
	err := u.svc.UpdateCollection(r.Context(), s.OrgID, c)
	if err == nil {
		setFlash(w, r, flash{Kind: "ok", Msg: "Collection " + c.Name + " saved."})
		redirect(w, r, "/settings/collections")
		return nil
	}
	return u.collectionProblems(w, r, s, c, false, err)
}

// collectionProblems shows the form again with the problems beside their
// inputs.
func (u *UI) collectionProblems(w http.ResponseWriter, r *http.Request, s *autohook.WebSession, c *record.Collection, isNew bool, err error) error {
	var perr *problem.Error
	var probs problem.List
	switch {
	case errors.As(err, &perr):
		probs = perr.Problems
	case isNew && errors.Is(err, autohook.ErrConflict):
		probs.Add("key", "a collection with the key %q exists already; choose another", c.Key)
	default:
		return err
	}
	title := "New collection"
	if !isNew {
		title = "Collection " + c.Name
	}
	u.render(w, r, http.StatusUnprocessableEntity, "collection", &page{Title: title, Section: "collections", Session: s, Errs: newFieldErrors(probs), Data: &collectionForm{Coll: c, IsNew: isNew, Types: record.Types}})
	return nil
}

func (u *UI) deleteCollection(w http.ResponseWriter, r *http.Request, s *autohook.WebSession) error {
	key := r.PathValue("key")
	err := u.svc.DeleteCollection(r.Context(), s.OrgID, key)
	switch {
	case err == nil:
		setFlash(w, r, flash{Kind: "ok", Msg: "Collection " + key + " and its records deleted."})
	case errors.Is(err, autohook.ErrConflict):
		setFlash(w, r, flash{Kind: "error", Msg: strings.TrimSuffix(conflictMessage(err.Error()), ".") + "."})
	default:
		return err
	}
	redirect(w, r, "/settings/collections")
	return nil
}
