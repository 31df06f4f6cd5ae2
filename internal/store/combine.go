package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
)

// Group commit.
//
// Most of a small write transaction's cost is fixed: its commit (SQLite
// writes the changed pages to the WAL; PostgreSQL flushes its WAL to disk),
// the round trips, and the queue insert. So concurrent Write calls are not
// given a transaction each: one goroutine takes every call waiting at that
// moment, runs them in one transaction, each inside its own SAVEPOINT,
// inserts all their queue jobs with one statement, and commits once. A call
// whose function fails is rolled back to its savepoint alone — its writes
// and its jobs vanish together — so each call keeps the all-or-nothing
// meaning of a transaction of its own. Under light load a batch holds one
// call and nothing waits; under load batches grow by themselves. One
// combining goroutine also means our own writes never deadlock each other
// (PostgreSQL) or wait on SQLite's single-writer lock.

// maxBatch bounds the calls in one transaction.
const maxBatch = 256

type writeReq struct {
	ctx  context.Context
	fn   func(tx *Tx) error
	done chan writeResult
}

type writeResult struct {
	err      error
	panicked any
}

// batchTx is one database's transaction, as the combiner needs it.
type batchTx interface {
	querier() querier
	exec(ctx context.Context, stmt string) error // ROLLBACK TO, RELEASE after it
	// execLater runs SAVEPOINT or RELEASE; PostgreSQL holds it and sends it
	// with the next statement (pipeline.go).
	execLater(ctx context.Context, stmt string) error
	// startCall says call i of the batch is running; lost is told when a
	// held statement of a call that had returned fails (PostgreSQL).
	startCall(i int, lost func(call int, err error))
	// flush sends the held statements (PostgreSQL), before the jobs are
	// inserted and the batch commits.
	flush(ctx context.Context) error
	insert(ctx context.Context, jobs []river.InsertManyParams) error
	commit(ctx context.Context) error
	rollback(ctx context.Context) error
}

// combiner runs batches of Write calls.
type combiner struct {
	begin       func(ctx context.Context) (batchTx, error)
	afterCommit func(jobs []river.InsertManyParams) // wake workers, arm the promoter
	outcome     func(err error)                     // each batch's: nil when the database answered
	reqs        chan *writeReq
	stopped     chan struct{}
	stopOnce    sync.Once
	loops       sync.WaitGroup
	// ctx is the batches' context: cancelled by stop once the calls
	// already taken are answered (or stop's own context ends first).
	ctx    context.Context
	cancel context.CancelFunc
}

// newCombiner starts `parallel` combining goroutines: one for SQLite (one
// writer), several for PostgreSQL, whose round trips would otherwise leave
// one connection's worth of throughput.
func newCombiner(parallel int, begin func(ctx context.Context) (batchTx, error), newTx func(q querier) *Tx, afterCommit func([]river.InsertManyParams)) *combiner {
	c := &combiner{begin: begin, afterCommit: afterCommit, reqs: make(chan *writeReq), stopped: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for range max(parallel, 1) {
		c.loops.Go(func() { c.loop(newTx) })
	}
	return c
}

func (c *combiner) loop(newTx func(q querier) *Tx) {
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case <-c.stopped:
			return
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.run(batch, newTx)
	}
}

// run runs a batch of calls in one transaction and answers each.
func (c *combiner) run(batch []*writeReq, newTx func(q querier) *Tx) {
	results := make([]writeResult, len(batch))
	hooks, undos := make([][]func(), len(batch)), make([][]func(), len(batch))
	callJobs := make([][]river.InsertManyParams, len(batch))
	var jobs []river.InsertManyParams
	err := func() error {
		ctx := c.ctx
		btx, err := c.begin(ctx)
		if err != nil {
			return classify(fmt.Errorf("begin: %w", err))
		}
		guard := &batchGuard{q: detached{btx.querier(), ctx}}
		gbtx := guardedBatch{btx, guard, ctx}
		ok := 0
		lost := func(i int, err error) {
			// a held statement of call i, which had returned, failed:
			// the call was rolled back to its savepoint alone. A deadlock
			// found there cannot be run again in place (runOne) since
			// the call's function returned: the call says it may be tried
			// again, nothing of it written (ErrUnavailable), rather than
			// fail for good as it did not when its statement was sent
			// at once.
			if retryable(err) {
				err = &unavailableError{err}
			}
			results[i].err, callJobs[i], hooks[i] = err, nil, nil
			ok--
		}
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				results[i].err = err
				continue
			}
			gbtx.startCall(i, lost)
			tx := newTx(textChecked{guard})
			results[i] = runOne(r.ctx, gbtx, tx, r.fn)
			undos[i] = tx.onFail
			if guard.poison != nil {
				// The transaction is lost (and SQLite may have rolled it
				// back already): every call of the batch fails with it.
				_ = btx.rollback(ctx)
				return guard.poison
			}
			if results[i].err == nil && results[i].panicked == nil {
				callJobs[i], hooks[i] = tx.jobs, tx.onCommit
				ok++
			}
		}
		if err := gbtx.flush(ctx); err != nil || guard.poison != nil {
			_ = btx.rollback(ctx)
			return cmp.Or(guard.poison, err)
		}
		if ok == 0 {
			return btx.rollback(ctx)
		}
		for _, j := range callJobs {
			jobs = append(jobs, j...)
		}
		if len(jobs) > 0 {
			if err := btx.insert(ctx, mergeRunJobs(jobs)); err != nil {
				_ = btx.rollback(ctx)
				return classify(fmt.Errorf("enqueue: %w", err))
			}
		}
		if err := btx.commit(ctx); err != nil {
			_ = btx.rollback(ctx)
			return classify(fmt.Errorf("commit: %w", err))
		}
		return nil
	}()
	if c.outcome != nil {
		c.outcome(err)
	}
	if err == nil && len(jobs) > 0 {
		c.afterCommit(jobs)
	}
	for i, r := range batch {
		res := results[i]
		if err != nil && res.err == nil && res.panicked == nil {
			res.err = err
		}
		fns := hooks[i]
		if res.err != nil || res.panicked != nil {
			fns = undos[i]
		}
		for _, f := range fns {
			f()
		}
		r.done <- res
	}
}

// runOne runs one call inside a savepoint of the batch's transaction. A
// call that lost a deadlock to a concurrent transaction (PostgreSQL) is
// rolled back to its savepoint and run once more.
func runOne(ctx context.Context, btx batchTx, tx *Tx, fn func(*Tx) error) writeResult {
	res := runOnce(ctx, btx, tx, fn)
	if res.err != nil && retryable(res.err) {
		for _, f := range tx.onFail {
			f()
		}
		// What the first try gathered (jobs, hooks, the generations it
		// checked) was rolled back with it.
		tx.call = call{}
		res = runOnce(ctx, btx, tx, fn)
	}
	return res
}

// retryable reports a PostgreSQL deadlock or serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// runOnce runs fn in a savepoint. Its statements, and fn's, run without the
// caller's cancellation (detached): a statement cancelled in flight closes
// its connection (pgx) or rolls back the whole transaction (SQLite's
// interrupt), and so would fail every call of the batch. The caller's
// cancellation counts before the call starts (run) and once fn returns.
// They end with the batch's context instead (detached, guardedBatch), which
// only a stop that runs out of time cancels.
func runOnce(ctx context.Context, btx batchTx, tx *Tx, fn func(*Tx) error) (res writeResult) {
	sctx := context.WithoutCancel(ctx)
	if err := btx.execLater(sctx, "SAVEPOINT w"); err != nil {
		return writeResult{err: fmt.Errorf("savepoint: %w", err)}
	}
	undo := func() error {
		return errors.Join(btx.exec(sctx, "ROLLBACK TO SAVEPOINT w"), btx.exec(sctx, "RELEASE SAVEPOINT w"))
	}
	defer func() {
		if p := recover(); p != nil {
			if err := undo(); err != nil {
				res.err = err
			}
			res.panicked = p
		}
	}()
	err := fn(tx)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return writeResult{err: errors.Join(err, undo())}
	}
	if err := btx.execLater(sctx, "RELEASE SAVEPOINT w"); err != nil {
		return writeResult{err: errors.Join(fmt.Errorf("release: %w", err), undo())}
	}
	return writeResult{}
}

// detached is a batch call's querier: its statements run without the
// caller's cancellation, but end with the batch's (see runOnce).
type detached struct {
	querier
	batch context.Context
}

func (q detached) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return q.querier.exec(valuesOf{q.batch, ctx}, query, args...)
}

func (q detached) execLater(ctx context.Context, query string, args ...any) error {
	return q.execExpect(ctx, nil, query, args...)
}

func (q detached) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	return q.querier.execExpect(valuesOf{q.batch, ctx}, failAs, query, args...)
}

func (q detached) query(ctx context.Context, query string, args ...any) (rows, error) {
	return q.querier.query(valuesOf{q.batch, ctx}, query, args...)
}

func (q detached) queryRow(ctx context.Context, query string, args ...any) row {
	return q.querier.queryRow(valuesOf{q.batch, ctx}, query, args...)
}

// valuesOf is a context with the cancellation of one (the batch's) and
// the values of another (the caller's).
type valuesOf struct {
	context.Context
	values context.Context
}

func (c valuesOf) Value(key any) any { return c.values.Value(key) }

// write hands a call to the combiner and waits for its result.
func (c *combiner) write(ctx context.Context, fn func(tx *Tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stopped:
		return ErrClosed
	}
	res := <-r.done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return classify(res.err)
}

// guardedBatch sends the batch's SAVEPOINT statements through its guard,
// with the batch's cancellation.
type guardedBatch struct {
	batchTx
	g     *batchGuard
	batch context.Context
}

func (b guardedBatch) exec(ctx context.Context, stmt string) error {
	if b.g.poison != nil {
		return b.g.poison
	}
	return b.g.check(b.batchTx.exec(valuesOf{b.batch, ctx}, stmt))
}

func (b guardedBatch) execLater(ctx context.Context, stmt string) error {
	if b.g.poison != nil {
		return b.g.poison
	}
	return b.g.check(b.batchTx.execLater(valuesOf{b.batch, ctx}, stmt))
}

func (b guardedBatch) flush(ctx context.Context) error {
	if b.g.poison != nil {
		return b.g.poison
	}
	return b.g.check(b.batchTx.flush(valuesOf{b.batch, ctx}))
}

// stop ends the combining goroutines and waits for them: a batch under way
// runs to its end, so that every call taken is answered; calls not yet
// taken answer ErrClosed. When ctx ends first, the batches' statements are
// cancelled (their calls fail) and stop still waits for the goroutines.
// Safe to call twice.
func (c *combiner) stop(ctx context.Context) {
	c.stopOnce.Do(func() { close(c.stopped) })
	done := make(chan struct{})
	go func() {
		c.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		c.cancel()
		<-done
	}
	c.cancel()
}
