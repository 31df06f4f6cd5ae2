package autohook

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/autohook/autohook/internal/store"
)

// SessionTTL is how long a web UI session lasts.
const SessionTTL = 12 * time.Hour

// AdminLogin is the login of the web UI admin created on first start.
const AdminLogin = "admin"

// WebSession is a signed-in browser: who, which organisation, and the token
// its forms must carry.
type WebSession struct {
	Principal
	User      *store.User
	CSRF      string
	ExpiresAt time.Time
}

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
func (s *Service) SignIn(ctx context.Context, login, password string) (string, *WebSession, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	u, err := s.st.UserByEmail(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return "", nil, ErrUnauthorized
	}
	if err != nil {
		return "", nil, err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return "", nil, ErrUnauthorized
	}
	id := randomToken()
	sess := &store.Session{UserID: u.ID, OrgID: u.OrgID, CSRF: randomToken(), ExpiresAt: s.now().Add(SessionTTL)}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.DeleteExpiredSessions(ctx, s.now()); err != nil {
			return err
		}
		return tx.CreateSession(ctx, HashKey(id), sess)
	})
	if err != nil {
		return "", nil, err
	}
	return id, &WebSession{Principal: Principal{OrgID: u.OrgID}, User: u, CSRF: sess.CSRF, ExpiresAt: sess.ExpiresAt}, nil
}

// Session returns the session of a session id; ErrUnauthorized when it is
// unknown or expired.
func (s *Service) Session(ctx context.Context, id string) (*WebSession, error) {
	if id == "" {
		return nil, ErrUnauthorized
	}
	sess, err := s.st.SessionByHash(ctx, HashKey(id), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	u, err := s.st.User(ctx, sess.OrgID, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, err
	}
	return &WebSession{Principal: Principal{OrgID: sess.OrgID}, User: u, CSRF: sess.CSRF, ExpiresAt: sess.ExpiresAt}, nil
}

// CheckCSRF reports whether token is the session's CSRF token.
func (ws *WebSession) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ws.CSRF)) == 1
}

// SignOut ends a session.
func (s *Service) SignOut(ctx context.Context, id string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, HashKey(id)) })
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
	return tx.CreateUser(ctx, &store.User{OrgID: orgID, Email: AdminLogin, Name: "Admin", PasswordHash: h})
}
