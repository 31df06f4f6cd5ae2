package service

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/store"
)

// details are an audit entry's details: a JSON object.
type details = map[string]any

// audit adds the entry of a change to the organisation's audit log in tx,
// the change's own transaction: the change and its entry are committed
// together or not at all. The actor is the request's (autohook.WithActor);
// without one, the process itself (a tool, bootstrap).
func (s *Service) audit(ctx context.Context, tx *store.Tx, orgID, action string, target autohook.AuditTarget, d details) error {
	actor := autohook.Actor{Type: autohook.ActorSystem, Name: "autohook"}
	if a := autohook.ActorFrom(ctx); a != nil {
		actor = *a
	}
	return auditAs(ctx, tx, orgID, actor, action, target, d)
}

func auditAs(ctx context.Context, tx *store.Tx, orgID string, actor autohook.Actor, action string, target autohook.AuditTarget, d details) error {
	if d == nil {
		d = details{}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("audit details: %w", err)
	}
	return tx.InsertAudit(ctx, &store.AuditEntry{OrgID: orgID, Actor: actor, Action: action, Target: target, Details: raw})
}

// Audit lists the organisation's audit log, newest first.
func (s *Service) Audit(ctx context.Context, orgID string, f autohook.AuditFilter, page autohook.Page) ([]*autohook.AuditEntry, string, error) {
	return s.st.Audit(ctx, orgID, f, page)
}

func target(typ, id, name string) autohook.AuditTarget {
	return autohook.AuditTarget{Type: typ, ID: id, Name: name}
}
