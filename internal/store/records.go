package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/record"
)

const collectionCols = "id, coll_key, name, fields, stages, created_at, updated_at"

func scanCollection(r row) (*record.Collection, error) {
	var c record.Collection
	var fields, stages string
	var created, updated int64
	if err := r.Scan(&c.ID, &c.Key, &c.Name, &fields, &stages, &created, &updated); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromUS(created), fromUS(updated)
	if err := decJSON(fields, &c.Fields); err != nil {
		return nil, err
	}
	if err := decJSON(stages, &c.Stages); err != nil {
		return nil, err
	}
	if c.Fields == nil {
		c.Fields = []record.Field{}
	}
	if c.Stages == nil {
		c.Stages = []string{}
	}
	return &c, nil
}

// CreateCollection adds a collection; ErrConflict when its key is taken.
func (tx *Tx) CreateCollection(ctx context.Context, orgID string, c *record.Collection) error {
	var n int
	if err := tx.q.queryRow(ctx, `SELECT COUNT(*) FROM collections WHERE org_id = ? AND coll_key = ?`, orgID, c.Key).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: collection %q exists", ErrConflict, c.Key)
	}
	c.ID = newID("col")
	c.CreatedAt = tx.Now()
	c.UpdatedAt = c.CreatedAt
	_, err := tx.q.exec(ctx, `INSERT INTO collections (id, org_id, coll_key, name, fields, stages, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, orgID, c.Key, c.Name, encJSON(c.Fields), encJSON(c.Stages), us(c.CreatedAt), us(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert collection: %w", err)
	}
	return tx.bumpCatalog(ctx, orgID)
}

// UpdateCollection replaces a collection's name, fields and stages.
func (tx *Tx) UpdateCollection(ctx context.Context, orgID string, c *record.Collection) error {
	c.UpdatedAt = tx.Now()
	n, err := tx.q.exec(ctx, `UPDATE collections SET name = ?, fields = ?, stages = ?, updated_at = ? WHERE org_id = ? AND coll_key = ?`,
		c.Name, encJSON(c.Fields), encJSON(c.Stages), us(c.UpdatedAt), orgID, c.Key)
	if err != nil {
		return fmt.Errorf("update collection: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return tx.bumpCatalog(ctx, orgID)
}

// DeleteCollection deletes a collection and its records.
func (tx *Tx) DeleteCollection(ctx context.Context, orgID, key string) error {
	n, err := tx.q.exec(ctx, `DELETE FROM collections WHERE org_id = ? AND coll_key = ?`, orgID, key)
	if err != nil {
		return fmt.Errorf("delete collection: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	if _, err := tx.q.exec(ctx, `DELETE FROM records WHERE org_id = ? AND collection = ?`, orgID, key); err != nil {
		return fmt.Errorf("delete records: %w", err)
	}
	return tx.bumpCatalog(ctx, orgID)
}

// Collection returns one collection by key.
func (o ops) Collection(ctx context.Context, orgID, key string) (*record.Collection, error) {
	c, err := scanCollection(o.q.queryRow(ctx, `SELECT `+collectionCols+` FROM collections WHERE org_id = ? AND coll_key = ?`, orgID, key))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return c, err
}

// Collections lists an organisation's collections, newest first.
func (o ops) Collections(ctx context.Context, orgID string, page Page) ([]*record.Collection, string, error) {
	var w where
	w.add("org_id = ?", orgID)
	return list(ctx, o, page, collectionCols, "collections", w, func(r rows) (*record.Collection, error) { return scanCollection(r) },
		func(c *record.Collection) string { return c.ID })
}

const recordCols = "id, collection, stage, fields, version, created_at, updated_at"

func scanRecord(r row) (*record.Record, error) {
	var s recordScan
	if err := r.Scan(s.dest()...); err != nil {
		return nil, err
	}
	return s.record()
}

// recordScan holds the columns of recordCols as scanned.
type recordScan struct {
	rec              record.Record
	fields           string
	created, updated int64
}

func (s *recordScan) dest() []any {
	return []any{&s.rec.ID, &s.rec.Collection, &s.rec.Stage, &s.fields, &s.rec.Version, &s.created, &s.updated}
}

func (s *recordScan) record() (*record.Record, error) {
	rec := &s.rec
	rec.CreatedAt, rec.UpdatedAt = fromUS(s.created), fromUS(s.updated)
	if err := decJSON(s.fields, &rec.Fields); err != nil {
		return nil, err
	}
	if rec.Fields == nil {
		rec.Fields = map[string]any{}
	}
	return rec, nil
}

// NewRecordID returns a new record id, for a record whose id must be known
// before the transaction that inserts it (see InsertRecord).
func NewRecordID() string { return newID("rec") }

// InsertRecord adds a record, setting its version, and its id and times
// unless the caller set them: a caller that evaluates conditions before
// the transaction gives the record its id (NewRecordID) and creation time
// beforehand, so that the record stored is the record they saw.
func (tx *Tx) InsertRecord(ctx context.Context, orgID string, r *record.Record) error {
	if r.ID == "" {
		r.ID = newID("rec")
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = tx.Now()
	}
	r.UpdatedAt = r.CreatedAt
	r.Version = 1
	err := tx.q.execLater(ctx, `INSERT INTO records (id, org_id, collection, stage, fields, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, orgID, r.Collection, r.Stage, encJSON(r.Fields), r.Version, us(r.CreatedAt), us(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert record: %w", err)
	}
	return nil
}

// ErrRecordChanged is wrapped, with ErrConflict, by the error of
// UpdateRecord and UpdateRecordAt whose record another write changed
// since it was read. On PostgreSQL that conflict may show at a later
// statement of the transaction, or fail the Write call once its function
// returned (pipeline.go): this tells it from the other conflicts there.
var ErrRecordChanged = errors.New("changed meanwhile")

// UpdateRecord writes a record's stage and fields if its version is still
// r.Version, then bumps the version; ErrConflict (and ErrRecordChanged)
// when another write won, which on PostgreSQL may show only later in the
// transaction or once the Write call's function returned.
func (tx *Tx) UpdateRecord(ctx context.Context, orgID string, r *record.Record) error {
	return tx.UpdateRecordAt(ctx, orgID, r, tx.Now())
}

// UpdateRecordAt is UpdateRecord with the time of the change chosen by the
// caller, who evaluated conditions against the record before the
// transaction.
func (tx *Tx) UpdateRecordAt(ctx context.Context, orgID string, r *record.Record, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	changed := fmt.Errorf("%w: record %s %w", ErrConflict, r.ID, ErrRecordChanged)
	err := tx.q.execExpect(ctx, changed, `UPDATE records SET stage = ?, fields = ?, version = version + 1, updated_at = ? WHERE org_id = ? AND collection = ? AND id = ? AND version = ?`,
		r.Stage, encJSON(r.Fields), us(now), orgID, r.Collection, r.ID, r.Version)
	if err := checked("update record", err, changed); err != nil {
		return err
	}
	// PostgreSQL may tell the conflict later: a failed call leaves r as
	// it was, as SQLite's does.
	version, updated := r.Version, r.UpdatedAt
	tx.onFail = append(tx.onFail, func() { r.Version, r.UpdatedAt = version, updated })
	r.Version++
	r.UpdatedAt = now
	return nil
}

// DeleteRecord deletes a record and its pending due triggers.
func (tx *Tx) DeleteRecord(ctx context.Context, orgID, collection, id string) error {
	n, err := tx.q.exec(ctx, `DELETE FROM records WHERE org_id = ? AND collection = ? AND id = ?`, orgID, collection, id)
	if err != nil {
		return fmt.Errorf("delete record: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	_, err = tx.q.exec(ctx, `DELETE FROM due_triggers WHERE org_id = ? AND record_id = ?`, orgID, id)
	return err
}

// Record returns one record of a collection.
func (o ops) Record(ctx context.Context, orgID, collection, id string) (*record.Record, error) {
	r, err := scanRecord(o.q.queryRow(ctx, `SELECT `+recordCols+` FROM records WHERE org_id = ? AND collection = ? AND id = ?`, orgID, collection, id))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return r, err
}

// RecordForUpdate returns one record of a collection, locked until the
// transaction ends (PostgreSQL; SQLite's single writer needs no lock).
func (tx *Tx) RecordForUpdate(ctx context.Context, orgID, collection, id string) (*record.Record, error) {
	q := `SELECT ` + recordCols + ` FROM records WHERE org_id = ? AND collection = ? AND id = ?`
	if tx.isPG {
		q += " FOR UPDATE"
	}
	r, err := scanRecord(tx.q.queryRow(ctx, q, orgID, collection, id))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return r, err
}

// RecordByID returns one record of the organisation, whatever its collection.
func (o ops) RecordByID(ctx context.Context, orgID, id string) (*record.Record, error) {
	r, err := scanRecord(o.q.queryRow(ctx, `SELECT `+recordCols+` FROM records WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return r, err
}

// Records lists a collection's records, newest first.
func (o ops) Records(ctx context.Context, orgID, collection string, f RecordFilter, page Page) ([]*record.Record, string, error) {
	var w where
	w.add("org_id = ?", orgID)
	w.add("collection = ?", collection)
	if f.Stage != "" {
		w.add("stage = ?", f.Stage)
	}
	return list(ctx, o, page, recordCols, "records", w, func(r rows) (*record.Record, error) { return scanRecord(r) },
		func(r *record.Record) string { return r.ID })
}
