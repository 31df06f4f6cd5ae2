package service

import (
	"context"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
)

// RunSteps returns the steps of the automation version run follows, by
// step id: the run page describes each step (its method and URL, the
// fields it sets) and counts attempts ("attempt 3 of 3"). Versions outlive
// a deleted automation, so this works for every run in history.
func (s *Service) RunSteps(ctx context.Context, orgID string, run *automation.Run) (map[string]autohook.RunStep, error) {
	v, err := s.st.AutomationAt(ctx, orgID, run.AutomationID, run.AutomationVersion)
	if err != nil {
		return nil, err
	}
	out := make(map[string]autohook.RunStep, len(v.Doc.Steps))
	for i, sp := range v.Doc.Steps {
		id := sp.ID
		if id == "" && i < len(run.Steps) {
			id = run.Steps[i].ID // stored documents have their ids; this is a fallback
		}
		out[id] = autohook.RunStep{Spec: sp, MaxAttempts: s.eng.MaxAttempts(sp.MaxAttempts)}
	}
	return out, nil
}
