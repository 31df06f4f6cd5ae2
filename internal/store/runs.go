package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
)

// storedStep is a step state as stored in runs.steps (attempts live in
// their own table).
type storedStep struct {
	ID            string                   `json:"id"`
	Type          string                   `json:"type"`
	Status        automation.StepStatus    `json:"status"`
	NextAttemptAt *time.Time               `json:"next,omitempty"`
	Attempts      int                      `json:"n,omitempty"`
	RetryBase     int                      `json:"base,omitempty"`
	Deferrals     int                      `json:"d,omitempty"`
	RateSlot      *time.Time               `json:"rate,omitempty"`
	RateMisses    int                      `json:"rm,omitempty"`
	HTTPStatus    *int                     `json:"hs,omitempty"`
	Error         *automation.AttemptError `json:"err,omitempty"`
	Continued     bool                     `json:"c,omitempty"`
}

func encSteps(steps []automation.StepState) string {
	out := make([]storedStep, len(steps))
	for i, s := range steps {
		out[i] = storedStep{ID: s.ID, Type: s.Type, Status: s.Status, NextAttemptAt: s.NextAttemptAt, Attempts: s.AttemptCount, RetryBase: s.RetryBase, Deferrals: s.Deferrals, RateSlot: s.RateSlot, RateMisses: s.RateMisses,
			HTTPStatus: s.HTTPStatus, Error: s.Error, Continued: s.Continued}
		if s.Error != nil {
			e := *s.Error
			e.Message = validMessage(e.Message)
			out[i].Error = &e
		}
	}
	return encJSON(out)
}

func decSteps(s string) ([]automation.StepState, error) {
	var in []storedStep
	if err := decJSON(s, &in); err != nil {
		return nil, err
	}
	out := make([]automation.StepState, len(in))
	for i, st := range in {
		out[i] = automation.StepState{ID: st.ID, Type: st.Type, Status: st.Status, NextAttemptAt: st.NextAttemptAt, AttemptCount: st.Attempts, RetryBase: st.RetryBase, Deferrals: st.Deferrals, RateSlot: st.RateSlot, RateMisses: st.RateMisses, Attempts: []automation.Attempt{},
			HTTPStatus: st.HTTPStatus, Error: st.Error, Continued: st.Continued}
	}
	return out, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// errorCols are an error's class and message columns (NULL without one).
// The message quotes whatever failed, so it is made valid text rather than
// refused: a step's result must always be writable.
func errorCols(e *automation.AttemptError) (class, msg any) {
	if e == nil {
		return nil, nil
	}
	return nullString(string(e.Class)), nullString(validMessage(e.Message))
}

// InsertRun adds a run, setting its id and times. Enqueue its job with
// EnqueueRun in the same transaction.
func (tx *Tx) InsertRun(ctx context.Context, orgID string, r *automation.Run) error {
	r.ID = newID("run")
	now := tx.Now()
	r.CreatedAt, r.UpdatedAt = now, now
	if r.Fields == nil {
		r.Fields = map[string]any{}
	}
	var prev any
	if r.Previous != nil {
		prev = encJSON(r.Previous)
	}
	class, msg := errorCols(r.Error)
	err := tx.q.execLater(ctx, `INSERT INTO runs (id, org_id, automation_id, automation_version, record_id, collection, trigger_type, trigger_at, status, seq, depth,
		created_at, updated_at, finished_at, next_attempt_at, fields, steps, record, previous, error_class, error_message)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, orgID, r.AutomationID, r.AutomationVersion, r.RecordID, r.Collection, r.Trigger.Type, us(r.Trigger.At), r.Status, r.Seq, r.Depth,
		us(now), us(now), nullUS(r.FinishedAt), nullUS(r.NextAttemptAt), encJSON(r.Fields), encSteps(r.Steps), encJSON(r.Record), prev,
		class, msg)
	if err != nil {
		return fmt.Errorf("insert run: %w", err)
	}
	return nil
}

// ErrRunChanged is wrapped, with ErrConflict, by the error of UpdateRun
// whose run another job or a person changed since it was read. On
// PostgreSQL that conflict may show at a later statement of the
// transaction, or fail the Write call once its function returned
// (pipeline.go): this tells it from the other conflicts there.
var ErrRunChanged = errors.New("changed meanwhile")

// UpdateRun writes a run's progress (status, seq, steps, fields, record
// snapshot, times, error) if its seq is still expectSeq; ErrConflict (and
// ErrRunChanged) when another job or a person changed it meanwhile. On
// PostgreSQL the conflict may show at the transaction's next statement,
// or fail the Write call once fn returned: a caller that handles it does
// so once Write returns, never inside fn.
func (tx *Tx) UpdateRun(ctx context.Context, orgID string, r *automation.Run, expectSeq int64) error {
	r.UpdatedAt = tx.Now()
	class, msg := errorCols(r.Error)
	changed := fmt.Errorf("%w: run %s %w", ErrConflict, r.ID, ErrRunChanged)
	err := tx.q.execExpect(ctx, changed, `UPDATE runs SET automation_version = ?, status = ?, seq = ?, updated_at = ?, finished_at = ?, next_attempt_at = ?, fields = ?, steps = ?, record = ?, error_class = ?, error_message = ?
		WHERE org_id = ? AND id = ? AND seq = ?`,
		r.AutomationVersion, r.Status, r.Seq, us(r.UpdatedAt), nullUS(r.FinishedAt), nullUS(r.NextAttemptAt), encJSON(r.Fields), encSteps(r.Steps), encJSON(r.Record),
		class, msg, orgID, r.ID, expectSeq)
	return checked("update run", err, changed)
}

// FailRun ends a run as failed with class and message if its seq is still
// seq and it has not finished, without reading it: for a run whose stored
// form cannot be read back. It reports whether it did.
func (tx *Tx) FailRun(ctx context.Context, orgID, id string, seq int64, class retry.Class, message string) (bool, error) {
	now := us(tx.Now())
	// exec, not execExpect: a run already moved on is an answer (false),
	// not a failure of the call.
	n, err := tx.q.exec(ctx, `UPDATE runs SET status = ?, updated_at = ?, finished_at = ?, next_attempt_at = NULL, error_class = ?, error_message = ?
		WHERE org_id = ? AND id = ? AND seq = ? AND status NOT IN (?, ?, ?, ?)`,
		automation.StatusFailed, now, now, class, message, orgID, id, seq, automation.StatusSucceeded, automation.StatusFailed, automation.StatusCancelled, automation.StatusSkipped)
	if err != nil {
		return false, fmt.Errorf("fail run: %w", err)
	}
	return n == 1, nil
}

// HandBackRun moves a run that a job of generation seq holds, and has not
// worked, to the next generation, so that this job's copy of it goes stale,
// and enqueues a job of the new generation at at. It reports false (and
// enqueues nothing) when the run is no longer at seq or has finished
// (skipped included). A
// batch job hands back the runs that found no room among the runs in
// flight: were the batch itself worked again (resumed after a crash,
// retried by the queue), the run would otherwise have two jobs of one
// generation, and two workers could send its request at once.
func (tx *Tx) HandBackRun(ctx context.Context, job RunJob, at time.Time) (bool, error) {
	// exec, not execExpect: whether the run moved decides the job
	// enqueued, and the batch job goes on with its other runs either way.
	n, err := tx.q.exec(ctx, `UPDATE runs SET seq = seq + 1, updated_at = ? WHERE org_id = ? AND id = ? AND seq = ? AND status NOT IN (?, ?, ?, ?)`,
		us(tx.Now()), job.OrgID, job.RunID, job.Seq, automation.StatusSucceeded, automation.StatusFailed, automation.StatusCancelled, automation.StatusSkipped)
	if err != nil {
		return false, fmt.Errorf("hand back run: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	job.Seq++
	tx.EnqueueRun(job, at)
	return true, nil
}

// MarkRunRunning sets a queued or retrying run to running, if its seq is
// still seq (a run that moved on is left as it is, without an error).
func (tx *Tx) MarkRunRunning(ctx context.Context, orgID, id string, seq int64) error {
	return tx.q.execLater(ctx, `UPDATE runs SET status = ?, updated_at = ? WHERE org_id = ? AND id = ? AND seq = ? AND status IN (?, ?)`,
		automation.StatusRunning, us(tx.Now()), orgID, id, seq, automation.StatusQueued, automation.StatusRetrying)
}

// InsertAttempt records one attempt of step (its index) of a run.
func (tx *Tx) InsertAttempt(ctx context.Context, runID string, step int, a *automation.Attempt) error {
	return tx.insertAttempt(ctx, runID, step, a, "")
}

// KeepAttempt records in history an attempt whose run moved on without it
// (a person retried or cancelled the run while its request was in flight,
// or another job recorded the step first), unless the step already has an
// attempt numbered a.N: it reports whether it did. Unlike InsertAttempt it
// never fails on that number, so a result that lost the race to be
// recorded cannot fail its run.
func (tx *Tx) KeepAttempt(ctx context.Context, runID string, step int, a *automation.Attempt) (bool, error) {
	var taken int
	err := tx.q.queryRow(ctx, `SELECT COUNT(*) FROM attempts WHERE run_id = ? AND step = ? AND n = ?`, runID, step, a.N).Scan(&taken)
	if err != nil {
		return false, fmt.Errorf("keep attempt: %w", err)
	}
	if taken > 0 {
		return false, nil
	}
	return true, tx.insertAttempt(ctx, runID, step, a, " ON CONFLICT (run_id, step, n) DO NOTHING")
}

func (tx *Tx) insertAttempt(ctx context.Context, runID string, step int, a *automation.Attempt, onConflict string) error {
	var req, resp, fields any
	if a.Request != nil {
		req = encJSON(a.Request)
	}
	if a.Response != nil {
		resp = encJSON(a.Response)
	}
	if len(a.Fields) > 0 {
		fields = encJSON(a.Fields)
	}
	class, msg := errorCols(a.Error)
	err := tx.q.execLater(ctx, `INSERT INTO attempts (run_id, step, n, started_at, duration_us, request, response, error_class, error_message, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`+onConflict,
		runID, step, a.N, us(a.StartedAt), int64(a.DurationMs*1000), req, resp, class, msg, fields)
	if err != nil {
		return fmt.Errorf("insert attempt: %w", err)
	}
	return nil
}

const runCols = "id, automation_id, automation_version, record_id, collection, trigger_type, trigger_at, status, seq, depth, created_at, updated_at, finished_at, next_attempt_at, fields, steps, record, previous, error_class, error_message"

func scanRun(r row) (*automation.Run, error) {
	var run automation.Run
	var trigAt, created, updated int64
	var finished, next sql.NullInt64
	var fields, steps, rec string
	var prev, class, msg sql.NullString
	err := r.Scan(&run.ID, &run.AutomationID, &run.AutomationVersion, &run.RecordID, &run.Collection, &run.Trigger.Type, &trigAt, &run.Status,
		&run.Seq, &run.Depth, &created, &updated, &finished, &next, &fields, &steps, &rec, &prev, &class, &msg)
	if err != nil {
		return nil, err
	}
	run.Trigger.At, run.CreatedAt, run.UpdatedAt = fromUS(trigAt), fromUS(created), fromUS(updated)
	run.FinishedAt, run.NextAttemptAt = fromNullUS(finished), fromNullUS(next)
	if class.Valid {
		run.Error = &automation.AttemptError{Class: retry.Class(class.String), Message: msg.String}
	}
	if err := decJSON(fields, &run.Fields); err != nil {
		return nil, err
	}
	if run.Fields == nil {
		run.Fields = map[string]any{}
	}
	if run.Steps, err = decSteps(steps); err != nil {
		return nil, err
	}
	run.ContinuedAfterFailure = run.Continuations()
	if err := decJSON(rec, &run.Record); err != nil {
		return nil, err
	}
	if prev.Valid {
		if err := decJSON(prev.String, &run.Previous); err != nil {
			return nil, err
		}
	}
	return &run, nil
}

// Run returns a run without its attempts.
func (o ops) Run(ctx context.Context, orgID, id string) (*automation.Run, error) {
	r, err := scanRun(o.q.queryRow(ctx, `SELECT `+runCols+` FROM runs WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return r, err
}

// RunWithAttempts returns a run with every attempt of every step.
func (o ops) RunWithAttempts(ctx context.Context, orgID, id string) (*automation.Run, error) {
	r, err := o.Run(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	rs, err := o.q.query(ctx, `SELECT step, n, started_at, duration_us, request, response, error_class, error_message, fields FROM attempts WHERE run_id = ? ORDER BY step, n`, id)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var step int
		var a automation.Attempt
		var started, dur int64
		var req, resp, class, msg, fields sql.NullString
		if err := rs.Scan(&step, &a.N, &started, &dur, &req, &resp, &class, &msg, &fields); err != nil {
			return nil, err
		}
		a.StartedAt, a.DurationMs = fromUS(started), float64(dur)/1000
		if req.Valid {
			a.Request = &automation.HTTPRequest{}
			if err := decJSON(req.String, a.Request); err != nil {
				return nil, err
			}
		}
		if resp.Valid {
			a.Response = &automation.HTTPResponse{}
			if err := decJSON(resp.String, a.Response); err != nil {
				return nil, err
			}
		}
		if class.Valid {
			a.Error = &automation.AttemptError{Class: retry.Class(class.String), Message: msg.String}
		}
		if fields.Valid {
			if err := decJSON(fields.String, &a.Fields); err != nil {
				return nil, err
			}
		}
		if step >= 0 && step < len(r.Steps) {
			r.Steps[step].Attempts = append(r.Steps[step].Attempts, a)
		}
	}
	return r, rs.Err()
}

// Runs lists runs, newest first.
func (o ops) Runs(ctx context.Context, orgID string, f RunFilter, page Page) ([]*automation.Run, string, error) {
	return list(ctx, o, page, runCols, "runs", runWhere(orgID, f), func(r rows) (*automation.Run, error) { return scanRun(r) },
		func(r *automation.Run) string { return r.ID })
}

// CountRuns counts the organisation's runs that match f, up to limit (it
// stops counting there: a bound on the work).
func (o ops) CountRuns(ctx context.Context, orgID string, f RunFilter, limit int) (int, error) {
	w := runWhere(orgID, f)
	var n int
	err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM runs`+w.String()+` LIMIT ?) AS matching`, append(w.args, limit)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count runs: %w", err)
	}
	return n, nil
}

// runWhere is the condition of the runs of orgID that match f.
func runWhere(orgID string, f RunFilter) where {
	var w where
	w.add("org_id = ?", orgID)
	if f.AutomationID != "" {
		w.add("automation_id = ?", f.AutomationID)
	}
	if f.RecordID != "" {
		w.add("record_id = ?", f.RecordID)
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", us(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("created_at < ?", us(f.Until))
	}
	return w
}

// PruneRuns deletes up to limit finished runs created before cutoff, with
// their attempts, and reports how many it deleted. A run still queued,
// running or retrying is kept however old: its job would find it gone.
func (tx *Tx) PruneRuns(ctx context.Context, before time.Time, limit int) (int, error) {
	// Run ids sort by creation time, so the primary key finds old runs.
	rs, err := tx.q.query(ctx, `SELECT id FROM runs WHERE id < ? AND status IN (?, ?, ?, ?) ORDER BY id LIMIT ?`, idAt("run", before),
		automation.StatusSucceeded, automation.StatusFailed, automation.StatusCancelled, automation.StatusSkipped, limit)
	if err != nil {
		return 0, err
	}
	var ids []any
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			rs.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := rs.Close(); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	in := "(?" + strings.Repeat(", ?", len(ids)-1) + ")"
	if _, err := tx.q.exec(ctx, `DELETE FROM attempts WHERE run_id IN `+in, ids...); err != nil {
		return 0, err
	}
	if _, err := tx.q.exec(ctx, `DELETE FROM runs WHERE id IN `+in, ids...); err != nil {
		return 0, err
	}
	return len(ids), nil
}
