package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
)

func testSaveAutomation(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := callAPI("v1", automation.RecordAdded)
	doc.Signing = &automation.Signing{Secret: "whsec_plaintext"}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "sealed-1") })
	if doc.ID[:4] != "aut_" || doc.Version != 1 || doc.CreatedAt == nil || !doc.UpdatedAt.Equal(*doc.CreatedAt) {
		t.Errorf("saved %+v", doc)
	}
	id, created := doc.ID, *doc.CreatedAt
	v1, err := st.Automation(ctx, a, id)
	if err != nil {
		t.Fatal(err)
	}
	// The stored document never holds the signing secret: it is sealed
	// beside it.
	want := doc.Redacted()
	if d := cmp.Diff(want, v1.Doc); d != "" || v1.SealedSigningSecret != "sealed-1" {
		t.Errorf("version 1 (-want +got):\n%s\nsealed %q", d, v1.SealedSigningSecret)
	}
	// Saving again makes version 2; the first is kept as it was.
	doc.Name, doc.Signing = "v2", nil
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "") })
	if doc.ID != id || doc.Version != 2 || !doc.CreatedAt.Equal(created) || doc.UpdatedAt.Before(created) {
		t.Errorf("saved again: %+v", doc)
	}
	v2, err := st.Automation(ctx, a, id)
	if err != nil || v2.Doc.Name != "v2" || v2.Doc.Version != 2 || v2.SealedSigningSecret != "" {
		t.Errorf("current = %+v, %v", v2, err)
	}
	if old, err := st.AutomationAt(ctx, a, id, 1); err != nil || old.Doc.Name != "v1" || old.SealedSigningSecret != "sealed-1" {
		t.Errorf("version 1 after saving version 2 = %+v, %v", old, err)
	}
	// Saving an unknown or another organisation's automation.
	for _, c := range []struct{ org, id string }{{a, "aut_unknown"}, {b, id}} {
		d := callAPI("x", automation.Manual)
		d.ID = c.id
		err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, c.org, d, "") })
		wantErr(t, "saving "+c.id+" in "+c.org, err, store.ErrNotFound)
	}
}

func testDeleteAutomation(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := newAutomation(t, st, a, callAPI("due", automation.RecordDue))
	r := newRecord(t, st, a, nil)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		return tx.PutDue(ctx, store.Due{AutomationID: doc.ID, RecordID: r.ID, OrgID: a, At: time.Now().Add(time.Hour), Value: "v"})
	})
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAutomation(ctx, b, doc.ID) })
	wantErr(t, "another organisation's automation", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.DeleteAutomation(ctx, a, doc.ID); err != nil {
			return err
		}
		if _, ok, err := tx.DueValue(ctx, a, doc.ID, r.ID); ok || err != nil {
			t.Errorf("the deleted automation's due row is still there (%v)", err)
		}
		return nil
	})
	if _, err := st.Automation(ctx, a, doc.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted automation: %v, want ErrNotFound", err)
	}
	// Its versions stay, for the history of its runs.
	if v, err := st.AutomationAt(ctx, a, doc.ID, 1); err != nil || v.Doc.Name != "due" {
		t.Errorf("version 1 of a deleted automation = %+v, %v", v, err)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAutomation(ctx, a, doc.ID) })
	wantErr(t, "deleting twice", err, store.ErrNotFound)
}

func testAutomation(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := newAutomation(t, st, a, callAPI("n", automation.Manual))
	if v, err := st.Automation(ctx, a, doc.ID); err != nil || v.Doc.ID != doc.ID || v.Doc.Version != 1 {
		t.Errorf("Automation = %+v, %v", v, err)
	}
	for _, c := range []struct{ name, org, id string }{{"another organisation's", b, doc.ID}, {"unknown", a, "aut_unknown"}} {
		if _, err := st.Automation(ctx, c.org, c.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
	}
}

func testAutomationAt(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := newAutomation(t, st, a, callAPI("n1", automation.Manual))
	doc.Name = "n2"
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "") })
	for _, c := range []struct {
		name, org string
		version   int64
		want      string
		err       error
	}{
		{"version 1", a, 1, "n1", nil},
		{"version 2", a, 2, "n2", nil},
		{"a version not saved", a, 3, "", store.ErrNotFound},
		{"another organisation's", b, 1, "", store.ErrNotFound},
	} {
		v, err := st.AutomationAt(ctx, c.org, doc.ID, c.version)
		wantErr(t, c.name, err, c.err)
		if err == nil && (v.Doc.Name != c.want || v.Doc.Version != c.version) {
			t.Errorf("%s: %q version %d", c.name, v.Doc.Name, v.Doc.Version)
		}
	}
}

func testAutomations(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	added := newAutomation(t, st, a, callAPI("added", automation.RecordAdded))
	manual := newAutomation(t, st, a, callAPI("manual", automation.Manual))
	other := callAPI("deals", automation.Manual)
	other.Collection = "deals"
	newAutomation(t, st, a, other)
	newAutomation(t, st, b, callAPI("b", automation.Manual))
	manual.Name = "manual v2" // the list shows current versions
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, manual, "sealed") })
	names := func(f store.AutomationFilter) []string {
		list := listAll(t, func(p store.Page) ([]*store.AutomationVersion, string, error) { return st.Automations(ctx, a, f, p) })
		var out []string
		for _, v := range list {
			out = append(out, v.Doc.Name)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    store.AutomationFilter
		want []string
	}{
		{"all, newest first", store.AutomationFilter{}, []string{"deals", "manual v2", "added"}},
		{"collection", store.AutomationFilter{Collection: "leads"}, []string{"manual v2", "added"}},
		{"trigger", store.AutomationFilter{TriggerType: automation.Manual}, []string{"deals", "manual v2"}},
		{"both", store.AutomationFilter{Collection: "leads", TriggerType: automation.RecordAdded}, []string{"added"}},
		{"none", store.AutomationFilter{Collection: "nothing"}, nil},
	} {
		if got := names(c.f); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	list, _, err := st.Automations(ctx, a, store.AutomationFilter{TriggerType: automation.RecordAdded}, store.Page{})
	if err != nil || len(list) != 1 || list[0].Doc.ID != added.ID {
		t.Errorf("list = %+v, %v", list, err)
	}
	list, _, err = st.Automations(ctx, a, store.AutomationFilter{Collection: "leads", TriggerType: automation.Manual}, store.Page{})
	if err != nil || len(list) != 1 || list[0].SealedSigningSecret != "sealed" {
		t.Errorf("the list's sealed signing secret: %+v, %v", list, err)
	}
}

func testEnabledAutomations(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	added := newAutomation(t, st, a, callAPI("added", automation.RecordAdded))
	updated := newAutomation(t, st, a, callAPI("updated", automation.RecordUpdated))
	off := callAPI("off", automation.RecordAdded)
	off.Enabled = false
	newAutomation(t, st, a, off)
	elsewhere := callAPI("deals", automation.RecordAdded)
	elsewhere.Collection = "deals"
	newAutomation(t, st, a, elsewhere)
	newAutomation(t, st, b, callAPI("b", automation.RecordAdded))
	updated.Name = "v2"
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, updated, "") })
	sortRefs := func(r []store.AutomationRef) []store.AutomationRef {
		slices.SortFunc(r, func(x, y store.AutomationRef) int { return strings.Compare(x.ID, y.ID) })
		return r
	}
	for _, c := range []struct {
		name  string
		types []string
		want  []store.AutomationRef
	}{
		{"every trigger", nil, []store.AutomationRef{{ID: added.ID, Version: 1, TriggerType: automation.RecordAdded}, {ID: updated.ID, Version: 2, TriggerType: automation.RecordUpdated}}},
		{"one trigger", []string{automation.RecordAdded}, []store.AutomationRef{{ID: added.ID, Version: 1, TriggerType: automation.RecordAdded}}},
		{"two triggers", []string{automation.RecordUpdated, automation.Manual}, []store.AutomationRef{{ID: updated.ID, Version: 2, TriggerType: automation.RecordUpdated}}},
		{"no match", []string{automation.RecordDue}, nil},
	} {
		got, err := st.EnabledAutomations(ctx, a, "leads", c.types...)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(sortRefs(c.want), sortRefs(got)); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}

func testCollectionAndEnabledAutomations(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a := newOrg(t, st)
	newCollection(t, st, a)
	added := newAutomation(t, st, a, callAPI("added", automation.RecordAdded))
	off := callAPI("off", automation.RecordAdded)
	off.Enabled = false
	newAutomation(t, st, a, off)
	coll, refs, gen, err := st.CollectionAndEnabledAutomations(ctx, a, "leads")
	if err != nil {
		t.Fatal(err)
	}
	if want, err := st.CatalogGen(ctx, a); err != nil || gen != want || gen == 0 {
		t.Errorf("generation %d, want CatalogGen's %d (%v), moved on by the changes above", gen, want, err)
	}
	want, err := st.Collection(ctx, a, "leads")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(coll, want) {
		t.Errorf("collection %+v, want %+v", coll, want)
	}
	if wantRefs := []store.AutomationRef{{ID: added.ID, Version: 1, TriggerType: automation.RecordAdded}}; !slices.Equal(refs, wantRefs) {
		t.Errorf("automations %+v, want %+v", refs, wantRefs)
	}
	// No such collection: nil, and the automations that name it anyway.
	for _, key := range []string{"deals", "in\xffvalid"} {
		coll, refs, _, err := st.CollectionAndEnabledAutomations(ctx, a, key)
		if err != nil || coll != nil || len(refs) != 0 {
			t.Errorf("collection %q: %+v, %v, %v; want nil, none, no error", key, coll, refs, err)
		}
	}
	// No such organisation: generation 0 and nothing.
	if coll, refs, gen, err := st.CollectionAndEnabledAutomations(ctx, "org_unknown", "leads"); err != nil || coll != nil || len(refs) != 0 || gen != 0 {
		t.Errorf("unknown organisation: %+v, %v, %d, %v; want nil, none, 0, no error", coll, refs, gen, err)
	}
}
