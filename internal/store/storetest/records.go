package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

func testCreateCollection(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	c := newCollection(t, st, a)
	if c.ID[:4] != "col_" || c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
		t.Errorf("created %+v", c)
	}
	got, err := st.Collection(ctx, a, "leads")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(c, got); d != "" {
		t.Errorf("read back (-created +read):\n%s", d)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.CreateCollection(ctx, a, leads()) })
	wantErr(t, "a taken key", err, store.ErrConflict)
	newCollection(t, st, b) // the same key in another organisation
	// No fields or stages read back as empty lists, not null.
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		return tx.CreateCollection(ctx, a, &record.Collection{Key: "bare", Name: "Bare"})
	})
	bare, err := st.Collection(ctx, a, "bare")
	if err != nil || bare.Fields == nil || bare.Stages == nil {
		t.Errorf("bare collection = %+v, %v; want empty lists", bare, err)
	}
}

func testUpdateCollection(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	c := newCollection(t, st, a)
	created := c.CreatedAt
	c.Name = "Deals"
	c.Fields = append(c.Fields, record.Field{Key: "owner", Name: "Owner", Type: record.Text})
	c.Stages = []string{"Open", "Closed"}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateCollection(ctx, a, c) })
	got, err := st.Collection(ctx, a, "leads")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(c, got); d != "" {
		t.Errorf("read back (-updated +read):\n%s", d)
	}
	if !got.CreatedAt.Equal(created) || got.UpdatedAt.Before(created) {
		t.Errorf("times %v / %v after an update of a collection created %v", got.CreatedAt, got.UpdatedAt, created)
	}
	missing := leads()
	missing.Key = "missing"
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateCollection(ctx, a, missing) })
	wantErr(t, "an unknown collection", err, store.ErrNotFound)
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateCollection(ctx, b, c) })
	wantErr(t, "another organisation's collection", err, store.ErrNotFound)
}

func testDeleteCollection(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	newCollection(t, st, a)
	newCollection(t, st, b)
	newRecord(t, st, a, map[string]any{"name": "gone"})
	kept := newRecord(t, st, b, map[string]any{"name": "kept"})
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteCollection(ctx, a, "leads") })
	if _, err := st.Collection(ctx, a, "leads"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted collection: %v, want ErrNotFound", err)
	}
	if recs, _, err := st.Records(ctx, a, "leads", store.RecordFilter{}, store.Page{}); err != nil || len(recs) != 0 {
		t.Errorf("records of a deleted collection: %d (%v), want none", len(recs), err)
	}
	if _, err := st.Record(ctx, b, "leads", kept.ID); err != nil {
		t.Errorf("another organisation's record of the same key: %v", err)
	}
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteCollection(ctx, a, "leads") })
	wantErr(t, "deleting twice", err, store.ErrNotFound)
}

func testCollection(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	c := newCollection(t, st, a)
	if _, err := st.Collection(ctx, b, "leads"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another organisation's collection: %v, want ErrNotFound", err)
	}
	// A transaction reads its own writes.
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		c.Name = "Renamed"
		if err := tx.UpdateCollection(ctx, a, c); err != nil {
			return err
		}
		got, err := tx.Collection(ctx, a, "leads")
		if err != nil || got.Name != "Renamed" {
			t.Errorf("inside the transaction: %+v, %v", got, err)
		}
		return err
	})
}

func testCollections(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	var made []*record.Collection
	for _, key := range []string{"one", "two", "three"} {
		c := &record.Collection{Key: key, Name: key, Fields: []record.Field{}, Stages: []string{}}
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.CreateCollection(ctx, a, c) })
		made = append(made, c)
	}
	newCollection(t, st, b)
	got := listAll(t, func(p store.Page) ([]*record.Collection, string, error) { return st.Collections(ctx, a, p) })
	if d := cmp.Diff([]*record.Collection{made[2], made[1], made[0]}, got); d != "" {
		t.Errorf("collections, newest first (-want +got):\n%s", d)
	}
}

// listAll reads every page of a list, one item per page, and checks that
// the last page says so.
func listAll[T any](t *testing.T, list func(store.Page) ([]T, string, error)) []T {
	t.Helper()
	var all []T
	page := store.Page{Limit: 1}
	for range 1000 {
		items, next, err := list(page)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		page.Cursor = next
	}
	t.Fatal("a list that never ends")
	return nil
}

func testInsertRecord(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	newCollection(t, st, org)
	// Numbers keep every digit (they are read back as json.Number).
	fields := map[string]any{"name": "Ada", "value": json.Number("12345678901234567891.50"), "due": "2030-01-02",
		"nested": map[string]any{"a": []any{json.Number("1"), "x", nil, true}}}
	r := newRecord(t, st, org, fields)
	if r.ID[:4] != "rec_" || r.Version != 1 || r.CreatedAt.IsZero() || !r.UpdatedAt.Equal(r.CreatedAt) {
		t.Errorf("inserted %+v", r)
	}
	got, err := st.Record(ctx, org, "leads", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Errorf("read back (-inserted +read):\n%s", d)
	}
	// No fields read back as an empty map.
	empty := newRecord(t, st, org, nil)
	if got, err := st.Record(ctx, org, "leads", empty.ID); err != nil || got.Fields == nil {
		t.Errorf("a record without fields = %+v, %v", got, err)
	}
}

func testUpdateRecord(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	newCollection(t, st, a)
	r := newRecord(t, st, a, map[string]any{"name": "Ada"})
	stale := *r
	r.Stage, r.Fields = "Won", map[string]any{"name": "Ada Lovelace", "value": json.Number("3")}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRecord(ctx, a, r) })
	if r.Version != 2 || r.UpdatedAt.Before(r.CreatedAt) {
		t.Errorf("after the update: version %d, updated %v", r.Version, r.UpdatedAt)
	}
	got, err := st.Record(ctx, a, "leads", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Errorf("read back (-updated +read):\n%s", d)
	}
	// A writer holding an old version loses.
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRecord(ctx, a, &stale) })
	wantErr(t, "a stale version", err, store.ErrConflict)
	other := *r
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRecord(ctx, b, &other) })
	wantErr(t, "another organisation's record", err, store.ErrConflict)
	if other.Version != r.Version {
		t.Errorf("a failed update changed the version to %d", other.Version)
	}
}

func testUpdateRecordAt(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a := newOrg(t, st)
	newCollection(t, st, a)
	r := newRecord(t, st, a, map[string]any{"name": "Ada"})
	stale := *r
	// The caller chose the time of the change before its transaction: the
	// record says that time (to the microsecond), not the commit's.
	when := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", 3600))
	r.Fields = map[string]any{"name": "Ada Lovelace"}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRecordAt(ctx, a, r, when) })
	want := when.UTC().Truncate(time.Microsecond)
	if !r.UpdatedAt.Equal(want) || r.Version != 2 {
		t.Errorf("after the update: updated %v version %d; want %v, 2", r.UpdatedAt, r.Version, want)
	}
	got, err := st.Record(ctx, a, "leads", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Errorf("read back (-updated +read):\n%s", d)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UpdateRecordAt(ctx, a, &stale, when) })
	wantErr(t, "a stale version", err, store.ErrConflict)
}

func testNewRecordID(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a := newOrg(t, st)
	newCollection(t, st, a)
	id, other := store.NewRecordID(), store.NewRecordID()
	if !strings.HasPrefix(id, "rec_") || id == other {
		t.Errorf("ids %q, %q: want distinct rec_ ids", id, other)
	}
	// An id and a creation time chosen before the transaction are kept.
	created := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
	r := &record.Record{ID: id, Collection: "leads", Stage: "New", Fields: map[string]any{"name": "Ada"}, CreatedAt: created}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRecord(ctx, a, r) })
	got, err := st.Record(ctx, a, "leads", id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || !got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(created) {
		t.Errorf("stored %s created %v updated %v; want %s at %v", got.ID, got.CreatedAt, got.UpdatedAt, id, created)
	}
}

func testLockRecord(t *testing.T, s *suite) {
	st := s.shared
	ctx := context.Background()
	unlock, err := st.LockRecord(ctx, "org_a", "rec_1")
	if err != nil {
		t.Fatal(err)
	}
	// Another record, or the same id in another organisation, is free.
	for _, k := range [][2]string{{"org_a", "rec_2"}, {"org_b", "rec_1"}} {
		u, err := st.LockRecord(ctx, k[0], k[1])
		if err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		u()
	}
	// The same record waits for its holder (a waiter whose context ends
	// gives up with the context's error), and gets it once it is unlocked.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := st.LockRecord(short, "org_a", "rec_1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("locked twice: %v, want the context's deadline", err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := st.LockRecord(ctx, "org_a", "rec_1")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	unlock()
	select {
	case u := <-got:
		u()
	case <-time.After(wait):
		t.Fatal("the waiting writer never got the record after it was unlocked")
	}
}

func testDeleteRecord(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	newCollection(t, st, a)
	r := newRecord(t, st, a, map[string]any{"name": "Ada"})
	aut := newAutomation(t, st, a, callAPI("due", "record_due"))
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		return tx.PutDue(ctx, store.Due{AutomationID: aut.ID, RecordID: r.ID, OrgID: a, At: time.Now().Add(time.Hour), Value: "2030-01-02"})
	})
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteRecord(ctx, b, "leads", r.ID) })
	wantErr(t, "another organisation's record", err, store.ErrNotFound)
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteRecord(ctx, a, "other", r.ID) })
	wantErr(t, "the record from another collection", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.DeleteRecord(ctx, a, "leads", r.ID); err != nil {
			return err
		}
		if _, ok, err := tx.DueValue(ctx, a, aut.ID, r.ID); ok || err != nil {
			t.Errorf("the deleted record's due row is still there (%v)", err)
		}
		return nil
	})
	if _, err := st.Record(ctx, a, "leads", r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted record: %v, want ErrNotFound", err)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteRecord(ctx, a, "leads", r.ID) })
	wantErr(t, "deleting twice", err, store.ErrNotFound)
}

func testRecord(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	r := newRecord(t, st, a, map[string]any{"name": "Ada"})
	for _, c := range []struct {
		name, org, collection, id string
		want                      error
	}{
		{"its own", a, "leads", r.ID, nil},
		{"another organisation's", b, "leads", r.ID, store.ErrNotFound},
		{"from another collection", a, "deals", r.ID, store.ErrNotFound},
		{"unknown", a, "leads", "rec_unknown", store.ErrNotFound},
	} {
		got, err := st.Record(ctx, c.org, c.collection, c.id)
		wantErr(t, c.name, err, c.want)
		if c.want == nil && (err != nil || got.ID != r.ID) {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
	// A transaction reads its own writes.
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		n := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{}}
		if err := tx.InsertRecord(ctx, a, n); err != nil {
			return err
		}
		_, err := tx.Record(ctx, a, "leads", n.ID)
		return err
	})
}

func testRecordForUpdate(t *testing.T, s *suite) {
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	r := newRecord(t, st, a, map[string]any{"name": "Ada"})
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		got, err := tx.RecordForUpdate(ctx, a, "leads", r.ID)
		if err != nil || got.Version != 1 {
			t.Errorf("RecordForUpdate = %+v, %v", got, err)
		}
		if _, err := tx.RecordForUpdate(ctx, b, "leads", r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another organisation's record: %v, want ErrNotFound", err)
		}
		if _, err := tx.RecordForUpdate(ctx, a, "deals", r.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the record from another collection: %v, want ErrNotFound", err)
		}
		return nil
	})
	if !s.b.Clustered {
		return // one writer: the record cannot change under a transaction
	}
	// The record stays locked until the transaction ends: another node's
	// RecordForUpdate waits, then reads the version written meanwhile.
	url := s.b.NewURL(t)
	n1, n2 := s.openURL(t, store.Config{URL: url}), s.openURL(t, store.Config{URL: url})
	org := newOrg(t, n1)
	rec := newRecord(t, n1, org, map[string]any{"name": "Ada"})
	holdsUntilCommit(t, n1, n2,
		func(ctx context.Context, tx *store.Tx) error {
			got, err := tx.RecordForUpdate(ctx, org, "leads", rec.ID)
			if err != nil {
				return err
			}
			got.Fields["name"] = "Ada Lovelace"
			return tx.UpdateRecord(ctx, org, got)
		},
		func(ctx context.Context, tx *store.Tx) error {
			got, err := tx.RecordForUpdate(ctx, org, "leads", rec.ID)
			if err != nil {
				return err
			}
			if got.Version != 2 {
				t.Errorf("the second node read version %d, want 2: the record was not locked", got.Version)
			}
			return nil
		})
}

func testRecordByID(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	r := newRecord(t, st, a, map[string]any{"name": "Ada"})
	got, err := st.RecordByID(ctx, a, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Errorf("by id (-inserted +read):\n%s", d)
	}
	if _, err := st.RecordByID(ctx, b, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another organisation's record: %v, want ErrNotFound", err)
	}
}

func testRecords(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	var won, all []*record.Record
	for i := range 5 {
		r := &record.Record{Collection: "leads", Stage: "New", Fields: map[string]any{"value": json.Number(fmt.Sprint(i))}}
		if i%2 == 0 {
			r.Stage = "Won"
		}
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertRecord(ctx, a, r) })
		all = append([]*record.Record{r}, all...) // newest first
		if r.Stage == "Won" {
			won = append([]*record.Record{r}, won...)
		}
	}
	newRecord(t, st, b, nil)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		return tx.InsertRecord(ctx, a, &record.Record{Collection: "deals", Stage: "New", Fields: map[string]any{}})
	})
	got := listAll(t, func(p store.Page) ([]*record.Record, string, error) {
		return st.Records(ctx, a, "leads", store.RecordFilter{}, p)
	})
	if d := cmp.Diff(all, got); d != "" {
		t.Errorf("records, newest first (-want +got):\n%s", d)
	}
	got = listAll(t, func(p store.Page) ([]*record.Record, string, error) {
		return st.Records(ctx, a, "leads", store.RecordFilter{Stage: "Won"}, p)
	})
	if d := cmp.Diff(won, got); d != "" {
		t.Errorf("records in stage Won (-want +got):\n%s", d)
	}
	page, next, err := st.Records(ctx, a, "leads", store.RecordFilter{}, store.Page{})
	if err != nil || len(page) != 5 || next != "" {
		t.Errorf("the default page: %d records, next %q, %v", len(page), next, err)
	}
	for _, bad := range []string{"!!", "%%%", "a b"} {
		if _, _, err := st.Records(ctx, a, "leads", store.RecordFilter{}, store.Page{Cursor: bad}); !errors.Is(err, store.ErrBadInput) {
			t.Errorf("cursor %q: %v, want ErrBadInput", bad, err)
		}
	}
}
