package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Promoting scheduled jobs on time (SQLite).
//
// A retry is a job scheduled for its nextAttemptAt. River moves scheduled
// jobs to available in a maintenance pass every 5 s (fixed in v0.51), so a
// retry could run up to 5 s after the time history shows. On SQLite this
// process is the only one using the file, so it knows every scheduled job's
// time: a timer makes each one available when it is due and wakes the
// workers. River has no API for this, hence the statement on its table,
// limited to Autohook's own job kinds, which have no unique keys.

const sqliteTimeFormat = "2006-01-02 15:04:05.000" // how riversqlite stores times

type promoter struct {
	b     *sqliteBackend
	mu    sync.Mutex
	timer *time.Timer
	next  time.Time // when the timer fires; zero when not armed
	done  bool
}

// arm makes sure the promoter wakes by at.
func (p *promoter) arm(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done || (!p.next.IsZero() && !at.Before(p.next)) {
		return
	}
	p.next = at
	d := time.Until(at)
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.fire)
		return
	}
	p.timer.Reset(d)
}

// armFromJobs arms the promoter for the earliest scheduled job, if any.
func (p *promoter) armFromJobs(ctx context.Context) error {
	var at sql.NullString
	err := p.b.w.QueryRowContext(ctx, `SELECT MIN(scheduled_at) FROM river_job WHERE state = 'scheduled' AND kind IN (?, ?)`,
		RunJob{}.Kind(), RunBatchJob{}.Kind()).Scan(&at)
	if err != nil || !at.Valid {
		return err
	}
	t, err := time.Parse(sqliteTimeFormat, at.String)
	if err != nil {
		return err
	}
	p.arm(t)
	return nil
}

func (p *promoter) fire() {
	p.mu.Lock()
	p.next = time.Time{}
	done := p.done
	p.mu.Unlock()
	if done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var promoted int64
	err := p.b.write(ctx, func(tx *Tx) error {
		var err error
		promoted, err = tx.q.exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'scheduled' AND kind IN (?, ?) AND unique_key IS NULL AND scheduled_at <= ?`,
			RunJob{}.Kind(), RunBatchJob{}.Kind(), time.Now().UTC().Format(sqliteTimeFormat))
		return err
	})
	if err == nil && promoted > 0 {
		p.b.driver.notifyInsert()
	}
	if err := p.armFromJobs(ctx); err != nil {
		// River's own 5 s pass still promotes; try again in a second.
		p.arm(time.Now().Add(time.Second))
	}
}

func (p *promoter) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	if p.timer != nil {
		p.timer.Stop()
	}
}

// scheduledAt returns when a job is scheduled for; zero for now.
func scheduledAt(j river.InsertManyParams) time.Time {
	if j.InsertOpts == nil {
		return time.Time{}
	}
	return j.InsertOpts.ScheduledAt
}
