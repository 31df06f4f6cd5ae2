// Package service implements autohook.Service, the operations that the API,
// the web UI and the bench share, over the store, the trigger planner, the
// engine's dry run and the catalog of compiled automations. It owns the
// transaction that spans a record write and the runs it triggers. Every
// operation is scoped by the organisation it is given.
//
// The adapters (internal/httpapi, internal/webui) take the autohook.Service
// interface, so that they depend on the contract alone, never on storage or
// the engine; internal/server wires this implementation.
package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/catalog"
	"github.com/autohook/autohook/internal/keyring"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
	"github.com/autohook/autohook/internal/trigger"
)

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

	sessionTTL, invitationTTL time.Duration
}

var _ autohook.Service = (*Service)(nil)

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
	// SessionTTL is how long a web UI session lasts (0:
	// autohook.SessionTTL); InvitationTTL how long an invitation can be
	// accepted (0: autohook.InvitationTTL).
	SessionTTL, InvitationTTL time.Duration
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = autohook.SessionTTL
	}
	if cfg.InvitationTTL <= 0 {
		cfg.InvitationTTL = autohook.InvitationTTL
	}
	return &Service{st: cfg.Store, cat: cfg.Catalog, fire: cfg.Firer, eng: cfg.Engine, box: cfg.Box, keys: cfg.Keys, log: cfg.Logger, now: cfg.Now,
		sessionTTL: cfg.SessionTTL, invitationTTL: cfg.InvitationTTL}
}

// sealer is the Box that seals the values tx writes (keyring.Sealer).
func (s *Service) sealer(ctx context.Context, tx *store.Tx) (*secret.Box, error) {
	if s.keys == nil {
		return s.box, nil
	}
	return s.keys.Sealer(ctx, tx)
}

// problemAt is a one-problem validation error.
func problemAt(path, format string, args ...any) error { return problem.New(path, format, args...) }
