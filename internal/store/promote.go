package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Promoting scheduled jobs on time.
//
// A retry is a job scheduled for its nextAttemptAt. River moves scheduled
// jobs to available in a maintenance pass every 5 s (fixed in v0.51), so a
// retry could run up to 5 s after the time history shows. So each node keeps
// a timer for the earliest scheduled job it knows of — the jobs it scheduled
// itself, and (PostgreSQL, where other nodes schedule jobs too) whatever a
// poll every second finds — makes the due ones available, and wakes the
// workers. River has no API for this, hence the statement on its table,
// limited to Autohook's own job kinds, which have no unique keys.
//
// River's pass also looks ahead: it makes jobs due in the next 5 s available
// at once, scheduled_at unchanged, and wakes no one when their time comes, so
// they would wait for the next fetch poll (1 s). So the promoter also times
// available jobs whose scheduled_at is still ahead of its last wake-up.

const sqliteTimeFormat = "2006-01-02 15:04:05.000" // how riversqlite stores times

var promotedKinds = []any{RunJob{}.Kind(), RunBatchJob{}.Kind()}

// promoter is the timer; the backend supplies the statements.
type promoter struct {
	promote func(ctx context.Context, now time.Time) (int64, error) // make jobs due by now available, wake the workers
	// nextDue returns the earliest scheduled_at of a scheduled job, or of an
	// available one scheduled after woke (zero: none).
	nextDue func(ctx context.Context, woke time.Time) (time.Time, error)
	poll    time.Duration // 0: only local knowledge

	mu     sync.Mutex
	timer  *time.Timer
	next   time.Time // when the timer fires; zero when not armed
	woke   time.Time // jobs scheduled up to then have had their wake-up
	done   bool
	firing sync.WaitGroup     // fire calls under way, which stop waits for
	ctx    context.Context    // of fire's statements; made by the first fire
	cancel context.CancelFunc // by stop: ends the statements of a fire under way
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

// start arms the promoter from the jobs already scheduled.
func (p *promoter) start(ctx context.Context) error {
	p.mu.Lock()
	p.woke = time.Now() // River's producers fetch at start
	woke := p.woke
	p.mu.Unlock()
	at, err := p.nextDue(ctx, woke)
	if err != nil {
		return err
	}
	switch {
	case !at.IsZero():
		p.arm(at)
	case p.poll > 0:
		p.arm(time.Now().Add(p.poll))
	}
	return nil
}

func (p *promoter) fire() {
	p.mu.Lock()
	p.next = time.Time{}
	done, woke := p.done, p.woke
	if !done {
		p.firing.Add(1)
		if p.ctx == nil {
			p.ctx, p.cancel = context.WithCancel(context.Background())
		}
	}
	stopCtx := p.ctx
	p.mu.Unlock()
	if done {
		return
	}
	defer p.firing.Done()
	ctx, cancel := context.WithTimeout(stopCtx, 30*time.Second)
	defer cancel()
	// A poll with nothing due is one cheap read, not a write and a wake-up.
	now := time.Now()
	failed := false
	if due, err := p.nextDue(ctx, woke); err != nil || (!due.IsZero() && !due.After(now)) {
		// On failure River's own pass still promotes, and a fire a second
		// later tries the wake-up again (not at once: the database is
		// failing).
		if _, err := p.promote(ctx, now); err != nil {
			failed = true
		} else {
			p.mu.Lock()
			if now.After(p.woke) {
				p.woke = now
			}
			woke = p.woke
			p.mu.Unlock()
		}
	}
	at, err := p.nextDue(ctx, woke)
	if err != nil || failed && at.Before(time.Now().Add(time.Second)) {
		at = time.Now().Add(time.Second)
	}
	if p.poll > 0 && (at.IsZero() || time.Until(at) > p.poll) {
		at = time.Now().Add(p.poll)
	}
	if !at.IsZero() {
		p.arm(at)
	}
}

// stop disarms the promoter and waits for a wake-up under way, which it
// cancels: the workers are stopping, and the database handles close next.
func (p *promoter) stop() {
	p.mu.Lock()
	p.done = true
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.mu.Unlock()
	p.firing.Wait()
}

// scheduledAt returns when a job is scheduled for; zero for now.
func scheduledAt(j river.InsertManyParams) time.Time {
	if j.InsertOpts == nil {
		return time.Time{}
	}
	return j.InsertOpts.ScheduledAt
}

func (b *sqliteBackend) newPromoter() *promoter {
	return &promoter{
		promote: func(ctx context.Context, now time.Time) (int64, error) {
			var n int64
			err := b.write(ctx, func(tx *Tx) error {
				var err error
				n, err = tx.q.exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'scheduled' AND kind IN (?, ?) AND unique_key IS NULL AND scheduled_at <= ?`,
					append(promotedKinds, now.UTC().Format(sqliteTimeFormat))...)
				return err
			})
			// Wake the workers even when nothing was promoted here: River's
			// own pass may have promoted the job a moment before, and its
			// notification goes through the 50 ms poll at best.
			b.driver.notifyInsert()
			return n, err
		},
		nextDue: func(ctx context.Context, woke time.Time) (time.Time, error) {
			var at sql.NullString
			err := b.w.QueryRowContext(ctx, nextDueSQL("?1", "?2", "?3"), append(promotedKinds, woke.UTC().Format(sqliteTimeFormat))...).Scan(&at)
			if err != nil || !at.Valid {
				return time.Time{}, err
			}
			return time.Parse(sqliteTimeFormat, at.String)
		},
	}
}

func (b *pgBackend) newPromoter() *promoter {
	return &promoter{
		poll: time.Second,
		promote: func(ctx context.Context, now time.Time) (int64, error) {
			tag, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'scheduled' AND kind IN ($1, $2) AND unique_key IS NULL AND scheduled_at <= $3`, append(promotedKinds, now)...)
			if err != nil {
				return 0, err
			}
			// Wake the workers (River's producers listen on
			// <schema>.river_insert), also when River's own pass promoted
			// the job a moment before.
			_, err = b.pool.Exec(ctx, `SELECT pg_notify(current_schema() || '.river_insert', '{"queue":"default"}')`)
			return tag.RowsAffected(), err
		},
		nextDue: func(ctx context.Context, woke time.Time) (time.Time, error) {
			var at *time.Time
			err := b.pool.QueryRow(ctx, nextDueSQL("$1", "$2", "$3"), append(promotedKinds, woke)...).Scan(&at)
			if err != nil || at == nil {
				return time.Time{}, err
			}
			return *at, nil
		},
	}
}

// nextDueSQL is the promoter's nextDue query, given the placeholders of the
// two kinds and of the last wake-up. Each half can use River's fetching index
// (state, queue, priority, scheduled_at): Autohook's jobs are all in the
// default queue at the default priority. Of the available jobs only those
// inserted for later count (scheduled_at after created_at): one inserted to
// run now was announced when it was committed.
func nextDueSQL(kind1, kind2, woke string) string {
	kinds := `kind IN (` + kind1 + `, ` + kind2 + `)`
	return `SELECT MIN(at) FROM (
		SELECT MIN(scheduled_at) AS at FROM river_job WHERE state = 'scheduled' AND queue = 'default' AND priority = 1 AND ` + kinds + `
		UNION ALL
		SELECT MIN(scheduled_at) FROM river_job WHERE state = 'available' AND queue = 'default' AND priority = 1 AND scheduled_at > ` + woke + ` AND scheduled_at > created_at AND ` + kinds + `
	) AS due`
}
