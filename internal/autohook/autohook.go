// Package autohook is the contract of Autohook's operations, in the manner
// of Ben Johnson's wtf: the Service interface that the API and the web UI
// call (one interface per concept: collections, records, automations, runs,
// configuration, secrets, access, sessions), the types the operations take
// and return, their sentinel errors, and the pure functions on
// configuration documents (export, import, differences).
//
// It is a leaf of the domain: it imports record, automation, problem and
// the other pure packages, never storage, the engine or the network, so
// that what depends on it alone (internal/httpapi, internal/webui) cannot
// reach them either (internal/layers_test.go checks it). internal/service
// implements Service over the store, whose methods take and return the
// types defined here.
package autohook

import (
	"errors"
	"time"
)

// The sentinel errors of the operations (and of the store beneath them),
// wrapped with context; internal/httperr maps each to its HTTP status.
// Validation problems are *problem.Error, each naming its path; malformed
// JSON is *strictjson.SyntaxError.
var (
	// ErrNotFound: no such object in the caller's organisation (an object
	// of another organisation is not found either).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object's state forbids the operation (a key taken,
	// a run already finished, a record at another version).
	ErrConflict = errors.New("conflict")
	// ErrBadInput: input that cannot be used and is not a document with
	// paths (a malformed cursor, an empty body).
	ErrBadInput = errors.New("bad input")
	// ErrForbidden: the caller may not do this (only the instance admin
	// may).
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: no valid API key or session.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnavailable: the database cannot be used for now (unreachable,
	// restarting, disk full); nothing was written. Try again after
	// RetryAfter.
	ErrUnavailable = errors.New("the database is unavailable")
	// ErrRateLimited: the caller went over a rate; a *RateLimitError says
	// how long to wait.
	ErrRateLimited = errors.New("rate limited")
)

// RateLimitError refuses a request whose caller went over a rate (an API
// key's requests, an address's failed authentications): it may be tried
// again after Wait. It is ErrRateLimited to errors.Is.
type RateLimitError struct {
	Message string // what went over which rate, and when to retry
	Wait    time.Duration
}

func (e *RateLimitError) Error() string { return e.Message }

// Unwrap makes the error ErrRateLimited.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// RetryAfter is how long clients are asked to wait (Retry-After) while the
// database is unavailable.
const RetryAfter = 5 * time.Second
