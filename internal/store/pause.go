package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// An automation's failure streak and pause live in its row (migration
// 0012): every finished run updates that one row in its own transaction,
// so the count is exact however many runs finish at once, on however many
// nodes (the row lock orders them; no counter lives in memory).

// RunCount is what CountRunOutcome did to an automation's state.
type RunCount struct {
	Streak int64 // the failed runs in a row, this one included
	// Paused: this run's failure reached pauseAfterFailures and paused
	// the automation (exactly one run does).
	Paused bool
	// Alert: this failure raises the automation's run_failed alert (none
	// was raised within alertEvery); AlertCount is the failed runs since
	// the last one, this one included.
	Alert      bool
	AlertCount int64
}

// CountRunOutcome counts a finished run of automation id in tx, the
// transaction that finishes the run: a failed run adds one to the
// automation's failure streak and, when the streak reaches its
// pause_after (0: never), pauses it at at, the reason naming the streak
// and lastError (the run's error); any other outcome
// (succeeded) resets the streak. A failed run also counts towards the
// throttled run_failed alert: the first failure after alertEvery since the
// last alert raises one (RunCount.Alert). A deleted automation counts
// nothing.
func (tx *Tx) CountRunOutcome(ctx context.Context, orgID, id string, failed bool, at time.Time, lastError string, alertEvery time.Duration) (RunCount, error) {
	if !failed {
		// nothing to read back: held with the next statement (PostgreSQL)
		err := tx.q.execLater(ctx, `UPDATE automations SET failure_streak = 0 WHERE org_id = ? AND id = ? AND failure_streak <> 0`, orgID, id)
		if err != nil {
			return RunCount{}, fmt.Errorf("reset failure streak: %w", err)
		}
		return RunCount{}, nil
	}
	// Which run paused the automation, and which raised the alert, is
	// decided by the UPDATE from the row as it was (SET reads the old
	// values), and marked in the row for RETURNING to tell: an empty
	// paused_reason (this call writes the reason next), a negative
	// alert_failures (this call sets it to 0 next). The row lock keeps
	// the marks from every other run. Comparing times would not do: two
	// runs of one automation may finish in the same microsecond.
	stamp, since := us(at), us(at.Add(-alertEvery))
	var c RunCount
	var reason sql.NullString
	var alerts int64
	err := tx.q.queryRow(ctx, `UPDATE automations SET failure_streak = failure_streak + 1,
		paused_at = CASE WHEN paused_at IS NULL AND pause_after > 0 AND failure_streak + 1 >= pause_after THEN ? ELSE paused_at END,
		paused_reason = CASE WHEN paused_at IS NULL AND pause_after > 0 AND failure_streak + 1 >= pause_after THEN '' ELSE paused_reason END,
		alert_failures = CASE WHEN alert_at IS NULL OR alert_at <= ? THEN -(alert_failures + 1) ELSE alert_failures + 1 END,
		alert_at = CASE WHEN alert_at IS NULL OR alert_at <= ? THEN ? ELSE alert_at END
		WHERE org_id = ? AND id = ? RETURNING failure_streak, paused_reason, alert_failures`, stamp, since, since, stamp, orgID, id).
		Scan(&c.Streak, &reason, &alerts)
	if isNoRows(err) {
		return RunCount{}, nil
	}
	if err != nil {
		return RunCount{}, fmt.Errorf("count failed run: %w", err)
	}
	if alerts < 0 {
		c.Alert, c.AlertCount = true, -alerts
		_, err := tx.q.exec(ctx, `UPDATE automations SET alert_failures = 0 WHERE org_id = ? AND id = ?`, orgID, id)
		if err != nil {
			return RunCount{}, fmt.Errorf("count alert: %w", err)
		}
	}
	if reason.Valid && reason.String == "" {
		c.Paused = true
		_, err := tx.q.exec(ctx, `UPDATE automations SET paused_reason = ? WHERE org_id = ? AND id = ?`, validMessage(fmt.Sprintf("%d runs in a row failed; the last: %s", c.Streak, lastError)), orgID, id)
		if err != nil {
			return RunCount{}, fmt.Errorf("pause automation: %w", err)
		}
	}
	return c, nil
}

// ResumeAutomation makes a paused automation active again, its failure
// streak reset. It reports whether the automation was paused;
// ErrNotFound when it does not exist.
func (tx *Tx) ResumeAutomation(ctx context.Context, orgID, id string) (bool, error) {
	n, err := tx.q.exec(ctx, `UPDATE automations SET paused_at = NULL, paused_reason = NULL, failure_streak = 0 WHERE org_id = ? AND id = ? AND paused_at IS NOT NULL`, orgID, id)
	if err != nil {
		return false, fmt.Errorf("resume automation: %w", err)
	}
	if n == 1 {
		return true, nil
	}
	var one int
	err = tx.q.queryRow(ctx, `SELECT 1 FROM automations WHERE org_id = ? AND id = ?`, orgID, id).Scan(&one)
	if isNoRows(err) {
		return false, ErrNotFound
	}
	return false, err
}

// AutomationPaused reports whether automation id is paused (a deleted one
// is not).
func (o ops) AutomationPaused(ctx context.Context, orgID, id string) (bool, error) {
	var pausedAt sql.NullInt64
	err := o.q.queryRow(ctx, `SELECT paused_at FROM automations WHERE org_id = ? AND id = ?`, orgID, id).Scan(&pausedAt)
	if isNoRows(err) {
		return false, nil
	}
	return pausedAt.Valid, err
}

// RunCountRow counts the runs of one automation with one status in one
// bucket of a window (RunCounts).
type RunCountRow struct {
	AutomationID string
	Bucket       int // 0: the bucket that starts at since
	Status       string
	N            int
}

// RunCounts counts the organisation's succeeded and failed runs created
// since then, by automation, bucket (of width each) and status.
func (o ops) RunCounts(ctx context.Context, orgID string, since time.Time, each time.Duration) ([]RunCountRow, error) {
	if each <= 0 {
		return nil, fmt.Errorf("run counts: bucket width %v", each)
	}
	rs, err := o.q.query(ctx, `SELECT automation_id, (created_at - ?) / ?, status, COUNT(*) FROM runs
		WHERE org_id = ? AND id >= ? AND status IN (?, ?) GROUP BY 1, 2, 3`,
		us(since), each.Microseconds(), orgID, idAt("run", since), "succeeded", "failed")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []RunCountRow
	for rs.Next() {
		var r RunCountRow
		var b int64
		if err := rs.Scan(&r.AutomationID, &b, &r.Status, &r.N); err != nil {
			return nil, err
		}
		r.Bucket = int(b)
		out = append(out, r)
	}
	return out, rs.Err()
}

// CountPausedAutomations counts the paused automations of every
// organisation (a count only, for metrics).
func (o ops) CountPausedAutomations(ctx context.Context) (int, error) {
	var n int
	err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM automations WHERE paused_at IS NOT NULL`).Scan(&n)
	return n, err
}
