package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
)

// The installation's facts (autohook_meta) and the sealed values the key
// rotation goes through (internal/keyring).

func testMeta(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	name := uniq("meta")
	if v, err := st.Meta(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Meta of a name never written = %q, %v; want ErrNotFound", v, err)
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SetMeta(ctx, name, "one") })
	if v, err := st.Meta(ctx, name); err != nil || v != "one" {
		t.Errorf("Meta = %q, %v; want one", v, err)
	}
}

func testSetMeta(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	name := uniq("meta")
	for _, v := range []string{"one", "two", ""} {
		write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SetMeta(ctx, name, v) })
		if got, err := st.Meta(ctx, name); err != nil || got != v {
			t.Errorf("after SetMeta(%q): Meta = %q, %v", v, got, err)
		}
	}
}

func testInsertMeta(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	name := uniq("meta")
	for i, want := range []bool{true, false} {
		var created bool
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			created, err = tx.InsertMeta(ctx, name, fmt.Sprint("value ", i))
			return err
		})
		if created != want {
			t.Errorf("InsertMeta #%d = %v, want %v", i+1, created, want)
		}
	}
	if v, err := st.Meta(ctx, name); err != nil || v != "value 0" {
		t.Errorf("Meta = %q, %v; want the first value (InsertMeta never replaces)", v, err)
	}
}

func testMetaForShare(t *testing.T, s *suite) {
	st := s.shared
	name := uniq("meta")
	err := try(st, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.MetaForShare(ctx, name)
		return err
	})
	wantErr(t, "a name never written", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.SetMeta(ctx, name, "check"); err != nil {
			return err
		}
		v, err := tx.MetaForShare(ctx, name) // sees the transaction's own write
		if err == nil && v != "check" {
			err = fmt.Errorf("MetaForShare = %q, want check", v)
		}
		return err
	})
}

// sealedFixture stores, in a database of its own: secrets B and A of two
// organisations, a signed automation with two versions and an unsigned
// one; it returns them as SealedValues orders them.
func sealedFixture(t *testing.T, st *store.Store) []store.SealedValue {
	t.Helper()
	a, b := newOrg(t, st), newOrg(t, st)
	if a > b {
		a, b = b, a
	}
	putSecret(t, st, b, "A", "sealed-b-A")
	putSecret(t, st, a, "B", "sealed-a-B")
	putSecret(t, st, a, "A", "sealed-a-A")
	signed := callAPI("signed", automation.RecordAdded)
	signed.Signing = &automation.Signing{Secret: automation.SecretRedacted}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, signed, "sealed-v1") })
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SaveAutomation(ctx, a, signed, "sealed-v2") })
	newAutomation(t, st, b, callAPI("unsigned", automation.RecordAdded))
	return []store.SealedValue{
		{Kind: store.SealedSecret, OrgID: a, Name: "A", Sealed: "sealed-a-A"},
		{Kind: store.SealedSecret, OrgID: a, Name: "B", Sealed: "sealed-a-B"},
		{Kind: store.SealedSecret, OrgID: b, Name: "A", Sealed: "sealed-b-A"},
		{Kind: store.SealedSigning, OrgID: a, Name: signed.ID, Version: 1, Sealed: "sealed-v1"},
		{Kind: store.SealedSigning, OrgID: a, Name: signed.ID, Version: 2, Sealed: "sealed-v2"},
	}
}

func testSealedValues(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	if got, err := st.SealedValues(ctx, store.SealedValue{}, 10); err != nil || len(got) != 0 {
		t.Errorf("SealedValues of an empty database = %v, %v", got, err)
	}
	want := sealedFixture(t, st)
	for _, limit := range []int{1, 2, 3, 100} {
		var got []store.SealedValue
		after := store.SealedValue{}
		for range 10 {
			page, err := st.SealedValues(ctx, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			after = page[len(page)-1]
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("paging by %d (-want +got):\n%s", limit, d)
		}
	}
}

func testLastSealedValue(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	if v, err := st.LastSealedValue(ctx); err != nil || v.Kind != "" {
		t.Errorf("LastSealedValue of an empty database = %+v, %v; want the zero value", v, err)
	}
	putSecret(t, st, newOrg(t, st), "ONLY", "sealed")
	if v, err := st.LastSealedValue(ctx); err != nil || v.Kind != store.SealedSecret || v.Name != "ONLY" {
		t.Errorf("with one secret: %+v, %v", v, err)
	}
	want := sealedFixture(t, st)
	v, err := st.LastSealedValue(ctx)
	last := want[len(want)-1]
	last.Sealed = ""
	if err != nil || v != last {
		t.Errorf("LastSealedValue = %+v, %v; want %+v", v, err, last)
	}
}

func testSealedValueAfter(t *testing.T, _ *suite) {
	sec := func(org, name string) store.SealedValue {
		return store.SealedValue{Kind: store.SealedSecret, OrgID: org, Name: name}
	}
	sig := func(id string, v int64) store.SealedValue {
		return store.SealedValue{Kind: store.SealedSigning, OrgID: "org_z", Name: id, Version: v}
	}
	ordered := []store.SealedValue{sec("org_a", "A"), sec("org_a", "B"), sec("org_b", "A"), sig("aut_1", 1), sig("aut_1", 2), sig("aut_2", 1)}
	for i, v := range ordered {
		for j, w := range ordered {
			if got := v.After(w); got != (i > j) {
				t.Errorf("%+v.After(%+v) = %v, want %v", v, w, got, i > j)
			}
		}
	}
}

func testReseal(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	vals := sealedFixture(t, st)
	for _, v := range []store.SealedValue{vals[0], vals[4]} {
		var ok bool
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			ok, err = tx.Reseal(ctx, v, v.Sealed+"-again")
			return err
		})
		if !ok {
			t.Errorf("Reseal(%+v) = false, want true", v)
		}
		// What it read is no longer there: a second Reseal from it does
		// nothing (a value changed meanwhile is left alone).
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			ok, err = tx.Reseal(ctx, v, "stale")
			return err
		})
		if ok {
			t.Errorf("Reseal from a stale value (%+v) = true, want false", v)
		}
	}
	got, err := st.SealedValues(ctx, store.SealedValue{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	vals[0].Sealed += "-again"
	vals[4].Sealed += "-again"
	if d := cmp.Diff(vals, got); d != "" {
		t.Errorf("after resealing (-want +got):\n%s", d)
	}
	if s, _ := st.Secrets(ctx, vals[0].OrgID); len(s) != 2 || !s[0].UpdatedAt.Equal(s[0].CreatedAt) {
		t.Errorf("secrets after resealing: %+v; want their times kept", s)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.Reseal(ctx, store.SealedValue{Kind: "other"}, "x")
		return err
	})
	if err == nil {
		t.Error("Reseal of an unknown kind: no error")
	}
}
