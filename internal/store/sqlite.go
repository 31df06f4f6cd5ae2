package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"; chosen for its prepared-statement cache
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivermigrate"
)

// sqliteBackend keeps one writer connection (River's advice for SQLite: it
// turns SQLite's single-writer lock into a Go-side queue instead of
// SQLITE_BUSY errors) and a pool of read-only connections, which WAL lets
// read while the writer writes.
type sqliteBackend struct {
	path    string
	w, r    *sql.DB
	driver  *wakeDriver
	client  *river.Client[*sql.Tx]
	clock   func() time.Time
	writes  *combiner
	promote *promoter
	counts  counters
}

func sqliteDSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL") // WAL + NORMAL: durable across process crashes; a power loss may lose the last commits
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "off")
	q.Set("_stmt_cache_size", "256") // statement compilation dominated River's CPU profile without it
	q.Set("_cache_size", "-32000")   // 32 MB page cache per connection
	if readOnly {
		q.Set("_query_only", "true")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string, cfg Config) (*sqliteBackend, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	if err := privateFiles(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w, err := sql.Open("sqlite3", sqliteDSN(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := migrate(ctx, sqlQuerier{w}); err != nil {
		w.Close()
		return nil, err
	}
	driver := newWakeDriver(w)
	migrator, err := rivermigrate.New(driver.Driver, nil)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("river migrate: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		w.Close()
		return nil, fmt.Errorf("river migrate: %w", err)
	}
	readConns := cfg.MaxConns
	if readConns <= 0 {
		readConns = DefaultSQLiteReaders
	}
	r, err := sql.Open("sqlite3", sqliteDSN(path, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	b := &sqliteBackend{path: path, w: w, r: r, driver: driver, clock: cfg.Now}
	if b.clock == nil {
		b.clock = time.Now
	}
	b.promote = b.newPromoter()
	client, err := river.NewClient[*sql.Tx](driver, riverConfig(cfg))
	if err != nil {
		b.close(ctx)
		return nil, fmt.Errorf("river: %w", err)
	}
	b.client = client
	b.writes = newCombiner(1, b.beginBatch, func(q querier) *Tx { return &Tx{ops: ops{q: q, clock: b.clock}} }, b.afterCommit)
	return b, nil
}

// sqliteBatch is a batch transaction on the writer connection.
type sqliteBatch struct {
	b  *sqliteBackend
	tx *sql.Tx
}

func (b *sqliteBackend) beginBatch(ctx context.Context) (batchTx, error) {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqliteBatch{b: b, tx: tx}, nil
}

func (t *sqliteBatch) querier() querier { return countingQuerier{sqlQuerier{t.tx}, &t.b.counts} }

func (t *sqliteBatch) exec(ctx context.Context, stmt string) error {
	t.b.counts.count(stmt)
	_, err := t.tx.ExecContext(ctx, stmt)
	return err
}

func (t *sqliteBatch) execLater(ctx context.Context, stmt string) error { return t.exec(ctx, stmt) }

func (*sqliteBatch) startCall(int, func(int, error)) {}

func (*sqliteBatch) flush(context.Context) error { return nil }

func (t *sqliteBatch) insert(ctx context.Context, jobs []river.InsertManyParams) error {
	_, err := t.b.client.InsertManyFastTx(ctx, t.tx, jobs)
	return err
}

func (t *sqliteBatch) commit(context.Context) error { return t.tx.Commit() }

func (t *sqliteBatch) rollback(context.Context) error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

// afterCommit wakes the workers and arms the promoter for scheduled jobs.
func (b *sqliteBackend) afterCommit(jobs []river.InsertManyParams) {
	b.driver.notifyInsert()
	for _, j := range jobs {
		if at := scheduledAt(j); !at.IsZero() {
			b.promote.arm(at)
		}
	}
}

func (b *sqliteBackend) write(ctx context.Context, fn func(tx *Tx) error) error {
	return b.writes.write(ctx, fn)
}

func (b *sqliteBackend) kind() string { return "sqlite" }

// ready checks the file system that holds the database: writable, and with
// MinFreeBytes free at least.
func (b *sqliteBackend) ready() error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(b.path), &st); err != nil {
		return &unavailableError{fmt.Errorf("disk of %s: %w", b.path, err)}
	}
	if st.Flags&stRDOnly != 0 {
		return &unavailableError{fmt.Errorf("the file system holding %s is read-only", b.path)}
	}
	if free := st.Bavail * uint64(st.Bsize); free < MinFreeBytes {
		return &unavailableError{fmt.Errorf("the disk holding %s is full (%d bytes free)", b.path, free)}
	}
	return nil
}

// stRDOnly is ST_RDONLY of statfs(2)'s f_flags.
const stRDOnly = 0x1

func (b *sqliteBackend) startQueue(ctx context.Context) error {
	if err := b.client.Start(ctx); err != nil {
		return err
	}
	return b.promote.start(ctx)
}

func (b *sqliteBackend) stopQueue(ctx context.Context) error {
	return stopClient(ctx, b.client.Stop, b.client.StopAndCancel)
}

// close stops the promoter and the writers, each waiting for its
// goroutines, then closes the database handles under them.
func (b *sqliteBackend) close(ctx context.Context) error {
	b.promote.stop()
	if b.writes != nil { // nil when Open failed
		b.writes.stop(ctx)
	}
	return errors.Join(b.r.Close(), b.w.Close())
}

// ResumeOrphanedJobs makes jobs that this node's previous process left
// running available again, instead of waiting for River's stuck-job rescuer
// (which must wait longer than the longest job). On SQLite that is every
// running job: the data dir lock guarantees that no other process is working
// them. On PostgreSQL it is the running jobs last attempted by this node's
// id (NodeID, kept in its data dir, which is locked too). River has no API
// for this, hence the statement on its table.
func (s *Store) ResumeOrphanedJobs(ctx context.Context, nodeID string) (int64, error) {
	switch b := s.b.(type) {
	case *sqliteBackend:
		res, err := b.w.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		if err != nil {
			return 0, fmt.Errorf("resume orphaned jobs: %w", err)
		}
		return res.RowsAffected()
	case *pgBackend:
		if nodeID == "" {
			return 0, nil
		}
		tag, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1`, nodeID)
		if err != nil {
			return 0, fmt.Errorf("resume orphaned jobs: %w", err)
		}
		return tag.RowsAffected(), nil
	}
	return 0, nil
}

// ResumeLostJobs makes available again the jobs that the database holds as
// running for this node but that it is not working (working lists the ones
// it is): a fetch whose answer was lost when the database connection
// dropped (the database marked them running, the node never saw them), or
// a worker's error that could not be recorded. Only jobs attempted longer
// than olderThan ago are touched, so that one fetched a moment ago and not
// yet handed to a worker is left alone. A job whose run has moved on since
// does nothing when worked again (its seq is stale), so resuming a job that
// had in fact finished is harmless. Only run jobs are touched (a pruning
// pass is not worth resuming: the next one does its work). nodeID is
// ignored on SQLite (one node per file).
func (s *Store) ResumeLostJobs(ctx context.Context, nodeID string, olderThan time.Duration, working []int64) (int64, error) {
	ids := make([]any, len(working))
	for i, id := range working {
		ids[i] = id
	}
	switch b := s.b.(type) {
	case *sqliteBackend:
		q := `UPDATE river_job SET state = 'available' WHERE state = 'running' AND kind IN ('autohook.run', 'autohook.runs') AND attempted_at < datetime('now', 'subsec', ?)`
		args := []any{fmt.Sprintf("-%.3f seconds", olderThan.Seconds())}
		if len(ids) > 0 {
			q += ` AND id NOT IN (?` + strings.Repeat(", ?", len(ids)-1) + `)`
			args = append(args, ids...)
		}
		n, err := classifyingQuerier{sqlQuerier{b.w}}.exec(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("resume lost jobs: %w", err)
		}
		return n, nil
	case *pgBackend:
		if nodeID == "" {
			return 0, nil
		}
		if working == nil {
			working = []int64{} // nil would be NULL, and NOT (id = ANY(NULL)) matches nothing
		}
		tag, err := b.pool.Exec(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running' AND kind IN ('autohook.run', 'autohook.runs')
			AND attempted_by[array_length(attempted_by, 1)] = $1 AND attempted_at < now() - make_interval(secs => $2) AND NOT (id = ANY($3))`,
			nodeID, olderThan.Seconds(), working)
		if err != nil {
			return 0, fmt.Errorf("resume lost jobs: %w", classify(err))
		}
		return tag.RowsAffected(), nil
	}
	return 0, nil
}
