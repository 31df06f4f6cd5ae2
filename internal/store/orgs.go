package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CreateOrganisation adds an organisation.
func (tx *Tx) CreateOrganisation(ctx context.Context, name string) (*Organisation, error) {
	o := &Organisation{ID: newID("org"), Name: name, CreatedAt: tx.Now()}
	if _, err := tx.q.exec(ctx, `INSERT INTO organisations (id, name, created_at) VALUES (?, ?, ?)`, o.ID, o.Name, us(o.CreatedAt)); err != nil {
		return nil, fmt.Errorf("insert organisation: %w", err)
	}
	return o, nil
}

// Organisations lists organisations, newest first.
func (o ops) Organisations(ctx context.Context, page Page) ([]*Organisation, string, error) {
	return list(ctx, o, page, "id, name, created_at", "organisations", where{}, func(r rows) (*Organisation, error) {
		var org Organisation
		var created int64
		err := r.Scan(&org.ID, &org.Name, &created)
		org.CreatedAt = fromUS(created)
		return &org, err
	}, func(o *Organisation) string { return o.ID })
}

// CountOrganisations returns how many organisations exist.
func (o ops) CountOrganisations(ctx context.Context) (int, error) {
	var n int
	err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM organisations`).Scan(&n)
	return n, err
}

// CreateAPIKey stores a key by its hash.
func (tx *Tx) CreateAPIKey(ctx context.Context, orgID, name, prefix, hash string, instanceAdmin bool, role Role) (*APIKey, error) {
	k := &APIKey{ID: newID("key"), OrgID: orgID, Name: name, Prefix: prefix, Role: role, InstanceAdmin: instanceAdmin, CreatedAt: tx.Now()}
	_, err := tx.q.exec(ctx, `INSERT INTO api_keys (id, org_id, name, prefix, hash, instance_admin, created_at, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, orgID, name, prefix, hash, instanceAdmin, us(k.CreatedAt), string(role))
	if err != nil {
		return nil, fmt.Errorf("insert api key: %w", err)
	}
	return k, nil
}

const apiKeyCols = "id, org_id, name, prefix, instance_admin, created_at, last_used_at, revoked_at, role"

func scanAPIKey(r row) (*APIKey, error) {
	var k APIKey
	var created int64
	var used, revoked sql.NullInt64
	if err := r.Scan(&k.ID, &k.OrgID, &k.Name, &k.Prefix, &k.InstanceAdmin, &created, &used, &revoked, &k.Role); err != nil {
		return nil, err
	}
	k.CreatedAt, k.LastUsedAt, k.RevokedAt = fromUS(created), fromNullUS(used), fromNullUS(revoked)
	return &k, nil
}

// APIKeyByHash finds a key that has not been revoked by its hash.
func (o ops) APIKeyByHash(ctx context.Context, hash string) (*APIKey, error) {
	k, err := scanAPIKey(o.q.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return k, err
}

// APIKey returns a key of the organisation that has not been revoked.
func (o ops) APIKey(ctx context.Context, orgID, id string) (*APIKey, error) {
	k, err := scanAPIKey(o.q.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE org_id = ? AND id = ? AND revoked_at IS NULL`, orgID, id))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return k, err
}

// APIKeys lists an organisation's keys that have not been revoked.
func (o ops) APIKeys(ctx context.Context, orgID string, page Page) ([]*APIKey, string, error) {
	var w where
	w.add("org_id = ?", orgID)
	w.add("revoked_at IS NULL")
	return list(ctx, o, page, apiKeyCols, "api_keys", w, func(r rows) (*APIKey, error) { return scanAPIKey(r) }, func(k *APIKey) string { return k.ID })
}

// RevokeAPIKey revokes a key of the organisation.
func (tx *Tx) RevokeAPIKey(ctx context.Context, orgID, id string) error {
	n, err := tx.q.exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ? AND revoked_at IS NULL`, us(tx.Now()), orgID, id)
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchAPIKey records that a key was used.
func (tx *Tx) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := tx.q.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, us(at), id)
	return err
}

// LockCluster takes a lock that only one transaction on the database holds
// at a time, until it ends: PostgreSQL nodes use it for work that must run
// once (bootstrap); SQLite has a single writer already.
func (tx *Tx) LockCluster(ctx context.Context, name string) error {
	if !tx.isPG {
		return nil
	}
	_, err := tx.q.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, "autohook:"+name)
	return err
}
