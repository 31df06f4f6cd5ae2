package store

import "github.com/autohook/autohook/internal/autohook"

// The store reads and writes the contract's types (internal/autohook), so
// that the adapters, which see only the contract, never import the store.
// These are their names here, for the store's own callers.
type (
	Page             = autohook.Page
	RecordFilter     = autohook.RecordFilter
	AutomationFilter = autohook.AutomationFilter
	RunFilter        = autohook.RunFilter
	Organisation     = autohook.Organisation
	APIKey           = autohook.APIKey
	User             = autohook.User
	Session          = autohook.Session
	Secret           = autohook.Secret
	Actor            = autohook.Actor
	Role             = autohook.Role
	Invitation       = autohook.Invitation
	AuditEntry       = autohook.AuditEntry
	AuditFilter      = autohook.AuditFilter
	AuditTarget      = autohook.AuditTarget
)

// Actor types (autohook.ActorAPIKey, autohook.ActorUser).
const (
	ActorAPIKey = autohook.ActorAPIKey
	ActorUser   = autohook.ActorUser
)

// Errors the store returns, wrapped with context: the contract's
// sentinels.
var (
	// ErrNotFound: no such object in the organisation.
	ErrNotFound = autohook.ErrNotFound
	// ErrConflict: a key taken, or a write that lost to a concurrent one.
	ErrConflict = autohook.ErrConflict
	// ErrBadInput: an input the store cannot use (a malformed cursor).
	ErrBadInput = autohook.ErrBadInput
	// ErrUnavailable is wrapped by every error that means the database
	// cannot be used for now, as opposed to a query that is wrong:
	// PostgreSQL unreachable, restarting or shutting down, out of
	// connections or disk; SQLite's disk full, its file read-only or
	// failing I/O, or its lock held too long by another process. Nothing
	// was written by the call that returns it (a transaction is all or
	// nothing); the caller can try again later, and the API answers 503
	// with Retry-After.
	ErrUnavailable = autohook.ErrUnavailable
)
