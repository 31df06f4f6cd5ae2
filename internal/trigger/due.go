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
		ready, err := s.st.DueReady(ctx, s.now(), s.batch)
		if err != nil {
			return total, err
		}
		plans := make([]duePlan, len(ready))
		for i, d := range ready {
			if plans[i], err = s.plan(ctx, d); err != nil {
				return total, err
			}
		}
		claimed, started := 0, 0
		err = s.st.Write(ctx, func(tx *store.Tx) error {
			claimed, started = 0, 0
			for _, dp := range plans {
				c, n, err := dp.apply(ctx, tx)
				if err != nil {
					return err
				}
				claimed += c
				started += n
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += started
		if len(ready) < s.batch || claimed == 0 {
			return total, nil
		}
	}
}

// duePlan is what a due row fires, decided before the transaction that
// claims it: nothing (its automation or record moved on, or the condition
// is false), or a run.
type duePlan struct {
	due     store.Due
	version int64 // the record's version the condition saw; 0: none was evaluated
	plan    *Plan // nil: the row is claimed and fires nothing (no run either when the condition is false)
}

// plan reads what a due row needs and evaluates its automation's
// condition, outside any transaction.
func (s *Scanner) plan(ctx context.Context, d store.Due) (duePlan, error) {
	dp := duePlan{due: d}
	cur, err := s.st.Automation(ctx, d.OrgID, d.AutomationID)
	if errors.Is(err, store.ErrNotFound) {
		return dp, nil
	}
	if err != nil {
		return dp, err
	}
	if !cur.Doc.Enabled || cur.Doc.Trigger.Type != automation.RecordDue {
		return dp, nil
	}
	comp, err := s.cat.Get(ctx, d.OrgID, d.AutomationID, cur.Doc.Version)
	if err != nil {
		return dp, err
	}
	rec, err := s.st.RecordByID(ctx, d.OrgID, d.RecordID)
	if errors.Is(err, store.ErrNotFound) {
		return dp, nil
	}
	if err != nil {
		return dp, err
	}
	if key, _, ok := dueKey(comp, rec); !ok || key != d.Value {
		return dp, nil // the record moved on; its own write keeps the rows right
	}
	dp.version = rec.Version
	dp.plan = &Plan{orgID: d.OrgID, record: rec, at: d.At, counted: s.fire.Skipped}
	dp.plan.add(newRun(Change{OrgID: d.OrgID, Record: rec, At: d.At}, comp, automation.RecordDue))
	return dp, nil
}

// apply claims the due row and creates its run, if the row is still as
// it was read and the record still at the version the condition saw; a
// row whose record changed meanwhile is left for the next scan, which
// evaluates the condition again. It reports the rows claimed and the runs
// started (0 or 1 each).
func (dp duePlan) apply(ctx context.Context, tx *store.Tx) (claimed, started int, err error) {
	if dp.version != 0 {
		rec, err := tx.RecordByID(ctx, dp.due.OrgID, dp.due.RecordID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			dp.plan = nil // deleted since: the row fires nothing
		case err != nil:
			return 0, 0, err
		case rec.Version != dp.version:
			return 0, 0, nil
		}
	}
	ok, err := tx.ClaimDueRow(ctx, dp.due)
	if err != nil || !ok {
		return 0, 0, err
	}
	if dp.plan == nil {
		return 1, 0, nil
	}
	runs, err := dp.plan.Apply(ctx, tx)
	return 1, len(runs), err
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
