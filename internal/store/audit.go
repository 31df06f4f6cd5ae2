package store

import (
	"context"
	"fmt"
	"time"
)

// InsertAudit adds an entry to the organisation's audit log (e.OrgID), in
// the transaction of the change it records, so that the change and its
// entry are committed, or rolled back, together. It sets the entry's id
// and time.
func (tx *Tx) InsertAudit(ctx context.Context, e *AuditEntry) error {
	e.ID = newID("aud")
	e.At = tx.Now()
	details := string(e.Details)
	if details == "" {
		details = "{}"
	}
	_, err := tx.q.exec(ctx, `INSERT INTO audit_log (id, org_id, at, actor_type, actor_id, actor_name, action, target_type, target_id, target_name, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.OrgID, us(e.At), e.Actor.Type, e.Actor.ID, e.Actor.Name, e.Action, e.Target.Type, e.Target.ID, e.Target.Name, details)
	if err != nil {
		return fmt.Errorf("insert audit entry: %w", err)
	}
	e.Details = []byte(details)
	return nil
}

// Audit lists an organisation's audit entries, newest first, filtered.
func (o ops) Audit(ctx context.Context, orgID string, f AuditFilter, page Page) ([]*AuditEntry, string, error) {
	var w where
	w.add("org_id = ?", orgID)
	if !f.Since.IsZero() {
		w.add("at >= ?", us(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("at < ?", us(f.Until))
	}
	if f.Action != "" {
		w.add("action = ?", f.Action)
	}
	if f.ActorID != "" {
		w.add("actor_id = ?", f.ActorID)
	}
	return list(ctx, o, page, "id, org_id, at, actor_type, actor_id, actor_name, action, target_type, target_id, target_name, details", "audit_log", w,
		func(r rows) (*AuditEntry, error) {
			var e AuditEntry
			var at int64
			var details string
			err := r.Scan(&e.ID, &e.OrgID, &at, &e.Actor.Type, &e.Actor.ID, &e.Actor.Name, &e.Action, &e.Target.Type, &e.Target.ID, &e.Target.Name, &details)
			e.At, e.Details = fromUS(at), []byte(details)
			return &e, err
		}, func(e *AuditEntry) string { return e.ID })
}

// PruneAudit deletes up to limit audit entries (of every organisation)
// made before cutoff and reports how many it deleted.
func (tx *Tx) PruneAudit(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := tx.q.exec(ctx, `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY at LIMIT ?)`, us(before), limit)
	return int(n), err
}
