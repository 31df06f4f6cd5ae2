package store_test

import (
	"path/filepath"
	"testing"

	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/store/storetest"
)

// The databases the store supports, as the conformance suite needs them.
var (
	sqlite = storetest.Backend{
		Name:   "sqlite",
		NewURL: func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "autohook.db") },
	}
	postgres = storetest.Backend{
		Name:      "postgres",
		NewURL:    func(t *testing.T) string { return pgtest.NewDatabase(t) },
		Clustered: true,
	}
)

// TestConformance runs the storage conformance suite (internal/store/storetest)
// on every database: PostgreSQL is skipped without a server, except under
// CI (CI=true), where a missing server fails.
func TestConformance(t *testing.T) {
	for _, b := range []storetest.Backend{sqlite, postgres} {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			storetest.Exercise(t, b)
		})
	}
}

// TestCopySQLiteToPostgres: the move `autohook copy` makes.
func TestCopySQLiteToPostgres(t *testing.T) {
	t.Parallel()
	storetest.ExerciseCopy(t, sqlite, postgres)
}
