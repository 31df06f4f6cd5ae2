package store

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// foundQuerier is fakeQuerier whose SELECTs find a row: a generation
// check passes.
type foundQuerier struct{ fakeQuerier }

func (q foundQuerier) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	return expectNow(ctx, q, failAs, query, args...)
}
func (q foundQuerier) query(_ context.Context, query string, _ ...any) (rows, error) {
	q.f.stmts = append(q.f.stmts, query)
	return &oneRow{}, nil
}

type oneRow struct{ done bool }

func (r *oneRow) Next() bool        { ok := !r.done; r.done = true; return ok }
func (r *oneRow) Scan(...any) error { return nil }
func (r *oneRow) Err() error        { return nil }
func (r *oneRow) Close() error      { return nil }

// A call run again after a deadlock (runOne) checks the generation again:
// the first try's check was rolled back with it, and the definitions may
// have changed meanwhile.
func TestRetriedCallChecksTheGenerationAgain(t *testing.T) {
	t.Parallel()
	fb := &fakeBatch{}
	tx := &Tx{ops: ops{q: foundQuerier{fakeQuerier{fb}}, clock: time.Now}}
	tries := 0
	res := runOne(context.Background(), fb, tx, func(tx *Tx) error {
		tries++
		if err := tx.CheckCatalogGen(context.Background(), "org_a", 5); err != nil {
			return err
		}
		if tries == 1 {
			return &pgconn.PgError{Code: "40P01"}
		}
		return nil
	})
	if res.err != nil || tries != 2 {
		t.Fatalf("runOne: %v after %d tries, want success after 2", res.err, tries)
	}
	checks := 0
	for _, s := range fb.stmts {
		if s == `SELECT 1 FROM organisations WHERE id = ? AND catalog_gen = ?` {
			checks++
		}
	}
	if checks != 2 {
		t.Errorf("the generation was checked %d times over 2 tries, want 2 (statements %q)", checks, fb.stmts)
	}
}
