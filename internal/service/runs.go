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

// CountRuns counts the runs that match f, up to limit.
func (s *Service) CountRuns(ctx context.Context, orgID string, f autohook.RunFilter, limit int) (int, error) {
	return s.st.CountRuns(ctx, orgID, f, limit)
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

// RetryRun continues a failed, cancelled or skipped run from its first
// step that is not done; the steps that succeeded (or were skipped, or
// continued after) are not run again and the fields they set are kept. The
// run moves to the automation's current version when it still exists (so a
// fix saved since applies), matching steps by id; each retried step gets a
// fresh attempt budget. A retrying run's next attempt starts now instead
// of at its time (its attempt budget stays).
func (s *Service) RetryRun(ctx context.Context, orgID, id string) (*automation.Run, error) {
	var run *automation.Run
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		run, err = tx.Run(ctx, orgID, id)
		if err != nil {
			return err
		}
		d := details{"count": 1}
		switch {
		case run.Status == automation.StatusRetrying:
			d["now"] = true
			err = retryNow(ctx, tx, orgID, run)
		case run.Status.Retryable():
			err = s.retry(ctx, tx, orgID, run, nil)
		default:
			err = fmt.Errorf("%w: only a failed, cancelled or skipped run can be retried (and a retrying one tried now); this one is %s", autohook.ErrConflict, run.Status)
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditRunRetried, target("run", run.ID, run.AutomationID), d)
	})
	if err != nil {
		return nil, err
	}
	return s.asWritten(ctx, orgID, run) // the shape GET /runs/{id} has: attempts and the automation's name
}

// retry sets a finished run going again in tx (RetryRun). versions caches
// the automations' current versions across the runs of one bulk retry
// (nil: none).
func (s *Service) retry(ctx context.Context, tx *store.Tx, orgID string, run *automation.Run, versions map[string]*store.AutomationVersion) error {
	if err := s.rebindCached(ctx, tx, orgID, run, versions); err != nil {
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
}

// retryNow makes a retrying run's next attempt start now: a job for it at
// once, the waiting one made stale.
func retryNow(ctx context.Context, tx *store.Tx, orgID string, run *automation.Run) error {
	expect := run.Seq
	now := tx.Now()
	if i := run.NextStep(); i < len(run.Steps) {
		run.Steps[i].NextAttemptAt = &now
	}
	run.NextAttemptAt = &now
	run.Seq++
	if err := tx.UpdateRun(ctx, orgID, run, expect); err != nil {
		return err
	}
	tx.EnqueueRun(store.RunJob{OrgID: orgID, RunID: run.ID, Seq: run.Seq}, time.Time{})
	return nil
}

// RetryRuns retries, in one transaction, up to autohook.MaxBulkRetry of the runs
// that match f (its Status failed or skipped), newest first, as RetryRun
// does each. It returns how many it retried and whether more matched (the
// caller retries again for those).
func (s *Service) RetryRuns(ctx context.Context, orgID string, f autohook.RunFilter) (int, bool, error) {
	if f.Status != automation.StatusFailed && f.Status != automation.StatusSkipped {
		return 0, false, problemAt("status", "must be failed or skipped: the runs to retry")
	}
	if f.AutomationID != "" {
		if _, err := s.st.AutomationAt(ctx, orgID, f.AutomationID, 1); err != nil {
			if errors.Is(err, autohook.ErrNotFound) {
				return 0, false, problemAt("automationId", "no automation %q", f.AutomationID)
			}
			return 0, false, err
		}
	}
	var n int
	var more bool
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		n, more = 0, false
		runs, next, err := tx.Runs(ctx, orgID, f, autohook.Page{Limit: autohook.MaxBulkRetry})
		if err != nil {
			return err
		}
		versions := map[string]*store.AutomationVersion{}
		for _, run := range runs {
			if err := s.retry(ctx, tx, orgID, run, versions); err != nil {
				return err
			}
			n++
		}
		more = next != ""
		tgt := target("runs", "", "")
		if f.AutomationID != "" {
			tgt = target("automation", f.AutomationID, "")
		}
		return s.audit(ctx, tx, orgID, autohook.AuditRunRetried, tgt,
			details{"count": n, "more": more, "bulk": true, "status": f.Status})
	})
	return n, more, err
}

// rebindCached moves a run to its automation's current version, keeping
// the state of the steps whose ids are still there. versions caches the
// current versions read (nil: no cache).
func (s *Service) rebindCached(ctx context.Context, tx *store.Tx, orgID string, run *automation.Run, versions map[string]*store.AutomationVersion) error {
	cur, ok := versions[run.AutomationID]
	if !ok {
		var err error
		cur, err = tx.Automation(ctx, orgID, run.AutomationID)
		if errors.Is(err, autohook.ErrNotFound) {
			cur = nil
		} else if err != nil {
			return err
		}
		if versions != nil {
			versions[run.AutomationID] = cur
		}
	}
	if cur == nil {
		return nil // deleted: retry with the version the run has
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
		if err := cancel(ctx, tx, orgID, run, tx.Now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditRunCancelled, target("run", run.ID, run.AutomationID), details{"count": 1})
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

// RunStats counts each automation's succeeded and failed runs created
// since then, in n equal buckets up to now.
func (s *Service) RunStats(ctx context.Context, orgID string, since time.Time, n int) (map[string]*autohook.RunStats, error) {
	n = max(n, 1)
	each := max(s.st.Now().Sub(since)/time.Duration(n), time.Microsecond)
	rows, err := s.st.RunCounts(ctx, orgID, since, each)
	if err != nil {
		return nil, err
	}
	out := map[string]*autohook.RunStats{}
	for _, r := range rows {
		st := out[r.AutomationID]
		if st == nil {
			st = &autohook.RunStats{Buckets: make([]autohook.RunBucket, n)}
			out[r.AutomationID] = st
		}
		b := &st.Buckets[min(max(r.Bucket, 0), n-1)]
		if r.Status == string(automation.StatusSucceeded) {
			st.Succeeded += r.N
			b.Succeeded += r.N
		} else {
			st.Failed += r.N
			b.Failed += r.N
		}
	}
	return out, nil
}
