package trigger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

// Due triggers keep one row per (record_due automation, record) whose due
// time is still ahead, in an indexed table: the scanner reads only the rows
// whose time has come, so it costs the same with a million records as with
// ten. Record writes keep the rows in step, in their own transaction.

// dueKey identifies what a due row was computed from: the field's value and
// the automation's offset. A row whose key is unchanged is left alone — it
// fires once — and a changed key means a new due time.
func dueKey(comp *automation.Compiled, rec *record.Record) (string, time.Time, bool) {
	s, ok := rec.Fields[comp.Trigger.Field].(string)
	if !ok {
		return "", time.Time{}, false
	}
	t, ok := record.Time(record.DateTime, s)
	if !ok {
		if t, ok = record.Time(record.Date, s); !ok {
			return "", time.Time{}, false
		}
	}
	return s + "|" + comp.DueOffset.String(), t.Add(comp.DueOffset), true
}

// syncDue brings the due row of one automation for one record in step with
// the record: a new or changed due value in the future gets a row; a value
// already past when it is saved gets none and never fires.
func syncDue(ctx context.Context, tx *store.Tx, orgID string, comp *automation.Compiled, rec *record.Record, now time.Time) error {
	key, at, ok := dueKey(comp, rec)
	old, exists, err := tx.DueValue(ctx, orgID, comp.ID, rec.ID)
	if err != nil {
		return err
	}
	switch {
	case exists && ok && old == key:
		return nil // unchanged: the pending row stands, even if its time just came
	case ok && at.After(now):
		return tx.PutDue(ctx, store.Due{AutomationID: comp.ID, RecordID: rec.ID, OrgID: orgID, At: at, Value: key})
	case exists:
		return tx.DeleteDue(ctx, orgID, comp.ID, rec.ID)
	}
	return nil
}

// RebuildDue computes the due rows of a record_due automation that was
// saved (created, changed or enabled) at savedAt, for every record of its
// collection, in batches of short transactions so record writes are never
// held up for long. Due values already past at savedAt never fire; values
// after it do, even if their time came while the rows were being built. It
// stops early when the automation has been changed again meanwhile (that
// save rebuilds), and marks the version built when done.
func (f *Firer) RebuildDue(ctx context.Context, st *store.Store, orgID string, comp *automation.Compiled, savedAt time.Time) error {
	page := store.Page{Limit: 500}
	for {
		var next string
		stale := false
		err := st.Write(ctx, func(tx *store.Tx) error {
			cur, err := tx.Automation(ctx, orgID, comp.ID)
			if errors.Is(err, store.ErrNotFound) {
				stale = true
				return nil
			}
			if err != nil {
				return err
			}
			if cur.Doc.Version != comp.Version || !cur.Doc.Enabled {
				stale = true
				return nil
			}
			recs, n, err := tx.Records(ctx, orgID, comp.Collection, store.RecordFilter{}, page)
			if err != nil {
				return err
			}
			next = n
			for _, rec := range recs {
				if err := syncDue(ctx, tx, orgID, comp, rec, savedAt); err != nil {
					return err
				}
			}
			if next == "" {
				return tx.MarkDueBuilt(ctx, orgID, comp.ID, comp.Version)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rebuild due triggers of %s: %w", comp.ID, err)
		}
		if stale || next == "" {
			return nil
		}
		page.Cursor = next
	}
}

// Scanner fires record_due automations whose time has come. Several nodes
// may scan the same database: each due row is claimed by exactly one.
type Scanner struct {
	st    *store.Store
	fire  *Firer
	cat   *catalog.Catalog
	now   func() time.Time
	log   *slog.Logger
	batch int
}

// NewScanner returns a Scanner; now is injected so tests can drive time.
func NewScanner(st *store.Store, fire *Firer, cat *catalog.Catalog, now func() time.Time, log *slog.Logger) *Scanner {
	if now == nil {
		now = time.Now
	}
	return &Scanner{st: st, fire: fire, cat: cat, now: now, log: log, batch: 500}
}

// Tick builds the due rows of automations saved since the last tick, then
// fires everything due now, and reports how many runs it created. Building
// here rather than in the save makes it survive a crash: a version whose
// rows are not all built stays marked so until they are.
func (s *Scanner) Tick(ctx context.Context) (int, error) {
	stale, err := s.st.StaleDueAutomations(ctx, 10)
	if err != nil {
		return 0, err
	}
	for _, sd := range stale {
		comp, err := s.cat.Get(ctx, sd.OrgID, sd.AutomationID, sd.Version)
		if err != nil {
			return 0, err
		}
		if err := s.fire.RebuildDue(ctx, s.st, sd.OrgID, comp, sd.SavedAt); err != nil {
			return 0, err
		}
	}
	total := 0
	for {
		claimed, started := 0, 0
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			dues, err := tx.ClaimDue(ctx, s.now(), s.batch)
			if err != nil {
				return err
			}
			claimed, started = len(dues), 0
			for _, d := range dues {
				ok, err := s.fireOne(ctx, tx, d)
				if err != nil {
					return err
				}
				if ok {
					started++
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += started
		if claimed < s.batch {
			return total, nil
		}
	}
}

func (s *Scanner) fireOne(ctx context.Context, tx *store.Tx, d store.Due) (bool, error) {
	cur, err := tx.Automation(ctx, d.OrgID, d.AutomationID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !cur.Doc.Enabled || cur.Doc.Trigger.Type != automation.RecordDue {
		return false, nil
	}
	comp, err := s.cat.Get(ctx, d.OrgID, d.AutomationID, cur.Doc.Version)
	if err != nil {
		return false, err
	}
	rec, err := tx.RecordByID(ctx, d.OrgID, d.RecordID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if key, _, ok := dueKey(comp, rec); !ok || key != d.Value {
		return false, nil // the record moved on; its own write keeps the rows right
	}
	run, err := s.fire.start(ctx, tx, Change{OrgID: d.OrgID, Record: rec, At: d.At}, comp, automation.RecordDue)
	return run != nil, err
}

// Run scans every interval until ctx is done.
func (s *Scanner) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Tick(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.ErrorContext(ctx, "due trigger scan failed", "err", err)
		} else if n > 0 {
			s.log.DebugContext(ctx, "due triggers fired", "runs", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
