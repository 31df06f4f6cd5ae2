package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// SaveAutomation creates an automation (a.ID == "") or saves a new version
// of one. Every template, expression and pointer is compiled first; problems
// come back as a *problem.Error naming their paths, warnings alongside a
// successful save. The returned document has its signing secret redacted.
func (s *Service) SaveAutomation(ctx context.Context, orgID string, a *automation.Automation) (*automation.Automation, []problem.Problem, error) {
	coll, err := s.st.Collection(ctx, orgID, a.Collection)
	if err != nil && !errors.Is(err, autohook.ErrNotFound) {
		return nil, nil, err
	}
	var signingSecret string
	if a.Signing != nil {
		signingSecret = a.Signing.Secret
		if signingSecret == automation.SecretRedacted {
			// keep the stored secret
			if a.ID == "" {
				return nil, nil, problemAt("signing.secret", "give the secret (whsec_...): there is no stored one to keep")
			}
			old, err := s.st.Automation(ctx, orgID, a.ID)
			if err != nil {
				return nil, nil, err
			}
			if signingSecret, err = s.cat.OpenSigningSecret(orgID, old); errors.Is(err, secret.ErrOpen) {
				return nil, nil, problemAt("signing.secret", "the stored secret does not open with this node's keys (it was sealed with another AUTOHOOK_SECRET_KEY): give the secret (whsec_...) again")
			} else if err != nil {
				return nil, nil, err
			}
			if signingSecret == "" {
				return nil, nil, problemAt("signing.secret", "give the secret (whsec_...): the automation was not signed before")
			}
		}
	}
	warnings, err := s.compile(a, coll, signingSecret)
	if err != nil {
		return nil, warnings, err
	}
	if signingSecret != "" {
		a.Signing = &automation.Signing{Secret: automation.SecretRedacted}
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		sealed, err := s.sealSigningSecret(ctx, tx, orgID, signingSecret)
		if err != nil {
			return err
		}
		return s.saveAudited(ctx, tx, orgID, a, sealed, store.VersionMeta{SavedBy: autohook.ActorFrom(ctx)}, "")
	})
	if err != nil {
		return nil, warnings, err
	}
	return a.Redacted(), warnings, nil
}

// compile checks a document against its collection (nil: the collection
// does not exist, a problem at "collection") and returns the warnings.
func (s *Service) compile(a *automation.Automation, coll *record.Collection, signingSecret string) ([]problem.Problem, error) {
	_, warnings, err := automation.Compile(a, coll, signingSecret, s.cat.Options())
	var perr *problem.Error
	if coll == nil && a.Collection != "" {
		extra := problem.Problem{Path: "collection", Message: fmt.Sprintf("unknown collection %q", a.Collection)}
		if errors.As(err, &perr) {
			perr.Problems = append(problem.List{extra}, perr.Problems...)
		} else {
			err = &problem.Error{Problems: problem.List{extra}}
		}
	}
	return warnings, err
}

// sealSigningSecret seals a signing secret ("" for none) with the key the
// database's check names (keyring.Sealer), inside tx.
func (s *Service) sealSigningSecret(ctx context.Context, tx *store.Tx, orgID, plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	sealer, err := s.sealer(ctx, tx)
	if err != nil {
		return "", err
	}
	return catalog.SealSigningSecret(sealer, orgID, plain), nil
}

// writeAutomation saves a version in tx: the automation row and the
// immutable version row; the due rows of the previous version go (the due
// scanner builds an enabled record_due version's own within a second).
func (s *Service) writeAutomation(ctx context.Context, tx *store.Tx, orgID string, a *automation.Automation, sealed string, meta store.VersionMeta) error {
	if err := tx.SaveAutomationBy(ctx, orgID, a, sealed, meta); err != nil {
		return err
	}
	return tx.DeleteDueOf(ctx, orgID, a.ID)
}

// saveAudited saves a version in tx (writeAutomation) with its audit
// entry: created; or, from the version before to the new one, restored
// (restoreAction), paused or resumed (the enabled switch flipped), or
// updated.
func (s *Service) saveAudited(ctx context.Context, tx *store.Tx, orgID string, a *automation.Automation, sealed string, meta store.VersionMeta, restoreAction string) error {
	action := autohook.AuditAutomationCreated
	d := details{}
	if a.ID != "" {
		old, err := tx.Automation(ctx, orgID, a.ID)
		if err != nil {
			return err
		}
		d["fromVersion"] = old.Doc.Version
		switch {
		case restoreAction != "":
			action = restoreAction
		case old.Doc.Enabled && !a.Enabled:
			action = autohook.AuditAutomationPaused
		case !old.Doc.Enabled && a.Enabled:
			action = autohook.AuditAutomationResumed
		default:
			action = autohook.AuditAutomationUpdated
		}
	}
	if err := s.writeAutomation(ctx, tx, orgID, a, sealed, meta); err != nil {
		return err
	}
	d["toVersion"] = a.Version
	if meta.RestoredFrom > 0 {
		d["restoredFrom"] = meta.RestoredFrom
	}
	return s.audit(ctx, tx, orgID, action, target("automation", a.ID, a.Name), d)
}

// Automation returns an automation's current document (signing secret
// redacted).
func (s *Service) Automation(ctx context.Context, orgID, id string) (*automation.Automation, error) {
	v, err := s.st.Automation(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	return v.Doc.Redacted(), nil
}

// ResumeAutomation makes a paused automation active again, its failure
// streak reset. Runs skipped while it was paused stay skipped: retry them
// (RetryRuns with status skipped).
func (s *Service) ResumeAutomation(ctx context.Context, orgID, id string) (*automation.Automation, error) {
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		was, err := tx.ResumeAutomation(ctx, orgID, id)
		if err != nil {
			return err
		}
		cur, err := tx.Automation(ctx, orgID, id)
		if err != nil {
			return err
		}
		if was {
			ev := &autohook.AlertEvent{Event: autohook.EventAutomationResumed, Automation: autohook.AlertRef{ID: id, Name: cur.Doc.Name}}
			if _, err := tx.RaiseAlert(ctx, orgID, ev, ""); err != nil {
				return err
			}
		}
		// recorded also when it was not paused: somebody asked for it
		return s.audit(ctx, tx, orgID, autohook.AuditAutomationResumed, target("automation", id, cur.Doc.Name), details{"wasPaused": was})
	})
	if err != nil {
		return nil, err
	}
	return s.Automation(ctx, orgID, id)
}

// Automations lists automations.
func (s *Service) Automations(ctx context.Context, orgID string, f autohook.AutomationFilter, page autohook.Page) ([]*automation.Automation, string, error) {
	vs, next, err := s.st.Automations(ctx, orgID, f, page)
	if err != nil {
		return nil, "", err
	}
	out := make([]*automation.Automation, len(vs))
	for i, v := range vs {
		out[i] = v.Doc.Redacted()
	}
	return out, next, nil
}

// DeleteAutomation deletes an automation. Its runs stay in history; the ones
// still waiting are cancelled.
func (s *Service) DeleteAutomation(ctx context.Context, orgID, id string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		old, err := tx.Automation(ctx, orgID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteAutomation(ctx, orgID, id); err != nil {
			return err
		}
		if err := s.cancelActive(ctx, tx, orgID, autohook.RunFilter{AutomationID: id}); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditAutomationDeleted, target("automation", id, old.Doc.Name), details{"version": old.Doc.Version})
	})
}

// cancelActive cancels the queued, running and retrying runs that match f.
func (s *Service) cancelActive(ctx context.Context, tx *store.Tx, orgID string, f autohook.RunFilter) error {
	for _, status := range []automation.Status{automation.StatusQueued, automation.StatusRunning, automation.StatusRetrying} {
		f.Status = status
		page := autohook.Page{Limit: 500}
		for {
			runs, next, err := tx.Runs(ctx, orgID, f, page)
			if err != nil {
				return err
			}
			for _, r := range runs {
				if err := cancel(ctx, tx, orgID, r, tx.Now()); err != nil {
					return err
				}
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
	}
	return nil
}

// StartRun runs an automation on one record now, as a person does from the
// record's menu. The automation must be enabled and its condition must hold.
func (s *Service) StartRun(ctx context.Context, orgID, automationID, recordID string) (*automation.Run, error) {
	v, err := s.st.Automation(ctx, orgID, automationID)
	if err != nil {
		return nil, err
	}
	if !v.Doc.Enabled {
		return nil, fmt.Errorf("%w: automation %q is disabled", autohook.ErrConflict, v.Doc.Name)
	}
	comp, err := s.cat.Get(ctx, orgID, automationID, v.Doc.Version)
	if err != nil {
		return nil, err
	}
	rec, err := s.st.Record(ctx, orgID, comp.Collection, recordID)
	if errors.Is(err, autohook.ErrNotFound) {
		return nil, problemAt("recordId", "collection %q has no record %q", comp.Collection, recordID)
	}
	if err != nil {
		return nil, err
	}
	// The condition is evaluated before the transaction, which only writes.
	plan, err := s.fire.PlanStart(orgID, comp, rec, s.st.Now())
	if errors.Is(err, trigger.ErrConditionFalse) {
		return nil, fmt.Errorf("%w: %v", autohook.ErrConflict, err)
	}
	if err != nil {
		return nil, err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if _, err := plan.Apply(ctx, tx); err != nil {
			return err
		}
		run := plan.Runs()[0]
		return s.audit(ctx, tx, orgID, autohook.AuditRunStarted, target("run", run.ID, comp.Name), details{"automationId": automationID, "recordId": recordID})
	})
	if err != nil {
		return nil, err
	}
	run := plan.Runs()[0]
	run.AutomationName = comp.Name
	return run, nil
}
