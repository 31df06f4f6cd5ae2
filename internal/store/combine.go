package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
)

// Group commit for SQLite.
//
// SQLite has one writer at a time, and most of a small transaction's cost
// is its commit (writing the changed pages to the WAL) and the per-call
// overhead of the queue insert. So concurrent Write calls are not given a
// transaction each: one goroutine takes every call waiting at that moment,
// runs them in one transaction, each inside its own SAVEPOINT, inserts all
// their queue jobs with one statement, and commits once. A call whose
// function fails is rolled back to its savepoint alone — its writes and its
// jobs vanish together — so each call keeps the all-or-nothing meaning of a
// transaction of its own. Under light load a batch holds one call and
// nothing waits; under load batches grow by themselves.

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

// combine runs the group-commit loop until stop is closed.
func (b *sqliteBackend) combine(stop <-chan struct{}) {
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case <-stop:
			return
		case r := <-b.reqs:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.runBatch(batch)
	}
}

// runBatch runs a batch of calls in one transaction and answers each.
func (b *sqliteBackend) runBatch(batch []*writeReq) {
	results := make([]writeResult, len(batch))
	hooks := make([][]func(), len(batch))
	err := func() error {
		sqlTx, err := b.w.BeginTx(context.Background(), nil)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var jobs []river.InsertManyParams
		ok := 0
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				results[i].err = err
				continue
			}
			tx := &Tx{ops: ops{q: sqlQuerier{sqlTx}, clock: b.clock}}
			results[i] = b.runOne(r.ctx, sqlTx, tx, r.fn)
			if results[i].err == nil && results[i].panicked == nil {
				jobs = append(jobs, tx.jobs...)
				hooks[i] = tx.onCommit
				ok++
			}
		}
		if ok == 0 {
			return sqlTx.Rollback()
		}
		if len(jobs) > 0 {
			if _, err := b.client.InsertManyFastTx(context.Background(), sqlTx, mergeRunJobs(jobs)); err != nil {
				_ = sqlTx.Rollback()
				return fmt.Errorf("enqueue: %w", err)
			}
		}
		if err := sqlTx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if len(jobs) > 0 {
			b.driver.notifyInsert()
			for _, j := range jobs {
				if at := scheduledAt(j); !at.IsZero() {
					b.promote.arm(at)
				}
			}
		}
		return nil
	}()
	for i, r := range batch {
		res := results[i]
		if err != nil && res.err == nil && res.panicked == nil {
			res.err = err
		}
		if res.err == nil && res.panicked == nil {
			for _, f := range hooks[i] {
				f()
			}
		}
		r.done <- res
	}
}

// runOne runs one call inside a savepoint of the batch's transaction.
func (b *sqliteBackend) runOne(ctx context.Context, sqlTx *sql.Tx, tx *Tx, fn func(*Tx) error) (res writeResult) {
	if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
		return writeResult{err: fmt.Errorf("savepoint: %w", err)}
	}
	undo := func() error {
		_, err := sqlTx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO w")
		_, err2 := sqlTx.ExecContext(context.WithoutCancel(ctx), "RELEASE w")
		return errors.Join(err, err2)
	}
	defer func() {
		if p := recover(); p != nil {
			if err := undo(); err != nil {
				res.err = err
			}
			res.panicked = p
		}
	}()
	if err := fn(tx); err != nil {
		return writeResult{err: errors.Join(err, undo())}
	}
	if _, err := sqlTx.ExecContext(ctx, "RELEASE w"); err != nil {
		return writeResult{err: errors.Join(fmt.Errorf("release: %w", err), undo())}
	}
	return writeResult{}
}

// write hands a call to the group-commit loop and waits for its result.
func (b *sqliteBackend) write(ctx context.Context, fn func(tx *Tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.stopped:
		return errors.New("store closed")
	}
	res := <-r.done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}
