package render

import (
	"strings"
)

// Template is a compiled brace template, safe for concurrent use.
//
// Syntax: literal text with expressions in braces, "Order {record.id}".
// In literal text "{{" and "}}" are literal braces, and a lone "}" is an
// error. Inside an expression braces nest (expr map literals such as
// {a: 1}) and string literals and comments are skipped, so
// "{ {'a}': 1}['a}'] }" is one expression.
type Template struct {
	src     string
	parts   []part
	uses    uint16 // union of the parts' Expr.uses
	lim     limits
	metered bool // some part needs a meter
}

// part is literal text or one expression.
type part struct {
	lit  string
	expr *Expr // nil for literal text
}

// CompileTemplate compiles a template. An error is an *Error whose position
// is a byte offset into src.
func CompileTemplate(src string, opts Options) (*Template, error) {
	t := &Template{src: src, lim: opts.limits()}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '{' && i+1 < len(src) && src[i+1] == '{',
			c == '}' && i+1 < len(src) && src[i+1] == '}':
			lit.WriteByte(c)
			i++
		case c == '}':
			return nil, &Error{Pos: i, Msg: "unmatched '}' (write '}}' for a literal brace)"}
		case c == '{':
			end, err := exprEnd(src, i)
			if err != nil {
				return nil, err
			}
			if strings.TrimSpace(src[i+1:end]) == "" {
				return nil, &Error{Pos: i, Msg: "empty expression (write '{{' for a literal brace)"}
			}
			e, err := compileExpr(src[i+1:end], i+1, opts)
			if err != nil {
				return nil, err
			}
			flush()
			t.parts = append(t.parts, part{expr: e})
			t.uses |= e.uses
			t.metered = t.metered || e.metered
			i = end
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return t, nil
}

// exprEnd returns the index of the '}' that closes the expression opened by
// the '{' at src[open].
func exprEnd(src string, open int) (int, error) {
	depth := 0
	for i := open + 1; i < len(src); i++ {
		switch c := src[i]; c {
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i, nil
			}
			depth--
		case '\'', '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return 0, &Error{Pos: i, Msg: "unterminated string"}
			}
			i = j
		case '`':
			// A raw string has no escapes; its doubled backtick reads here
			// as a close and a reopen, which skips the same text.
			j := strings.IndexByte(src[i+1:], '`')
			if j < 0 {
				return 0, &Error{Pos: i, Msg: "unterminated string"}
			}
			i += j + 1
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				j := strings.IndexByte(src[i:], '\n')
				if j < 0 {
					return 0, &Error{Pos: open, Msg: "unclosed '{': a // comment runs to the end of the line (write '{{' for a literal brace)"}
				}
				i += j
			} else if i+1 < len(src) && src[i+1] == '*' {
				j := strings.Index(src[i+2:], "*/")
				if j < 0 {
					return 0, &Error{Pos: i, Msg: "unterminated comment"}
				}
				i += j + 3
			}
		}
	}
	return 0, &Error{Pos: open, Msg: "unclosed '{' (write '{{' for a literal brace)"}
}

// Source returns the template as written.
func (t *Template) Source() string { return t.src }

// IsStatic reports whether the template has no expressions.
func (t *Template) IsStatic() bool {
	return len(t.parts) == 0 || len(t.parts) == 1 && t.parts[0].expr == nil
}

// Uses reports whether some expression of the template references the root
// name (such as "secrets"). $env counts as every root.
func (t *Template) Uses(root string) bool { return usesRoot(t.uses, root) }

// ValuesUsing appends to dst the values, as Stringify writes them, of the
// template's expressions that reference root. The webhook client uses it to
// learn what was computed from secrets (toBase64(user + ":" + secrets.PW)),
// which history must hide like the secrets themselves. An expression that
// fails to evaluate is skipped: the template's own evaluation reports it.
func (t *Template) ValuesUsing(dst []string, env Env, root string) []string {
	if !t.Uses(root) {
		return dst
	}
	for _, p := range t.parts {
		if p.expr == nil || !p.expr.Uses(root) {
			continue
		}
		if v, err := p.expr.run(env); err == nil {
			dst = append(dst, Stringify(v))
		}
	}
	return dst
}

// Eval evaluates the template. A template that is exactly one expression,
// without any literal text around it (not even a space), gives the
// expression's value as it is; any other gives a string. An error is an
// *EvalError.
func (t *Template) Eval(env Env) (any, error) {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		v, err := t.parts[0].expr.run(env)
		if err != nil {
			return nil, &EvalError{Source: t.src, Err: err}
		}
		return v, nil
	}
	return t.String(env)
}

// String evaluates the template into a string, inserting each value as
// Stringify writes it. The parts share one budget, and the text is at most
// the result limit. An error is an *EvalError.
func (t *Template) String(env Env) (string, error) {
	switch {
	case len(t.parts) == 0:
		return "", nil
	case len(t.parts) == 1 && t.parts[0].expr == nil:
		return t.parts[0].lit, nil
	case len(t.parts) == 1:
		v, err := t.parts[0].expr.run(env)
		if err != nil {
			return "", &EvalError{Source: t.src, Err: err}
		}
		s := Stringify(v)
		if len(s) > t.lim.result {
			return "", t.tooLong()
		}
		return s, nil
	}
	if t.metered {
		if env == nil {
			env = Env{}
		}
		m := meterOf(env)
		m.reset(t.lim)
		m.held = true
		defer func() { m.held = false }()
	}
	b := make([]byte, 0, len(t.src)+32)
	for _, p := range t.parts {
		if p.expr == nil {
			b = append(b, p.lit...)
			continue
		}
		v, err := p.expr.run(env)
		if err != nil {
			return "", &EvalError{Source: t.src, Err: err}
		}
		if b = appendStringify(b, v); len(b) > t.lim.result {
			return "", t.tooLong()
		}
	}
	return string(b), nil
}

// tooLong is the error of a text longer than the result limit.
func (t *Template) tooLong() error {
	return &EvalError{Source: t.src, Err: &BudgetError{Limit: LimitResult, Max: t.lim.result}}
}
