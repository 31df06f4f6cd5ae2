// Package autohook provides the operations that the API, the web UI and the
// bench share: collections and records (with the runs their changes
// trigger, in the same transaction), automations, runs, secrets, keys and
// organisations. Every operation is scoped by the organisation it is given.
package autohook

import (
	"errors"
	"time"

	"github.com/autohook/autohook/internal/store"
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
