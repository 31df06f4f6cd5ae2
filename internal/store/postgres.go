package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// pgBackend is PostgreSQL through one pgx pool, shared with River (whose
// riverpgxv5 driver listens for inserts with LISTEN/NOTIFY).
type pgBackend struct {
	pool    *pgxpool.Pool
	client  *river.Client[pgx.Tx]
	clock   func() time.Time
	writes  *combiner
	promote *promoter
	counts  *counters
}

// migrationLockKey is the advisory lock that serialises migrations when
// several nodes start together.
const migrationLockKey = 0x6175746f686f6f6b // "autohook"

func openPostgres(ctx context.Context, url string, cfg Config) (*pgBackend, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = int32(cfg.MaxConns)
	} else {
		pcfg.MaxConns = DefaultPostgresConns
	}
	counts := &counters{}
	pcfg.ConnConfig.Tracer = pgCounter{counts}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect %s: %w", redactURL(url), err)
	}
	if err := migratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	b := &pgBackend{pool: pool, clock: cfg.Now, counts: counts}
	if b.clock == nil {
		b.clock = time.Now
	}
	b.promote = b.newPromoter()
	b.writes = newCombiner(cmp.Or(cfg.Writers, 4), b.beginBatch, func(q querier) *Tx { return &Tx{ops: ops{q: q, isPG: true, clock: b.clock}} }, b.afterCommit)
	client, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), riverConfig(cfg))
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("river: %w", err)
	}
	b.client = client
	return b, nil
}

// migratePostgres applies Autohook's and River's migrations under an
// advisory lock held on one connection, so that nodes starting together take
// turns.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockKey)); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey)) //nolint:errcheck // the lock goes with the session anyway
	if err := migrate(ctx, pgxQuerier{conn}); err != nil {
		return err
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

func (b *pgBackend) kind() string { return "postgres" }

func (b *pgBackend) ready() error { return nil }

// pgBatch is a batch transaction on one pooled connection, whose
// statements go through a pipe (pipeline.go).
type pgBatch struct {
	b    *pgBackend
	tx   pgx.Tx
	pipe *pgPipe
}

func (b *pgBackend) beginBatch(ctx context.Context) (batchTx, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &pgBatch{b: b, tx: tx, pipe: &pgPipe{tx: tx}}, nil
}

func (t *pgBatch) querier() querier { return t.pipe }

func (t *pgBatch) exec(ctx context.Context, stmt string) error {
	if strings.HasPrefix(stmt, "ROLLBACK TO") {
		t.pipe.dropCall() // what the call holds is undone anyway
	}
	_, err := t.pipe.exec(ctx, stmt)
	return err
}

func (t *pgBatch) execLater(_ context.Context, stmt string) error { return t.pipe.holdSavepoint(stmt) }

func (t *pgBatch) startCall(i int, lost func(int, error)) { t.pipe.call, t.pipe.lost = i, lost }

func (t *pgBatch) flush(ctx context.Context) error {
	t.pipe.call = -1 // every call has returned: a failure is a lost call's
	return t.pipe.flush(ctx)
}

func (t *pgBatch) insert(ctx context.Context, jobs []river.InsertManyParams) error {
	_, err := t.b.client.InsertManyTx(ctx, t.tx, jobs) // with NOTIFY, so every node's workers wake
	return err
}

func (t *pgBatch) commit(ctx context.Context) error { return t.tx.Commit(ctx) }

func (t *pgBatch) rollback(ctx context.Context) error {
	if err := t.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// afterCommit arms the promoter for scheduled jobs (River's NOTIFY, sent in
// the transaction, already woke the workers for the others).
func (b *pgBackend) afterCommit(jobs []river.InsertManyParams) {
	for _, j := range jobs {
		if at := scheduledAt(j); !at.IsZero() {
			b.promote.arm(at)
		}
	}
}

func (b *pgBackend) write(ctx context.Context, fn func(tx *Tx) error) error {
	return b.writes.write(ctx, fn)
}

func (b *pgBackend) startQueue(ctx context.Context) error {
	if err := b.client.Start(ctx); err != nil {
		return err
	}
	return b.promote.start(ctx)
}

func (b *pgBackend) stopQueue(ctx context.Context) error {
	return stopClient(ctx, b.client.Stop, b.client.StopAndCancel)
}

// close stops the promoter and the writers, each waiting for its
// goroutines, then closes the pool under them.
func (b *pgBackend) close(ctx context.Context) error {
	b.promote.stop()
	b.writes.stop(ctx)
	b.pool.Close()
	return nil
}
