package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
)

// RunAndSealedSecrets returns a run without its attempts (ErrNotFound when
// there is none) and its organisation's sealed secrets by name: what a
// worker reads before a step. PostgreSQL reads both in one round trip.
func (s *Store) RunAndSealedSecrets(ctx context.Context, orgID, id string) (*automation.Run, map[string]string, error) {
	b, ok := s.b.(*pgBackend)
	if !ok {
		run, err := s.Run(ctx, orgID, id)
		if err != nil {
			return nil, nil, err
		}
		sealed, err := s.SealedSecrets(ctx, orgID)
		if err != nil {
			return nil, nil, err
		}
		return run, sealed, nil
	}
	runQuery := `SELECT ` + runCols + ` FROM runs WHERE org_id = ? AND id = ?`
	runArgs, err := checkText(runQuery, []any{orgID, id}, false)
	if err != nil {
		return nil, nil, err
	}
	secretArgs, err := checkText(sealedSecretsQuery, []any{orgID}, false)
	if err != nil {
		return nil, nil, err
	}
	batch := &pgx.Batch{}
	batch.Queue(rebind(runQuery), runArgs...)
	batch.Queue(rebind(sealedSecretsQuery), secretArgs...)
	br := b.pool.SendBatch(ctx, batch)
	defer br.Close()
	run, err := scanRun(pgxRow{br.QueryRow()})
	if isNoRows(err) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, classify(err)
	}
	rs, err := br.Query()
	if err != nil {
		return nil, nil, classify(err)
	}
	sealed, err := scanSealed(pgxRows{rs})
	if err != nil {
		return nil, nil, classify(err)
	}
	return run, sealed, classify(br.Close())
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
	collQuery := `SELECT ` + collectionCols + ` FROM collections WHERE org_id = ? AND coll_key = ?`
	collArgs, err := checkText(collQuery, []any{orgID, key}, false)
	if err != nil {
		return nil, nil, err
	}
	refArgs, err := checkText(enabledAutomationsQuery, []any{orgID, key, true}, false)
	if err != nil {
		return nil, nil, err
	}
	batch := &pgx.Batch{}
	batch.Queue(rebind(collQuery), collArgs...)
	batch.Queue(rebind(enabledAutomationsQuery), refArgs...)
	br := b.pool.SendBatch(ctx, batch)
	defer br.Close()
	c, err := scanCollection(pgxRow{br.QueryRow()})
	if isNoRows(err) {
		c, err = nil, nil
	}
	if err != nil {
		return nil, nil, classify(err)
	}
	rs, err := br.Query()
	if err != nil {
		return nil, nil, classify(err)
	}
	refs, err := scanRefs(pgxRows{rs})
	if err != nil {
		return nil, nil, classify(err)
	}
	return c, refs, classify(br.Close())
}
