package store

import (
	"context"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/autohook/autohook/internal/problem"
)

// Text no row can hold.
//
// PostgreSQL refuses text holding a NUL byte or bytes that are not UTF-8,
// even to compare it with, and a refused statement aborts its whole
// transaction: every later call of a group-commit batch would fail. SQLite
// takes such text. So that both databases answer alike, and a refusal never
// reaches PostgreSQL, every statement's arguments are checked before it is
// sent (checkText):
//
//   - a value to be written (an INSERT's, an UPDATE's SET) holding such text
//     is invalid input, errBadText, and nothing is written;
//   - a condition holding it matches no row, since no row holds such text:
//     NULL is sent in its place, which matches nothing either (every
//     condition in this package is an equality, a comparison or an IN list).
//
// Cursors are checked where they are decoded (Page.after); error messages,
// which quote whatever failed, are made valid (validMessage) rather than
// refused.

// textChecked is a querier whose statements' arguments are checked
// (checkText) before they are sent.
type textChecked struct{ querier }

func (q textChecked) exec(ctx context.Context, query string, args ...any) (int64, error) {
	args, err := checkText(query, args, true)
	if err != nil {
		return 0, err
	}
	return q.querier.exec(ctx, query, args...)
}

func (q textChecked) execLater(ctx context.Context, query string, args ...any) error {
	return q.execExpect(ctx, nil, query, args...)
}

// execExpect checks a SELECT that must find a row as a read. A condition
// holding text no row can hold matches nothing: the statement fails with
// failAs without being sent, so that on PostgreSQL it does not abort the
// transaction (pipeline.go) for a row nobody could have written.
func (q textChecked) execExpect(ctx context.Context, failAs error, query string, args ...any) error {
	checked, err := checkText(query, args, failAs == nil)
	if err != nil {
		return err
	}
	if failAs != nil && nulled(args, checked) {
		return failAs
	}
	return q.querier.execExpect(ctx, failAs, query, checked...)
}

// nulled reports whether checkText sent NULL in place of one of args.
func nulled(args, checked []any) bool {
	for i := range args {
		if args[i] != nil && checked[i] == nil {
			return true
		}
	}
	return false
}

func (q textChecked) query(ctx context.Context, query string, args ...any) (rows, error) {
	args, err := checkText(query, args, false)
	if err != nil {
		return nil, err
	}
	return q.querier.query(ctx, query, args...)
}

func (q textChecked) queryRow(ctx context.Context, query string, args ...any) row {
	args, err := checkText(query, args, false)
	if err != nil {
		return errRow{err}
	}
	return q.querier.queryRow(ctx, query, args...)
}

// errRow is a row that could not be read.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// errBadText is a NUL byte or invalid UTF-8 in a value to be stored.
var errBadText = problem.New("", "text must be valid UTF-8 without NUL bytes")

// validText reports whether every database can hold s.
func validText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// validMessage makes s valid text, each NUL byte and run of invalid bytes
// replaced by U+FFFD.
func validMessage(s string) string {
	if validText(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// checkText returns args for query with every condition holding text no row
// can hold replaced by nil, or errBadText if a value does. exec is whether
// the statement runs for its effect (a SELECT run so takes its arguments as
// values: pg_advisory_xact_lock's name).
func checkText(query string, args []any, exec bool) ([]any, error) {
	var out []any
	for i, a := range args {
		s, ok := text(a)
		if !ok || validText(s) {
			continue
		}
		if i < valueArgs(query, exec) {
			return nil, errBadText
		}
		if out == nil {
			out = slices.Clone(args)
		}
		out[i] = nil
	}
	if out == nil {
		return args, nil
	}
	return out, nil
}

// text returns an argument's text, if it is text: a string, or a string
// type such as automation.Status.
func text(a any) (string, bool) {
	switch v := a.(type) {
	case string:
		return v, true
	case nil, int, int64, bool:
		return "", false
	}
	if v := reflect.ValueOf(a); v.Kind() == reflect.String {
		return v.String(), true
	}
	return "", false
}

var whereClause = regexp.MustCompile(`\sWHERE\s`)

// valueArgs is how many of a statement's first arguments are values to be
// written: all of an INSERT's, those before an UPDATE's WHERE, all of a
// SELECT run for its effect, none of a read's or a DELETE's.
func valueArgs(query string, exec bool) int {
	verb, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	switch strings.ToUpper(verb) {
	case "INSERT":
		return len(query)
	case "UPDATE":
		if loc := whereClause.FindStringIndex(query); loc != nil {
			return strings.Count(query[:loc[0]], "?")
		}
		return len(query)
	case "DELETE":
		return 0
	}
	if exec {
		return len(query)
	}
	return 0
}
