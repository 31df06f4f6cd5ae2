package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// PutSecret creates or replaces a secret's sealed value.
func (tx *Tx) PutSecret(ctx context.Context, orgID, name, sealed string) error {
	now := us(tx.Now())
	_, err := tx.q.exec(ctx, `INSERT INTO secrets (org_id, name, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, orgID, name, sealed, now, now)
	if err != nil {
		return fmt.Errorf("put secret: %w", err)
	}
	return tx.bumpCatalog(ctx, orgID)
}

// DeleteSecret deletes a secret.
func (tx *Tx) DeleteSecret(ctx context.Context, orgID, name string) error {
	n, err := tx.q.exec(ctx, `DELETE FROM secrets WHERE org_id = ? AND name = ?`, orgID, name)
	if err != nil {
		return fmt.Errorf("delete secret: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return tx.bumpCatalog(ctx, orgID)
}

// Secrets lists an organisation's secrets by name (in byte order, on every
// database whatever its collation), without values.
func (o ops) Secrets(ctx context.Context, orgID string) ([]Secret, error) {
	rs, err := o.q.query(ctx, `SELECT name, created_at, updated_at FROM secrets WHERE org_id = ?`, orgID)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := []Secret{}
	for rs.Next() {
		var s Secret
		var c, u int64
		if err := rs.Scan(&s.Name, &c, &u); err != nil {
			return nil, err
		}
		s.CreatedAt, s.UpdatedAt = fromUS(c), fromUS(u)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Secret) int { return strings.Compare(a.Name, b.Name) })
	return out, rs.Err()
}

// SealedSecrets returns an organisation's sealed secret values by name, for
// the engine to open.
func (o ops) SealedSecrets(ctx context.Context, orgID string) (map[string]string, error) {
	rs, err := o.q.query(ctx, sealedSecretsQuery, orgID)
	if err != nil {
		return nil, err
	}
	return scanSealed(rs)
}

const sealedSecretsQuery = `SELECT name, value FROM secrets WHERE org_id = ?`

func scanSealed(rs rows) (map[string]string, error) {
	defer rs.Close()
	out := map[string]string{}
	for rs.Next() {
		var n, v string
		if err := rs.Scan(&n, &v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, rs.Err()
}
