// Package trigger decides which automations a record change fires and
// creates their runs and queue jobs inside the caller's transaction, so a
// committed change always has its runs and a rolled-back one never does.
package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
	// Candidates, when not nil, are the collection's enabled automations
	// loaded before the transaction began (see Firer.Candidates); nil
	// reads them inside it.
	Candidates *Candidates
}

// Candidates are the enabled automations of one collection, compiled: what a
// change of one of its records may fire. Loading them before a write
// transaction keeps that work off SQLite's single writer (an automation
// saved in between is a race either way).
type Candidates struct {
	list []*automation.Compiled
}

// Candidates loads the enabled automations of a collection from the read
// pool.
func (f *Firer) Candidates(ctx context.Context, orgID, collection string) (*Candidates, error) {
	list, err := f.cat.EnabledCached(ctx, orgID, collection)
	if err != nil {
		return nil, err
	}
	return &Candidates{list: list}, nil
}

// Firer creates runs for record changes.
type Firer struct {
	cat *catalog.Catalog
	log *slog.Logger
	// Skipped counts changes that matched an automation whose condition
	// was false; nil to not count.
	Skipped func(automationID string)
}

// New returns a Firer.
func New(cat *catalog.Catalog, log *slog.Logger) *Firer {
	return &Firer{cat: cat, log: log}
}

// Fire creates, in tx, a run for every enabled automation that the change
// fires, and returns them.
func (f *Firer) Fire(ctx context.Context, tx *store.Tx, ch Change) ([]*automation.Run, error) {
	if ch.Record == nil {
		return nil, nil
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
		return nil, nil
	}
	types = append(types, automation.RecordDue)
	var comps []*automation.Compiled
	if ch.Candidates != nil {
		for _, c := range ch.Candidates.list {
			if slices.Contains(types, c.Trigger.Type) {
				comps = append(comps, c)
			}
		}
	} else {
		var err error
		if comps, err = f.cat.Enabled(ctx, tx, ch.OrgID, ch.Record.Collection, types...); err != nil {
			return nil, err
		}
	}
	now := ch.At
	if now.IsZero() {
		now = tx.Now()
	}
	var runs []*automation.Run
	for _, comp := range comps {
		if comp.Trigger.Type == automation.RecordDue {
			if err := syncDue(ctx, tx, ch.OrgID, comp, ch.Record, now); err != nil {
				return nil, err
			}
			continue
		}
		if !Matches(comp.Trigger, ch.Previous, ch.Record, changed) {
			continue
		}
		if tooDeep {
			f.log.WarnContext(ctx, "automation chain too deep: the change fires nothing", "automation", comp.ID, "record", ch.Record.ID, "depth", ch.Depth)
			continue
		}
		run, err := f.start(ctx, tx, ch, comp, comp.Trigger.Type)
		if err != nil {
			return nil, err
		}
		if run != nil {
			runs = append(runs, run)
		}
	}
	return runs, nil
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

// ErrConditionFalse is returned by Start when the automation's condition
// does not hold for the record.
var ErrConditionFalse = fmt.Errorf("the automation's condition is false for this record")

// Start creates a run of one automation for one record, as a person asking
// for it would (the manual trigger, or "run now"): the condition still
// applies.
func (f *Firer) Start(ctx context.Context, tx *store.Tx, orgID string, comp *automation.Compiled, rec *record.Record, at time.Time) (*automation.Run, error) {
	run, err := f.start(ctx, tx, Change{OrgID: orgID, Record: rec, At: at}, comp, automation.Manual)
	if err != nil {
		return nil, err
	}
	if run == nil {
		return nil, ErrConditionFalse
	}
	return run, nil
}

// start evaluates the condition and, when it holds, inserts the run and its
// job. It returns nil when the condition is false.
func (f *Firer) start(ctx context.Context, tx *store.Tx, ch Change, comp *automation.Compiled, triggerType string) (*automation.Run, error) {
	at := ch.At
	if at.IsZero() {
		at = tx.Now()
	}
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
			if f.Skipped != nil {
				f.Skipped(comp.ID)
			}
			return nil, nil
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
	if err := tx.InsertRun(ctx, ch.OrgID, run); err != nil {
		return nil, err
	}
	if run.Status.Finished() {
		return run, nil
	}
	tx.EnqueueRun(store.RunJob{OrgID: ch.OrgID, RunID: run.ID, Seq: run.Seq}, time.Time{})
	return run, nil
}

// StepStates returns the initial state of every step of an automation.
func StepStates(comp *automation.Compiled) []automation.StepState {
	out := make([]automation.StepState, len(comp.Steps))
	for i, s := range comp.Steps {
		out[i] = automation.StepState{ID: s.StepID(), Type: s.StepType(), Status: automation.StepPending, Attempts: []automation.Attempt{}}
	}
	return out
}
