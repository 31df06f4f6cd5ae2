package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/autohook/autohook/internal/store"
)

// The River workers: autohook.run works one run, autohook.runs a batch of
// runs that became ready in one transaction. Both take a slot among the
// node's runs in flight (share.go) before they work a run.

type worker struct {
	river.WorkerDefaults[store.RunJob]
	e *Engine
}

// Work executes one run from its next step. When the node already has as
// many runs in flight as it allows, or the run's organisation its share of
// them, the job waits a little, then steps back into the queue (a snooze
// counts no attempt).
func (w *worker) Work(ctx context.Context, job *river.Job[store.RunJob]) error {
	defer w.e.working(job.ID)()
	switch w.e.slots.acquire(ctx, job.Args.OrgID, time.Now().Add(slotWait)) {
	case taken:
	case overShare:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return river.JobSnooze(overShareDelay(job.Metadata))
	default:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return river.JobSnooze(time.Second)
	}
	defer w.e.slots.give(job.Args.OrgID)
	return w.e.execute(ctx, job.Args)
}

// slotWait is how long a job waits for room among the runs in flight.
const slotWait = 2 * time.Second

type batchWorker struct {
	river.WorkerDefaults[store.RunBatchJob]
	e *Engine
}

// Work executes each run of the batch, concurrently within the engine's
// limit of runs in flight. It fails (and River retries the whole batch,
// whose finished runs are then no-ops) if any run could not be recorded.
//
// The runs wait for room among the runs in flight at most slotWait in all
// (a run whose organisation holds its share does not wait); those that
// found none are handed back to the queue as jobs of their own, a second
// later (one over its organisation's share: after overShareDelay), at the
// run's next generation (store.HandBackRun), so a
// batch job never holds a queue worker for longer than its runs' own steps
// take.
func (w *batchWorker) Work(ctx context.Context, job *river.Job[store.RunBatchJob]) error {
	defer w.e.working(job.ID)()
	var wg sync.WaitGroup
	runs := job.Args.Runs
	errs := make([]error, len(runs)+1) // the last: handing runs back
	deadline := time.Now().Add(slotWait)
	type later struct {
		job store.RunJob
		at  time.Time
	}
	var rest []later
	var releases []func() // of the runs handed back, once they are
	defer func() {
		for _, release := range releases {
			release()
		}
	}()
	for i, rj := range runs {
		// Held from here, so that a run this batch hands back is not
		// being worked by another job of its generation meanwhile.
		release, ok := w.e.claim(ctx, rj)
		if !ok {
			continue
		}
		switch w.e.slots.acquire(ctx, rj.OrgID, deadline) {
		case overShare:
			rest = append(rest, later{rj, time.Now().Add(overShareDelay(nil))})
			releases = append(releases, release)
			continue
		case nodeFull:
			rest = append(rest, later{rj, time.Now().Add(time.Second)})
			releases = append(releases, release)
			continue
		}
		wg.Go(func() {
			defer release()
			defer w.e.slots.give(rj.OrgID)
			errs[i] = w.e.executeClaimed(ctx, rj)
		})
	}
	if len(rest) > 0 {
		err := w.e.untilAvailable(ctx, func() error {
			return w.e.st.Write(context.WithoutCancel(ctx), func(tx *store.Tx) error {
				// Each run goes to the next generation with its new job:
				// this batch's copy of it goes stale, so a batch worked
				// again (resumed after a crash, retried) cannot work it
				// alongside that job.
				for _, l := range rest {
					if _, err := tx.HandBackRun(ctx, l.job, l.at); err != nil {
						return err
					}
				}
				return nil
			})
		})
		errs[len(runs)] = err
	}
	wg.Wait()
	return errors.Join(errs...)
}

// claim marks job's run as being worked by this process at the job's
// generation and returns its release, or ok false when another job of this
// process already works that run at that generation. That job is
// responsible for the run (the queue retries it, and its run with it, if it
// fails), so the second must not send the run's request alongside it. Two
// jobs of one generation should not exist (a batch hands its runs back at
// their next generation: store.HandBackRun), but the queue can still make
// one: a job made available again by store.ResumeLostJobs as it ended, a
// batch that a node of an earlier version handed runs back from, resumed.
// A newer generation is not held back: the job that made it may still be
// returning when the new job starts.
func (e *Engine) claim(ctx context.Context, job store.RunJob) (release func(), ok bool) {
	k := claimKey{job.RunID, job.Seq}
	if _, held := e.runs.LoadOrStore(k, struct{}{}); held {
		e.log.WarnContext(ctx, "a second job for a run already being worked here: left to the first", "run", job.RunID, "seq", job.Seq)
		return nil, false
	}
	return func() { e.runs.Delete(k) }, true
}

type claimKey struct {
	run string
	seq int64
}

// working notes that a queue job is being worked here, until the function
// it returns is called.
func (e *Engine) working(id int64) func() {
	e.jobs.Store(id, struct{}{})
	return func() { e.jobs.Delete(id) }
}

// WorkingJobs lists the queue jobs being worked on this node
// (store.ResumeLostJobs leaves them alone).
func (e *Engine) WorkingJobs() []int64 {
	var out []int64
	e.jobs.Range(func(k, _ any) bool {
		out = append(out, k.(int64))
		return true
	})
	return out
}
