package render

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrInvalidURL is wrapped by the errors of a URL that is not an absolute
// http or https URL with a host.
var ErrInvalidURL = errors.New("invalid url")

// URLTemplate is a compiled URL template, safe for concurrent use. It is a
// template whose values are escaped, or checked, by where they land in the
// URL.
type URLTemplate struct {
	t     *Template
	kinds []urlPart // per part of t: where an expression's value lands
	// password: the template writes a password in the URL (user:pw@).
	password bool
}

// urlPart is where an expression's value lands in a URL, as the template's
// literal text says.
type urlPart uint8

const (
	partAfter    urlPart = iota // after the host: path, query or fragment, by what was rendered before it
	partBase                    // first, with no "scheme://" written: the value is the base URL ({secrets.BASE}/orders)
	partScheme                  // before a written "://": http or https
	partUserinfo                // user name or password: escaped
	partLabel                   // part of the host name: one DNS label
	partHost                    // the whole host: a host name or an IP address
	partHostPort                // the whole authority: a host and maybe ":port"
	partPort                    // in the port: digits
)

// CompileURL compiles a URL template. A syntax error is an *Error; a URL
// that is wrong whatever the values (a static URL that does not parse, a
// literal scheme other than http and https, a constant expression that is
// not what its place in the host allows) is an error wrapping
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
	u := &URLTemplate{t: t}
	u.kinds, u.password = urlParts(t.parts)
	// A constant in the host is known now: refuse it at save rather than
	// at every run.
	for i, p := range t.parts {
		if p.expr == nil || p.expr.uses != 0 || u.kinds[i] == partAfter || u.kinds[i] == partBase {
			continue
		}
		v, err := p.expr.run(Env{})
		if err != nil {
			continue // it fails at run time, with its own message
		}
		if _, err := hostValue(u.kinds[i], Stringify(v), p.expr.src); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// urlParts tells, from the template's literal text, where each
// expression's value lands, and whether a password is written in the URL.
func urlParts(parts []part) ([]urlPart, bool) {
	kinds := make([]urlPart, len(parts))
	// The template's skeleton: its literal text, each expression one byte.
	var sk []byte
	pos := make([]int, len(parts))
	for i, p := range parts {
		pos[i] = len(sk)
		if p.expr == nil {
			sk = append(sk, p.lit...)
		} else {
			sk = append(sk, 0)
		}
	}
	end := func(from int) int { // where the authority starting at from ends
		if i := bytes.IndexAny(sk[from:], "/?#"); i >= 0 {
			return from + i
		}
		return len(sk)
	}
	scheme := bytes.Index(sk, []byte("://"))
	if scheme < 0 || scheme >= end(0) {
		// No scheme written: a value at the start is the base URL; the
		// rest lands where the rendered text says.
		if len(parts) > 0 && parts[0].expr != nil {
			kinds[0] = partBase
		}
		return kinds, false
	}
	auth := scheme + 3
	authEnd := end(auth)
	hostStart, at := auth, bytes.LastIndexByte(sk[auth:authEnd], '@')
	password := false
	if at >= 0 {
		at += auth
		hostStart = at + 1
		password = bytes.IndexByte(sk[auth:at], ':') >= 0
	}
	hostEnd := authEnd
	if c := bytes.LastIndexByte(sk[hostStart:authEnd], ':'); c >= 0 && bytes.IndexByte(sk[hostStart+c:authEnd], ']') < 0 {
		hostEnd = hostStart + c
	}
	for i, p := range parts {
		if p.expr == nil {
			continue
		}
		x := pos[i]
		switch {
		case x < scheme:
			kinds[i] = partScheme
		case x >= authEnd:
			kinds[i] = partAfter
		case x < hostStart:
			kinds[i] = partUserinfo
		case x > hostEnd:
			kinds[i] = partPort
		case x == hostStart && x+1 == authEnd:
			kinds[i] = partHostPort
		case x == hostStart && x+1 == hostEnd:
			kinds[i] = partHost
		default:
			kinds[i] = partLabel
		}
	}
	return kinds, password
}

// HasPassword reports whether the template writes a password into the URL
// ("https://user:{secrets.PW}@host/"): it is sent as Basic auth, and kept
// in history only redacted.
func (u *URLTemplate) HasPassword() bool { return u.password }

// HostUses reports whether an expression that lands in the scheme, the
// host or the port (or gives the whole base URL) references the root name
// (such as "record").
func (u *URLTemplate) HostUses(root string) bool {
	for i, p := range u.t.parts {
		if p.expr != nil && u.kinds[i] != partAfter && u.kinds[i] != partUserinfo && p.expr.Uses(root) {
			return true
		}
	}
	return false
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

// Eval renders the URL. A value can never change the authority (user,
// host, port) that the template writes; each is escaped or checked by
// where it lands:
//   - first, with no "scheme://" written, it is the base URL, inserted as
//     it is, so that "{secrets.BASE}/orders" works;
//   - before a written "://" it must be http or https;
//   - in the user name or password it is escaped;
//   - as the whole host it must be a host name or an IP address (and as
//     the whole authority, one with an optional ":port"); as part of the
//     host, one DNS label: letters, digits, "-" and "_" ("{record.sub}.crm.example.com");
//   - in the port, digits;
//   - in the path it is one path segment: "/" becomes %2F, and a value that
//     is "." or ".." is escaped so that it cannot climb the path;
//   - after "?" it is a query value ("&" and "=" escaped);
//   - after "#" it is a fragment.
//
// A value that is not what its place in the host allows fails with
// ErrInvalidURL. The result must parse as an absolute http or https URL
// with a host; it is returned in net/url's canonical form. An evaluation
// error is an *EvalError; an invalid result is an error wrapping
// ErrInvalidURL.
func (u *URLTemplate) Eval(env Env) (string, error) {
	b := make([]byte, 0, len(u.t.src)+64)
	for i, p := range u.t.parts {
		if p.expr == nil {
			b = append(b, p.lit...)
			continue
		}
		v, err := p.expr.run(env)
		if err != nil {
			return "", &EvalError{Source: u.t.src, Err: err}
		}
		s := Stringify(v)
		if k := u.kinds[i]; k != partAfter {
			if s, err = hostValue(k, s, p.expr.src); err != nil {
				return "", err
			}
			b = append(b, s...)
			continue
		}
		switch urlPosition(b) {
		case inBase:
			// After a base URL from a value, the host is still open: a
			// value either ends it ("/path", "?q", "#f") or is one label.
			if s != "" && strings.IndexByte("/?#", s[0]) >= 0 {
				b = append(b, s...)
				continue
			}
			if s, err = hostValue(partLabel, s, p.expr.src); err != nil {
				return "", err
			}
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

// hostValue checks (or, in the user info, escapes) a value that lands in
// part k of the URL's scheme or authority; src names its expression in the
// error, which never repeats the value (it may be a secret).
func hostValue(k urlPart, s, src string) (string, error) {
	bad := func(rule string) (string, error) {
		return "", fmt.Errorf("%w: the value of {%s} %s", ErrInvalidURL, src, rule)
	}
	switch k {
	case partScheme:
		if !strings.EqualFold(s, "http") && !strings.EqualFold(s, "https") {
			return bad("is in the scheme, which must be http or https")
		}
	case partUserinfo:
		return url.User(s).String(), nil
	case partLabel:
		if !isLabel(s) {
			return bad("is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'")
		}
	case partHost:
		if s != "" && !isHost(s) { // no host at all: checkURL says so
			return bad("is the host, so it must be a host name (labels of letters, digits, '-' and '_', separated by dots) or an IP address")
		}
	case partHostPort:
		host, port := s, ""
		if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.HasSuffix(s, "]") {
			host, port = s[:i], s[i+1:]
			if !isPort(port) {
				return bad("is the host and port, so what follows ':' must be a port number")
			}
		}
		if s != "" && !isHost(host) {
			return bad("is the host and port, so it must be a host name (labels of letters, digits, '-' and '_', separated by dots) or an IP address, with an optional ':port'")
		}
	case partPort:
		if !isPort(s) {
			return bad("is in the port, so it must be digits")
		}
	}
	return s, nil
}

// isLabel reports whether s is one DNS label (RFC 1123, ASCII): 1 to 63
// letters, digits or hyphens; underscores too, which internal names (a
// container's) use and which cannot end a host. Anything else, in the host,
// could end it ("/", "?", "#", "@", ":", "\\") or, mapped by IDNA when
// dialled, add a label ("．").
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isHost reports whether s is a host name of DNS labels (a trailing dot
// allowed), an IPv4 address or a bracketed IPv6 address.
func isHost(s string) bool {
	if v6, ok := strings.CutPrefix(s, "["); ok {
		v6, ok = strings.CutSuffix(v6, "]")
		ip, err := netip.ParseAddr(v6)
		return ok && err == nil && ip.Is6() && ip.Zone() == ""
	}
	name := strings.TrimSuffix(s, ".")
	if len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if !isLabel(label) {
			return false
		}
	}
	return true
}

func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
