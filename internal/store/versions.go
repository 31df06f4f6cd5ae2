package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/autohook/autohook/internal/automation"
)

// VersionMeta is what SaveAutomationBy records beside a version's
// document.
type VersionMeta struct {
	SavedBy      *Actor // nil: not known
	RestoredFrom int64  // the version a restore copies; 0 for none
}

func (m VersionMeta) savedBy() any {
	if m.SavedBy == nil {
		return nil
	}
	return encJSON(m.SavedBy)
}

func (m VersionMeta) restoredFrom() any {
	if m.RestoredFrom <= 0 {
		return nil
	}
	return m.RestoredFrom
}

// versionColumns are the columns of automation_versions that
// scanVersionCols reads, in order.
var versionColumns = []string{"doc", "signing_secret", "created_at", "saved_by", "restored_from"}

// versionCols lists versionColumns for a SELECT, each prefixed (a table
// alias such as "v.") and then named as itself.
func versionCols(prefix string) string {
	cols := make([]string, len(versionColumns))
	for i, c := range versionColumns {
		cols[i] = c
		if prefix != "" {
			cols[i] = prefix + c + " AS " + c
		}
	}
	return strings.Join(cols, ", ")
}

// scanVersionCols scans the columns of versionCols, after the columns of
// before (for a list that selects an id first).
func scanVersionCols(r row, before ...any) (*AutomationVersion, error) {
	var (
		doc          string
		secret, by   sql.NullString
		savedAt      int64
		restoredFrom sql.NullInt64
	)
	if err := r.Scan(append(before, &doc, &secret, &savedAt, &by, &restoredFrom)...); err != nil {
		return nil, err
	}
	v := &AutomationVersion{Doc: &automation.Automation{}, SealedSigningSecret: secret.String, SavedAt: fromUS(savedAt), RestoredFrom: restoredFrom.Int64}
	if err := decJSON(doc, v.Doc); err != nil {
		return nil, fmt.Errorf("decode automation: %w", err)
	}
	if by.Valid {
		v.SavedBy = &Actor{}
		if err := decJSON(by.String, v.SavedBy); err != nil {
			return nil, fmt.Errorf("decode saved_by: %w", err)
		}
	}
	return v, nil
}

// AutomationVersions lists the saved versions of an automation, newest
// first; ErrNotFound when the organisation has no such automation (the
// versions of a deleted automation stay for its runs, but are not listed).
// The cursor is the last version seen.
func (o ops) AutomationVersions(ctx context.Context, orgID, id string, page Page) ([]*AutomationVersion, string, error) {
	var n int
	if err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM automations WHERE org_id = ? AND id = ?`, orgID, id).Scan(&n); err != nil {
		return nil, "", err
	}
	if n == 0 {
		return nil, "", ErrNotFound
	}
	var w where
	w.add("org_id = ?", orgID)
	w.add("automation_id = ?", id)
	if page.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(page.Cursor)
		before, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil || before < 1 {
			return nil, "", fmt.Errorf("%w: invalid cursor", ErrBadInput)
		}
		w.add("version < ?", before)
	}
	q := `SELECT ` + versionCols("") + ` FROM automation_versions` + w.String() + ` ORDER BY version DESC LIMIT ?`
	return queryPage(ctx, o, q, w.args, page.Size(), func(r rows) (*AutomationVersion, error) { return scanVersionCols(r) },
		func(v *AutomationVersion) string {
			return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(v.Doc.Version, 10)))
		})
}
