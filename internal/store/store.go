// Package store provides Autohook's storage: organisations, keys, collections,
// records, automations, runs and their attempts, secrets and due triggers, on
// SQLite (the embedded default) or PostgreSQL, with the River job queue in the
// same database so that a record write and the runs it triggers commit in one
// transaction.
//
// Every query is written once in portable SQL and scoped by organisation in
// this package itself. Reads go to a read pool; writes happen in Write, which
// runs a function in one transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
)

// Config configures Open.
type Config struct {
	// URL is "sqlite:PATH" or a "postgres://" URL.
	URL string
	// Workers are the River workers of this node; nil for a store that only
	// inserts jobs.
	Workers *river.Workers
	// PeriodicJobs are enqueued by River's elected leader alone, so that
	// they run once cluster-wide (history pruning).
	PeriodicJobs []*river.PeriodicJob
	// Queue tunes the River client.
	Queue QueueConfig
	// ReadConns is the size of the read pool (SQLite) or the whole pool
	// (PostgreSQL). Zero picks a default.
	MaxConns int
	// Writers is how many write transactions a PostgreSQL store has in
	// flight at once, each combining the Write calls waiting at that moment
	// (combine.go); zero picks 4. SQLite has one writer.
	Writers int
	Logger  *slog.Logger
	// Now stamps rows; nil means time.Now.
	Now func() time.Time
	// NodeID names this node to the queue, the same across restarts (it
	// lives in the data dir), so a restarted node can take back the jobs
	// its previous process was working. "" lets River pick one.
	NodeID string
}

// QueueConfig tunes River. See docs/ARCHITECTURE.md for why the defaults are
// what they are.
type QueueConfig struct {
	MaxWorkers        int           // concurrent jobs on this node; default DefaultMaxWorkers
	FetchCooldown     time.Duration // minimum time between fetches; default 2ms
	FetchPollInterval time.Duration // fallback poll; default 1s
	JobTimeout        time.Duration // longest one job may run; default DefaultJobTimeout
	RescueAfter       time.Duration // a running job older than this is taken over (a node died); default DefaultRescueAfter (at least JobTimeout + 10 s)
}

// DefaultMaxWorkers is how many jobs a node works at once unless told
// otherwise (QueueConfig.MaxWorkers); the engine's bound on runs in flight
// has the same default.
const DefaultMaxWorkers = 500

// Queue defaults: a job may run DefaultJobTimeout (a step's 120 s at most,
// and margin); another node takes over a job running for longer than
// DefaultRescueAfter (its node died).
const (
	DefaultJobTimeout  = 160 * time.Second
	DefaultRescueAfter = DefaultJobTimeout + 10*time.Second
)

// Connection defaults (Config.MaxConns): SQLite's read pool, and the whole
// PostgreSQL pool of one node (three nodes fit PostgreSQL's default 100
// connections).
const (
	DefaultSQLiteReaders = 8
	DefaultPostgresConns = 25
)

func (c QueueConfig) withDefaults() QueueConfig {
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = DefaultMaxWorkers
	}
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 2 * time.Millisecond
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = time.Second
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.RescueAfter <= c.JobTimeout {
		c.RescueAfter = c.JobTimeout + 10*time.Second
	}
	return c
}

// Store is the storage of one Autohook node.
type Store struct {
	ops    // reads through the read pool
	b      backend
	locks  recordLocks // LockRecord
	health *health
	// told of every committed change to definitions or secrets (gen.go)
	listeners catalogListeners
}

// backend is one database: SQLite or PostgreSQL.
type backend interface {
	write(ctx context.Context, fn func(tx *Tx) error) error
	startQueue(ctx context.Context) error
	stopQueue(ctx context.Context) error
	close(ctx context.Context) error // stops its goroutines, waiting for them, then closes its handles
	kind() string
	ready() error // what else, besides answering, it needs to take writes
}

// Tx is a write transaction. Its methods write; the read methods it shares
// with Store see the transaction's own writes.
type Tx struct {
	ops
	// the store's listeners of changes to definitions and secrets (gen.go)
	listeners *catalogListeners
	call
}

// call is what one Write call gathers as it runs: all of it goes when the
// call is run again (combine.go, runOne), as its statements did.
type call struct {
	jobs     []river.InsertManyParams
	onCommit []func()
	// onFail undoes, when the call fails, what a method changed in its
	// caller's values before the database's answer was known (a
	// record's version: UpdateRecordAt).
	onFail []func()
	// the generations CheckCatalogGen found current in this call
	checked map[string]int64
}

// ops holds the queries, over a querier: the read pool or a transaction.
type ops struct {
	q     querier
	isPG  bool
	clock func() time.Time
}

// Open opens the database at cfg.URL, applies migrations (Autohook's and
// River's) and prepares the queue. Call Start to work the queue.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Queue = cfg.Queue.withDefaults()
	var (
		b   backend
		err error
	)
	switch {
	case strings.HasPrefix(cfg.URL, "sqlite:"):
		b, err = openSQLite(ctx, strings.TrimPrefix(cfg.URL, "sqlite:"), cfg)
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		b, err = openPostgres(ctx, cfg.URL, cfg)
	default:
		return nil, fmt.Errorf("database url must start with sqlite: or postgres://, got %q", redactURL(cfg.URL))
	}
	if err != nil {
		return nil, err
	}
	clock := cfg.Now
	if clock == nil {
		clock = time.Now
	}
	s := &Store{b: b}
	s.health = newHealth(s.probe)
	switch b := b.(type) {
	case *sqliteBackend:
		s.ops = ops{q: textChecked{classifyingQuerier{countingQuerier{sqlQuerier{b.r}, &b.counts}}}, clock: clock}
		b.writes.outcome = s.health.outcome
	case *pgBackend:
		s.ops = ops{q: textChecked{classifyingQuerier{pgxQuerier{b.pool}}}, isPG: true, clock: clock}
		b.writes.outcome = s.health.outcome
	}
	return s, nil
}

// Kind is "sqlite" or "postgres".
func (s *Store) Kind() string { return s.b.kind() }

// Start starts working the queue with the configured workers.
func (s *Store) Start(ctx context.Context) error { return s.b.startQueue(ctx) }

// Stop stops working the queue, waiting for jobs in flight to finish.
func (s *Store) Stop(ctx context.Context) error { return s.b.stopQueue(ctx) }

// Close stops the queue (waiting for jobs in flight, up to ctx's end),
// the prober, the promoter and the writers, each waiting for its
// goroutines, and closes the database last, when nothing uses it any
// more. Writes already taken are finished (or, once ctx ends, cancelled);
// later ones fail with ErrClosed.
func (s *Store) Close(ctx context.Context) error {
	err := s.b.stopQueue(ctx)
	s.health.close()
	return errors.Join(err, s.b.close(ctx))
}

// Write runs fn in one write transaction: everything fn writes, including the
// jobs it enqueues, commits together or not at all. Functions registered
// with OnCommit run after a successful commit.
func (s *Store) Write(ctx context.Context, fn func(tx *Tx) error) error {
	return s.b.write(ctx, func(tx *Tx) error {
		tx.listeners = &s.listeners
		return fn(tx)
	})
}

// OnCommit registers f to run after the transaction commits.
func (tx *Tx) OnCommit(f func()) { tx.onCommit = append(tx.onCommit, f) }

// Now is the time the store stamps rows with.
func (o ops) Now() time.Time { return o.clock().UTC().Truncate(time.Microsecond) }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullUS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromUS(v.Int64)
	return &t
}

func nullUS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return us(*t)
}

// redactURL hides a password in a database URL for error messages.
func redactURL(u string) string {
	if at := strings.Index(u, "@"); at > 0 {
		if colon := strings.Index(u[:at], "://"); colon >= 0 {
			creds := u[colon+3 : at]
			if user, _, ok := strings.Cut(creds, ":"); ok {
				return u[:colon+3] + user + ":***" + u[at:]
			}
		}
	}
	return u
}
