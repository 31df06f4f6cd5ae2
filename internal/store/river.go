package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// riverConfig is the River client configuration shared by both databases.
//
// River's defaults (100 workers, a fetch at most every 100 ms) cap a node at
// about 1,000 jobs/s. A run's job mostly waits on a remote server, so a node
// can keep many in flight: throughput is about MaxWorkers ÷ call time. The
// fetch cooldown bounds how long a freshly committed job can wait for a free
// worker to see it.
func riverConfig(cfg Config) *river.Config {
	q := cfg.Queue
	rc := &river.Config{
		ID:                          cfg.NodeID,
		Logger:                      cfg.Logger,
		FetchCooldown:               q.FetchCooldown,
		FetchPollInterval:           q.FetchPollInterval,
		JobTimeout:                  q.JobTimeout,
		RescueStuckJobsAfter:        q.RescueAfter,
		CompletedJobRetentionPeriod: time.Hour,
		CancelledJobRetentionPeriod: time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
	}
	if cfg.Workers != nil {
		rc.Workers = cfg.Workers
		rc.PeriodicJobs = cfg.PeriodicJobs
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: q.MaxWorkers}}
	}
	return rc
}

// stopClient stops a River client, treating "never started" as stopped.
// When ctx ends before the jobs in flight finish, it cancels them (the
// node's next start resumes them) and still waits until the client has
// stopped: its goroutines use the database, which closes next.
func stopClient(ctx context.Context, stop, stopAndCancel func(context.Context) error) error {
	err := stop(ctx)
	if err != nil && strings.Contains(err.Error(), "not started") {
		return nil
	}
	if err != nil && ctx.Err() != nil {
		err = errors.Join(err, stopAndCancel(context.WithoutCancel(ctx)))
	}
	return err
}
