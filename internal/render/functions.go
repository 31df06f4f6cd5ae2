package render

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm/runtime"
)

// maxRepeat bounds the result of repeat(s, n) in bytes. expr's own repeat
// bounds n alone, so repeat(s, 1e6) with a long s could allocate gigabytes.
const maxRepeat = 1 << 20

// functions are the functions render adds to expr's builtins. The type
// arguments let the compiler check the number (and, where known, the type)
// of arguments.
var functions = []expr.Option{
	expr.Function("urlencode", urlencode, new(func(any) string)),
	expr.Function("urlEncode", urlEncode, new(func(any) string)),
	expr.Function("toBase64Url", toBase64URL, new(func(any) string)),
	expr.Function("sha256", sha256Hex, new(func(any) string)),
	expr.Function("hmacSHA256", hmacSHA256, new(func(any, any) string)),
	expr.Function("formatDate", formatDate, new(func(any, string) string)),
	expr.Function("coalesce", coalesce, new(func(...any) any)),
	expr.Function("default", defaultValue, new(func(any, any) any)),
	expr.Function("repeat", repeat, new(func(string, int) string)),
	expr.Function(numFunc, computeValue, new(func(any) any)),
}

// urlencode(v) escapes v (as Stringify writes it) for a URL query.
func urlencode(args ...any) (any, error) {
	return url.QueryEscape(Stringify(args[0])), nil
}

// urlEncode(v) percent-encodes v (as Stringify writes it) as RFC 3986
// section 2 says: every byte but the unreserved letters, digits and
// "-._~" as %XX, so a space is %20. It fits a path segment, a query value
// and the strings that signature schemes hash (OAuth 1.0, AWS). urlencode
// is the form encoding of a query (a space is "+").
func urlEncode(args ...any) (any, error) {
	return strings.ReplaceAll(url.QueryEscape(Stringify(args[0])), "+", "%20"), nil
}

// toBase64Url(v) is v (as Stringify writes it) in the URL-safe base64
// alphabet of RFC 4648 section 5, without padding, as JWTs use it.
func toBase64URL(args ...any) (any, error) {
	return base64.RawURLEncoding.EncodeToString([]byte(Stringify(args[0]))), nil
}

// sha256(v) is the SHA-256 of v (as Stringify writes it), in lowercase hex.
func sha256Hex(args ...any) (any, error) {
	sum := sha256.Sum256([]byte(Stringify(args[0])))
	return hex.EncodeToString(sum[:]), nil
}

// hmacSHA256(key, message) is the HMAC-SHA256 of message keyed with key
// (both as Stringify writes them), in lowercase hex: the signature most
// receivers check (GitHub's X-Hub-Signature-256, Stripe, Slack).
func hmacSHA256(args ...any) (any, error) {
	m := hmac.New(sha256.New, []byte(Stringify(args[0])))
	m.Write([]byte(Stringify(args[1])))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// formatDate(v, layout) formats v, a time or a string in RFC 3339 or
// date-only ("2006-01-02") form, with a Go layout. nil formats as "".
func formatDate(args ...any) (any, error) {
	layout, _ := args[1].(string)
	t, ok, err := toTime(args[0])
	if err != nil {
		return nil, fmt.Errorf("formatDate: %w", err)
	}
	if !ok {
		return "", nil
	}
	return t.Format(layout), nil
}

// toTime reads a time value; ok is false for nil.
func toTime(v any) (t time.Time, ok bool, err error) {
	switch v := v.(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return v, true, nil
	case string:
		s := strings.TrimSpace(v)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true, nil
		}
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, true, nil
		}
		return time.Time{}, false, fmt.Errorf("%q is not a date (RFC 3339 or YYYY-MM-DD)", v)
	default:
		return time.Time{}, false, fmt.Errorf("cannot use %s as a date", kindName(v))
	}
}

// coalesce(a, b, ...) returns its first argument that is neither nil nor
// the empty string, or nil.
func coalesce(args ...any) (any, error) {
	for _, a := range args {
		if !isEmpty(a) {
			return a, nil
		}
	}
	return nil, nil
}

// default(v, d) returns v unless it is nil or the empty string, else d.
func defaultValue(args ...any) (any, error) {
	if isEmpty(args[0]) {
		return args[1], nil
	}
	return args[0], nil
}

func isEmpty(v any) bool {
	if s, ok := v.(string); ok {
		return s == ""
	}
	return v == nil
}

// repeat(s, n) is expr's repeat with its result bounded by maxRepeat.
func repeat(args ...any) (any, error) {
	s, _ := args[0].(string)
	n := runtime.ToInt(args[1])
	switch {
	case n < 0:
		return nil, fmt.Errorf("repeat: count must not be negative, got %d", n)
	case n > 0 && len(s) > maxRepeat/n:
		return nil, errors.New("repeat: result would be longer than 1 MiB")
	}
	return strings.Repeat(s, n), nil
}
