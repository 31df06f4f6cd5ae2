// Package trigger decides which automations a record change fires, before
// the caller's write transaction (Plan: options matched, conditions
// evaluated within their budget), and creates their runs and queue jobs
// inside it (Plan.Apply), so a committed change always has its runs and a
// rolled-back one never does, and no user expression runs in a
// transaction.
package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// MaxDepth bounds chains of automations: an update_record step that changes
// a record can fire record_updated automations, whose steps can change
// records again. A change made at depth MaxDepth fires nothing, which stops
// two automations that update each other's records from looping forever.
const MaxDepth = 8

// Change is one record change.
type Change struct {
	OrgID    string
	Record   *record.Record // after the change; nil for a deletion
	Previous *record.Record // before the change; nil for a new record
	Depth    int            // 0 for a change made by a person or the API
	At       time.Time
	// Candidates, when not nil, are the collection's enabled automations,
	// loaded once for several plans (see Firer.Candidates); nil: Plan
	// loads them.
	Candidates *Candidates
}

// Candidates are the enabled automations of one collection, compiled: what a
// change of one of its records may fire. Loading them before a write
// transaction keeps that work off SQLite's single writer (an automation
// saved in between is a race either way).
type Candidates struct {
	list  []*automation.Compiled
	stamp catalog.Stamp // the generation they were read at, checked by Apply
}

// Candidates loads the enabled automations of a collection
// (catalog.Defs).
func (f *Firer) Candidates(ctx context.Context, orgID, collection string) (*Candidates, error) {
	_, cands, err := f.CollectionAndCandidates(ctx, orgID, collection)
	return cands, err
}

// CollectionAndCandidates returns a collection (nil when there is none)
// and its candidates, read together (catalog.Defs). A write planned with
// them checks, when it applies the plan, that they are still current
// (Stamp; Plan.Apply does it).
func (f *Firer) CollectionAndCandidates(ctx context.Context, orgID, collection string) (*record.Collection, *Candidates, error) {
	c, list, stamp, err := f.cat.Defs(ctx, orgID, collection)
	if err != nil {
		return nil, nil, err
	}
	return c, &Candidates{list: list, stamp: stamp}, nil
}

// Stamp is the generation of the definitions the candidates were read at:
// a write that used the collection read with them checks it (Stamp.Check).
func (c *Candidates) Stamp() catalog.Stamp { return c.stamp }

// Firer creates runs for record changes.
type Firer struct {
	cat *catalog.Catalog
	log *slog.Logger
	// Skipped counts changes that matched an automation whose condition
	// was false; nil to not count.
	Skipped func(automationID string)
	planned atomic.Pointer[func(Change)]
}

// OnPlanned sets a function called at the end of every Plan (nil for
// none): tests use it to change a record between a plan and its
// transaction.
func (f *Firer) OnPlanned(fn func(Change)) {
	if fn == nil {
		f.planned.Store(nil)
		return
	}
	f.planned.Store(&fn)
}

// New returns a Firer.
func New(cat *catalog.Catalog, log *slog.Logger) *Firer {
	return &Firer{cat: cat, log: log}
}

// Plan is what one record change fires, decided before the write
// transaction: the runs to create, their conditions already evaluated, and
// the record_due automations whose due rows follow the record. Apply
// writes it. No user expression runs inside a transaction: conditions are
// evaluated here, within their budget, and the transaction only writes.
type Plan struct {
	orgID   string
	record  *record.Record
	at      time.Time
	runs    []*automation.Run
	due     []*automation.Compiled
	skipped []string // automations whose condition was false
	counted func(automationID string)
	stamp   catalog.Stamp // of the candidates: checked by Apply
}

// Plan evaluates what the change fires. The caller writes the change and
// applies the plan in one transaction, and makes sure the record it
// writes is ch.Record (its id and times chosen beforehand; for an update,
// the version it was read at still current, else it plans again).
func (f *Firer) Plan(ctx context.Context, ch Change) (*Plan, error) {
	at := ch.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	p := &Plan{orgID: ch.OrgID, record: ch.Record, at: at, counted: f.Skipped}
	if ch.Record == nil {
		return p, nil
	}
	tooDeep := ch.Depth >= MaxDepth
	var types []string
	var changed []string
	if ch.Previous == nil {
		types = []string{automation.RecordAdded}
	} else {
		changed = record.Diff(ch.Previous.Fields, ch.Record.Fields)
		if len(changed) > 0 {
			types = append(types, automation.RecordUpdated)
		}
		if ch.Previous.Stage != ch.Record.Stage {
			types = append(types, automation.StageChanged)
		}
	}
	if len(types) == 0 {
		return p, nil
	}
	types = append(types, automation.RecordDue)
	cands := ch.Candidates
	if cands == nil {
		var err error
		if cands, err = f.Candidates(ctx, ch.OrgID, ch.Record.Collection); err != nil {
			return nil, err
		}
	}
	p.stamp = cands.stamp
	ch.At = at
	for _, comp := range cands.list {
		if !slices.Contains(types, comp.Trigger.Type) {
			continue
		}
		if comp.Trigger.Type == automation.RecordDue {
			p.due = append(p.due, comp)
			continue
		}
		if !Matches(comp.Trigger, ch.Previous, ch.Record, changed) {
			continue
		}
		if tooDeep {
			f.log.WarnContext(ctx, "automation chain too deep: the change fires nothing", "automation", comp.ID, "record", ch.Record.ID, "depth", ch.Depth)
			continue
		}
		p.add(newRun(ch, comp, comp.Trigger.Type))
	}
	if fn := f.planned.Load(); fn != nil {
		(*fn)(ch)
	}
	return p, nil
}

// add adds a run, or counts an automation whose condition was false.
func (p *Plan) add(run *automation.Run, ok bool) {
	if ok {
		p.runs = append(p.runs, run)
	} else {
		p.skipped = append(p.skipped, run.AutomationID)
	}
}

// Runs returns the runs the plan creates (their ids are set by Apply).
func (p *Plan) Runs() []*automation.Run { return p.runs }

// Apply writes the plan in tx: the due rows kept in step with the record,
// the runs and their jobs. It evaluates nothing. The call fails with
// store.ErrStaleDefs when the automations it was planned with changed
// meanwhile (catalog.Stamp): the caller plans again.
func (p *Plan) Apply(ctx context.Context, tx *store.Tx) ([]*automation.Run, error) {
	if err := p.stamp.Check(ctx, tx); err != nil {
		return nil, err
	}
	for _, comp := range p.due {
		if err := syncDue(ctx, tx, p.orgID, comp, p.record, p.at); err != nil {
			return nil, err
		}
	}
	for _, run := range p.runs {
		if err := tx.InsertRun(ctx, p.orgID, run); err != nil {
			return nil, err
		}
		if !run.Status.Finished() {
			tx.EnqueueRun(store.RunJob{OrgID: p.orgID, RunID: run.ID, Seq: run.Seq}, time.Time{})
		}
	}
	if p.counted != nil && len(p.skipped) > 0 {
		tx.OnCommit(func() {
			for _, id := range p.skipped {
				p.counted(id)
			}
		})
	}
	return p.runs, nil
}

// Matches reports whether a trigger's options accept a change of the type
// it listens to. changed is the list of changed field keys.
func Matches(t automation.Trigger, prev, rec *record.Record, changed []string) bool {
	switch t.Type {
	case automation.RecordAdded:
		return prev == nil
	case automation.RecordUpdated:
		if prev == nil || len(changed) == 0 {
			return false
		}
		if len(t.Fields) == 0 {
			return true
		}
		for _, f := range t.Fields {
			if slices.Contains(changed, f) {
				return true
			}
		}
		return false
	case automation.StageChanged:
		if prev == nil || prev.Stage == rec.Stage {
			return false
		}
		return (t.From == "" || t.From == prev.Stage) && (t.To == "" || t.To == rec.Stage)
	}
	return false
}

// ErrConditionFalse is returned by PlanStart when the automation's
// condition does not hold for the record.
var ErrConditionFalse = fmt.Errorf("the automation's condition is false for this record")

// PlanStart plans a run of one automation for one record, as a person
// asking for it would (the manual trigger, or "run now"): the condition
// still applies.
func (f *Firer) PlanStart(orgID string, comp *automation.Compiled, rec *record.Record, at time.Time) (*Plan, error) {
	p := &Plan{orgID: orgID, record: rec, at: at, counted: f.Skipped}
	run, ok := newRun(Change{OrgID: orgID, Record: rec, At: at}, comp, automation.Manual)
	if !ok {
		return nil, ErrConditionFalse
	}
	p.add(run, true)
	return p, nil
}

// newRun evaluates the automation's condition and returns the run the
// change starts; ok is false when the condition is false. A condition
// that fails (an error, or over its budget) gives a failed run, so that
// History shows why.
func newRun(ch Change, comp *automation.Compiled, triggerType string) (*automation.Run, bool) {
	at := ch.At
	recEnv := ch.Record.Env()
	var prevEnv map[string]any
	if ch.Previous != nil {
		prevEnv = ch.Previous.Env()
	}
	var condErr error
	if comp.Condition != nil {
		ok, err := comp.Condition.EvalBool(conditionEnv(recEnv, prevEnv, triggerType, at))
		switch {
		case err != nil:
			// A condition that cannot be evaluated for this record is the
			// automation's mistake, not the record's: the change is saved
			// and the run is recorded as failed, so History shows why.
			condErr = err
		case !ok:
			return &automation.Run{AutomationID: comp.ID}, false
		}
	}
	run := &automation.Run{
		AutomationID:      comp.ID,
		AutomationVersion: comp.Version,
		RecordID:          ch.Record.ID,
		Collection:        ch.Record.Collection,
		Trigger:           automation.TriggerInfo{Type: triggerType, At: at},
		Status:            automation.StatusQueued,
		Seq:               1,
		Depth:             ch.Depth,
		Record:            recEnv,
		Previous:          prevEnv,
		Steps:             StepStates(comp),
	}
	if condErr != nil {
		run.Status = automation.StatusFailed
		run.FinishedAt = &at
		run.Error = &automation.AttemptError{Class: retry.Render, Message: "condition: " + condErr.Error()}
		for i := range run.Steps {
			run.Steps[i].Status = automation.StepCancelled
		}
	}
	return run, true
}

// StepStates returns the initial state of every step of an automation.
func StepStates(comp *automation.Compiled) []automation.StepState {
	out := make([]automation.StepState, len(comp.Steps))
	for i, s := range comp.Steps {
		out[i] = automation.StepState{ID: s.StepID(), Type: s.StepType(), Status: automation.StepPending, Attempts: []automation.Attempt{}}
	}
	return out
}
