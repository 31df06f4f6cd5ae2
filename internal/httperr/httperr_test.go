package httperr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/strictjson"
)

// The table, row by row: each error (wrapped, as the operations return
// them) gets its status, code, message and details; TestEveryRowIsTested
// makes sure no row goes untested.
var cases = []struct {
	name string
	err  error
	want Reply
}{
	{"validation problems", fmt.Errorf("save: %w", problem.New("steps[0].url", "is required")),
		Reply{Status: 422, Code: "validation_failed", Message: "steps[0].url: is required", Problems: []problem.Problem{{Path: "steps[0].url", Message: "is required"}}}},
	{"a problem wins over a sentinel beside it", fmt.Errorf("%w; %w", problem.New("name", "is taken"), autohook.ErrConflict),
		Reply{Status: 422, Code: "validation_failed", Message: "name: is taken", Problems: []problem.Problem{{Path: "name", Message: "is taken"}}}},
	{"malformed JSON", &strictjson.SyntaxError{Line: 2, Column: 5, Msg: "unexpected end of input"},
		Reply{Status: 400, Code: "bad_request", Message: "malformed JSON at line 2, column 5: unexpected end of input"}},
	{"body too large", fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: 1 << 20}),
		Reply{Status: 413, Code: "too_large", Message: "the request body is larger than 1048576 bytes", Limit: 1 << 20}},
	{"unauthorized", autohook.ErrUnauthorized,
		Reply{Status: 401, Code: "unauthorized", Message: "unauthorized"}},
	{"forbidden", fmt.Errorf("%w: only the instance admin can create organisations", autohook.ErrForbidden),
		Reply{Status: 403, Code: "forbidden", Message: "forbidden: only the instance admin can create organisations"}},
	{"not found, bare", autohook.ErrNotFound,
		Reply{Status: 404, Code: "not_found", Message: "not found"}},
	{"not found, saying what", fmt.Errorf("%w: automation aut_1 has no version 9", autohook.ErrNotFound),
		Reply{Status: 404, Code: "not_found", Message: "not found: automation aut_1 has no version 9"}},
	{"conflict", fmt.Errorf("%w: the run is already succeeded", autohook.ErrConflict),
		Reply{Status: 409, Code: "conflict", Message: "conflict: the run is already succeeded"}},
	{"bad input", fmt.Errorf("%w: invalid cursor", autohook.ErrBadInput),
		Reply{Status: 400, Code: "bad_request", Message: "bad input: invalid cursor"}},
	{"rate limited", &autohook.RateLimitError{Message: "too many requests for this API key; retry after 2 s", Wait: 1500 * time.Millisecond},
		Reply{Status: 429, Code: "rate_limited", Message: "too many requests for this API key; retry after 2 s", RetryAfter: 1500 * time.Millisecond}},
	{"rate limited, bare", autohook.ErrRateLimited,
		Reply{Status: 429, Code: "rate_limited", Message: "rate limited"}},
	{"client gone", fmt.Errorf("list runs: %w", context.Canceled),
		Reply{Status: StatusClientClosed, Code: "client_closed"}},
	{"database unavailable", fmt.Errorf("create record: insert: %w", autohook.ErrUnavailable),
		Reply{Status: 503, Code: "unavailable", Message: "the database is unavailable for now, so nothing was changed; retry after 5 s", RetryAfter: 5 * time.Second}},
	{"anything else", errors.New("index out of range"),
		Reply{Status: 500, Code: "internal", Message: "something went wrong on our side; the server log has the details"}},
	{"no error", nil,
		Reply{Status: 500, Code: "internal", Message: "something went wrong on our side; the server log has the details"}},
}

func TestOf(t *testing.T) {
	t.Parallel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, Of(c.err)); d != "" {
				t.Errorf("Of(%v) (-want +got):\n%s", c.err, d)
			}
		})
	}
}

// TestEveryRowIsTested fails when a row of the table has no case above:
// add one when you add a row.
func TestEveryRowIsTested(t *testing.T) {
	t.Parallel()
	tested := make([]bool, len(table))
	for _, c := range cases {
		for i, r := range table {
			if c.err != nil && r.match(c.err) {
				tested[i] = true
				break
			}
		}
	}
	for i, ok := range tested {
		if !ok {
			t.Errorf("row %d (%d %s) of the table has no case in TestOf", i, table[i].status, table[i].code)
		}
	}
}

// Every status the table answers is a real HTTP status, but for the one
// that is never sent.
func TestStatuses(t *testing.T) {
	t.Parallel()
	for _, r := range table {
		if r.status != StatusClientClosed && http.StatusText(r.status) == "" {
			t.Errorf("row %s: status %d is not an HTTP status", r.code, r.status)
		}
	}
}
