package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
)

func testSaveAutomationBy(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a := newOrg(t, st)
	key := &store.Actor{Type: store.ActorAPIKey, ID: "key_1", Name: "ci"}
	user := &store.Actor{Type: store.ActorUser, ID: "usr_1", Name: "Ada"}
	doc := callAPI("v1", automation.Manual)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		return tx.SaveAutomationBy(ctx, a, doc, "", store.VersionMeta{SavedBy: key})
	})
	doc.Name = "v2"
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		return tx.SaveAutomationBy(ctx, a, doc, "sealed", store.VersionMeta{SavedBy: user, RestoredFrom: 1})
	})
	doc.Name = "v3"
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, doc, "") })
	for _, c := range []struct {
		version  int64
		by       *store.Actor
		restored int64
		sealed   string
	}{
		{1, key, 0, ""},
		{2, user, 1, "sealed"},
		{3, nil, 0, ""}, // SaveAutomation says nobody
	} {
		v, err := st.AutomationAt(ctx, a, doc.ID, c.version)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.by, v.SavedBy); d != "" || v.RestoredFrom != c.restored || v.SealedSigningSecret != c.sealed {
			t.Errorf("version %d: saved by (-want +got):\n%s\nrestored from %d, sealed %q", c.version, d, v.RestoredFrom, v.SealedSigningSecret)
		}
		if v.SavedAt.IsZero() || v.SavedAt.Before(*doc.CreatedAt) {
			t.Errorf("version %d saved at %v, created %v", c.version, v.SavedAt, doc.CreatedAt)
		}
	}
	// The current version carries the same.
	cur, err := st.Automation(ctx, a, doc.ID)
	if err != nil || cur.Doc.Version != 3 || cur.SavedBy != nil || !cur.SavedAt.Equal(*doc.UpdatedAt) {
		t.Errorf("current = %+v, %v", cur, err)
	}
	list, _, err := st.Automations(ctx, a, store.AutomationFilter{}, store.Page{})
	if err != nil || len(list) != 1 || !list[0].SavedAt.Equal(*doc.UpdatedAt) {
		t.Errorf("list = %+v, %v", list, err)
	}
}

func testAutomationVersions(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	doc := newAutomation(t, st, a, callAPI("n1", automation.Manual))
	for _, name := range []string{"n2", "n3", "n4", "n5"} {
		doc.Name = name
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			return tx.SaveAutomationBy(ctx, a, doc, "", store.VersionMeta{SavedBy: &store.Actor{Type: store.ActorUser, ID: "usr_" + name, Name: name}})
		})
	}
	other := newAutomation(t, st, a, callAPI("other", automation.Manual))
	// Newest first, two at a time.
	var names []string
	var versions []int64
	page := store.Page{Limit: 2}
	for pages := 0; ; pages++ {
		list, next, err := st.AutomationVersions(ctx, a, doc.ID, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range list {
			names = append(names, v.Doc.Name)
			versions = append(versions, v.Doc.Version)
			if v.Doc.Version > 1 && (v.SavedBy == nil || v.SavedBy.Name != v.Doc.Name) {
				t.Errorf("version %d saved by %+v", v.Doc.Version, v.SavedBy)
			}
		}
		if next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		page.Cursor = next
	}
	if want := []string{"n5", "n4", "n3", "n2", "n1"}; !slices.Equal(names, want) || !slices.Equal(versions, []int64{5, 4, 3, 2, 1}) {
		t.Errorf("versions %v %v, want %v", names, versions, want)
	}
	if list, _, err := st.AutomationVersions(ctx, a, other.ID, store.Page{}); err != nil || len(list) != 1 || list[0].Doc.Name != "other" {
		t.Errorf("the other automation's versions: %+v, %v", list, err)
	}
	// Another organisation's, an unknown and a deleted automation have none.
	_, _, err := st.AutomationVersions(ctx, b, doc.ID, store.Page{})
	wantErr(t, "another organisation's", err, store.ErrNotFound)
	_, _, err = st.AutomationVersions(ctx, a, "aut_unknown", store.Page{})
	wantErr(t, "unknown", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteAutomation(ctx, a, other.ID) })
	_, _, err = st.AutomationVersions(ctx, a, other.ID, store.Page{})
	wantErr(t, "deleted", err, store.ErrNotFound)
	// A cursor that is not one.
	for _, c := range []string{"!!", "eA", "MA"} { // not base64, "x", "0"
		_, _, err = st.AutomationVersions(ctx, a, doc.ID, store.Page{Cursor: c})
		wantErr(t, "cursor "+c, err, store.ErrBadInput)
	}
}
