package trigger

import (
	"context"

	"github.com/autohook/autohook/internal/store"
)

// DuePlan exposes the scanner's two phases to the tests: PlanDue reads a
// due row's record and evaluates its condition, Apply claims the row in a
// transaction.
type DuePlan struct{ p duePlan }

func (s *Scanner) PlanDue(ctx context.Context, d store.Due) (DuePlan, error) {
	p, err := s.plan(ctx, d)
	return DuePlan{p}, err
}

func (p DuePlan) Apply(ctx context.Context, tx *store.Tx) (claimed, started int, err error) {
	return p.p.apply(ctx, tx)
}
