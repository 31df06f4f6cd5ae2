package store

import (
	"context"
	"errors"
	"fmt"
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
	promote *promoter
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
		pcfg.MaxConns = 25 // three nodes fit PostgreSQL's default 100 connections
	}
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
	b := &pgBackend{pool: pool, clock: cfg.Now}
	if b.clock == nil {
		b.clock = time.Now
	}
	b.promote = b.newPromoter()
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

// write runs fn in a transaction of its own: PostgreSQL has many writers
// and groups commits itself.
func (b *pgBackend) write(ctx context.Context, fn func(tx *Tx) error) (err error) {
	pgTx, err := b.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	rollback := func() error {
		if err := pgTx.Rollback(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			return err
		}
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			_ = rollback()
			panic(p)
		}
	}()
	tx := &Tx{ops: ops{q: pgxQuerier{pgTx}, isPG: true, clock: b.clock}}
	if err := fn(tx); err != nil {
		return errors.Join(err, rollback())
	}
	if len(tx.jobs) > 0 {
		if _, err := b.client.InsertManyFastTx(ctx, pgTx, tx.jobs); err != nil {
			return errors.Join(fmt.Errorf("enqueue: %w", err), rollback())
		}
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, j := range tx.jobs {
		if at := scheduledAt(j); !at.IsZero() {
			b.promote.arm(at)
		}
	}
	for _, f := range tx.onCommit {
		f()
	}
	return nil
}

func (b *pgBackend) startQueue(ctx context.Context) error {
	if err := b.client.Start(ctx); err != nil {
		return err
	}
	return b.promote.start(ctx)
}

func (b *pgBackend) stopQueue(ctx context.Context) error { return stopClient(ctx, b.client.Stop) }

func (b *pgBackend) close() error {
	b.promote.stop()
	b.pool.Close()
	return nil
}
