package render

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser/lexer"
)

// The parser and checker of expr speak of tokens ("unexpected token
// Operator(\">\")") and Go types ("mismatched types string and int"). The
// functions here say the same for the people who write automations:
// "expected a value after `>`", "`>` cannot compare text with a number".
// They are hand-written because expr's messages are its own; each case
// keeps expr's position, or moves it to the token the message names.

var (
	unexpectedToken = regexp.MustCompile(`^unexpected token (\w+)(?:\("(.*)"\))?$`)
	mismatched      = regexp.MustCompile(`^invalid operation: (\S+) \(mismatched types (\S+) and (\S+)\)$`)
	jsonKey         = regexp.MustCompile(`^\s*("[^"]*"|'[^']*')\s*:`)
)

// humanize rewrites an expr compile error of src for people. pos is the
// error's offset in runes (as expr reports it); the result's pos is too.
func humanize(src string, msg string, pos int) (string, int) {
	if jsonKey.MatchString(src) {
		return "this looks like JSON, but braces in a template start an expression: write {{ and }} for literal braces, " +
			"or, in a json body field, give the whole value as a JSON object (sent as written) or one expression such as { {\"source\": record.source} }", 0
	}
	toks, _ := lexer.Lex(file.NewSource(src)) // the tokens before a lexer error are enough
	prev := func() (lexer.Token, bool) {      // the last token that starts before pos
		var found lexer.Token
		ok := false
		for _, t := range toks {
			if t.Kind == lexer.EOF || t.From >= pos {
				break
			}
			found, ok = t, true
		}
		return found, ok
	}
	if m := unexpectedToken.FindStringSubmatch(msg); m != nil {
		kind, value := lexer.Kind(m[1]), m[2]
		p, hasPrev := prev()
		if kind == lexer.EOF {
			p, hasPrev = last(toks)
			if open, at := unclosed(toks); open != "" {
				return fmt.Sprintf("%s is not closed: add %s", quote(open), quote(closing[open])), at
			}
			if hasPrev && expectsValue(p) {
				return fmt.Sprintf("expected a value after %s", quote(p.Value)), p.From
			}
			return "the expression ends too early", pos
		}
		switch {
		case kind == lexer.Operator && value == "=":
			return "= is not an operator here: to compare, write ==", pos
		case kind == lexer.Bracket && strings.Contains(")]}", value):
			return fmt.Sprintf("%s has no matching %s", quote(value), quote(opening[value])), pos
		case hasPrev && expectsValue(p):
			return fmt.Sprintf("expected a value after %s, found %s", quote(p.Value), quote(value)), pos
		case hasPrev:
			return fmt.Sprintf("expected an operator (such as ==, +, and) or the end before %s", quote(value)), pos
		}
		return fmt.Sprintf("%s cannot start an expression", quote(value)), pos
	}
	if m := mismatched.FindStringSubmatch(msg); m != nil {
		verb := "cannot combine"
		switch m[1] {
		case "<", ">", "<=", ">=", "==", "!=":
			verb = "cannot compare"
		}
		return fmt.Sprintf("%s %s %s with %s", quote(m[1]), verb, typeWords(m[2]), typeWords(m[3])), pos
	}
	switch {
	case msg == "unexpected end of expression":
		if p, ok := last(toks); ok && p.Is(lexer.Operator, ".", "?.") {
			return fmt.Sprintf("expected a name after %s", quote(p.Value)), p.From
		}
		return "the expression ends too early", pos
	case msg == "literal not terminated":
		return "this text (string) is not closed: end it with the quote it starts with", pos
	}
	return msg, pos
}

// last returns the last token before the end.
func last(toks []lexer.Token) (lexer.Token, bool) {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].Kind != lexer.EOF {
			return toks[i], true
		}
	}
	return lexer.Token{}, false
}

var (
	closing = map[string]string{"(": ")", "[": "]", "{": "}"}
	opening = map[string]string{")": "(", "]": "[", "}": "{"}
)

// unclosed returns the innermost bracket left open, and its offset.
func unclosed(toks []lexer.Token) (string, int) {
	type open struct {
		v  string
		at int
	}
	var stack []open
	for _, t := range toks {
		if t.Kind != lexer.Bracket {
			continue
		}
		switch t.Value {
		case "(", "[", "{":
			stack = append(stack, open{t.Value, t.From})
		default:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return "", 0
	}
	return stack[len(stack)-1].v, stack[len(stack)-1].at
}

// expectsValue reports whether a value must follow the token: an operator
// (but a closing one), an opening bracket or a comma.
func expectsValue(t lexer.Token) bool {
	switch t.Kind {
	case lexer.Operator:
		return t.Value != "." && t.Value != "?."
	case lexer.Bracket:
		return t.Value == "(" || t.Value == "[" || t.Value == "{"
	}
	return false
}

func quote(s string) string { return "`" + s + "`" }

// typeWords names a Go type as people know it.
func typeWords(t string) string {
	switch t {
	case "string":
		return "text"
	case "int", "int64", "float64", "float32", "json.Number":
		return "a number"
	case "bool":
		return "a boolean (true or false)"
	case "time.Time":
		return "a time"
	case "time.Duration":
		return "a duration"
	case "<nil>", "nil":
		return "nothing (nil)"
	}
	if strings.HasPrefix(t, "map[") {
		return "an object"
	}
	if strings.HasPrefix(t, "[]") {
		return "a list"
	}
	return t
}

// unknownName explains a name that is neither a root nor a function.
func unknownName(name string) string {
	names := roots[:len(roots)-1] // body only in header values
	msg := "unknown name " + quote(name)
	if near := nearest(name, names[:]); near != "" {
		msg += ": did you mean " + near + "?"
	}
	return msg + " (names: " + strings.Join(names[:], ", ") + "; body in header values)"
}
