package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/automation"
)

// AutomationVersion is one stored version of an automation: its document
// (with the signing secret redacted), the sealed signing secret, and when
// and by whom it was saved.
type AutomationVersion struct {
	Doc                 *automation.Automation
	SealedSigningSecret string // "" when unsigned
	SavedAt             time.Time
	SavedBy             *Actor // nil when not known (saved by a tool, or before it was kept)
	RestoredFrom        int64  // the version a restore copied; 0 for an ordinary save
}

// AutomationRef is what trigger matching needs to know before loading a
// version: which automations of a collection are enabled, and at which
// version.
type AutomationRef struct {
	ID          string
	Version     int64
	TriggerType string
}

// SaveAutomation inserts a new automation (a.ID == "") or a new version of an
// existing one, and stores the version's document. It sets a.ID, a.Version
// and the times. It is SaveAutomationBy without saying who saved it.
func (tx *Tx) SaveAutomation(ctx context.Context, orgID string, a *automation.Automation, sealedSecret string) error {
	return tx.SaveAutomationBy(ctx, orgID, a, sealedSecret, VersionMeta{})
}

// SaveAutomationBy is SaveAutomation that records who saved the version
// and, for a restore, which version it copies.
func (tx *Tx) SaveAutomationBy(ctx context.Context, orgID string, a *automation.Automation, sealedSecret string, meta VersionMeta) error {
	now := tx.Now()
	if a.ID == "" {
		a.ID = newID("aut")
		a.Version = 1
		a.CreatedAt, a.UpdatedAt = &now, &now
		_, err := tx.q.exec(ctx, `INSERT INTO automations (id, org_id, collection, name, enabled, trigger_type, version, created_at, updated_at, pause_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, orgID, a.Collection, a.Name, a.Enabled, a.Trigger.Type, a.Version, us(now), us(now), a.PauseAfter())
		if err != nil {
			return fmt.Errorf("insert automation: %w", err)
		}
		a.SetState(nil, "", 0)
	} else {
		var version, created, streak int64
		var pausedAt sql.NullInt64
		var reason sql.NullString
		err := tx.q.queryRow(ctx, `SELECT version, created_at, failure_streak, paused_at, paused_reason FROM automations WHERE org_id = ? AND id = ?`, orgID, a.ID).
			Scan(&version, &created, &streak, &pausedAt, &reason)
		if isNoRows(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		c := fromUS(created)
		a.Version = version + 1
		a.CreatedAt, a.UpdatedAt = &c, &now
		_, err = tx.q.exec(ctx, `UPDATE automations SET collection = ?, name = ?, enabled = ?, trigger_type = ?, version = ?, updated_at = ?, pause_after = ? WHERE org_id = ? AND id = ?`,
			a.Collection, a.Name, a.Enabled, a.Trigger.Type, a.Version, us(now), a.PauseAfter(), orgID, a.ID)
		if err != nil {
			return fmt.Errorf("update automation: %w", err)
		}
		a.SetState(fromNullUS(pausedAt), reason.String, streak)
	}
	doc := a.Redacted().Stateless()
	var secret any
	if sealedSecret != "" {
		secret = sealedSecret
	}
	_, err := tx.q.exec(ctx, `INSERT INTO automation_versions (automation_id, version, org_id, doc, signing_secret, created_at, saved_by, restored_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Version, orgID, encJSON(doc), secret, us(now), meta.savedBy(), meta.restoredFrom())
	if err != nil {
		return fmt.Errorf("insert automation version: %w", err)
	}
	return tx.bumpCatalog(ctx, orgID)
}

// DeleteAutomation deletes an automation (its versions stay, for the
// history of its runs), its pending due triggers and its steps' rates.
func (tx *Tx) DeleteAutomation(ctx context.Context, orgID, id string) error {
	n, err := tx.q.exec(ctx, `DELETE FROM automations WHERE org_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("delete automation: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	_, err = tx.q.exec(ctx, `DELETE FROM due_triggers WHERE org_id = ? AND automation_id = ?`, orgID, id)
	if err != nil {
		return err
	}
	_, err = tx.q.exec(ctx, `DELETE FROM step_rates WHERE org_id = ? AND automation_id = ?`, orgID, id)
	if err != nil {
		return err
	}
	return tx.bumpCatalog(ctx, orgID)
}

// Automation returns the current version of an automation, with its state.
func (o ops) Automation(ctx context.Context, orgID, id string) (*AutomationVersion, error) {
	row := o.q.queryRow(ctx, `SELECT a.enabled, `+stateCols+`, `+versionCols("v.")+` FROM automations a JOIN automation_versions v ON v.automation_id = a.id AND v.version = a.version WHERE a.org_id = ? AND a.id = ?`, orgID, id)
	var st stateScan
	v, err := scanVersionCols(row, st.dest()...)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	st.set(v.Doc)
	return v, nil
}

// stateCols are an automation's state columns (table alias a), scanned by
// stateScan after its enabled column.
const stateCols = "a.paused_at AS paused_at, a.paused_reason AS paused_reason, a.failure_streak AS failure_streak"

type stateScan struct {
	enabled  bool
	pausedAt sql.NullInt64
	reason   sql.NullString
	streak   int64
}

func (s *stateScan) dest() []any { return []any{&s.enabled, &s.pausedAt, &s.reason, &s.streak} }

func (s *stateScan) set(a *automation.Automation) {
	a.Enabled = s.enabled
	a.SetState(fromNullUS(s.pausedAt), s.reason.String, s.streak)
}

// AutomationAt returns one version of an automation, even a deleted one's.
func (o ops) AutomationAt(ctx context.Context, orgID, id string, version int64) (*AutomationVersion, error) {
	row := o.q.queryRow(ctx, `SELECT `+versionCols("")+` FROM automation_versions WHERE org_id = ? AND automation_id = ? AND version = ?`, orgID, id, version)
	return scanVersion(row)
}

func scanVersion(r row) (*AutomationVersion, error) {
	v, err := scanVersionCols(r)
	if isNoRows(err) {
		return nil, ErrNotFound
	}
	return v, err
}

// Automations lists the current versions of an organisation's automations,
// newest first.
func (o ops) Automations(ctx context.Context, orgID string, f AutomationFilter, page Page) ([]*AutomationVersion, string, error) {
	var w where
	w.add("a.org_id = ?", orgID)
	if f.Collection != "" {
		w.add("a.collection = ?", f.Collection)
	}
	if f.TriggerType != "" {
		w.add("a.trigger_type = ?", f.TriggerType)
	}
	type item struct {
		id string
		v  *AutomationVersion
	}
	from := `(SELECT a.id AS id, a.enabled AS enabled, ` + stateCols + `, ` + versionCols("v.") + ` FROM automations a JOIN automation_versions v ON v.automation_id = a.id AND v.version = a.version` + w.String() + `) x`
	items, next, err := list(ctx, o, page, "id, enabled, paused_at, paused_reason, failure_streak, "+versionCols(""), from, where{args: w.args}, func(r rows) (item, error) {
		var id string
		var st stateScan
		v, err := scanVersionCols(r, append([]any{&id}, st.dest()...)...)
		if err == nil {
			st.set(v.Doc)
		}
		return item{id, v}, err
	}, func(i item) string { return i.id })
	if err != nil {
		return nil, "", err
	}
	out := make([]*AutomationVersion, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out, next, nil
}

// EnabledAutomations returns the enabled automations of a collection with
// the given trigger types (all types when none are given).
func (o ops) EnabledAutomations(ctx context.Context, orgID, collection string, triggerTypes ...string) ([]AutomationRef, error) {
	q := enabledAutomationsQuery
	args := []any{orgID, collection, true}
	if len(triggerTypes) > 0 {
		q += " AND trigger_type IN (?" + strings.Repeat(", ?", len(triggerTypes)-1) + ")"
		for _, t := range triggerTypes {
			args = append(args, t)
		}
	}
	rs, err := o.q.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanRefs(rs)
}

const enabledAutomationsQuery = `SELECT id, version, trigger_type FROM automations WHERE org_id = ? AND collection = ? AND enabled = ?`

func scanRefs(rs rows) ([]AutomationRef, error) {
	defer rs.Close()
	var out []AutomationRef
	for rs.Next() {
		var r AutomationRef
		if err := rs.Scan(&r.ID, &r.Version, &r.TriggerType); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}
