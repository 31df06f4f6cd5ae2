package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/automation"
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
