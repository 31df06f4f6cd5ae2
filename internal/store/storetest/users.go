package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/store"
)

// newUser creates a user of org with a unique email.
func newUser(t *testing.T, st *store.Store, org string) *store.User {
	t.Helper()
	u := &store.User{OrgID: org, Email: uniq("ada") + "@example.com", Name: "Ada", Role: "editor", PasswordHash: "$2a$10$hash"}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.CreateUser(ctx, u) })
	return u
}

func testCreateUser(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	u := newUser(t, st, a)
	if u.ID[:4] != "usr_" || u.CreatedAt.IsZero() {
		t.Errorf("created %+v", u)
	}
	got, err := st.User(ctx, a, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(u, got); d != "" {
		t.Errorf("read back (-created +read):\n%s", d)
	}
	// An email is one user's, across organisations.
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		return tx.CreateUser(ctx, &store.User{OrgID: b, Email: u.Email, Name: "Other", PasswordHash: "h"})
	})
	wantErr(t, "a taken email", err, store.ErrConflict)
}

func testUserByEmail(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	u := newUser(t, st, newOrg(t, st))
	got, err := st.UserByEmail(ctx, u.Email)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(u, got); d != "" {
		t.Errorf("by email (-created +read):\n%s", d)
	}
	if _, err := st.UserByEmail(ctx, uniq("nobody")+"@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown email: %v, want ErrNotFound", err)
	}
}

func testUser(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	u := newUser(t, st, a)
	if got, err := st.User(ctx, a, u.ID); err != nil || got.Email != u.Email {
		t.Errorf("User = %+v, %v", got, err)
	}
	if _, err := st.User(ctx, b, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another organisation's user: %v, want ErrNotFound", err)
	}
	if _, err := st.User(ctx, a, "usr_unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}

func testCountUsers(t *testing.T, s *suite) {
	st := s.fresh(t)
	countsUp(t, st.CountUsers, func() { newUser(t, st, newOrg(t, st)) })
}

// newSession stores a session of u expiring at expires, by a unique hash.
func newSession(t *testing.T, st *store.Store, u *store.User, expires time.Time) (*store.Session, string) {
	t.Helper()
	hash := uniq("session")
	sess := &store.Session{UserID: u.ID, OrgID: u.OrgID, CSRF: "csrf-token", ExpiresAt: at(expires)}
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.CreateSession(ctx, hash, sess) })
	return sess, hash
}

func testCreateSession(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	u := newUser(t, st, newOrg(t, st))
	sess, hash := newSession(t, st, u, time.Now().Add(time.Hour))
	if sess.CreatedAt.IsZero() {
		t.Error("CreatedAt not set")
	}
	got, err := st.SessionByHash(ctx, hash, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sess, got); d != "" {
		t.Errorf("read back (-created +read):\n%s", d)
	}
	err = try(st, func(ctx context.Context, tx *store.Tx) error {
		return tx.CreateSession(ctx, hash, &store.Session{UserID: u.ID, OrgID: u.OrgID})
	})
	if err == nil {
		t.Error("a second session with the same id hash was stored")
	}
}

func testSessionByHash(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	u := newUser(t, st, newOrg(t, st))
	expires := at(time.Now().Add(time.Hour))
	_, hash := newSession(t, st, u, expires)
	checkByHash(t, expires, func(now time.Time) error { _, err := st.SessionByHash(ctx, hash, now); return err },
		func() error { _, err := st.SessionByHash(ctx, uniq("unknown"), time.Now()); return err })
}

func testDeleteSession(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	u := newUser(t, st, newOrg(t, st))
	_, hash := newSession(t, st, u, time.Now().Add(time.Hour))
	_, kept := newSession(t, st, u, time.Now().Add(time.Hour))
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteSession(ctx, hash) })
	if _, err := st.SessionByHash(ctx, hash, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: %v, want ErrNotFound", err)
	}
	if _, err := st.SessionByHash(ctx, kept, time.Now()); err != nil {
		t.Errorf("the user's other session: %v", err)
	}
	// Signing out twice is no error.
	write(t, st, func(ctx context.Context, tx *store.Tx) error { return tx.DeleteSession(ctx, hash) })
}

func testDeleteExpiredSessions(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	u := newUser(t, st, newOrg(t, st))
	now := at(time.Now())
	_, old := newSession(t, st, u, now.Add(-time.Hour))
	_, edge := newSession(t, st, u, now)
	_, live := newSession(t, st, u, now.Add(time.Hour))
	var n int64
	write(t, st, func(ctx context.Context, tx *store.Tx) error {
		var err error
		n, err = tx.DeleteExpiredSessions(ctx, now)
		return err
	})
	if n != 2 {
		t.Errorf("deleted %d sessions, want 2 (expired before and at now)", n)
	}
	for hash, want := range map[string]error{old: store.ErrNotFound, edge: store.ErrNotFound, live: nil} {
		_, err := st.SessionByHash(ctx, hash, now.Add(-2*time.Hour))
		wantErr(t, "session "+hash, err, want)
	}
}
