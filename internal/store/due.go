package store

import (
	"context"
	"fmt"
	"time"
)

// Due is a pending record_due firing: automation, record, and when.
type Due struct {
	AutomationID string
	RecordID     string
	OrgID        string
	At           time.Time
	Value        string // the due field's value it was computed from
}

// DueValue returns the value a pending due row was computed from.
func (tx *Tx) DueValue(ctx context.Context, orgID, automationID, recordID string) (string, bool, error) {
	var v string
	err := tx.q.queryRow(ctx, `SELECT due_value FROM due_triggers WHERE org_id = ? AND automation_id = ? AND record_id = ?`, orgID, automationID, recordID).Scan(&v)
	if isNoRows(err) {
		return "", false, nil
	}
	return v, err == nil, err
}

// PutDue creates or replaces the pending due row of (automation, record).
func (tx *Tx) PutDue(ctx context.Context, d Due) error {
	_, err := tx.q.exec(ctx, `INSERT INTO due_triggers (automation_id, record_id, org_id, due_at, due_value) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (automation_id, record_id) DO UPDATE SET due_at = excluded.due_at, due_value = excluded.due_value`,
		d.AutomationID, d.RecordID, d.OrgID, us(d.At), d.Value)
	if err != nil {
		return fmt.Errorf("put due: %w", err)
	}
	return nil
}

// DeleteDue removes the pending due row of (automation, record), if any.
func (tx *Tx) DeleteDue(ctx context.Context, orgID, automationID, recordID string) error {
	_, err := tx.q.exec(ctx, `DELETE FROM due_triggers WHERE org_id = ? AND automation_id = ? AND record_id = ?`, orgID, automationID, recordID)
	return err
}

// DeleteDueOf removes every pending due row of an automation.
func (tx *Tx) DeleteDueOf(ctx context.Context, orgID, automationID string) error {
	_, err := tx.q.exec(ctx, `DELETE FROM due_triggers WHERE org_id = ? AND automation_id = ?`, orgID, automationID)
	return err
}

// DueReady lists, from the read pool, up to limit due rows whose time has
// come (at or before now), earliest first, without claiming them: the
// scanner evaluates their conditions before its transaction claims them
// with ClaimDueRow.
func (o ops) DueReady(ctx context.Context, now time.Time, limit int) ([]Due, error) {
	rs, err := o.q.query(ctx, `SELECT automation_id, record_id, org_id, due_at, due_value FROM due_triggers WHERE due_at <= ? ORDER BY due_at LIMIT ?`, us(now), limit)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []Due
	for rs.Next() {
		var d Due
		var at int64
		if err := rs.Scan(&d.AutomationID, &d.RecordID, &d.OrgID, &at, &d.Value); err != nil {
			return nil, err
		}
		d.At = fromUS(at)
		out = append(out, d)
	}
	return out, rs.Err()
}

// ClaimDueRow deletes the due row d if it is still as DueReady listed it
// (same time and value) and reports whether it did: each row is claimed
// once, also when several nodes scan at the same time.
func (tx *Tx) ClaimDueRow(ctx context.Context, d Due) (bool, error) {
	n, err := tx.q.exec(ctx, `DELETE FROM due_triggers WHERE automation_id = ? AND record_id = ? AND due_at = ? AND due_value = ?`,
		d.AutomationID, d.RecordID, us(d.At), d.Value)
	if err != nil {
		return false, fmt.Errorf("claim due: %w", err)
	}
	return n == 1, nil
}

// StaleDue is an enabled record_due automation whose due rows have not been
// built for its current version.
type StaleDue struct {
	OrgID        string
	AutomationID string
	Version      int64
	SavedAt      time.Time // when the version was saved: due values after it count
}

// StaleDueAutomations lists up to limit automations whose due rows need
// building.
func (o ops) StaleDueAutomations(ctx context.Context, limit int) ([]StaleDue, error) {
	rs, err := o.q.query(ctx, `SELECT org_id, id, version, updated_at FROM automations WHERE trigger_type = ? AND enabled = ? AND due_version < version LIMIT ?`,
		"record_due", true, limit)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []StaleDue
	for rs.Next() {
		var s StaleDue
		var saved int64
		if err := rs.Scan(&s.OrgID, &s.AutomationID, &s.Version, &saved); err != nil {
			return nil, err
		}
		s.SavedAt = fromUS(saved)
		out = append(out, s)
	}
	return out, rs.Err()
}

// MarkDueBuilt records that the due rows of an automation's version are
// built (unless a newer version was saved meanwhile).
func (tx *Tx) MarkDueBuilt(ctx context.Context, orgID, automationID string, version int64) error {
	_, err := tx.q.exec(ctx, `UPDATE automations SET due_version = ? WHERE org_id = ? AND id = ? AND version = ?`, version, orgID, automationID, version)
	return err
}
