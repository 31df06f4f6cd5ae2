package store

import (
	"context"
	"fmt"
	"time"
)

// IdempotencyKey is what an API write with an Idempotency-Key header left:
// the hash of the request it was sent with and the record it created.
type IdempotencyKey struct {
	OrgID       string
	Key         string
	RequestHash string
	RecordID    string
	CreatedAt   time.Time
}

// IdempotencyKey returns the organisation's key, ErrNotFound when it was
// never used (or was pruned).
func (o ops) IdempotencyKey(ctx context.Context, orgID, key string) (*IdempotencyKey, error) {
	k := IdempotencyKey{OrgID: orgID, Key: key}
	var created int64
	err := o.q.queryRow(ctx, `SELECT request_hash, record_id, created_at FROM idempotency_keys WHERE org_id = ? AND idem_key = ?`, orgID, key).
		Scan(&k.RequestHash, &k.RecordID, &created)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	k.CreatedAt = fromUS(created)
	return &k, nil
}

// PutIdempotencyKey records a key in the transaction of the write it
// belongs to; ErrConflict when the organisation already used it (on
// PostgreSQL, a concurrent transaction that used it and committed).
func (tx *Tx) PutIdempotencyKey(ctx context.Context, k *IdempotencyKey) error {
	k.CreatedAt = tx.Now()
	n, err := tx.q.exec(ctx, `INSERT INTO idempotency_keys (org_id, idem_key, request_hash, record_id, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, idem_key) DO NOTHING`,
		k.OrgID, k.Key, k.RequestHash, k.RecordID, us(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("put idempotency key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: idempotency key %q was used", ErrConflict, k.Key)
	}
	return nil
}

// PruneIdempotencyKeys deletes up to limit keys used before cutoff and
// reports how many it deleted.
func (tx *Tx) PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := tx.q.exec(ctx, `DELETE FROM idempotency_keys WHERE (org_id, idem_key) IN (SELECT org_id, idem_key FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`, us(before), limit)
	return int(n), err
}
