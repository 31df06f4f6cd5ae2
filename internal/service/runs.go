package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/store"
)

// Run returns a run with every attempt.
func (s *Service) Run(ctx context.Context, orgID, id string) (*automation.Run, error) {
	run, err := s.st.RunWithAttempts(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	s.name(ctx, orgID, run)
	return run, nil
}

// asWritten returns run as a write left it (retried: queued; cancelled),
// in the shape Run returns: with its automation's name and the attempts
// it had then, read after the write (the engine may already be working
// the run: a fresh read could show it further on).
func (s *Service) asWritten(ctx context.Context, orgID string, run *automation.Run) (*automation.Run, error) {
	full, err := s.st.RunWithAttempts(ctx, orgID, run.ID)
	if err != nil {
		return nil, err
	}
	for i := range run.Steps {
		st := &run.Steps[i]
		st.Attempts = []automation.Attempt{}
		if j := full.StepIndex(st.ID); j >= 0 {
			for _, a := range full.Steps[j].Attempts {
				if a.N <= st.AttemptCount {
					st.Attempts = append(st.Attempts, a)
				}
			}
		}
	}
	s.name(ctx, orgID, run)
	return run, nil
}

// name fills in the name of the automation version a run belongs to.
func (s *Service) name(ctx context.Context, orgID string, run *automation.Run) {
	if comp, err := s.cat.Get(ctx, orgID, run.AutomationID, run.AutomationVersion); err == nil {
		run.AutomationName = comp.Name
	}
}

// Runs lists runs, newest first, without their attempts.
func (s *Service) Runs(ctx context.Context, orgID string, f autohook.RunFilter, page autohook.Page) ([]*automation.Run, string, error) {
	if f.AutomationID != "" {
		// Versions outlive a deleted automation, and so does its history.
		if _, err := s.st.AutomationAt(ctx, orgID, f.AutomationID, 1); err != nil {
			return nil, "", err
		}
	}
	runs, next, err := s.st.Runs(ctx, orgID, f, page)
	if err != nil {
		return nil, "", err
	}
	for _, r := range runs {
		s.name(ctx, orgID, r)
	}
	return runs, next, nil
}

// RetryRun continues a failed or cancelled run from its first step that did
// not succeed; the steps that succeeded are not run again and the fields
// they set are kept. The run moves to the automation's current version when
// it still exists (so a fix saved since applies), matching steps by id; each
// retried step gets a fresh attempt budget.
func (s *Service) RetryRun(ctx context.Context, orgID, id string) (*automation.Run, error) {
	var run *automation.Run
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		run, err = tx.Run(ctx, orgID, id)
		if err != nil {
			return err
		}
		if run.Status != automation.StatusFailed && run.Status != automation.StatusCancelled {
			return fmt.Errorf("%w: only a failed or cancelled run can be retried; this one is %s", autohook.ErrConflict, run.Status)
		}
		if err := s.rebind(ctx, tx, orgID, run); err != nil {
			return err
		}
		expect := run.Seq
		for i := range run.Steps {
			st := &run.Steps[i]
			if !st.Done() { // succeeded, skipped and continued steps are not run again
				st.Status = automation.StepPending
				st.NextAttemptAt = nil
				st.RetryBase = st.AttemptCount
			}
		}
		run.Status = automation.StatusQueued
		run.Seq++
		run.FinishedAt, run.NextAttemptAt, run.Error = nil, nil, nil
		if err := tx.UpdateRun(ctx, orgID, run, expect); err != nil {
			return err
		}
		tx.EnqueueRun(store.RunJob{OrgID: orgID, RunID: run.ID, Seq: run.Seq}, time.Time{})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.asWritten(ctx, orgID, run) // the shape GET /runs/{id} has: attempts and the automation's name
}

// rebind moves a run to its automation's current version, keeping the state
// of the steps whose ids are still there.
func (s *Service) rebind(ctx context.Context, tx *store.Tx, orgID string, run *automation.Run) error {
	cur, err := tx.Automation(ctx, orgID, run.AutomationID)
	if errors.Is(err, autohook.ErrNotFound) {
		return nil // deleted: retry with the version the run has
	}
	if err != nil {
		return err
	}
	if cur.Doc.Version == run.AutomationVersion {
		return nil
	}
	comp, err := s.cat.Get(ctx, orgID, run.AutomationID, cur.Doc.Version)
	if err != nil {
		return err
	}
	steps := make([]automation.StepState, len(comp.Steps))
	for i, step := range comp.Steps {
		steps[i] = automation.StepState{ID: step.StepID(), Type: step.StepType(), Status: automation.StepPending, Attempts: []automation.Attempt{}}
		if j := run.StepIndex(step.StepID()); j >= 0 && run.Steps[j].Type == step.StepType() {
			old := run.Steps[j]
			steps[i].Status, steps[i].AttemptCount = old.Status, old.AttemptCount
			steps[i].HTTPStatus, steps[i].Error, steps[i].Continued = old.HTTPStatus, old.Error, old.Continued
		}
	}
	run.Steps = steps
	run.AutomationVersion = cur.Doc.Version
	return nil
}

// CancelRun cancels a run that is queued, running or waiting to retry. A
// request already in flight finishes, and its attempt is kept in history,
// but nothing after it runs.
func (s *Service) CancelRun(ctx context.Context, orgID, id string) (*automation.Run, error) {
	var run *automation.Run
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		run, err = tx.Run(ctx, orgID, id)
		if err != nil {
			return err
		}
		if run.Status.Finished() {
			return fmt.Errorf("%w: the run is already %s", autohook.ErrConflict, run.Status)
		}
		return cancel(ctx, tx, orgID, run, tx.Now())
	})
	if err != nil {
		return nil, err
	}
	return s.asWritten(ctx, orgID, run)
}

func cancel(ctx context.Context, tx *store.Tx, orgID string, run *automation.Run, now time.Time) error {
	expect := run.Seq
	run.Status = automation.StatusCancelled
	run.Seq++ // the waiting job, if any, becomes stale
	run.FinishedAt = &now
	run.NextAttemptAt = nil
	for i := range run.Steps {
		if st := &run.Steps[i]; !st.Done() && st.Status != automation.StepFailed {
			run.Steps[i].Status = automation.StepCancelled
			run.Steps[i].NextAttemptAt = nil
		}
	}
	return tx.UpdateRun(ctx, orgID, run, expect)
}
