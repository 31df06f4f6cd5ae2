package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/automation"
)

// copyTables are the tables Copy moves, parents first, with their columns.
// Sessions are not copied (people sign in again), nor idempotency keys (a
// day's protection against repeated requests); the queue's own tables are
// rebuilt from the runs that still have work to do. Alerts are copied as
// history: one not yet delivered is not sent again.
var copyTables = []struct {
	name string
	cols []string
	key  string // ordering column
}{
	{"organisations", []string{"id", "name", "created_at"}, "id"},
	{"api_keys", []string{"id", "org_id", "name", "prefix", "hash", "instance_admin", "created_at", "last_used_at", "revoked_at", "role"}, "id"},
	{"users", []string{"id", "org_id", "email", "name", "password_hash", "created_at", "role"}, "id"},
	{"invitations", []string{"id", "org_id", "email", "role", "token_hash", "created_at", "expires_at", "used_at"}, "id"},
	{"collections", []string{"id", "org_id", "coll_key", "name", "fields", "stages", "created_at", "updated_at"}, "id"},
	{"records", []string{"id", "org_id", "collection", "stage", "fields", "version", "created_at", "updated_at"}, "id"},
	{"automations", []string{"id", "org_id", "collection", "name", "enabled", "trigger_type", "version", "created_at", "updated_at",
		"failure_streak", "pause_after", "paused_at", "paused_reason", "alert_at", "alert_failures"}, "id"},
	{"automation_versions", []string{"automation_id", "version", "org_id", "doc", "signing_secret", "created_at", "saved_by", "restored_from"}, "automation_id, version"},
	{"runs", []string{"id", "org_id", "automation_id", "automation_version", "record_id", "collection", "trigger_type", "trigger_at", "status", "seq", "depth",
		"created_at", "updated_at", "finished_at", "next_attempt_at", "fields", "steps", "record", "previous", "error_class", "error_message"}, "id"},
	{"attempts", []string{"run_id", "step", "n", "started_at", "duration_us", "request", "response", "error_class", "error_message", "fields"}, "run_id, step, n"},
	{"secrets", []string{"org_id", "name", "value", "created_at", "updated_at"}, "org_id, name"},
	{"audit_log", []string{"id", "org_id", "at", "actor_type", "actor_id", "actor_name", "action", "target_type", "target_id", "target_name", "details"}, "id"},
	{"alert_channels", []string{"id", "org_id", "name", "type", "url", "recipients", "created_at"}, "id"},
	{"alerts", []string{"id", "org_id", "channel_id", "channel_type", "event", "payload", "status", "attempts", "error", "created_at", "sent_at"}, "id"},
	{"due_triggers", []string{"automation_id", "record_id", "org_id", "due_at", "due_value"}, "automation_id, record_id"},
}

// copyBatch rows are inserted per statement and transaction.
const copyBatch = 500

// Copy copies everything from one store into another, empty one (moving
// from SQLite to PostgreSQL), and queues the runs that still had work to do.
// Secrets and signing secrets stay sealed: the target's nodes need the same
// secret key. progress, if not nil, is told each table's count.
func Copy(ctx context.Context, from, to *Store, progress func(table string, rows int)) (map[string]int, error) {
	n, err := to.CountOrganisations(ctx)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if n > 0 {
		return nil, fmt.Errorf("the target database already has %d organisation(s): copy into an empty database", n)
	}
	counts := map[string]int{}
	for _, t := range copyTables {
		c, err := copyTable(ctx, from, to, t.name, t.cols, t.key)
		if err != nil {
			return counts, fmt.Errorf("copy %s: %w", t.name, err)
		}
		counts[t.name] = c
		if progress != nil {
			progress(t.name, c)
		}
	}
	queued, err := requeue(ctx, to)
	if err != nil {
		return counts, fmt.Errorf("queue unfinished runs: %w", err)
	}
	counts["jobs"] = queued
	return counts, nil
}

func copyTable(ctx context.Context, from, to *Store, table string, cols []string, key string) (int, error) {
	rs, err := from.q.query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+table+" ORDER BY "+key)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	total := 0
	var batch [][]any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		row := "(?" + strings.Repeat(", ?", len(cols)-1) + ")"
		q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + row + strings.Repeat(", "+row, len(batch)-1)
		args := make([]any, 0, len(batch)*len(cols))
		for _, r := range batch {
			args = append(args, r...)
		}
		err := to.Write(ctx, func(tx *Tx) error {
			_, err := tx.q.exec(ctx, q, args...)
			return err
		})
		total += len(batch)
		batch = batch[:0]
		return err
	}
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return total, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		batch = append(batch, vals)
		if len(batch) == copyBatch {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	if err := rs.Err(); err != nil {
		return total, err
	}
	return total, flush()
}

// requeue adds a queue job for every run that was queued, running or
// waiting to retry, at its next attempt time (or now).
func requeue(ctx context.Context, st *Store) (int, error) {
	type pending struct {
		org, id string
		seq     int64
		next    *int64
	}
	rs, err := st.q.query(ctx, `SELECT org_id, id, seq, next_attempt_at FROM runs WHERE status IN (?, ?, ?)`,
		automation.StatusQueued, automation.StatusRunning, automation.StatusRetrying)
	if err != nil {
		return 0, err
	}
	var all []pending
	for rs.Next() {
		var p pending
		if err := rs.Scan(&p.org, &p.id, &p.seq, &p.next); err != nil {
			rs.Close()
			return 0, err
		}
		all = append(all, p)
	}
	if err := rs.Close(); err != nil {
		return 0, err
	}
	for i := 0; i < len(all); i += copyBatch {
		chunk := all[i:min(i+copyBatch, len(all))]
		err := st.Write(ctx, func(tx *Tx) error {
			for _, p := range chunk {
				at := time.Time{}
				if p.next != nil {
					at = fromUS(*p.next)
				}
				tx.EnqueueRun(RunJob{OrgID: p.org, RunID: p.id, Seq: p.seq}, at)
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return len(all), nil
}
