// Package autohook provides the operations that the API, the web UI and the
// bench share: collections and records (with the runs their changes
// trigger, in the same transaction), automations, runs, secrets, keys and
// organisations. Every operation is scoped by the organisation it is given.
package autohook

import (
	"errors"
	"log/slog"
	"time"

	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/engine"
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
)

// Service holds the operations.
type Service struct {
	st   *store.Store
	cat  *catalog.Catalog
	fire *trigger.Firer
	eng  *engine.Engine
	box  *secret.Box
	log  *slog.Logger
	now  func() time.Time
}

// Config wires a Service.
type Config struct {
	Store   *store.Store
	Catalog *catalog.Catalog
	Firer   *trigger.Firer
	Engine  *engine.Engine // for the Test operation
	Box     *secret.Box
	Logger  *slog.Logger
	Now     func() time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{st: cfg.Store, cat: cfg.Catalog, fire: cfg.Firer, eng: cfg.Engine, box: cfg.Box, log: cfg.Logger, now: cfg.Now}
}
