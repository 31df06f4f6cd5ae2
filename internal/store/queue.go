package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// RunJob is the queue job that works one run from its next step. Seq is the
// run's generation when the job was enqueued: a job whose Seq no longer
// matches the run is stale (the run was retried, cancelled or continued by a
// newer job) and does nothing.
type RunJob struct {
	OrgID string `json:"org"`
	RunID string `json:"run"`
	Seq   int64  `json:"seq"`
}

// Kind is the stable job kind.
func (RunJob) Kind() string { return "autohook.run" }

// InsertOpts: our own retry schedule lives in the runs table; River's
// attempts only cover infrastructure failures (the database going away while
// a step's result is written), so a generous count with River's own backoff.
func (RunJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25}
}

// RunBatchJob works several runs that became ready together. Group commit
// merges the run jobs of one SQLite transaction into one of these, so the
// queue fetches and completes one row for many runs: under load, River's
// per-job work on SQLite's single writer would otherwise cost more than the
// runs' own writes. Each run still commits its own progress; a batch job
// that is run again (after a crash) finds its finished runs finished.
type RunBatchJob struct {
	Runs []RunJob `json:"runs"`
}

// Kind is the stable job kind.
func (RunBatchJob) Kind() string { return "autohook.runs" }

// InsertOpts are those of RunJob.
func (RunBatchJob) InsertOpts() river.InsertOpts { return RunJob{}.InsertOpts() }

// maxRunsPerJob bounds a RunBatchJob, and so the work repeated if the node
// dies while working one.
const maxRunsPerJob = 64

// mergeRunJobs turns the run jobs to be worked now into RunBatchJobs of up
// to maxRunsPerJob runs; other jobs are kept as they are.
func mergeRunJobs(jobs []river.InsertManyParams) []river.InsertManyParams {
	out := make([]river.InsertManyParams, 0, len(jobs))
	var now []RunJob
	for _, j := range jobs {
		rj, ok := j.Args.(RunJob)
		if !ok || (j.InsertOpts != nil && !j.InsertOpts.ScheduledAt.IsZero()) {
			out = append(out, j)
			continue
		}
		now = append(now, rj)
	}
	if len(now) == 1 {
		return append(out, river.InsertManyParams{Args: now[0]})
	}
	for len(now) > 0 {
		n := min(len(now), maxRunsPerJob)
		out = append(out, river.InsertManyParams{Args: RunBatchJob{Runs: now[:n:n]}})
		now = now[n:]
	}
	return out
}

// EnqueueRun adds a job for the run, to be worked at at (zero: now). It is
// inserted with the transaction's other writes.
func (tx *Tx) EnqueueRun(job RunJob, at time.Time) {
	var opts *river.InsertOpts
	if !at.IsZero() {
		opts = &river.InsertOpts{ScheduledAt: at}
	}
	tx.jobs = append(tx.jobs, river.InsertManyParams{Args: job, InsertOpts: opts})
}

// wakeDriver is River's SQLite driver with one change: its listener also
// wakes when this process commits new jobs.
//
// SQLite has no LISTEN/NOTIFY; riversqlite emulates it with a table that it
// polls every 50 ms (fixed), so a job inserted in a transaction would wait
// 25 ms on average before a worker saw it. One SQLite file is only ever used
// by one Autohook process (the data dir is locked), so every insert is made
// by this process, and Write can tell the listener the moment it commits.
// The notification it delivers is the one River's producer already listens
// for; the table-polling listener keeps running underneath for everything
// else.
type wakeDriver struct {
	*riversqlite.Driver
	wake chan struct{}
}

func newWakeDriver(db *sql.DB) *wakeDriver {
	return &wakeDriver{Driver: riversqlite.New(db), wake: make(chan struct{}, 1)}
}

// GetListener returns the waking listener.
func (d *wakeDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &wakeListener{Listener: d.Driver.GetListener(params), wake: d.wake}
}

// notifyInsert wakes the listener, without blocking: one pending wake-up is
// enough however many commits happened.
func (d *wakeDriver) notifyInsert() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// insertNotification is what River's producer expects on an insert: the
// topic and payload of riverqueue/river's notifier (v0.51).
var insertNotification = riverdriver.Notification{Topic: "river_insert", Payload: `{"queue":"default"}`}

type wakeListener struct {
	riverdriver.Listener
	wake chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	inner  chan innerResult
	done   chan struct{}
}

type innerResult struct {
	n   *riverdriver.Notification
	err error
}

func (l *wakeListener) Connect(ctx context.Context) error {
	if err := l.Listener.Connect(ctx); err != nil {
		return err
	}
	pumpCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.mu.Lock()
	l.cancel, l.inner, l.done = cancel, make(chan innerResult), make(chan struct{})
	inner, done := l.inner, l.done
	l.mu.Unlock()
	// The pump waits on the table-polling listener so that a wake-up never
	// has to interrupt it half-way through a poll.
	go func() {
		defer close(done)
		for {
			n, err := l.Listener.WaitForNotification(pumpCtx)
			if pumpCtx.Err() != nil {
				return
			}
			select {
			case inner <- innerResult{n, err}:
			case <-pumpCtx.Done():
				return
			}
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	return nil
}

func (l *wakeListener) Close(ctx context.Context) error {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel = nil
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return l.Listener.Close(ctx)
}

func (l *wakeListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	l.mu.Lock()
	inner := l.inner
	l.mu.Unlock()
	select {
	case <-l.wake:
		n := insertNotification
		return &n, nil
	case r := <-inner:
		return r.n, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CountJobs counts the queue's jobs in every state (for tests and metrics).
func (o ops) CountJobs(ctx context.Context) (int, error) {
	var n int
	err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM river_job`).Scan(&n)
	return n, err
}

// CountJobsByState counts the queue's unfinished jobs by state.
func (o ops) CountJobsByState(ctx context.Context) (map[string]int, error) {
	rs, err := o.q.query(ctx, `SELECT state, COUNT(*) FROM river_job WHERE state IN ('available', 'scheduled', 'running', 'retryable') GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := map[string]int{}
	for rs.Next() {
		var s string
		var n int
		if err := rs.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rs.Err()
}
