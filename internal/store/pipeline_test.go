package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/store"
)

// TestExecExpect: a statement that must match a row (execExpect), in its
// two forms, on both databases: a SELECT that must find one (a check
// written for nothing else, say that a cache is current) and a DELETE
// that must remove one. When none matches, the Write call fails with
// failAs (on PostgreSQL, which held the statement, at the call's next
// statement or at the commit) and writes nothing; an error that is not
// the check's stays as it is.
// (UpdateRun's and UpdateRecord's use of it, and the moments its failure
// shows, are the conformance suite's: Write/ACheckedWriteMatchingNoRow…)
func TestExecExpect(t *testing.T) {
	t.Parallel()
	pgtest.EachStore(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var org *store.Organisation
		if err := st.Write(ctx, func(tx *store.Tx) (err error) {
			org, err = tx.CreateOrganisation(ctx, "checked")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		gone := errors.New("the organisation is gone")
		named := func(name string) func(tx *store.Tx) error {
			return func(tx *store.Tx) error {
				if err := store.ExecExpect(ctx, tx, gone, `SELECT 1 FROM organisations WHERE id = ? AND name = ?`, org.ID, name); err != nil {
					return err
				}
				_, err := tx.CreateOrganisation(ctx, "after "+name)
				return err
			}
		}
		if err := st.Write(ctx, named("checked")); err != nil {
			t.Errorf("a check that matches: %v", err)
		}
		if err := st.Write(ctx, named("other")); !errors.Is(err, gone) {
			t.Errorf("a check that matches no row: %v, want failAs", err)
		}
		err := st.Write(ctx, func(tx *store.Tx) error {
			return store.ExecExpect(ctx, tx, gone, `DELETE FROM organisations WHERE id = ?`, "org_none")
		})
		if !errors.Is(err, gone) {
			t.Errorf("a delete that matches no row: %v, want failAs", err)
		}
		err = st.Write(ctx, func(tx *store.Tx) error {
			return store.ExecExpect(ctx, tx, gone, `SELECT 1 FROM no_such_table WHERE id = ?`, org.ID)
		})
		if err == nil || errors.Is(err, gone) {
			t.Errorf("a check the database refuses for another reason: %v, want that error", err)
		}
		orgs, _, err := st.Organisations(ctx, store.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, o := range orgs {
			names = append(names, o.Name)
		}
		if len(names) != 2 {
			t.Errorf("organisations %v, want the first and the one created after the check that matched", names)
		}
	})
}
