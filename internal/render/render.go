// Package render compiles and evaluates the dynamic text of automations:
// expressions in the expr language (github.com/expr-lang/expr) and brace
// templates, literal text with expressions in braces ("Hello {record.name}").
//
// Everything is compiled once, when an automation is saved, into values that
// are immutable and safe for concurrent use; evaluation then only runs the
// compiled program against an Env. Compile errors are *Error with the byte
// position in the source; evaluation errors are *EvalError naming the
// source.
//
// # Environment
//
// An expression sees exactly the roots of NewEnv: record, previous, fields,
// secrets, trigger, run, steps (maps, looked up dynamically: a missing member is
// nil, and a member of that nil is an evaluation error unless written with
// "?.") and now (the run's time.Time). Any other root name is a compile
// error. now() is the same value as now: expr's builtin that reads the wall
// clock is replaced, so that every expression of a run sees one instant and
// tests can inject the time.
//
// The root body (RootBody) is the request body exactly as sent, a string:
// the webhook client sets it for header values, which are rendered after
// the body; the automation compiler refuses it anywhere else.
//
// # Numbers
//
// JSON numbers live in the environment as json.Number, their text as it
// was read (a record's stored field, a value captured from a response), so
// that a number passed on keeps every digit: 12345678901234567891 would be
// 12345678901234567000 as a float64. Where an expression computes with a
// number it reads it as an int when the text is a whole number that fits
// in 64 bits, else as the nearest float64 (numberValue): arithmetic and
// comparisons work as on any number, and may round beyond 64-bit integers
// and float64's 16 digits; int arithmetic wraps past ±9.2e18, as Go's does.
//
// The compiler decides which is which (numPatcher): it wraps a conversion
// around every value read from the environment that an operator, an index,
// a condition or a computing function uses, and leaves alone the values
// that are only passed on: the whole expression ({fields.id}), `??`,
// the branches of `?:`, array and map literals ({ {id: fields.id} }), the
// body of map(), and the arguments of coalesce, default, string, toJSON,
// len, type, first, last, keys, values, concat, flatten, reverse, and of
// the encoders and hashes below. So "ord-" + string(fields.id),
// urlencode(fields.id) and sha256(fields.id) see every digit, while
// fields.total * 1.2 computes in float64. A map or array that a computation
// reads (sum(fields.items)) is read with its numbers converted, on a copy.
//
// # Functions
//
// All of expr's builtins are available (upper, lower, trim, len, split,
// join, date, duration, toJSON, fromJSON, toBase64, ...); date() reads a
// text without a zone as UTC. Render adds urlencode(v) (a query value, a
// space is "+"), urlEncode(v) (RFC 3986 percent-encoding, a space is
// "%20"), toBase64Url(v) (RFC 4648 URL-safe alphabet, no padding),
// sha256(v) and hmacSHA256(key, message) (lowercase hex), formatDate(v,
// layout), coalesce(a, b, ...) and default(v, d), and replaces repeat(s, n)
// with one whose result is at most 1 MiB. The encoders and hashes read
// their arguments as Stringify writes them. All of them are free of side
// effects.
//
// # Limits
//
// An expression is refused when it is longer than Options.MaxLen bytes or
// has more than Options.MaxNodes syntax nodes; `let` is refused too (no
// automation needs variables, and without them what an expression can do
// is easier to reason about).
//
// # Budget
//
// Every evaluation (a condition, one value, or one template: its parts
// share one budget) runs within a budget, set by Options:
//   - MaxMemory (8 MiB): the bytes of the values it builds: strings made
//     by "+" or by functions, arrays, maps, ranges, each counted when it
//     is built, a value shared between several places ([s, s, s]) once
//     for each place. replace, join, split, splitAfter and repeat refuse a
//     result over the budget before building it (repeat: over 1 MiB);
//   - MaxSteps (200,000): loop iterations of map, filter, all, reduce, ...
//     (counted when the loop starts, so a loop over too many elements does
//     not start) and values built;
//   - MaxTime (1 s): wall time, looked at every 32 steps, when a loop
//     starts and after each large value (a loop whose body takes constant
//     time is bounded by MaxSteps; one whose body may be slow counts each
//     iteration as a step); since a regular expression match cannot be stopped,
//     `matches` refuses a text whose length times the pattern's is over
//     2^26 before it starts;
//   - MaxResult (4 MiB): the size of the result (a template's text).
//
// An evaluation over budget fails with a *BudgetError (wrapped in the
// *EvalError; errors.Is(err, ErrBudget)) that names the limit. A panic
// inside an evaluation is an error too. Since one builtin may allocate a
// few times its input before its result is counted, an evaluation
// allocates at most a small multiple of MaxMemory.
//
// The error of an expression that reads secrets does not repeat expr's
// message, which may quote a value computed from a secret
// (int(upper(secrets.KEY)) would show the key upper-cased); budget errors,
// which quote nothing, are shown.
package render

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Defaults of Options.
const (
	DefaultMaxNodes uint = 1000
	DefaultMaxLen   int  = 4096
)

// Options limit what an expression may be, and what one evaluation may
// use (see "Budget" in the package doc). The zero value means the
// defaults.
type Options struct {
	// MaxNodes is the largest number of syntax nodes of one expression;
	// 0 means DefaultMaxNodes.
	MaxNodes uint
	// MaxLen is the largest length in bytes of one expression (the text
	// between the braces of a template); 0 or less means DefaultMaxLen.
	MaxLen int
	// MaxMemory is the bytes of values one evaluation may build; 0 or
	// less means DefaultMaxMemory.
	MaxMemory int
	// MaxResult is the largest result of one evaluation in bytes (a
	// template's text, an expression's value as Stringify would write
	// it, roughly); 0 or less means DefaultMaxResult.
	MaxResult int
	// MaxSteps is the number of loop iterations and values built one
	// evaluation may take; 0 or less means DefaultMaxSteps.
	MaxSteps int
	// MaxTime bounds the wall time of one evaluation; 0 or less means
	// DefaultMaxTime.
	MaxTime time.Duration
	// Shape, when set, is what is known of the values expressions read:
	// every expression is also checked against it (see Shape).
	Shape *Shape
}

func (o Options) maxNodes() uint {
	if o.MaxNodes == 0 {
		return DefaultMaxNodes
	}
	return o.MaxNodes
}

func (o Options) maxLen() int {
	if o.MaxLen <= 0 {
		return DefaultMaxLen
	}
	return o.MaxLen
}

// Error is a compile error: Pos is the 0-based byte offset in the source
// (of the template, for a template) where the problem is.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("position %d: %s", e.Pos, e.Msg)
}

// EvalError is a run-time evaluation error. Source is the template or
// expression that failed.
type EvalError struct {
	Source string
	Err    error
}

func (e *EvalError) Error() string {
	msg := e.Err.Error()
	var fe *file.Error
	if errors.As(e.Err, &fe) {
		msg = fe.Message // without expr's multi-line snippet
	}
	return fmt.Sprintf("evaluate %q: %s", e.Source, msg)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Env is what expressions evaluate against. Build it with NewEnv.
type Env = map[string]any

// Root names of the environment.
const (
	RootRecord   = "record"
	RootPrevious = "previous"
	RootFields   = "fields"
	RootSecrets  = "secrets"
	RootTrigger  = "trigger"
	RootRun      = "run"
	RootNow      = "now"
	// RootSteps holds the outcome of each earlier step of a run, by step
	// id: {"ok", "status", "error", "skipped"} (see StepKeys).
	RootSteps = "steps"
	// RootBody is the request body exactly as sent, a string, for header
	// values only (a signature over the body); Env holds it only there.
	RootBody = "body"
)

// roots lists the root names; a root's index is its bit in a uses mask.
var roots = [...]string{RootRecord, RootPrevious, RootFields, RootSecrets, RootTrigger, RootRun, RootNow, RootSteps, RootBody}

// NewEnv returns the environment of one evaluation. previous (or any map)
// may be nil. The values of secrets must be the plaintext strings.
//
// An Env also holds the budget of the evaluation that uses it, so it
// serves one evaluation at a time: do not evaluate with one Env on two
// goroutines at once.
func NewEnv(record, previous, fields, secrets, trigger, run map[string]any, now time.Time) Env {
	return Env{
		meterKey:     new(meter),
		RootRecord:   record,
		RootPrevious: previous,
		RootFields:   fields,
		RootSecrets:  secrets,
		RootTrigger:  trigger,
		RootRun:      run,
		RootNow:      now,
		RootSteps:    map[string]any{},
	}
}

// typeEnv declares the shape of Env to the compiler: the maps are
// map[string]any, so member access is dynamic, and unknown roots are
// compile errors.
var typeEnv = func() Env {
	e := NewEnv(nil, nil, nil, nil, nil, nil, time.Time{})
	e[RootBody] = ""
	return e
}()

// Expr is a compiled expression, safe for concurrent use.
type Expr struct {
	src     string
	prog    *vm.Program
	uses    uint16 // bit i: roots[i] is referenced (len(roots) <= 16)
	lim     limits
	metered bool // the program counts what it builds and its loops
}

// CompileExpr compiles a bare expression (a condition, say: no braces). An
// error is an *Error whose position is a byte offset into src.
func CompileExpr(src string, opts Options) (*Expr, error) {
	return compileExpr(src, 0, opts)
}

// compileExpr compiles src, which starts at byte offset base of the text the
// user wrote; error positions are offsets into that text.
func compileExpr(src string, base int, opts Options) (*Expr, error) {
	if len(src) > opts.maxLen() {
		return nil, &Error{Pos: base, Msg: fmt.Sprintf("expression is longer than %d bytes", opts.maxLen())}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Pos: base, Msg: "empty expression"}
	}
	np, mp := &nowPatcher{}, &meterPatcher{}
	prog, err := expr.Compile(src, compileOptions(opts, np, mp)...)
	if err != nil {
		return nil, compileError(src, base, opts, np, err)
	}
	e := &Expr{src: src, prog: prog, lim: opts.limits(), metered: mp.used}
	node := prog.Node()
	lv := &letVisitor{}
	ast.Walk(&node, lv)
	if lv.found != nil {
		return nil, &Error{Pos: base + byteOffset(src, lv.found.Location().From),
			Msg: "let is not allowed: a variable can double a value at every step, and expressions must stay small"}
	}
	ast.Walk(&node, &rootVisitor{uses: &e.uses})
	if opts.Shape != nil {
		if err := opts.Shape.check(node, src, base, opts); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// letVisitor finds a `let` declaration. They were refused when nothing
// counted string bytes (twenty lets of `v + v` made a megabyte string into
// a terabyte); the budget now bounds them, but no automation has needed
// one, so they stay out.
type letVisitor struct{ found ast.Node }

func (v *letVisitor) Visit(node *ast.Node) {
	if _, ok := (*node).(*ast.VariableDeclaratorNode); ok && v.found == nil {
		v.found = *node
	}
}

// compileOptions returns the expr options of every compilation.
func compileOptions(opts Options, np *nowPatcher, mp *meterPatcher) []expr.Option {
	budget := budgetOptions(opts.limits(), mp)
	o := make([]expr.Option, 0, 4+len(functions)+len(budget))
	o = append(o,
		expr.Env(typeEnv),
		expr.MaxNodes(opts.maxNodes()),
		expr.Patch(np),
		expr.Patch(numPatcher{}),
	)
	o = append(o, functions...)
	return append(o, budget...) // last: the meter patcher wraps what the others made
}

// compileError turns an expr compile error into an *Error.
func compileError(src string, base int, opts Options, np *nowPatcher, err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &Error{Pos: base, Msg: err.Error()}
	}
	msg, from := humanize(src, fe.Message, fe.From)
	pos := base + byteOffset(src, from)
	switch {
	case np.badCall != nil:
		msg = "now is the run's time and takes no arguments (use now.In(timezone(\"Europe/Paris\")) for another zone)"
		pos = base + byteOffset(src, np.badCall.Location().From)
	case strings.Contains(msg, "exceeds maximum allowed nodes"):
		msg = fmt.Sprintf("expression is too complex (more than %d nodes)", opts.maxNodes())
	case strings.HasPrefix(msg, "unknown name "):
		msg = unknownName(strings.TrimPrefix(msg, "unknown name "))
	}
	return &Error{Pos: pos, Msg: msg}
}

// byteOffset converts an offset in runes, as expr reports it, into bytes.
func byteOffset(s string, runes int) int {
	i := 0
	for n := 0; n < runes && i < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}

// nowPatcher turns now() into the environment's now. It records a call of
// now with arguments, which the checker then refuses, to explain it.
type nowPatcher struct {
	badCall ast.Node
}

func (p *nowPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != RootNow {
		return
	}
	if len(call.Arguments) > 0 {
		p.badCall = call
		return
	}
	ast.Patch(node, &ast.IdentifierNode{Value: RootNow})
}

// rootVisitor records which roots an expression references. $env can reach
// every root, so it counts as all of them.
type rootVisitor struct {
	uses *uint16
}

func (v *rootVisitor) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if id.Value == "$env" {
		*v.uses = 1<<len(roots) - 1
		return
	}
	for i, r := range roots {
		if id.Value == r {
			*v.uses |= 1 << i
		}
	}
}

// Source returns the expression as written.
func (e *Expr) Source() string { return e.src }

// Uses reports whether the expression references the root name (such as
// "secrets").
func (e *Expr) Uses(root string) bool { return usesRoot(e.uses, root) }

func usesRoot(mask uint16, root string) bool {
	for i, r := range roots {
		if r == root {
			return mask&(1<<i) != 0
		}
	}
	return false
}

// Eval evaluates the expression. An error is an *EvalError.
func (e *Expr) Eval(env Env) (any, error) {
	v, err := e.run(env)
	if err != nil {
		return nil, &EvalError{Source: e.src, Err: err}
	}
	return v, nil
}

// EvalBool evaluates a condition. A result that is not a boolean is an
// error ("condition must be a boolean, got string"). An error is an
// *EvalError.
func (e *Expr) EvalBool(env Env) (bool, error) {
	v, err := e.run(env)
	if err != nil {
		return false, &EvalError{Source: e.src, Err: err}
	}
	b, ok := v.(bool)
	if !ok {
		return false, &EvalError{Source: e.src, Err: fmt.Errorf("condition must be a boolean, got %s", kindName(v))}
	}
	return b, nil
}

var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// run evaluates the expression within its budget. When a template holds
// the env's meter (its parts share one budget) the meter goes on counting;
// otherwise this is an evaluation of its own.
func (e *Expr) run(env Env) (any, error) {
	if e.metered {
		if env == nil {
			env = Env{}
		}
		if m := meterOf(env); !m.held {
			m.reset(e.lim)
		}
	}
	out, err := e.exec(env)
	if err == nil && resultSize(out, e.lim.result, e.metered) > e.lim.result {
		err = &BudgetError{Limit: LimitResult, Max: e.lim.result}
	}
	if err != nil {
		return nil, e.runError(err)
	}
	return out, nil
}

// resultSize is the size of a result: a string's length, else, for a
// program that builds values, sizeOf. A program that builds nothing
// returns a literal or a value of its environment as it is (bounded by
// what a record may hold), which is not worth measuring on every
// evaluation.
func resultSize(v any, limit int, builds bool) int {
	if s, ok := v.(string); ok {
		return len(s)
	}
	if !builds {
		return 0
	}
	return sizeOf(v, limit)
}

// runError returns the error of a failed evaluation: over budget, a
// BudgetError; for an expression that reads secrets, the message hidden,
// since expr's messages quote values ("int(upper(secrets.KEY))" would
// show the key upper-cased).
func (e *Expr) runError(err error) error {
	if be, ok := budgetError(err, e.lim); ok {
		return be
	}
	if usesRoot(e.uses, RootSecrets) {
		return errSecretHidden
	}
	return err
}

// errSecretHidden stands for the error of an expression that reads
// secrets.
var errSecretHidden = errors.New("the expression reads secrets, so its error message is hidden (it could quote a value computed from a secret)")

// exec runs the program on a pooled VM: expr.Run would allocate a VM, its
// stack and variables on every call. A panic is an error: evaluation never
// takes the process down.
func (e *Expr) exec(env Env) (out any, err error) {
	m := vmPool.Get().(*vm.VM)
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("evaluation failed: %v", r)
		}
		// Drop references to this run's values before pooling the VM.
		clear(m.Stack[:cap(m.Stack)])
		clear(m.Scopes[:cap(m.Scopes)])
		clear(m.Variables)
		vmPool.Put(m)
	}()
	m.MemoryBudget = e.lim.elements()
	return m.Run(e.prog, env)
}
