package store

import (
	"context"
	"fmt"
)

// Meta returns the value of an autohook_meta row; ErrNotFound when there is
// none.
func (o ops) Meta(ctx context.Context, name string) (string, error) {
	var v string
	err := o.q.queryRow(ctx, `SELECT value FROM autohook_meta WHERE name = ?`, name).Scan(&v)
	if isNoRows(err) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return v, nil
}

// MetaForShare is Meta that, on PostgreSQL, also keeps the row from
// changing until the transaction ends (SQLite has one writer at a time
// anyway): what the transaction writes on the strength of the value is
// committed before anyone can change it.
func (tx *Tx) MetaForShare(ctx context.Context, name string) (string, error) {
	q := `SELECT value FROM autohook_meta WHERE name = ?`
	if tx.isPG {
		q += ` FOR SHARE`
	}
	var v string
	err := tx.q.queryRow(ctx, q, name).Scan(&v)
	if isNoRows(err) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return v, nil
}

// SetMeta creates or replaces an autohook_meta row.
func (tx *Tx) SetMeta(ctx context.Context, name, value string) error {
	_, err := tx.q.exec(ctx, `INSERT INTO autohook_meta (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, us(tx.Now()))
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// InsertMeta creates an autohook_meta row unless it exists, and reports
// whether it did.
func (tx *Tx) InsertMeta(ctx context.Context, name, value string) (bool, error) {
	n, err := tx.q.exec(ctx, `INSERT INTO autohook_meta (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`, name, value, us(tx.Now()))
	if err != nil {
		return false, fmt.Errorf("write %s: %w", name, err)
	}
	return n == 1, nil
}
