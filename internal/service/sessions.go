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
	who := userActor(u)
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		// A failed sign-in to a known login is recorded in its
		// organisation (an unknown login belongs to none).
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			return auditAs(ctx, tx, u.OrgID, who, autohook.AuditUserSignInFailed, target("user", u.ID, u.Email), nil)
		})
		if err != nil {
			s.log.WarnContext(ctx, "record failed sign-in", "user", u.ID, "err", err)
		}
		return "", nil, autohook.ErrUnauthorized
	}
	id := randomToken()
	sess := &autohook.Session{UserID: u.ID, OrgID: u.OrgID, CSRF: randomToken(), ExpiresAt: s.now().Add(s.sessionTTL)}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.DeleteExpiredSessions(ctx, s.now()); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, autohook.HashKey(id), sess); err != nil {
			return err
		}
		return auditAs(ctx, tx, u.OrgID, who, autohook.AuditUserSignedIn, target("user", u.ID, u.Email), nil)
	})
	if err != nil {
		return "", nil, err
	}
	return id, webSession(u, sess), nil
}

// userActor is a user as the actor of what they do.
func userActor(u *autohook.User) autohook.Actor {
	return (&autohook.WebSession{User: u}).Actor()
}

func webSession(u *autohook.User, sess *autohook.Session) *autohook.WebSession {
	return &autohook.WebSession{Principal: autohook.Principal{OrgID: u.OrgID, Role: u.Role}, User: u, CSRF: sess.CSRF, ExpiresAt: sess.ExpiresAt}
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
	return webSession(u, sess), nil
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
	return tx.CreateUser(ctx, &autohook.User{OrgID: orgID, Email: autohook.AdminLogin, Name: "Admin", Role: autohook.RoleOwner, PasswordHash: h})
}
