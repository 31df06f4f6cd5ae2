package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/retry"
	"github.com/autohook/autohook/internal/store"
)

// What the store does for the faults of docs/RELIABILITY.md: readiness,
// jobs lost with a dropped connection, backups, runs that cannot be read.

func testReady(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	if err := st.Ready(ctx); err != nil {
		t.Errorf("Ready of an open store: %v", err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Ready(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ready of a closed store = %v, want ErrUnavailable", err)
	}
}

func testFailRun(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	org, other := newOrg(t, st), newOrg(t, st)
	r := newRun(t, st, org, "rec_1")
	failRun := func(org string, seq int64) bool {
		t.Helper()
		var ok bool
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			ok, err = tx.FailRun(ctx, org, r.ID, seq, retry.Internal, "cannot be read back")
			return err
		})
		return ok
	}
	if failRun(other, r.Seq) || failRun(org, r.Seq+1) {
		t.Error("FailRun of another organisation's run, or at another seq: true, want false")
	}
	if !failRun(org, r.Seq) {
		t.Fatal("FailRun = false, want true")
	}
	got, err := st.Run(ctx, org, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != automation.StatusFailed || got.FinishedAt == nil || got.Error == nil || got.Error.Class != retry.Internal || got.Error.Message != "cannot be read back" {
		t.Errorf("failed run: %s, finished %v, error %+v", got.Status, got.FinishedAt, got.Error)
	}
	if failRun(org, r.Seq) {
		t.Error("FailRun of a finished run = true, want false")
	}
}

func testBackup(t *testing.T, s *suite) {
	if s.b.Name != "sqlite" {
		t.Skip("Backup copies SQLite databases; PostgreSQL has pg_dump")
	}
	ctx := context.Background()
	url := s.b.NewURL(t)
	st := s.openURL(t, store.Config{URL: url})
	org := newOrg(t, st)
	newCollection(t, st, org)
	rec := newRecord(t, st, org, map[string]any{"name": "Ada"})
	putSecret(t, st, org, "K", "sealed")
	to := filepath.Join(t.TempDir(), "backup.db")
	info, err := store.Backup(ctx, strings.TrimPrefix(url, "sqlite:"), to)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes == 0 || info.Counts["records"] != 1 || info.Counts["organisations"] != 1 || info.Counts["secrets"] != 1 {
		t.Errorf("Backup = %+v", info)
	}
	// The store goes on while a backup is taken, and the copy opens as a
	// store of its own.
	newRecord(t, st, org, map[string]any{"name": "Grace"})
	copied := s.openURL(t, store.Config{URL: "sqlite:" + to})
	if got, err := copied.Record(ctx, org, "leads", rec.ID); err != nil || got.Fields["name"] != "Ada" {
		t.Errorf("the record in the copy: %+v, %v", got, err)
	}
	if _, err := store.Backup(ctx, strings.TrimPrefix(url, "sqlite:"), to); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Backup onto an existing file: %v, want a refusal", err)
	}
	if _, err := store.Backup(ctx, filepath.Join(t.TempDir(), "none.db"), filepath.Join(t.TempDir(), "b.db")); err == nil {
		t.Error("Backup of a missing database: no error")
	}
}

// testResumeLostJobs: a job the database holds as running for a node,
// attempted a while ago, that the node is not working, is made available
// again; one it is working, one just fetched and (on a clustered database)
// another node's are left alone. The jobs are made running through a
// connection of the test's own, as a fetch whose answer was lost leaves
// them.
func testResumeLostJobs(t *testing.T, s *suite) {
	ctx := context.Background()
	url := s.b.NewURL(t)
	st := s.openURL(t, store.Config{URL: url})
	for i := range 4 {
		enqueue(t, st, time.Time{}, store.RunJob{OrgID: "org_a", RunID: fmt.Sprintf("run_%d", i), Seq: 1})
	}
	exec, query := rawConn(t, url)
	var ids []int64
	for i := range 4 {
		v, err := query(fmt.Sprintf(`SELECT CAST(id AS TEXT) FROM river_job ORDER BY id LIMIT 1 OFFSET %d`, i))
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		fmt.Sscan(v, &id)
		ids = append(ids, id)
	}
	running := func(id int64, ago time.Duration, node string) {
		t.Helper()
		var err error
		if s.b.Name == "sqlite" {
			err = exec(`UPDATE river_job SET state = 'running', attempted_at = datetime('now', 'subsec', ?), attempted_by = json_array(?) WHERE id = ?`,
				fmt.Sprintf("-%d seconds", int(ago.Seconds())), node, id)
		} else {
			err = exec(`UPDATE river_job SET state = 'running', attempted_at = now() - make_interval(secs => $1), attempted_by = ARRAY[$2] WHERE id = $3`,
				ago.Seconds(), node, id)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	state := func(id int64) string {
		t.Helper()
		q := `SELECT state FROM river_job WHERE id = ?`
		if s.b.Name != "sqlite" {
			q = `SELECT state::text FROM river_job WHERE id = $1`
		}
		v, err := query(q, id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	lost, worked, fetched, others := ids[0], ids[1], ids[2], ids[3]
	running(lost, time.Minute, "node-1")
	running(worked, time.Minute, "node-1")
	running(fetched, 0, "node-1")
	running(others, time.Minute, "node-2")
	n, err := st.ResumeLostJobs(ctx, "node-1", 10*time.Second, []int64{worked})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]string{lost: "available", worked: "running", fetched: "running", others: "running"}
	if !s.b.Clustered {
		want[others] = "available" // one node per database: every running job is this node's
	}
	resumed := 0
	for id, w := range want {
		if got := state(id); got != w {
			t.Errorf("job %d: %s, want %s", id, got, w)
		}
		if w == "available" {
			resumed++
		}
	}
	if n != int64(resumed) {
		t.Errorf("ResumeLostJobs = %d, want %d", n, resumed)
	}
	// With no job being worked, the usual case after an outage.
	running(worked, time.Minute, "node-1")
	if n, err := st.ResumeLostJobs(ctx, "node-1", 10*time.Second, nil); err != nil || n != 1 {
		t.Errorf("ResumeLostJobs with nothing being worked = %d, %v; want 1", n, err)
	}
}

// rawConn opens a connection of the test's own to the database at url.
func rawConn(t *testing.T, url string) (exec func(q string, args ...any) error, query func(q string, args ...any) (string, error)) {
	t.Helper()
	ctx := context.Background()
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return func(q string, args ...any) error { _, err := db.ExecContext(ctx, q, args...); return err },
			func(q string, args ...any) (s string, err error) {
				err = db.QueryRowContext(ctx, q, args...).Scan(&s)
				return s, err
			}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return func(q string, args ...any) error { _, err := conn.Exec(ctx, q, args...); return err },
		func(q string, args ...any) (s string, err error) {
			err = conn.QueryRow(ctx, q, args...).Scan(&s)
			return s, err
		}
}
