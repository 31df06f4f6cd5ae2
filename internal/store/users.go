package store

import (
	"context"
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/autohook"
)

// CreateUser adds a user; ErrConflict when the email is taken.
func (tx *Tx) CreateUser(ctx context.Context, u *User) error {
	var n int
	if err := tx.q.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, u.Email).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: a user with email %q exists", ErrConflict, u.Email)
	}
	u.ID = newID("usr")
	u.CreatedAt = tx.Now()
	_, err := tx.q.exec(ctx, `INSERT INTO users (id, org_id, email, name, password_hash, created_at, role) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Email, u.Name, u.PasswordHash, us(u.CreatedAt), string(u.Role))
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

const userCols = "id, org_id, email, name, password_hash, created_at, role"

func scanUser(r row) (*User, error) {
	var u User
	var created int64
	err := r.Scan(&u.ID, &u.OrgID, &u.Email, &u.Name, &u.PasswordHash, &created, &u.Role)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	u.CreatedAt = fromUS(created)
	return &u, err
}

// UserByEmail finds a user by email (for sign-in).
func (o ops) UserByEmail(ctx context.Context, email string) (*User, error) {
	return scanUser(o.q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = ?`, email))
}

// User returns a user of the organisation.
func (o ops) User(ctx context.Context, orgID, id string) (*User, error) {
	return scanUser(o.q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE org_id = ? AND id = ?`, orgID, id))
}

// Users lists an organisation's users, newest first.
func (o ops) Users(ctx context.Context, orgID string, page Page) ([]*User, string, error) {
	var w where
	w.add("org_id = ?", orgID)
	return list(ctx, o, page, userCols, "users", w, func(r rows) (*User, error) { return scanUser(r) }, func(u *User) string { return u.ID })
}

// CountOwners counts the owners of an organisation.
func (o ops) CountOwners(ctx context.Context, orgID string) (int, error) {
	var n int
	err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM users WHERE org_id = ? AND role = ?`, orgID, string(autohook.RoleOwner)).Scan(&n)
	return n, err
}

// SetUserRole changes the role of a user of the organisation.
func (tx *Tx) SetUserRole(ctx context.Context, orgID, id string, role Role) error {
	n, err := tx.q.exec(ctx, `UPDATE users SET role = ? WHERE org_id = ? AND id = ?`, string(role), orgID, id)
	if err != nil {
		return fmt.Errorf("set user role: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetUserPassword replaces the password hash of a user of the organisation.
func (tx *Tx) SetUserPassword(ctx context.Context, orgID, id, hash string) error {
	n, err := tx.q.exec(ctx, `UPDATE users SET password_hash = ? WHERE org_id = ? AND id = ?`, hash, orgID, id)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteUser deletes a user of the organisation and their sessions.
func (tx *Tx) DeleteUser(ctx context.Context, orgID, id string) error {
	n, err := tx.q.exec(ctx, `DELETE FROM users WHERE org_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	_, err = tx.DeleteUserSessions(ctx, orgID, id, "")
	return err
}

// DeleteUserSessions ends every session of a user of the organisation but
// the one whose id hash is except ("" for none), and reports how many.
func (tx *Tx) DeleteUserSessions(ctx context.Context, orgID, userID, except string) (int64, error) {
	return tx.q.exec(ctx, `DELETE FROM sessions WHERE org_id = ? AND user_id = ? AND id_hash <> ?`, orgID, userID, except)
}

// CountUsers counts every user.
func (o ops) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// CreateSession stores a session by the hash of its id.
func (tx *Tx) CreateSession(ctx context.Context, idHash string, s *Session) error {
	s.CreatedAt = tx.Now()
	_, err := tx.q.exec(ctx, `INSERT INTO sessions (id_hash, user_id, org_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		idHash, s.UserID, s.OrgID, s.CSRF, us(s.CreatedAt), us(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionByHash returns a session that has not expired at now.
func (o ops) SessionByHash(ctx context.Context, idHash string, now time.Time) (*Session, error) {
	var s Session
	var created, expires int64
	err := o.q.queryRow(ctx, `SELECT user_id, org_id, csrf, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`, idHash, us(now)).
		Scan(&s.UserID, &s.OrgID, &s.CSRF, &created, &expires)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	s.CreatedAt, s.ExpiresAt = fromUS(created), fromUS(expires)
	return &s, err
}

// DeleteSession ends a session (sign-out).
func (tx *Tx) DeleteSession(ctx context.Context, idHash string) error {
	_, err := tx.q.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return err
}

// DeleteExpiredSessions removes sessions that expired before now.
func (tx *Tx) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	return tx.q.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, us(now))
}
