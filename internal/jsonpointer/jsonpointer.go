// Package jsonpointer implements JSON Pointer (RFC 6901): parsing the string
// form ("/items/0/id", with "~0" for "~" and "~1" for "/") and resolving a
// pointer against a document decoded by encoding/json.
//
// It is written by hand rather than imported: the whole of it is some sixty
// lines, and the libraries that offer it pull in reflection-heavy
// dependencies to walk arbitrary Go values, which Autohook never needs (a
// response body is always decoded into map[string]any and []any).
//
// Only the JSON string representation is accepted, not the URI fragment
// form ("#/foo") of RFC 6901 section 6.
package jsonpointer

import (
	"fmt"
	"strconv"
	"strings"
)

// Pointer is a parsed JSON Pointer. The zero value points at the whole
// document. A Pointer is immutable and safe for concurrent use.
type Pointer struct {
	tokens []string // decoded reference tokens
}

// SyntaxError is returned by Parse for a malformed pointer. Pos is the
// 0-based byte offset of the offending character.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("json pointer: %s at position %d", e.Msg, e.Pos)
}

// Parse parses the string form of a JSON Pointer. The empty string is the
// whole document; any other pointer starts with "/". A "~" must be followed
// by "0" or "1". Errors are *SyntaxError.
func Parse(s string) (Pointer, error) {
	if s == "" {
		return Pointer{}, nil
	}
	if s[0] != '/' {
		return Pointer{}, &SyntaxError{Pos: 0, Msg: `must be empty or start with "/"`}
	}
	tokens := make([]string, 0, strings.Count(s, "/"))
	start := 1 // first byte of the current token
	for i := 1; i <= len(s); i++ {
		if i < len(s) && s[i] == '~' {
			if i+1 == len(s) || (s[i+1] != '0' && s[i+1] != '1') {
				return Pointer{}, &SyntaxError{Pos: i, Msg: `"~" must be followed by "0" or "1"`}
			}
			i++ // the escape's digit is never a separator
			continue
		}
		if i == len(s) || s[i] == '/' {
			tokens = append(tokens, unescape(s[start:i]))
			start = i + 1
		}
	}
	return Pointer{tokens: tokens}, nil
}

// unescape decodes a reference token whose escapes are known to be valid.
// Replacing "~1" before "~0" is what RFC 6901 section 4 asks for: "~01"
// decodes to "~1", not "/".
func unescape(tok string) string {
	if !strings.Contains(tok, "~") {
		return tok
	}
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
}

// MustParse is Parse that panics on error, for pointers known to be valid.
func MustParse(s string) Pointer {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

var escaper = strings.NewReplacer("~", "~0", "/", "~1")

// String returns the pointer's string form. Escapes are mandatory and
// unique, so it equals the string Parse was given.
func (p Pointer) String() string {
	var b strings.Builder
	for _, tok := range p.tokens {
		b.WriteByte('/')
		escaper.WriteString(&b, tok)
	}
	return b.String()
}

// Tokens returns a copy of the decoded reference tokens; none for the whole
// document.
func (p Pointer) Tokens() []string {
	return append([]string(nil), p.tokens...)
}

// Get resolves the pointer in doc, a value decoded by encoding/json
// (map[string]any, []any, string, float64 or json.Number, bool, nil). It
// reports false when the pointer resolves nothing: a missing member, an
// array index that is not a decimal number without leading zeros or is out
// of range, "-" (the element after the last), or a step into a scalar. A
// member that holds JSON null is present: Get returns (nil, true).
func (p Pointer) Get(doc any) (any, bool) {
	cur := doc
	for _, tok := range p.tokens {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, ok := arrayIndex(tok)
			if !ok || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// arrayIndex parses an RFC 6901 array index: "0", or digits without a
// leading zero.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 1 && tok[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < '0' || tok[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(tok)
	return n, err == nil
}
