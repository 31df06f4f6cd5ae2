package store

import "context"

// ExecExpect runs tx's execExpect, for the tests of package store_test
// (which reach PostgreSQL through pgtest, itself an importer of store).
func ExecExpect(ctx context.Context, tx *Tx, failAs error, query string, args ...any) error {
	return tx.q.execExpect(ctx, failAs, query, args...)
}
