package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// querier is the seam between the queries, written once, and the two
// databases: *sql.DB / *sql.Tx for SQLite, pgx pools and transactions for
// PostgreSQL. Queries use '?' placeholders; the PostgreSQL side rebinds them.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (int64, error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) row
	// execLater runs a statement for its effect alone, whose answer nobody
	// reads: it may be held and sent with the next statement (pipeline.go);
	// its error then shows there, or at the batch's commit. It is
	// execExpect without a row to match.
	execLater(ctx context.Context, query string, args ...any) error
	// execExpect runs a statement that must match a row: an UPDATE or
	// DELETE that must change one (no RETURNING clause: PostgreSQL adds
	// its own), or a SELECT that must find one (SELECT 1 FROM … WHERE …);
	// none that can divide by zero itself (PostgreSQL's refusal is a
	// division by zero). When it matches none, the call fails with failAs
	// (ErrConflict wrapped with what changed, say): at once on SQLite; on
	// PostgreSQL the statement is held like execLater's and the database
	// itself refuses it (pipeline.go), so failAs may show at the call's
	// next statement, or once the call has returned — the Write call fails
	// as a whole either way. A caller that must know before going on uses
	// exec. With failAs nil it is execLater.
	execExpect(ctx context.Context, failAs error, query string, args ...any) error
}

// expectNow runs execExpect's statement at once through q's exec or query
// (SQLite, and PostgreSQL outside a pipe).
func expectNow(ctx context.Context, q querier, failAs error, query string, args ...any) error {
	if failAs == nil {
		_, err := q.exec(ctx, query, args...)
		return err
	}
	if isSelect(query) {
		r, err := q.query(ctx, query, args...)
		if err != nil {
			return err
		}
		found := r.Next()
		if err := errors.Join(r.Err(), r.Close()); err != nil {
			return err
		}
		if !found {
			return failAs
		}
		return nil
	}
	n, err := q.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return failAs
	}
	return nil
}

// isSelect reports whether query is a SELECT (a read), not a write.
func isSelect(query string) bool {
	q := strings.TrimSpace(query)
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

type row interface {
	Scan(dest ...any) error
}

// sqlQuerier runs queries through database/sql (SQLite).
type sqlQuerier struct {
	db interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) execLater(ctx context.Context, query string, args ...any) error {
	return q.execExpect(ctx, nil, query, args...)
}

func (q sqlQuerier) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	return expectNow(ctx, q, failAs, query, args...)
}

func (q sqlQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	return q.db.QueryContext(ctx, query, args...)
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return q.db.QueryRowContext(ctx, query, args...)
}

// pgxQuerier runs queries through pgx (PostgreSQL).
type pgxQuerier struct {
	db interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q pgxQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.db.Exec(ctx, rebind(query), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgxQuerier) execLater(ctx context.Context, query string, args ...any) error {
	return q.execExpect(ctx, nil, query, args...)
}

func (q pgxQuerier) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	return expectNow(ctx, q, failAs, query, args...)
}

func (q pgxQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := q.db.Query(ctx, rebind(query), args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{r}, nil
}

func (q pgxQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return pgxRow{q.db.QueryRow(ctx, rebind(query), args...)}
}

type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() error {
	r.Rows.Close()
	return r.Rows.Err()
}

func (r pgxRows) Scan(dest ...any) error { return r.Rows.Scan(dest...) }

type pgxRow struct{ pgx.Row }

// Scan reports no rows as sql.ErrNoRows, like database/sql, so that the
// queries check one sentinel.
func (r pgxRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}

var rebound sync.Map // query with '?' -> query with $n

// rebind turns '?' placeholders into PostgreSQL's $1, $2, ... Queries in this
// package never hold a '?' inside a string literal.
func rebind(query string) string {
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	out := b.String()
	rebound.Store(query, out)
	return out
}

// checked is the error of an execExpect call: failAs as it is (a
// conflict's message names what changed), any other error under what.
func checked(what string, err, failAs error) error {
	if err == nil || err == failAs {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}
