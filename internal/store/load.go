package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/record"
)

// RunAndSealedSecrets returns a run to work (ErrNotFound when there is
// none: RunToWork) and its organisation's generation (gen.go), read in one
// statement: what a worker reads before a step. The organisation's sealed
// secrets by name are read too, in a second statement, unless have says the
// caller holds them at that generation already (then sealed is nil).
func (s *Store) RunAndSealedSecrets(ctx context.Context, orgID, id string, have func(gen int64) bool) (w *RunToWork, gen int64, sealed map[string]string, err error) {
	w, err = scanRunToWork(s.q.queryRow(ctx, runToWorkQuery, orgID, id), &gen)
	if isNoRows(err) {
		return nil, 0, nil, ErrNotFound
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if have(gen) {
		return w, gen, nil, nil
	}
	if sealed, err = s.SealedSecrets(ctx, orgID); err != nil {
		return nil, 0, nil, err
	}
	return w, gen, sealed, nil
}

// withExtra is a row with columns after those its scanner knows of,
// scanned into extra.
type withExtra struct {
	row
	extra []any
}

func (r withExtra) Scan(dest ...any) error { return r.row.Scan(append(dest, r.extra...)...) }

// CollectionAndEnabledAutomations returns a collection (nil when there is
// none) and its enabled automations of every trigger type: what a record
// write needs to know, and the organisation's generation (gen.go), read
// first: the collection and automations are at least that recent.
// PostgreSQL reads the three in one round trip.
func (s *Store) CollectionAndEnabledAutomations(ctx context.Context, orgID, key string) (c *record.Collection, refs []AutomationRef, gen int64, err error) {
	err = s.readTogether(ctx,
		read{query: catalogGenQuery, args: []any{orgID}, one: func(r row) error {
			err := r.Scan(&gen)
			if isNoRows(err) {
				return nil // no organisation: generation 0, and nothing in it
			}
			return err
		}},
		read{query: `SELECT ` + collectionCols + ` FROM collections WHERE org_id = ? AND coll_key = ?`, args: []any{orgID, key}, one: func(r row) (err error) {
			c, err = scanCollection(r)
			if isNoRows(err) {
				c, err = nil, nil
			}
			return err
		}},
		read{query: enabledAutomationsQuery, args: []any{orgID, key, true}, many: func(rs rows) (err error) {
			refs, err = scanRefs(rs)
			return err
		}})
	if err != nil {
		return nil, nil, 0, err
	}
	return c, refs, gen, nil
}

// read is one query of readTogether: one scans its one row, or many its
// rows.
type read struct {
	query string
	args  []any
	one   func(row) error
	many  func(rows) error
}

// readTogether runs reads in order, an error ending them: on PostgreSQL in
// one pgx batch, one round trip (each statement still sees what was
// committed when it starts, under READ COMMITTED), through the read pool
// one after another on SQLite. Their arguments are checked like every
// read's (checkText).
func (s *Store) readTogether(ctx context.Context, reads ...read) error {
	b, ok := s.b.(*pgBackend)
	if !ok {
		for _, r := range reads {
			if r.one != nil {
				if err := r.one(s.q.queryRow(ctx, r.query, r.args...)); err != nil {
					return err
				}
				continue
			}
			rs, err := s.q.query(ctx, r.query, r.args...)
			if err != nil {
				return err
			}
			if err := r.many(rs); err != nil {
				return err
			}
		}
		return nil
	}
	batch := &pgx.Batch{}
	for _, r := range reads {
		args, err := checkText(r.query, r.args, false)
		if err != nil {
			return err
		}
		batch.Queue(rebind(r.query), args...)
	}
	br := b.pool.SendBatch(ctx, batch)
	defer br.Close()
	for _, r := range reads {
		if r.one != nil {
			if err := r.one(pgxRow{br.QueryRow()}); err != nil {
				return classify(err)
			}
			continue
		}
		rs, err := br.Query()
		if err != nil {
			return classify(err)
		}
		if err := r.many(pgxRows{rs}); err != nil {
			return classify(err)
		}
	}
	return classify(br.Close())
}
