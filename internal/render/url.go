package render

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrInvalidURL is wrapped by the errors of a URL that is not an absolute
// http or https URL with a host.
var ErrInvalidURL = errors.New("invalid url")

// URLTemplate is a compiled URL template, safe for concurrent use. It is a
// template whose values are escaped by where they land in the URL.
type URLTemplate struct {
	t *Template
}

// CompileURL compiles a URL template. A syntax error is an *Error; a URL
// that is wrong whatever the values (a static URL that does not parse, or a
// literal scheme other than http and https) is an error wrapping
// ErrInvalidURL.
func CompileURL(src string, opts Options) (*URLTemplate, error) {
	t, err := CompileTemplate(src, opts)
	if err != nil {
		return nil, err
	}
	if t.IsStatic() {
		s, _ := t.String(nil)
		if _, err := checkURL(s); err != nil {
			return nil, err
		}
	} else if lit := t.parts[0].lit; t.parts[0].expr == nil {
		if scheme, _, ok := strings.Cut(lit, "://"); ok {
			if err := checkScheme(strings.ToLower(scheme)); err != nil {
				return nil, err
			}
		}
	}
	return &URLTemplate{t: t}, nil
}

// Source returns the template as written.
func (u *URLTemplate) Source() string { return u.t.src }

// Uses reports whether some expression of the template references the root
// name (such as "secrets").
func (u *URLTemplate) Uses(root string) bool { return u.t.Uses(root) }

// ValuesUsing is Template.ValuesUsing for the URL's expressions.
func (u *URLTemplate) ValuesUsing(dst []string, env Env, root string) []string {
	return u.t.ValuesUsing(dst, env, root)
}

// Eval renders the URL. Each value is escaped according to what has been
// rendered before it:
//   - before the path starts (no "://" yet, or no "/" after the host) it is
//     inserted as it is, so that "{secrets.BASE}/orders" works;
//   - in the path it is one path segment: "/" becomes %2F, and a value that
//     is "." or ".." is escaped so that it cannot climb the path;
//   - after "?" it is a query value ("&" and "=" escaped);
//   - after "#" it is a fragment.
//
// The result must parse as an absolute http or https URL with a host; it
// is returned in net/url's canonical form. An evaluation error is an
// *EvalError; an invalid result is an error wrapping ErrInvalidURL.
func (u *URLTemplate) Eval(env Env) (string, error) {
	b := make([]byte, 0, len(u.t.src)+64)
	for _, p := range u.t.parts {
		if p.expr == nil {
			b = append(b, p.lit...)
			continue
		}
		v, err := p.expr.run(env)
		if err != nil {
			return "", &EvalError{Source: u.t.src, Err: err}
		}
		s := Stringify(v)
		switch urlPosition(b) {
		case inBase:
			b = append(b, s...)
		case inPath:
			b = append(b, escapeSegment(s)...)
		case inQuery:
			b = append(b, url.QueryEscape(s)...)
		case inFragment:
			b = append(b, (&url.URL{Fragment: s}).EscapedFragment()...)
		}
	}
	return checkURL(string(b))
}

type position int

const (
	inBase position = iota
	inPath
	inQuery
	inFragment
)

// urlPosition tells where text appended to the rendered prefix b lands.
func urlPosition(b []byte) position {
	switch {
	case bytes.IndexByte(b, '#') >= 0:
		return inFragment
	case bytes.IndexByte(b, '?') >= 0:
		return inQuery
	}
	i := bytes.Index(b, []byte("://"))
	if i >= 0 && bytes.IndexByte(b[i+3:], '/') >= 0 {
		return inPath
	}
	return inBase
}

// escapeSegment escapes s as one path segment.
func escapeSegment(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// checkURL checks a rendered URL and returns its canonical form. Messages
// never repeat the URL: it may hold a secret.
func checkURL(s string) (string, error) {
	if i := strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return "", fmt.Errorf("%w: space or control character at byte %d", ErrInvalidURL, i)
	}
	u, err := url.Parse(s)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return "", fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme == "" {
		return "", fmt.Errorf("%w: must be absolute, starting with http:// or https://", ErrInvalidURL)
	}
	if err := checkScheme(u.Scheme); err != nil {
		return "", err
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: host is missing", ErrInvalidURL)
	}
	return u.String(), nil
}

func checkScheme(scheme string) error {
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("%w: scheme must be http or https, got %q", ErrInvalidURL, scheme)
	}
	return nil
}
