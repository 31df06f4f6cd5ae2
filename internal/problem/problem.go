// Package problem provides validation problems that name the exact path of the
// input they are about (`steps[0].headers[1].value`), so that every API error
// can say which field is wrong and why.
package problem

import (
	"errors"
	"fmt"
	"strings"
)

// Problem is one thing wrong with an input, at a path.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	// Position is, for a problem inside a text (an expression or a
	// template), the 0-based byte offset in the value at Path where it
	// is, so that a form can point at it.
	Position *int `json:"position,omitempty"`
}

// List collects problems. The zero value is ready to use.
type List []Problem

// Add records a problem at path.
func (l *List) Add(path, format string, args ...any) {
	*l = append(*l, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// AddAt records a problem at byte offset pos of the text at path.
func (l *List) AddAt(path string, pos int, format string, args ...any) {
	*l = append(*l, Problem{Path: path, Message: fmt.Sprintf(format, args...), Position: &pos})
}

// Err returns nil when the list is empty, else an *Error holding it.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return &Error{Problems: l}
}

// Error is a validation failure: one or more problems.
type Error struct {
	Problems List
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if p.Path != "" {
			b.WriteString(p.Path)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// New returns an *Error with a single problem.
func New(path, format string, args ...any) *Error {
	var l List
	l.Add(path, format, args...)
	return &Error{Problems: l}
}

// Join returns the path of a child: Join("steps", 0, "url") is "steps[0].url".
// Strings are joined with dots, ints become indices.
func Join(parts ...any) string {
	var b strings.Builder
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", v)
		case string:
			if v == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(v)
		default:
			panic(fmt.Sprintf("problem.Join: unsupported part %T", p))
		}
	}
	return b.String()
}

// Prefix puts prefix in front of the path of every problem of err (when it
// holds a *Error), for input nested in a larger document; err is returned.
func Prefix(prefix string, err error) error {
	var perr *Error
	if errors.As(err, &perr) {
		for i := range perr.Problems {
			perr.Problems[i].Path = Join(prefix, perr.Problems[i].Path)
		}
	}
	return err
}
