package service

import (
	"context"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

// Export returns the organisation's configuration as one document
// (autohook.ExportDocument): its collections and automations, without ids,
// times or secret values.
func (s *Service) Export(ctx context.Context, orgID string) ([]byte, error) {
	colls, err := allPages(func(p autohook.Page) ([]*record.Collection, string, error) { return s.st.Collections(ctx, orgID, p) })
	if err != nil {
		return nil, err
	}
	vs, err := allPages(func(p autohook.Page) ([]*store.AutomationVersion, string, error) {
		return s.st.Automations(ctx, orgID, autohook.AutomationFilter{}, p)
	})
	if err != nil {
		return nil, err
	}
	autos := make([]*automation.Automation, len(vs))
	for i, v := range vs {
		autos[i] = v.Doc
	}
	return autohook.ExportDocument(colls, autos)
}

// allPages reads every page of a list.
func allPages[T any](list func(autohook.Page) ([]T, string, error)) ([]T, error) {
	var out []T
	page := autohook.Page{Limit: 500}
	for {
		items, next, err := list(page)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}
