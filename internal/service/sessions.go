package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/store"
)

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashPassword hashes a password for storage (bcrypt).
func HashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	return string(h), err
}

// dummyHash makes a sign-in with an unknown login cost as much as one with
// a wrong password, so timing does not tell which logins exist.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)
	return h
})

// SignIn checks a login and password and starts a session; it returns the
// session id (for the cookie) and the session. ErrUnauthorized for a wrong
// login or password, without saying which.
func (s *Service) SignIn(ctx context.Context, login, password string) (string, *autohook.WebSession, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	u, err := s.st.UserByEmail(ctx, login)
	if errors.Is(err, autohook.ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return "", nil, autohook.ErrUnauthorized
	}
	if err != nil {
		return "", nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return "", nil, autohook.ErrUnauthorized
	}
	id := randomToken()
	sess := &autohook.Session{UserID: u.ID, OrgID: u.OrgID, CSRF: randomToken(), ExpiresAt: s.now().Add(autohook.SessionTTL)}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.DeleteExpiredSessions(ctx, s.now()); err != nil {
			return err
		}
		return tx.CreateSession(ctx, autohook.HashKey(id), sess)
	})
	if err != nil {
		return "", nil, err
	}
	return id, &autohook.WebSession{Principal: autohook.Principal{OrgID: u.OrgID}, User: u, CSRF: sess.CSRF, ExpiresAt: sess.ExpiresAt}, nil
}

// Session returns the session of a session id; ErrUnauthorized when it is
// unknown or expired.
func (s *Service) Session(ctx context.Context, id string) (*autohook.WebSession, error) {
	if id == "" {
		return nil, autohook.ErrUnauthorized
	}
	sess, err := s.st.SessionByHash(ctx, autohook.HashKey(id), s.now())
	if errors.Is(err, autohook.ErrNotFound) {
		return nil, autohook.ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	u, err := s.st.User(ctx, sess.OrgID, sess.UserID)
	if errors.Is(err, autohook.ErrNotFound) {
		return nil, autohook.ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	return &autohook.WebSession{Principal: autohook.Principal{OrgID: sess.OrgID}, User: u, CSRF: sess.CSRF, ExpiresAt: sess.ExpiresAt}, nil
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, id string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, autohook.HashKey(id)) })
}

// createAdmin adds the web UI admin of the first organisation.
func createAdmin(ctx context.Context, tx *store.Tx, orgID, password string) error {
	if len(password) < 8 {
		return fmt.Errorf("AUTOHOOK_ADMIN_PASSWORD must be at least 8 characters")
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	return tx.CreateUser(ctx, &autohook.User{OrgID: orgID, Email: autohook.AdminLogin, Name: "Admin", PasswordHash: h})
}
