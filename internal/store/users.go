package store

import (
	"context"
	"fmt"
	"time"
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
	_, err := tx.q.exec(ctx, `INSERT INTO users (id, org_id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		u.ID, u.OrgID, u.Email, u.Name, u.PasswordHash, us(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

const userCols = "id, org_id, email, name, password_hash, created_at"

func scanUser(r row) (*User, error) {
	var u User
	var created int64
	err := r.Scan(&u.ID, &u.OrgID, &u.Email, &u.Name, &u.PasswordHash, &created)
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
