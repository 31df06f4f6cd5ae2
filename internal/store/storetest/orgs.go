package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/store"
)

func testCreateOrganisation(t *testing.T, s *suite) {
	st := s.shared
	var a, b *store.Organisation
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		if a, err = tx.CreateOrganisation(ctx, "Acme"); err != nil {
			return err
		}
		b, err = tx.CreateOrganisation(ctx, "Acme") // names need not be unique
		return err
	})
	if a.ID == b.ID || a.Name != "Acme" || a.CreatedAt.IsZero() || a.ID[:4] != "org_" {
		t.Errorf("created %+v and %+v", a, b)
	}
	if b.ID <= a.ID {
		t.Errorf("ids %s then %s: they must sort by creation", a.ID, b.ID)
	}
}

func testOrganisations(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	var made []*store.Organisation
	for _, name := range []string{"A", "B", "C"} {
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			o, err := tx.CreateOrganisation(ctx, name)
			made = append(made, o)
			return err
		})
	}
	got := listAll(t, func(p store.Page) ([]*store.Organisation, string, error) { return st.Organisations(ctx, p) })
	if d := cmp.Diff([]*store.Organisation{made[2], made[1], made[0]}, got); d != "" {
		t.Errorf("organisations, newest first (-want +got):\n%s", d)
	}
}

func testCountOrganisations(t *testing.T, s *suite) {
	st := s.fresh(t)
	countsUp(t, st.CountOrganisations, func() { newOrg(t, st) })
}

// countsUp checks that count answers 0 on a new store, then 2 after add
// has run twice.
func countsUp(t *testing.T, count func(context.Context) (int, error), add func()) {
	t.Helper()
	if n, err := count(context.Background()); err != nil || n != 0 {
		t.Errorf("new store: %d, %v", n, err)
	}
	add()
	add()
	if n, err := count(context.Background()); err != nil || n != 2 {
		t.Errorf("count = %d, %v; want 2", n, err)
	}
}

// newKey creates an API key of org with a unique hash.
func newKey(t *testing.T, st *store.Store, org string, admin bool) (*store.APIKey, string) {
	t.Helper()
	hash := uniq("hash")
	var k *store.APIKey
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		k, err = tx.CreateAPIKey(ctx, org, "ci", "ahk_abcdef", hash, admin, "owner")
		return err
	})
	return k, hash
}

func testCreateAPIKey(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	k, hash := newKey(t, st, org, true)
	want := &store.APIKey{ID: k.ID, OrgID: org, Name: "ci", Prefix: "ahk_abcdef", InstanceAdmin: true, Role: "owner", CreatedAt: k.CreatedAt}
	if d := cmp.Diff(want, k); d != "" || k.CreatedAt.IsZero() {
		t.Errorf("created (-want +got):\n%s", d)
	}
	got, err := st.APIKeyByHash(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(k, got); d != "" {
		t.Errorf("read back (-created +read):\n%s", d)
	}
	// A hash is one key's.
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.CreateAPIKey(ctx, newOrgIn(ctx, tx), "other", "ahk_x", hash, false, "owner")
		return err
	})
	if err == nil {
		t.Error("a second key with the same hash was stored")
	}
}

// newOrgIn creates an organisation inside tx, for tests that need one in
// the same transaction.
func newOrgIn(ctx context.Context, tx *store.Tx) string {
	o, err := tx.CreateOrganisation(ctx, "in tx")
	if err != nil {
		return "org_failed"
	}
	return o.ID
}

func testAPIKeyByHash(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	k, hash := newKey(t, st, org, false)
	if got, err := st.APIKeyByHash(ctx, hash); err != nil || got.ID != k.ID || got.OrgID != org {
		t.Errorf("by hash = %+v, %v", got, err)
	}
	if _, err := st.APIKeyByHash(ctx, uniq("unknown")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeAPIKey(ctx, org, k.ID) })
	if _, err := st.APIKeyByHash(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked key: %v, want ErrNotFound", err)
	}
}

func testAPIKeys(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	k1, _ := newKey(t, st, a, false)
	k2, _ := newKey(t, st, a, false)
	k3, _ := newKey(t, st, a, false)
	newKey(t, st, b, false)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeAPIKey(ctx, a, k2.ID) })
	got := listAll(t, func(p store.Page) ([]*store.APIKey, string, error) { return st.APIKeys(ctx, a, p) })
	if d := cmp.Diff([]*store.APIKey{k3, k1}, got); d != "" {
		t.Errorf("keys, newest first, without the revoked one (-want +got):\n%s", d)
	}
}

func testRevokeAPIKey(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	k, _ := newKey(t, st, a, false)
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeAPIKey(ctx, b, k.ID) })
	wantErr(t, "revoking another organisation's key", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeAPIKey(ctx, a, k.ID) })
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeAPIKey(ctx, a, k.ID) })
	wantErr(t, "revoking twice", err, store.ErrNotFound)
	if keys, _, err := st.APIKeys(ctx, a, store.Page{}); err != nil || len(keys) != 0 {
		t.Errorf("keys after revoking = %v, %v", keys, err)
	}
}

func testTouchAPIKey(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	k, hash := newKey(t, st, org, false)
	if k.LastUsedAt != nil {
		t.Errorf("a new key was used at %v", k.LastUsedAt)
	}
	used := at(time.Now().Add(-time.Minute))
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.TouchAPIKey(ctx, k.ID, used) })
	got, err := st.APIKeyByHash(ctx, hash)
	if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
		t.Errorf("last used = %v (%v), want %v", got, err, used)
	}
	// An unknown key is no error: the key may have been revoked meanwhile.
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.TouchAPIKey(ctx, "key_unknown", used) })
}

func testAPIKey(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	k, _ := newKey(t, st, a, false)
	got, err := st.APIKey(ctx, a, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(k, got); d != "" {
		t.Errorf("read back (-created +read):\n%s", d)
	}
	_, err = st.APIKey(ctx, b, k.ID)
	wantErr(t, "another organisation's key", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.RevokeAPIKey(ctx, a, k.ID) })
	_, err = st.APIKey(ctx, a, k.ID)
	wantErr(t, "a revoked key", err, store.ErrNotFound)
}
