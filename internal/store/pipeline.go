package store

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Pipelining (PostgreSQL).
//
// Each statement sent on its own is a network round trip, and a group
// commit's transaction sends many: every call's SAVEPOINT and RELEASE, and
// its inserts. Most of them are written for their effect alone: nobody
// reads their answer (execLater). The pipe holds those and sends them, in
// order, with the next statement whose answer someone waits for, or when the
// batch commits, as one pgx batch: one round trip for all.
//
// A held statement that fails is found in the batch's answers, with the call
// of the batch that sent it:
//
//   - the call running now: the statement it waits on fails with the error,
//     as if its held statement had been sent at once (it did not run since);
//   - an earlier call, which already returned: the transaction is rolled
//     back to that call's savepoint (its statements ran last, so its
//     savepoint is the innermost), the call is told it failed (lost), and
//     the held statements of the later calls, which PostgreSQL skipped after
//     the error, are sent again;
//   - a SAVEPOINT or RELEASE: the batch transaction is not in a state to
//     continue; the pipe is broken and every call of the batch fails.
//
// So each call keeps its all-or-nothing meaning; only the moment its error
// is seen moves, never to after the commit.
//
// A statement that must match a row (execExpect: a checked UPDATE such as
// UpdateRun's "WHERE seq = ?", or a SELECT that must still find a row) is
// held too, rewritten so that PostgreSQL itself refuses it when it matched
// none (mustMatch):
//
//	WITH u AS (UPDATE … RETURNING 1) SELECT 1 / count(*) FROM u
//	WITH u AS (SELECT …) SELECT 1 / count(*) FROM u
//
// count(*) is known only once the statement ran, so the planner cannot
// fold the division away: no row is division_by_zero (SQLSTATE 22012).
// That refusal takes the path of any held statement's failure above, and
// is then reported as the statement's failAs (ErrConflict, saying what
// changed), wherever it is seen: by the running call, by an earlier call
// told it was lost, or at the commit. Any other error stays as it is.
// Since the call's error comes later than on SQLite, a caller that would
// handle the conflict inside the call and go on must not use execExpect;
// it may handle the call's error once Write returns instead.
type pgPipe struct {
	tx     pgx.Tx
	held   []heldStmt
	call   int                       // the batch call running now
	lost   func(call int, err error) // an earlier call's held statement failed
	broken error
}

type heldStmt struct {
	sql       string
	args      []any
	call      int
	savepoint bool  // SAVEPOINT or RELEASE of the combiner
	failAs    error // execExpect's: the call's error when no row matched
}

// divisionByZero is the SQLSTATE of a mustMatch statement that matched no
// row.
const divisionByZero = "22012"

// failure is the error of the held statement h that the database refused
// with err.
func (h *heldStmt) failure(err error) error {
	var pe *pgconn.PgError
	if h.failAs != nil && errors.As(err, &pe) && pe.Code == divisionByZero {
		return h.failAs
	}
	return err
}

// errPipeBroken wraps the error of a failed SAVEPOINT or RELEASE.
var errPipeBroken = errors.New("the batch transaction cannot continue")

func (p *pgPipe) execLater(ctx context.Context, query string, args ...any) error {
	return p.execExpect(ctx, nil, query, args...)
}

func (p *pgPipe) execExpect(_ context.Context, failAs error, query string, args ...any) error {
	if p.broken != nil {
		return p.broken
	}
	stmt := rebind(query)
	if failAs != nil {
		stmt = mustMatch(stmt)
	}
	p.held = append(p.held, heldStmt{sql: stmt, args: args, call: p.call, failAs: failAs})
	return nil
}

var mustMatched sync.Map // statement -> its mustMatch form

// mustMatch rewrites a statement that must match a row into one that
// PostgreSQL refuses (division_by_zero) when it matched none.
func mustMatch(stmt string) string {
	if v, ok := mustMatched.Load(stmt); ok {
		return v.(string)
	}
	inner := stmt
	if !isSelect(stmt) {
		inner += " RETURNING 1"
	}
	out := "WITH u AS (" + inner + ") SELECT 1 / count(*) FROM u"
	mustMatched.Store(stmt, out)
	return out
}

// holdSavepoint holds the combiner's SAVEPOINT or RELEASE statement.
func (p *pgPipe) holdSavepoint(stmt string) error {
	if p.broken != nil {
		return p.broken
	}
	p.held = append(p.held, heldStmt{sql: stmt, call: p.call, savepoint: true})
	return nil
}

func (p *pgPipe) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if p.broken != nil {
		return 0, p.broken
	}
	if len(p.held) == 0 {
		tag, err := p.tx.Exec(ctx, rebind(query), args...)
		return tag.RowsAffected(), err
	}
	tag, err := p.send(ctx, &heldStmt{sql: rebind(query), args: args, call: p.call})
	return tag.RowsAffected(), err
}

func (p *pgPipe) query(ctx context.Context, query string, args ...any) (rows, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	return pgxQuerier{p.tx}.query(ctx, query, args...)
}

func (p *pgPipe) queryRow(ctx context.Context, query string, args ...any) row {
	if err := p.flush(ctx); err != nil {
		return errRow{err}
	}
	return pgxQuerier{p.tx}.queryRow(ctx, query, args...)
}

// flush sends the held statements.
func (p *pgPipe) flush(ctx context.Context) error {
	if p.broken != nil {
		return p.broken
	}
	if len(p.held) == 0 {
		return nil
	}
	_, err := p.send(ctx, nil)
	return err
}

// dropCall forgets the held statements of the running call but its
// savepoint: it is being rolled back to that savepoint.
func (p *pgPipe) dropCall() {
	kept := p.held[:0]
	for _, h := range p.held {
		if h.call != p.call || h.savepoint {
			kept = append(kept, h)
		}
	}
	clear(p.held[len(kept):])
	p.held = kept
}

// send sends the held statements and last (if any) in one batch, and
// returns last's answer.
func (p *pgPipe) send(ctx context.Context, last *heldStmt) (pgconn.CommandTag, error) {
	for {
		held := p.held
		p.held = nil
		b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(held)+1)}
		for _, h := range held {
			b.Queue(h.sql, h.args...)
		}
		if last != nil {
			b.Queue(last.sql, last.args...)
		}
		br := p.tx.SendBatch(ctx, b)
		failed, ferr := -1, error(nil)
		for i := range held {
			if _, err := br.Exec(); err != nil {
				failed, ferr = i, err
				break
			}
		}
		var tag pgconn.CommandTag
		var lerr error
		if failed < 0 && last != nil {
			tag, lerr = br.Exec()
		}
		cerr := br.Close()
		if failed < 0 {
			if lerr == nil && cerr != nil && last == nil {
				lerr = cerr
			}
			return tag, lerr
		}
		h := held[failed]
		switch {
		case h.savepoint:
			p.broken = errors.Join(errPipeBroken, ferr)
			return tag, p.broken
		case h.call == p.call || p.lost == nil:
			return tag, h.failure(ferr)
		}
		// An earlier call's statement failed: undo that call alone, and
		// send again what PostgreSQL skipped after the error.
		if _, err := p.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT w"); err != nil {
			p.broken = errors.Join(errPipeBroken, err)
			return tag, p.broken
		}
		if _, err := p.tx.Exec(ctx, "RELEASE SAVEPOINT w"); err != nil {
			p.broken = errors.Join(errPipeBroken, err)
			return tag, p.broken
		}
		p.lost(h.call, h.failure(ferr))
		for _, r := range held[failed+1:] {
			if r.call != h.call {
				p.held = append(p.held, r)
			}
		}
		if len(p.held) == 0 && last == nil {
			return tag, nil
		}
	}
}
