package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/store"
)

func testUsers(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	u1, u2 := newUser(t, st, a), newUser(t, st, a)
	newUser(t, st, b)
	got, next, err := st.Users(ctx, a, store.Page{Limit: 1})
	if err != nil || len(got) != 1 || next == "" || got[0].ID != u2.ID {
		t.Fatalf("first page = %v, %q, %v; want %s and a cursor", got, next, err, u2.ID)
	}
	got, next, err = st.Users(ctx, a, store.Page{Limit: 1, Cursor: next})
	if err != nil || len(got) != 1 || next != "" {
		t.Fatalf("second page = %v, %q, %v", got, next, err)
	}
	if d := cmp.Diff(u1, got[0]); d != "" {
		t.Errorf("listed (-created +listed):\n%s", d)
	}
}

func testCountOwners(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	u := newUser(t, st, org) // an editor
	countOwners := func() int {
		n, err := st.CountOwners(ctx, org)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := countOwners(); n != 0 {
		t.Errorf("owners = %d, want 0", n)
	}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SetUserRole(ctx, org, u.ID, "owner") })
	newUser(t, st, newOrg(t, st)) // another organisation's
	if n := countOwners(); n != 1 {
		t.Errorf("owners = %d, want 1", n)
	}
}

func testSetUserRole(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	u := newUser(t, st, a)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SetUserRole(ctx, a, u.ID, "viewer") })
	if got, err := st.User(ctx, a, u.ID); err != nil || got.Role != "viewer" {
		t.Errorf("after SetUserRole: %+v, %v", got, err)
	}
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.SetUserRole(ctx, b, u.ID, "owner") })
	wantErr(t, "another organisation's user", err, store.ErrNotFound)
	if got, _ := st.User(ctx, a, u.ID); got.Role != "viewer" {
		t.Errorf("role %q after another organisation's attempt", got.Role)
	}
}

func testSetUserPassword(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	u := newUser(t, st, a)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.SetUserPassword(ctx, a, u.ID, "new-hash") })
	if got, err := st.User(ctx, a, u.ID); err != nil || got.PasswordHash != "new-hash" {
		t.Errorf("after SetUserPassword: %+v, %v", got, err)
	}
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.SetUserPassword(ctx, b, u.ID, "b-hash") })
	wantErr(t, "another organisation's user", err, store.ErrNotFound)
}

func testDeleteUser(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	u, kept := newUser(t, st, a), newUser(t, st, a)
	_, hash := newSession(t, st, u, time.Now().Add(time.Hour))
	_, keptHash := newSession(t, st, kept, time.Now().Add(time.Hour))
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteUser(ctx, b, u.ID) })
	wantErr(t, "another organisation's user", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteUser(ctx, a, u.ID) })
	if _, err := st.User(ctx, a, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted user: %v", err)
	}
	if _, err := st.SessionByHash(ctx, hash, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted user's session: %v, want ErrNotFound", err)
	}
	if _, err := st.SessionByHash(ctx, keptHash, time.Now()); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteUser(ctx, a, u.ID) })
	wantErr(t, "deleted twice", err, store.ErrNotFound)
}

func testDeleteUserSessions(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	u, other := newUser(t, st, a), newUser(t, st, a)
	_, h1 := newSession(t, st, u, time.Now().Add(time.Hour))
	_, h2 := newSession(t, st, u, time.Now().Add(time.Hour))
	_, keep := newSession(t, st, u, time.Now().Add(time.Hour))
	_, otherHash := newSession(t, st, other, time.Now().Add(time.Hour))
	var n int64
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		if n, err = tx.DeleteUserSessions(ctx, b, u.ID, ""); err != nil || n != 0 {
			t.Errorf("another organisation: deleted %d, %v", n, err)
		}
		n, err = tx.DeleteUserSessions(ctx, a, u.ID, keep)
		return err
	})
	if n != 2 {
		t.Errorf("deleted %d sessions, want 2", n)
	}
	for hash, want := range map[string]error{h1: store.ErrNotFound, h2: store.ErrNotFound, keep: nil, otherHash: nil} {
		_, err := st.SessionByHash(ctx, hash, time.Now())
		wantErr(t, "session "+hash, err, want)
	}
}

func newInvitation(t *testing.T, st *store.Store, org string, expires time.Time) (*store.Invitation, string) {
	t.Helper()
	hash := uniq("invitation")
	inv := &store.Invitation{OrgID: org, Email: uniq("ana") + "@example.com", Role: "editor", ExpiresAt: at(expires)}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.CreateInvitation(ctx, inv, hash) })
	return inv, hash
}

func testCreateInvitation(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	inv, hash := newInvitation(t, st, newOrg(t, st), time.Now().Add(time.Hour))
	if inv.ID[:4] != "inv_" || inv.CreatedAt.IsZero() {
		t.Errorf("created %+v", inv)
	}
	got, err := st.InvitationByHash(ctx, hash, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(inv, got); d != "" {
		t.Errorf("read back (-created +read):\n%s", d)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		return tx.CreateInvitation(ctx, &store.Invitation{OrgID: inv.OrgID, Email: "x@example.com", Role: "viewer", ExpiresAt: inv.ExpiresAt}, hash)
	})
	if err == nil {
		t.Error("a second invitation with the same token hash was stored")
	}
}

func testInvitationByHash(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	expires := at(time.Now().Add(time.Hour))
	_, hash := newInvitation(t, st, newOrg(t, st), expires)
	checkByHash(t, expires, func(now time.Time) error { _, err := st.InvitationByHash(ctx, hash, now); return err },
		func() error { _, err := st.InvitationByHash(ctx, uniq("unknown"), time.Now()); return err })
}

func testUseInvitation(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	inv, hash := newInvitation(t, st, a, time.Now().Add(time.Hour))
	err := try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UseInvitation(ctx, b, inv.ID, time.Now()) })
	wantErr(t, "another organisation's invitation", err, store.ErrNotFound)
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.UseInvitation(ctx, a, inv.ID, time.Now()) })
	_, err = st.InvitationByHash(ctx, hash, time.Now())
	wantErr(t, "a used invitation", err, store.ErrNotFound)
	err = try(st, func(ctx context.Context, tx *store.Tx) error { return tx.UseInvitation(ctx, a, inv.ID, time.Now()) })
	wantErr(t, "used twice", err, store.ErrNotFound)
	old, _ := newInvitation(t, st, a, time.Now().Add(time.Minute))
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		return tx.UseInvitation(ctx, a, old.ID, time.Now().Add(time.Hour))
	})
	wantErr(t, "an expired invitation", err, store.ErrNotFound)
}

// newAudit inserts an audit entry of org.
func newAudit(t *testing.T, st *store.Store, org, action, actorID string) *store.AuditEntry {
	t.Helper()
	e := &store.AuditEntry{OrgID: org, Actor: store.Actor{Type: "user", ID: actorID, Name: "Ada"}, Action: action,
		Target: autoTarget(), Details: json.RawMessage(`{"fromVersion":1,"toVersion":2}`)}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.InsertAudit(ctx, e) })
	return e
}

func autoTarget() store.AuditTarget {
	return store.AuditTarget{Type: "automation", ID: "aut_1", Name: "Send leads"}
}

func testInsertAudit(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org := newOrg(t, st)
	e := newAudit(t, st, org, "automation.updated", "usr_1")
	if e.ID[:4] != "aud_" || e.At.IsZero() {
		t.Errorf("inserted %+v", e)
	}
	got, _, err := st.Audit(ctx, org, store.AuditFilter{}, store.Page{})
	if err != nil || len(got) != 1 {
		t.Fatalf("Audit = %v, %v", got, err)
	}
	if d := cmp.Diff(e, got[0]); d != "" {
		t.Errorf("read back (-inserted +read):\n%s", d)
	}
	// The entry is part of its transaction: rolled back with it.
	boom := errors.New("the change failed")
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.InsertAudit(ctx, &store.AuditEntry{OrgID: org, Action: "secret.put", Actor: e.Actor, Target: e.Target}); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "a failed transaction", err, boom)
	if got, _, _ := st.Audit(ctx, org, store.AuditFilter{}, store.Page{}); len(got) != 1 {
		t.Errorf("after a rolled-back transaction: %d entries, want 1", len(got))
	}
}

func testAudit(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	e1 := newAudit(t, st, a, "automation.updated", "usr_1")
	e2 := newAudit(t, st, a, "secret.put", "usr_2")
	e3 := newAudit(t, st, a, "automation.updated", "usr_2")
	newAudit(t, st, b, "automation.updated", "usr_1")
	ids := func(es []*store.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"all", store.AuditFilter{}, []string{e3.ID, e2.ID, e1.ID}},
		{"action", store.AuditFilter{Action: "automation.updated"}, []string{e3.ID, e1.ID}},
		{"actor", store.AuditFilter{ActorID: "usr_2"}, []string{e3.ID, e2.ID}},
		{"since", store.AuditFilter{Since: e2.At}, []string{e3.ID, e2.ID}},
		{"until", store.AuditFilter{Until: e2.At}, []string{e1.ID}},
	} {
		got, _, err := st.Audit(ctx, a, c.f, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(c.want, ids(got)); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
	got, next, err := st.Audit(ctx, a, store.AuditFilter{}, store.Page{Limit: 2})
	if err != nil || len(got) != 2 || next == "" {
		t.Fatalf("page 1: %d, %q, %v", len(got), next, err)
	}
	got, next, err = st.Audit(ctx, a, store.AuditFilter{}, store.Page{Limit: 2, Cursor: next})
	if err != nil || next != "" || len(got) != 1 || got[0].ID != e1.ID {
		t.Errorf("page 2: %v, %q, %v", ids(got), next, err)
	}
	if _, _, err := st.Audit(ctx, a, store.AuditFilter{}, store.Page{Cursor: "%%%"}); !errors.Is(err, store.ErrBadInput) {
		t.Errorf("malformed cursor: %v, want ErrBadInput", err)
	}
}

func testPruneAudit(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	org := newOrg(t, st)
	old1, old2 := newAudit(t, st, org, "a", "x"), newAudit(t, st, org, "b", "x")
	kept := newAudit(t, st, org, "c", "x")
	cutoff := kept.At // entries made before it go
	var n1, n2 int
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		if n1, err = tx.PruneAudit(ctx, cutoff, 1); err != nil {
			return err
		}
		n2, err = tx.PruneAudit(ctx, cutoff, 10)
		return err
	})
	if n1 != 1 || n2 != 1 {
		t.Errorf("pruned %d then %d, want 1 then 1 (the limit)", n1, n2)
	}
	got, _, _ := st.Audit(ctx, org, store.AuditFilter{}, store.Page{})
	if len(got) != 1 || got[0].ID != kept.ID {
		t.Errorf("left %v, want only %s (pruned %s, %s)", got, kept.ID, old1.ID, old2.ID)
	}
}
