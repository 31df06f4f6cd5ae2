package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies the embedded migrations not yet applied, in order. The
// same files serve both databases (see migrations/0001_init.sql).
func migrate(ctx context.Context, q querier) error {
	if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS autohook_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[int64]bool{}
	rs, err := q.query(ctx, `SELECT version FROM autohook_migrations`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for rs.Next() {
		var v int64
		if err := rs.Scan(&v); err != nil {
			rs.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		applied[v] = true
	}
	if err := rs.Close(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		base := strings.TrimPrefix(f, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return fmt.Errorf("migrate: bad file name %s", f)
		}
		if applied[v] {
			continue
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		for _, stmt := range splitStatements(string(body)) {
			if _, err := q.exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %s: %w", base, err)
			}
		}
		if _, err := q.exec(ctx, `INSERT INTO autohook_migrations (version, applied_at) VALUES (?, ?)`, v, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
	}
	return nil
}

// SchemaID identifies the schema Open migrates a PostgreSQL database to: a
// hash of Autohook's migrations and River's. Databases migrated by stores
// with the same SchemaID are alike, so internal/pgtest names the migrated
// template it clones test databases from by it.
func SchemaID() (string, error) {
	h := sha256.New()
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, f := range files {
		body, err := migrations.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n%s", f, len(body), body)
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "", fmt.Errorf("river migrations: %w", err)
	}
	for _, m := range migrator.AllVersions() {
		fmt.Fprintf(h, "river %d %d\n%s", m.Version, len(m.SQLUp), m.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// splitStatements splits a migration file on semicolons that end a line,
// dropping comment-only lines.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
