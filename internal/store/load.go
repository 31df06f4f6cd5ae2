package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/record"
)

// RunAndSealedSecrets returns a run to work (ErrNotFound when there is
// none: RunToWork) and its organisation's sealed secrets by name: what a
// worker reads before a step. PostgreSQL reads both in one round trip.
func (s *Store) RunAndSealedSecrets(ctx context.Context, orgID, id string) (*RunToWork, map[string]string, error) {
	b, ok := s.b.(*pgBackend)
	if !ok {
		w, err := scanWork(s.q.queryRow(ctx, runToWorkQuery, orgID, id))
		if err != nil {
			return nil, nil, err
		}
		sealed, err := s.SealedSecrets(ctx, orgID)
		if err != nil {
			return nil, nil, err
		}
		return w, sealed, nil
	}
	var w *RunToWork
	var sealed map[string]string
	err := b.readTogether(ctx,
		runToWorkQuery, []any{orgID, id}, func(r row) (err error) {
			w, err = scanWork(r)
			return err
		},
		sealedSecretsQuery, []any{orgID}, func(rs rows) (err error) {
			sealed, err = scanSealed(rs)
			return err
		})
	if err != nil {
		return nil, nil, err
	}
	return w, sealed, nil
}

// scanWork is scanRunToWork, no rows being ErrNotFound.
func scanWork(r row) (*RunToWork, error) {
	w, err := scanRunToWork(r)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return w, err
}

// CollectionAndEnabledAutomations returns a collection (nil when there is
// none) and its enabled automations of every trigger type: what a record
// write needs to know. PostgreSQL reads both in one round trip.
func (s *Store) CollectionAndEnabledAutomations(ctx context.Context, orgID, key string) (*record.Collection, []AutomationRef, error) {
	b, ok := s.b.(*pgBackend)
	if !ok {
		c, err := s.Collection(ctx, orgID, key)
		if errors.Is(err, ErrNotFound) {
			c, err = nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		refs, err := s.EnabledAutomations(ctx, orgID, key)
		if err != nil {
			return nil, nil, err
		}
		return c, refs, nil
	}
	var c *record.Collection
	var refs []AutomationRef
	err := b.readTogether(ctx,
		`SELECT `+collectionCols+` FROM collections WHERE org_id = ? AND coll_key = ?`, []any{orgID, key}, func(r row) (err error) {
			c, err = scanCollection(r)
			if isNoRows(err) {
				c, err = nil, nil
			}
			return err
		},
		enabledAutomationsQuery, []any{orgID, key, true}, func(rs rows) (err error) {
			refs, err = scanRefs(rs)
			return err
		})
	if err != nil {
		return nil, nil, err
	}
	return c, refs, nil
}

// readTogether sends two reads in one pgx batch, one round trip: first,
// whose one row one scans (an error from it ends the read), then second,
// whose rows many scans. Their arguments are checked like every read's
// (checkText).
func (b *pgBackend) readTogether(ctx context.Context, first string, firstArgs []any, one func(row) error, second string, secondArgs []any, many func(rows) error) error {
	firstArgs, err := checkText(first, firstArgs, false)
	if err != nil {
		return err
	}
	secondArgs, err = checkText(second, secondArgs, false)
	if err != nil {
		return err
	}
	batch := &pgx.Batch{}
	batch.Queue(rebind(first), firstArgs...)
	batch.Queue(rebind(second), secondArgs...)
	br := b.pool.SendBatch(ctx, batch)
	defer br.Close()
	if err := one(pgxRow{br.QueryRow()}); err != nil {
		return classify(err)
	}
	rs, err := br.Query()
	if err != nil {
		return classify(err)
	}
	if err := many(pgxRows{rs}); err != nil {
		return classify(err)
	}
	return classify(br.Close())
}
