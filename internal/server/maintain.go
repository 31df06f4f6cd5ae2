package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/store"
)

// pruneBudget is how long one pruning job may spend before it leaves the
// rest to the next (a job must end well within River's job timeout).
const pruneBudget = time.Minute

// PruneJob is the periodic queue job that prunes history. River's elected
// leader alone enqueues periodic jobs, so pruning runs once cluster-wide.
type PruneJob struct{}

// Kind is the stable job kind.
func (PruneJob) Kind() string { return "autohook.prune" }

// InsertOpts: a failed pass is tried again soon, then left to the next.
func (PruneJob) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// prunePeriodically is the periodic job, run at start and every interval
// (Config.PruneEvery).
func prunePeriodically(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return PruneJob{}, nil },
		&river.PeriodicJobOpts{ID: "autohook.prune", RunOnStart: true})
}

// pruner deletes the history of finished runs older than the retention
// period, in small batches (one short transaction each) so the engine's
// writes are never held up for long. Deletes are idempotent: a pass that a
// new leader repeats does no harm.
type pruner struct {
	river.WorkerDefaults[PruneJob]
	st        *store.Store
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	batch     int
	budget    time.Duration
}

// Work prunes, and logs what it did.
func (p *pruner) Work(ctx context.Context, _ *river.Job[PruneJob]) error {
	n, err := p.prune(ctx)
	if n > 0 {
		p.log.InfoContext(ctx, "pruned old history", "runs", n, "retention", p.retention.String())
	}
	return err
}

// IdempotencyKeyTTL is how long an API write's Idempotency-Key answers a
// repeated request with what the first one created; the pruner deletes
// older keys.
const IdempotencyKeyTTL = 24 * time.Hour

// prune deletes runs, audit entries and delivered alerts older than the retention period (and idempotency
// keys older than IdempotencyKeyTTL), for at most the budget (and well
// within the job's timeout), and reports how many runs it
// deleted; the next pass goes on where it stopped.
func (p *pruner) prune(ctx context.Context) (int, error) {
	total := 0
	cutoff := p.now().Add(-p.retention)
	stop := time.Now().Add(p.budget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-5*time.Second).Before(stop) {
		stop = dl.Add(-5 * time.Second) // end the job before River's timeout does
	}
	keysCutoff := p.now().Add(-IdempotencyKeyTTL)
	for {
		var n, keys, audit, alerts int
		err := p.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			if n, err = tx.PruneRuns(ctx, cutoff, p.batch); err != nil {
				return err
			}
			if audit, err = tx.PruneAudit(ctx, cutoff, p.batch); err != nil {
				return err
			}
			if alerts, err = tx.PruneAlerts(ctx, cutoff, p.batch); err != nil {
				return err
			}
			keys, err = tx.PruneIdempotencyKeys(ctx, keysCutoff, p.batch)
			return err
		})
		total += n
		if err != nil || (n < p.batch && keys < p.batch && audit < p.batch && alerts < p.batch) || time.Now().After(stop) {
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
