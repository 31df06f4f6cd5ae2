package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/autohook/autohook/internal/store"
)

// DefaultRetention is how long run history is kept.
const DefaultRetention = 30 * 24 * time.Hour

// pruner deletes history older than the retention period, in small
// batches (one short transaction each) so the engine's writes are never held
// up for long. Several nodes may prune at once: deletes are idempotent.
type pruner struct {
	st        *store.Store
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	batch     int
}

// prune deletes every run older than the retention period and reports how
// many it deleted.
func (p *pruner) prune(ctx context.Context) (int, error) {
	total := 0
	cutoff := p.now().Add(-p.retention)
	for {
		var n int
		err := p.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.PruneRuns(ctx, cutoff, p.batch)
			return err
		})
		total += n
		if err != nil || n < p.batch {
			return total, err
		}
		// let other writers in between batches
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (p *pruner) run(ctx context.Context, every time.Duration) {
	for {
		n, err := p.prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.log.ErrorContext(ctx, "pruning history failed", "err", err)
		case n > 0:
			p.log.InfoContext(ctx, "pruned old history", "runs", n, "retention", p.retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
