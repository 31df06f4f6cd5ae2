// Package httperr provides the one table that turns an error of Autohook's
// operations into its HTTP answer: a status and a stable code (the idea of
// pkgsite's derrors.ToStatus). The API and the web UI both answer through
// it and choose only the presentation: the JSON error envelope, or a page.
package httperr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/strictjson"
)

// Reply is how an error is answered, before its presentation.
type Reply struct {
	// Status is the HTTP status; StatusClientClosed means the client went
	// away and nothing is to be written.
	Status int
	// Code is stable: the API's error.code.
	Code string
	// Message says what went wrong, in the API's words (lower case, no
	// final stop): the error's own text where it is the caller's to read,
	// a fixed sentence where it is the server's.
	Message string
	// Problems are a validation failure's problems, each naming its path.
	Problems []problem.Problem
	// RetryAfter, when positive, is answered as Retry-After.
	RetryAfter time.Duration
	// Limit is the bound, in bytes, of a body that was too large.
	Limit int64
}

// StatusClientClosed is the status of a request whose client went away
// before the answer (context.Canceled): nginx's 499, never sent.
const StatusClientClosed = 499

// The codes of the table, as the API's error envelope carries them.
const (
	CodeValidationFailed = "validation_failed"
	CodeBadRequest       = "bad_request"
	CodeTooLarge         = "too_large"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeRateLimited      = "rate_limited"
	CodeClientClosed     = "client_closed"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// row is one line of the table: what matches, the status and code it gets,
// and the message and details taken from the error.
type row struct {
	match  func(error) bool
	status int
	code   string
	fill   func(err error, r *Reply)
}

// table is the whole mapping, in order: the first row that matches answers.
// An error that no row matches is the server's fault: 500.
var table = []row{
	{as[*problem.Error], http.StatusUnprocessableEntity, CodeValidationFailed, func(err error, r *Reply) {
		perr, _ := errors.AsType[*problem.Error](err)
		r.Message, r.Problems = perr.Error(), perr.Problems
	}},
	{as[*strictjson.SyntaxError], http.StatusBadRequest, CodeBadRequest, func(err error, r *Reply) {
		serr, _ := errors.AsType[*strictjson.SyntaxError](err)
		r.Message = serr.Error()
	}},
	{as[*http.MaxBytesError], http.StatusRequestEntityTooLarge, CodeTooLarge, func(err error, r *Reply) {
		mberr, _ := errors.AsType[*http.MaxBytesError](err)
		r.Limit = mberr.Limit
		r.Message = fmt.Sprintf("the request body is larger than %d bytes", mberr.Limit)
	}},
	{is(autohook.ErrUnauthorized), http.StatusUnauthorized, CodeUnauthorized, ownWords},
	{is(autohook.ErrForbidden), http.StatusForbidden, CodeForbidden, ownWords},
	{is(autohook.ErrNotFound), http.StatusNotFound, CodeNotFound, func(err error, r *Reply) {
		r.Message = "not found"
		if err != autohook.ErrNotFound {
			r.Message = err.Error() // says what was not found
		}
	}},
	{is(autohook.ErrConflict), http.StatusConflict, CodeConflict, ownWords},
	{is(autohook.ErrBadInput), http.StatusBadRequest, CodeBadRequest, ownWords},
	{is(autohook.ErrRateLimited), http.StatusTooManyRequests, CodeRateLimited, func(err error, r *Reply) {
		r.Message = err.Error()
		if rl, ok := errors.AsType[*autohook.RateLimitError](err); ok {
			r.RetryAfter = rl.Wait
		}
	}},
	{is(context.Canceled), StatusClientClosed, CodeClientClosed, nil},
	{is(autohook.ErrUnavailable), http.StatusServiceUnavailable, CodeUnavailable, func(_ error, r *Reply) {
		r.RetryAfter = autohook.RetryAfter
		r.Message = fmt.Sprintf("the database is unavailable for now, so nothing was changed; retry after %d s", int(autohook.RetryAfter.Seconds()))
	}},
}

// Internal is the answer to an error no row matches, or to a panic: the
// server's fault, whose details go to the log, not to the client.
var Internal = Reply{Status: http.StatusInternalServerError, Code: CodeInternal,
	Message: "something went wrong on our side; the server log has the details"}

// Of returns the answer to err (nil is not an error to answer: Internal).
func Of(err error) Reply {
	for _, row := range table {
		if err != nil && row.match(err) {
			r := Reply{Status: row.status, Code: row.code}
			if row.fill != nil {
				row.fill(err, &r)
			}
			return r
		}
	}
	return Internal
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

// ownWords answers with the error's own text, which says what and why
// ("conflict: the run is already succeeded").
func ownWords(err error, r *Reply) { r.Message = err.Error() }
