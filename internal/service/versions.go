package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/store"
)

func versionOf(v *store.AutomationVersion) *autohook.AutomationVersion {
	return &autohook.AutomationVersion{Version: v.Doc.Version, SavedAt: v.SavedAt, SavedBy: v.SavedBy, RestoredFrom: v.RestoredFrom, Document: v.Doc.Redacted()}
}

// AutomationVersions lists an automation's versions, newest first.
func (s *Service) AutomationVersions(ctx context.Context, orgID, id string, page autohook.Page) ([]*autohook.AutomationVersion, string, error) {
	vs, next, err := s.st.AutomationVersions(ctx, orgID, id, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]*autohook.AutomationVersion, len(vs))
	for i, v := range vs {
		out[i] = versionOf(v)
	}
	return out, next, nil
}

// AutomationVersion returns version n of an automation that exists (the
// versions of a deleted automation are kept for its runs, not shown here).
func (s *Service) AutomationVersion(ctx context.Context, orgID, id string, n int64) (*autohook.AutomationVersion, error) {
	v, err := s.version(ctx, orgID, id, n)
	if err != nil {
		return nil, err
	}
	return versionOf(v), nil
}

func (s *Service) version(ctx context.Context, orgID, id string, n int64) (*store.AutomationVersion, error) {
	if _, err := s.st.Automation(ctx, orgID, id); err != nil {
		return nil, err
	}
	v, err := s.st.AutomationAt(ctx, orgID, id, n)
	if errors.Is(err, autohook.ErrNotFound) {
		return nil, fmt.Errorf("%w: automation %s has no version %d", autohook.ErrNotFound, id, n)
	}
	return v, err
}

// RestoreVersion saves a new version of an automation equal to version n:
// its whole document (enabled or not, as it was) and its signing secret. It
// is checked against the collection as it is now: a version that no longer
// fits (a field since removed, say) is refused with the problems, like a
// save. Runs in flight keep the version they started with.
func (s *Service) RestoreVersion(ctx context.Context, orgID, id string, n int64) (*automation.Automation, []problem.Problem, error) {
	v, err := s.version(ctx, orgID, id, n)
	if err != nil {
		return nil, nil, err
	}
	doc := *v.Doc
	doc.Steps = append([]automation.StepSpec(nil), v.Doc.Steps...)
	coll, err := s.st.Collection(ctx, orgID, doc.Collection)
	if err != nil && !errors.Is(err, autohook.ErrNotFound) {
		return nil, nil, err
	}
	secret, err := s.cat.OpenSigningSecret(orgID, v)
	if err != nil {
		return nil, nil, err
	}
	warnings, err := s.compile(&doc, coll, secret)
	if err != nil {
		return nil, warnings, err
	}
	by := autohook.ActorFrom(ctx)
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		return s.saveAudited(ctx, tx, orgID, &doc, v.SealedSigningSecret, store.VersionMeta{SavedBy: by, RestoredFrom: n}, autohook.AuditAutomationRestored)
	})
	if err != nil {
		return nil, warnings, err
	}
	return doc.Redacted(), warnings, nil
}
