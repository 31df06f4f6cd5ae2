package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// ErrClosed is returned by Write once the store is closed (the node is
// shutting down). It is an ErrUnavailable: nothing was written, and the
// write can be sent again (to another node, or once this one is back).
var ErrClosed = fmt.Errorf("store closed: %w", ErrUnavailable)

// unavailableError is a database error classified as ErrUnavailable; it
// unwraps to both, so errors.As still finds the driver's error.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%s: %v", ErrUnavailable.Error(), e.err)
}

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.err} }

// classify wraps err in ErrUnavailable when it says the database cannot be
// used for now; other errors come back as they are.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return &unavailableError{err}
}

// isUnavailable reports whether a driver error means the database cannot be
// used for now. It looks through wrapped and joined errors.
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the caller's doing, not the database's
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull, // the disk is full
			sqlite3.ErrReadonly, // the file or its file system became read-only
			sqlite3.ErrIoErr,    // the disk failed a read or write
			sqlite3.ErrCantOpen, // the file (or its directory) went away or lost its permissions
			sqlite3.ErrBusy,     // another process held the lock longer than the busy timeout
			sqlite3.ErrLocked:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && pe.Code[:2] == "08": // connection exception
			return true
		}
		switch pe.Code {
		case "57P01", // admin_shutdown: the server is stopping or restarting
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now: the server is starting up
			"53300", // too_many_connections
			"53100", // disk_full
			"53200", // out_of_memory
			"58030", // io_error
			"25006": // read_only_sql_transaction: a standby, during a failover
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		pgconn.SafeToRetry(err) || isClosedConn(err)
}

// isClosedConn reports pgx's errors for a connection that died under a
// query, which have no type of their own.
func isClosedConn(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch e.Error() {
		case "conn closed", "closed pool":
			return true
		}
	}
	return false
}

// classifyingQuerier classifies the errors of a querier (the read pools).
type classifyingQuerier struct{ q querier }

func (c classifyingQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	n, err := c.q.exec(ctx, query, args...)
	return n, classify(err)
}

func (c classifyingQuerier) execLater(ctx context.Context, query string, args ...any) error {
	return c.execExpect(ctx, nil, query, args...)
}

func (c classifyingQuerier) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	return classify(c.q.execExpect(ctx, failAs, query, args...))
}

func (c classifyingQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	r, err := c.q.query(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	return classifyingRows{r}, nil
}

func (c classifyingQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return classifyingRow{c.q.queryRow(ctx, query, args...)}
}

type classifyingRows struct{ rows }

func (r classifyingRows) Scan(dest ...any) error { return classify(r.rows.Scan(dest...)) }
func (r classifyingRows) Err() error             { return classify(r.rows.Err()) }
func (r classifyingRows) Close() error           { return classify(r.rows.Close()) }

type classifyingRow struct{ row }

func (r classifyingRow) Scan(dest ...any) error { return classify(r.row.Scan(dest...)) }

// batchGuard is the querier of one batch transaction. The first error that
// says the database is unavailable poisons the batch: every later statement
// fails with it without reaching the database. SQLite may roll a
// transaction back by itself on such an error (SQLITE_FULL, SQLITE_IOERR,
// SQLITE_BUSY), after which statements would run, and commit, one by one
// outside any transaction: the guard makes sure nothing half-written can
// follow.
type batchGuard struct {
	q      querier
	poison error
}

func (g *batchGuard) check(err error) error {
	err = classify(err)
	if err != nil && g.poison == nil && (errors.Is(err, ErrUnavailable) || errors.Is(err, errPipeBroken)) {
		g.poison = err
	}
	return err
}

func (g *batchGuard) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if g.poison != nil {
		return 0, g.poison
	}
	n, err := g.q.exec(ctx, query, args...)
	return n, g.check(err)
}

func (g *batchGuard) execLater(ctx context.Context, query string, args ...any) error {
	return g.execExpect(ctx, nil, query, args...)
}

func (g *batchGuard) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	if g.poison != nil {
		return g.poison
	}
	return g.check(g.q.execExpect(ctx, failAs, query, args...))
}

func (g *batchGuard) query(ctx context.Context, query string, args ...any) (rows, error) {
	if g.poison != nil {
		return nil, g.poison
	}
	r, err := g.q.query(ctx, query, args...)
	if err != nil {
		return nil, g.check(err)
	}
	return guardedRows{r, g}, nil
}

func (g *batchGuard) queryRow(ctx context.Context, query string, args ...any) row {
	if g.poison != nil {
		return errRow{g.poison}
	}
	return guardedRow{g.q.queryRow(ctx, query, args...), g}
}

type guardedRows struct {
	rows
	g *batchGuard
}

func (r guardedRows) Scan(dest ...any) error { return r.g.check(r.rows.Scan(dest...)) }
func (r guardedRows) Err() error             { return r.g.check(r.rows.Err()) }
func (r guardedRows) Close() error           { return r.g.check(r.rows.Close()) }

type guardedRow struct {
	row
	g *batchGuard
}

func (r guardedRow) Scan(dest ...any) error { return r.g.check(r.row.Scan(dest...)) }
