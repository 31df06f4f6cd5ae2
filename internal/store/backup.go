package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// BackupInfo describes a backup Backup wrote.
type BackupInfo struct {
	Bytes  int64
	Counts map[string]int // rows of the main tables
}

// backupTables are counted in a backup, for the person who made it.
var backupTables = []string{"organisations", "collections", "records", "automations", "runs", "attempts", "secrets"}

// Backup writes a consistent copy of the SQLite database at path into the
// new file to, while other processes (a running `autohook serve`) go on
// reading and writing it. It uses VACUUM INTO, which reads the database in
// one read transaction (a snapshot: writers are not held up, and what they
// commit meanwhile is not in the copy) and writes a compact file. The copy
// is written next to to under a temporary name, checked (PRAGMA
// integrity_check), synced, then renamed: to never holds a partial copy.
func Backup(ctx context.Context, path, to string) (BackupInfo, error) {
	var info BackupInfo
	if _, err := os.Stat(path); err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(to); err == nil {
		return info, fmt.Errorf("backup: %s already exists: choose a new file", to)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return info, fmt.Errorf("backup: %w", err)
	}
	tmp := to + ".partial-" + rand.Text()[:8]
	defer os.Remove(tmp) // gone after the rename; left by a failure otherwise
	// A plain connection: VACUUM INTO writes its output through the
	// connection, so it cannot be read-only, but it writes nothing to path.
	src, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_busy_timeout=10000")
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return info, fmt.Errorf("backup: copy %s: %w", path, classify(err))
	}
	if info.Counts, err = checkBackup(ctx, tmp); err != nil {
		return info, err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return info, fmt.Errorf("backup: %w", err)
	}
	err = f.Sync()
	if st, serr := f.Stat(); serr == nil {
		info.Bytes = st.Size()
	}
	f.Close()
	if err != nil {
		return info, fmt.Errorf("backup: sync: %w", err)
	}
	if err := os.Link(tmp, to); err != nil { // unlike rename, never replaces a file made meanwhile
		return info, fmt.Errorf("backup: %w", err)
	}
	if d, err := os.Open(filepath.Dir(to)); err == nil {
		_ = d.Sync() // the new name, durably
		d.Close()
	}
	return info, nil
}

// checkBackup checks a copy's integrity and counts its main tables.
func checkBackup(ctx context.Context, path string) (map[string]int, error) {
	db, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("backup: check: %w", err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return nil, fmt.Errorf("backup: check: %w", err)
	}
	if res != "ok" {
		return nil, fmt.Errorf("backup: the copy fails its integrity check: %s", res)
	}
	counts := map[string]int{}
	for _, t := range backupTables {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("backup: check: count %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}
