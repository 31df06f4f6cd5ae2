package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CreateInvitation stores an invitation by the hash of its token; it sets
// the invitation's id and creation time.
func (tx *Tx) CreateInvitation(ctx context.Context, inv *Invitation, tokenHash string) error {
	inv.ID = newID("inv")
	inv.CreatedAt = tx.Now()
	_, err := tx.q.exec(ctx, `INSERT INTO invitations (id, org_id, email, role, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, inv.OrgID, inv.Email, string(inv.Role), tokenHash, us(inv.CreatedAt), us(inv.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert invitation: %w", err)
	}
	return nil
}

// InvitationByHash finds an invitation that has not been used and has not
// expired at now by the hash of its token (ErrNotFound otherwise).
func (o ops) InvitationByHash(ctx context.Context, tokenHash string, now time.Time) (*Invitation, error) {
	var inv Invitation
	var created, expires int64
	var used sql.NullInt64
	err := o.q.queryRow(ctx, `SELECT id, org_id, email, role, created_at, expires_at, used_at FROM invitations
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, tokenHash, us(now)).
		Scan(&inv.ID, &inv.OrgID, &inv.Email, &inv.Role, &created, &expires, &used)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = fromUS(created), fromUS(expires), fromNullUS(used)
	return &inv, nil
}

// UseInvitation marks an invitation of the organisation used at now;
// ErrNotFound when it is unknown, used already or expired (so that of two
// acceptances at once one fails).
func (tx *Tx) UseInvitation(ctx context.Context, orgID, id string, now time.Time) error {
	n, err := tx.q.exec(ctx, `UPDATE invitations SET used_at = ? WHERE org_id = ? AND id = ? AND used_at IS NULL AND expires_at > ?`, us(now), orgID, id, us(now))
	if err != nil {
		return fmt.Errorf("use invitation: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
