// Package autohook provides the operations that the API, the web UI and the
// bench share: collections and records (with the runs their changes
// trigger, in the same transaction), automations, runs, secrets, keys and
// organisations. Every operation is scoped by the organisation it is given.
package autohook

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/keyring"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

// Errors, for the adapters to map to statuses. Validation problems are
// *problem.Error; malformed input is *strictjson.SyntaxError.
var (
	ErrNotFound     = store.ErrNotFound
	ErrConflict     = store.ErrConflict
	ErrBadInput     = store.ErrBadInput
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable: the database cannot be used for now (unreachable,
	// restarting, disk full); nothing was written. Try again after
	// RetryAfter.
	ErrUnavailable = store.ErrUnavailable
)

// RetryAfter is how long clients are asked to wait (Retry-After) while the
// database is unavailable.
const RetryAfter = 5 * time.Second

// Service holds the operations.
type Service struct {
	keys *keyring.Keyring
	st   *store.Store
	cat  *catalog.Catalog
	fire *trigger.Firer
	eng  Tester
	box  *secret.Box
	log  *slog.Logger
	now  func() time.Time
}

// Config wires a Service.
type Config struct {
	Store   *store.Store
	Catalog *catalog.Catalog
	Firer   *trigger.Firer
	Engine  Tester // for the Test operation (an *engine.Engine)
	Box     *secret.Box
	// Keys chooses the key that seals new secrets (keyring.Check); nil
	// seals with Box's first key.
	Keys   *keyring.Keyring
	Logger *slog.Logger
	Now    func() time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: cfg.Store, cat: cfg.Catalog, fire: cfg.Firer, eng: cfg.Engine, box: cfg.Box, keys: cfg.Keys, log: cfg.Logger, now: cfg.Now}
}

// sealer is the Box that seals the values tx writes (keyring.Sealer).
func (s *Service) sealer(ctx context.Context, tx *store.Tx) (*secret.Box, error) {
	if s.keys == nil {
		return s.box, nil
	}
	return s.keys.Sealer(ctx, tx)
}
