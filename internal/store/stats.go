package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Stats counts the work a node asked of its database since it opened: the
// statements sent and the network round trips they took.
//
// On PostgreSQL every statement through the node's pool is counted, River's
// included; statements pipelined together (a pgx batch) are one round trip.
// On SQLite the database is in the process (no round trips), and only
// Autohook's own statements are counted: River's go through its driver.
type Stats struct {
	Statements int64 `json:"statements"`
	RoundTrips int64 `json:"roundTrips"`
	// ByText counts the statements by their text (whitespace folded),
	// once CountStatementTexts turned it on; nil before.
	ByText map[string]int64 `json:"byText,omitempty"`
}

// counters is a backend's Stats, updated as statements are sent.
type counters struct {
	statements, roundTrips atomic.Int64
	texts                  textCounts
}

func (c *counters) stats() Stats {
	return Stats{Statements: c.statements.Load(), RoundTrips: c.roundTrips.Load(), ByText: c.texts.snapshot()}
}

// count counts one statement (not its round trip).
func (c *counters) count(query string) {
	c.statements.Add(1)
	c.texts.add(query)
}

// textCounts counts statements by text, when on: a map lookup under a lock
// per statement, which the bench turns on to say where the statements of a
// run go (bench --statements), never on otherwise.
type textCounts struct {
	on atomic.Bool
	mu sync.Mutex
	m  map[string]int64
}

func (t *textCounts) start() {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]int64{}
	}
	t.mu.Unlock()
	t.on.Store(true)
}

func (t *textCounts) add(query string) {
	if !t.on.Load() {
		return
	}
	t.mu.Lock()
	t.m[query]++
	t.mu.Unlock()
}

func (t *textCounts) snapshot() map[string]int64 {
	if !t.on.Load() {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int64, len(t.m))
	for q, n := range t.m {
		out[strings.Join(strings.Fields(q), " ")] += n
	}
	return out
}

// CountStatementTexts makes Stats count the statements by their text from
// now on, as well as in all.
func (s *Store) CountStatementTexts() {
	switch b := s.b.(type) {
	case *sqliteBackend:
		b.counts.texts.start()
	case *pgBackend:
		b.counts.texts.start()
	}
}

// Stats returns the statements and round trips counted so far.
func (s *Store) Stats() Stats {
	switch b := s.b.(type) {
	case *sqliteBackend:
		return b.counts.stats()
	case *pgBackend:
		return b.counts.stats()
	}
	return Stats{}
}

// SizeBytes is the size of the database: SQLite's pages in use (the WAL's
// included), or PostgreSQL's pg_database_size. The difference across a
// burst of writes, divided by their number, is the bytes each one stored.
func (s *Store) SizeBytes(ctx context.Context) (int64, error) {
	var n int64
	var err error
	switch b := s.b.(type) {
	case *sqliteBackend:
		var pages, size int64
		if err = b.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err == nil {
			err = b.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size)
		}
		n = pages * size
	case *pgBackend:
		err = b.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("database size: %w", classify(err))
	}
	return n, nil
}

// countingQuerier counts the statements sent through it (SQLite).
type countingQuerier struct {
	querier
	c *counters
}

func (q countingQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	q.c.count(query)
	return q.querier.exec(ctx, query, args...)
}

func (q countingQuerier) execLater(ctx context.Context, query string, args ...any) error {
	return q.execExpect(ctx, nil, query, args...)
}

func (q countingQuerier) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	q.c.count(query)
	return q.querier.execExpect(ctx, failAs, query, args...)
}

func (q countingQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	q.c.count(query)
	return q.querier.query(ctx, query, args...)
}

func (q countingQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	q.c.count(query)
	return q.querier.queryRow(ctx, query, args...)
}

// pgCounter is a pgx tracer that counts every statement of the pool, and
// one round trip per statement or per batch.
type pgCounter struct{ c *counters }

func (t pgCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t.c.count(d.SQL)
	t.c.roundTrips.Add(1)
	return ctx
}

func (pgCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t pgCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	t.c.roundTrips.Add(1)
	return ctx
}

func (t pgCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	t.c.count(d.SQL)
}

func (pgCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
