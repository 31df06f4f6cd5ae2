package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Step rates.
//
// A call_api step with maxPerSecond N sends at most one request per
// interval T = 1 s / N, cluster-wide. Each request first reserves a slot
// with GCRA (the generic cell rate algorithm): the step's row holds the
// theoretical arrival time (TAT), the end of the last slot handed out; a
// reservation at time now gets the slot starting at max(TAT, now) and moves
// TAT to that plus T. One INSERT … ON CONFLICT DO UPDATE … RETURNING does
// it atomically on both databases, so every node sharing the database draws
// from one budget, and requests waiting for their slot are spaced T apart
// in the order they reserved.
//
// The clock is the database's on PostgreSQL (nodes' clocks may differ; the
// answer is turned into a wait, which each node times on its own clock) and
// the node's on SQLite (one node per database file).

// ReserveRate reserves the next slot of a step's rate of one request per
// interval and returns when, on this node's clock, it begins. A slot that
// began while the reservation was answered (an idle step) is in the past
// by that much: its request goes at once, and the next slot is an interval
// after the one returned, not after the answer.
// Changing the interval (the step's maxPerSecond was edited) starts the
// step's rate afresh.
func (s *Store) ReserveRate(ctx context.Context, orgID, automationID, stepID string, interval time.Duration) (time.Time, error) {
	if interval <= 0 {
		return time.Time{}, fmt.Errorf("reserve rate: interval %v must be positive", interval)
	}
	t := interval.Microseconds()
	if t < 1 {
		t = 1
	}
	var tat, now int64
	var err error
	var mark time.Time // this node's clock at the database's time now
	if pg, ok := s.b.(*pgBackend); ok {
		// A transaction of its own: the row lock serialises reservations,
		// nothing waits for a batch. It commits without waiting for the
		// WAL flush: a reservation lost in a crash only forgets the last
		// slot, and the flush would cost more than everything else. The
		// time it returns is read when the row is updated, so the wait is
		// measured from the answer, whatever the statement waited for.
		err = pgx.BeginFunc(ctx, pg.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
				return err
			}
			err := tx.QueryRow(ctx, rebind(fmt.Sprintf(reserveRateSQL, pgClockUS, pgClockUS)), orgID, automationID, stepID, t, t).Scan(&tat, &now)
			mark = s.clock() // as the answer arrives: the commit does not count
			return err
		})
	} else {
		err = s.Write(ctx, func(tx *Tx) error {
			// The time the row is written, not the time the call was
			// made: waiting for the single writer must not count as
			// time the step was idle.
			mark = s.clock()
			now = us(mark)
			return tx.q.queryRow(ctx, fmt.Sprintf(reserveRateSQL, "?", "?"), orgID, automationID, stepID, t, now, t, now).Scan(&tat, &now)
		})
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reserve rate: %w", err)
	}
	return mark.Add(time.Duration(tat-t-now) * time.Microsecond), nil
}

// reserveRateSQL takes the database's time in microseconds twice (%s):
// for the reservation, and as the time the answer is measured from (on
// PostgreSQL both read when evaluated, so that the round trips before the
// statement do not count). New TAT = max(TAT, now) + T, written as max(TAT + T, now + T) so that the
// update needs only the excluded row. A row whose interval differs starts
// again from now.
const reserveRateSQL = `INSERT INTO step_rates (org_id, automation_id, step_id, interval_us, tat) VALUES (?, ?, ?, ?, %s + ?)
ON CONFLICT (org_id, automation_id, step_id) DO UPDATE SET
    tat = CASE WHEN step_rates.interval_us = excluded.interval_us AND step_rates.tat + excluded.interval_us > excluded.tat
        THEN step_rates.tat + excluded.interval_us ELSE excluded.tat END,
    interval_us = excluded.interval_us
RETURNING tat, %s`

// pgClockUS is PostgreSQL's time when evaluated, in microseconds since the
// Unix epoch.
const pgClockUS = `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)`
