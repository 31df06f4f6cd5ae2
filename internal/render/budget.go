package render

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
)

// The evaluation budget.
//
// expr (v1.17) bounds an evaluation by the number of elements of the
// arrays, maps and ranges it makes (vm.VM.MemoryBudget) and nothing else:
// not the bytes of strings ("+", upper, replace, toJSON...), not values
// shared between several places ([s, s, s]), not the time. It has no
// operation counter and no context check in its loops; expr.WithContext
// only hands a context to functions that ask for one. So the budget is
// enforced here, with expr's own extension points: a patcher (expr.Patch)
// rewrites the checked syntax tree so that every value an expression
// builds passes through charge and every iteration of a predicate (map,
// filter, all, reduce...) through step; both get the evaluation's meter,
// which the environment holds under meterKey, a name no expression can
// write. The few builtins whose result can be many times the size of
// their arguments (replace, join, split, splitAfter, repeat) are replaced
// by ones that refuse an oversized result before building it (repeat's
// replacement is in functions.go).

// Defaults of the budget in Options.
const (
	// DefaultMaxMemory is the bytes of values one evaluation may build:
	// eight times a large record, and a hundred times what the bench's
	// five-field body needs.
	DefaultMaxMemory = 8 << 20
	// DefaultMaxResult is the largest result of one evaluation (a
	// template's text, an expression's value) in bytes.
	DefaultMaxResult = 4 << 20
	// DefaultMaxSteps is the number of loop iterations and values built
	// one evaluation may take: some tens of milliseconds of work, and
	// loops over arrays of tens of thousands of elements.
	DefaultMaxSteps = 200_000
	// DefaultMaxTime bounds one evaluation's wall time: a backstop for
	// single operations that are slow on large values (sorting, matching),
	// far above what any evaluation within the other limits takes.
	DefaultMaxTime = time.Second
)

// meterKey is where an Env holds its evaluation's meter. An identifier
// cannot contain a space, so no expression can name it (only $env can
// reach it, and a meter shows nothing).
const meterKey = " meter"

// Names of the functions the patcher inserts; like meterKey they cannot be
// written in an expression.
const (
	chargeFunc = " charge"
	loopFunc   = " loop"
	stepFunc   = " step"
	textFunc   = " text"    // the text of a match against a literal pattern
	matchFunc  = " matches" // a match against a computed pattern
	numMetered = " num"     // numFunc, counted
)

// maxMatchWork bounds the text length times the pattern length of one
// `matches`: Go's regexp takes time linear in both, and cannot be
// interrupted (a tenth of a second or so at this bound).
const maxMatchWork = 1 << 26

// limits is the budget of one evaluation, from Options.
type limits struct {
	memory int // bytes of values built
	result int // bytes of the result
	steps  int // loop iterations and values built
	time   time.Duration
}

func (o Options) limits() limits {
	l := limits{memory: o.MaxMemory, result: o.MaxResult, steps: o.MaxSteps, time: o.MaxTime}
	if l.memory <= 0 {
		l.memory = DefaultMaxMemory
	}
	if l.result <= 0 {
		l.result = DefaultMaxResult
	}
	if l.steps <= 0 {
		l.steps = DefaultMaxSteps
	}
	if l.time <= 0 {
		l.time = DefaultMaxTime
	}
	return l
}

// elements is expr's own budget of array, map and range elements: one
// element costs at least 8 bytes.
func (l limits) elements() uint { return uint(max(l.memory/8, 1)) }

// meter counts one evaluation's use of its budget. It has no exported
// fields or methods: an expression that reaches it through $env sees
// nothing.
type meter struct {
	lim       limits
	bytes     int
	count     int       // steps
	nextCheck int       // the count at which to look at the clock
	start     time.Time // the first look at the clock
	// held is set while a template evaluates its parts: they share one
	// budget.
	held bool
}

// reset starts a new evaluation.
func (m *meter) reset(lim limits) {
	*m = meter{lim: lim, nextCheck: checkEvery}
}

// checkEvery is how many steps pass between two looks at the clock.
const checkEvery = 32

// step counts one step; every checkEvery steps, and after building a large
// value, it looks at the clock.
func (m *meter) step(large bool) error { return m.steps(1, large) }

// steps counts n steps at once (a loop's iterations, before it runs).
func (m *meter) steps(n int, large bool) error {
	m.count += n
	if m.count > m.lim.steps {
		return &BudgetError{Limit: LimitSteps, Max: m.lim.steps}
	}
	if large || m.count >= m.nextCheck {
		m.nextCheck = m.count + checkEvery
		// The clock starts at the first look (reading it costs more than
		// a small evaluation): what came before is less than checkEvery
		// steps, none of them a large value or a loop.
		if m.start.IsZero() {
			m.start = time.Now()
		} else if time.Since(m.start) > m.lim.time {
			return &BudgetError{Limit: LimitTime, Max: int(m.lim.time / time.Millisecond)}
		}
	}
	return nil
}

// largeValue is the size from which building a value counts as slow
// enough to look at the clock.
const largeValue = 64 << 10

// charge counts a value the expression built.
func (m *meter) charge(v any) error {
	n := sizeOf(v, m.lim.memory-m.bytes+1)
	m.bytes += n
	if m.bytes > m.lim.memory {
		return &BudgetError{Limit: LimitMemory, Max: m.lim.memory}
	}
	return m.step(n >= largeValue)
}

// meterOf returns the meter env holds, adding one to an Env that was not
// made by NewEnv.
func meterOf(env Env) *meter {
	if m, ok := env[meterKey].(*meter); ok && m != nil {
		return m
	}
	m := new(meter)
	env[meterKey] = m
	return m
}

// Budget limits, as BudgetError names them.
const (
	LimitMemory = "memory"
	LimitSteps  = "steps"
	LimitTime   = "time"
	LimitResult = "result"
	LimitMatch  = "match"
)

// ErrBudget is wrapped by the evaluation errors of an expression that went
// over its budget.
var ErrBudget = errors.New("over budget")

// BudgetError is an evaluation stopped by its budget. Max is the limit:
// bytes for memory and result, a count for steps, milliseconds for time.
type BudgetError struct {
	Limit string
	Max   int
}

func (e *BudgetError) Error() string {
	switch e.Limit {
	case LimitMemory:
		return fmt.Sprintf("over the memory budget: the values the expression builds exceed %s", bytesText(e.Max))
	case LimitSteps:
		return fmt.Sprintf("over the step budget: more than %d loop iterations and values built", e.Max)
	case LimitTime:
		return fmt.Sprintf("over the time budget: still running after %d ms", e.Max)
	case LimitResult:
		return fmt.Sprintf("the result is larger than %s (result size limit)", bytesText(e.Max))
	case LimitMatch:
		return fmt.Sprintf("over the time budget: matching a text against a pattern is limited to %d text bytes × pattern bytes", e.Max)
	}
	return "over budget"
}

func (e *BudgetError) Unwrap() error { return ErrBudget }

// bytesText writes a size in bytes, in MiB or KiB when it is a whole
// number of them.
func bytesText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// exprMemoryExceeded is the message of expr's own element budget.
const exprMemoryExceeded = "memory budget exceeded"

// budgetError returns the BudgetError behind an evaluation error, turning
// expr's element budget into ours.
func budgetError(err error, lim limits) (*BudgetError, bool) {
	if be, ok := errors.AsType[*BudgetError](err); ok {
		return be, true
	}
	if fe, ok := errors.AsType[*file.Error](err); ok && fe.Message == exprMemoryExceeded {
		return &BudgetError{Limit: LimitMemory, Max: lim.memory}, true
	}
	return nil, false
}

// sizeOf estimates the bytes v takes, counting a part shared between
// several places each time (serialising writes it each time). It stops
// counting once past limit, so that measuring costs at most about limit/16
// visits.
func sizeOf(v any, limit int) int {
	const word = 16 // an interface or string header
	switch v := v.(type) {
	case nil, bool, int, int64, float64, time.Time, time.Duration:
		return word
	case string:
		return word + len(v)
	case []byte:
		return word + 8 + len(v)
	case []int:
		return word + 8 + 8*len(v)
	case []float64:
		return word + 8 + 8*len(v)
	case []string:
		n := word + 8
		for _, s := range v {
			if n += word + len(s); n > limit {
				return n
			}
		}
		return n
	case []any:
		n := word + 8
		for _, e := range v {
			if n += sizeOf(e, limit-n); n > limit {
				return n
			}
		}
		return n
	case map[string]any:
		n := 3 * word
		for k, e := range v {
			if n += word + len(k) + sizeOf(e, limit-n); n > limit {
				return n
			}
		}
		return n
	}
	return sizeOfValue(reflect.ValueOf(v), limit)
}

// sizeOfValue is sizeOf for the less common types (groupBy's map, typed
// slices, structs).
func sizeOfValue(rv reflect.Value, limit int) int {
	const word = 16
	switch rv.Kind() {
	case reflect.String:
		return word + rv.Len()
	case reflect.Slice, reflect.Array:
		n := word + 8
		for i := range rv.Len() {
			if n += sizeOf(rv.Index(i).Interface(), limit-n); n > limit {
				return n
			}
		}
		return n
	case reflect.Map:
		n := 3 * word
		for it := rv.MapRange(); it.Next(); {
			if n += sizeOf(it.Key().Interface(), limit-n) + sizeOf(it.Value().Interface(), limit-n); n > limit {
				return n
			}
		}
		return n
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() || !rv.Elem().CanInterface() {
			return word
		}
		return word + sizeOf(rv.Elem().Interface(), limit-word)
	}
	return word + int(rv.Type().Size())
}

// budgetOptions are the expr options that enforce the budget: the meter's
// name in the environment, the two functions the patcher inserts, the
// builtins replaced by bounded ones, and the patcher, which must come
// after every other patcher (it wraps what they produce).
func budgetOptions(lim limits, mp *meterPatcher) []expr.Option {
	return []expr.Option{
		meterFunction(chargeFunc, func(m *meter, v any) error { return m.charge(v) }),
		meterFunction(stepFunc, func(m *meter, _ any) error { return m.step(false) }),
		meterFunction(loopFunc, func(m *meter, v any) error { return m.steps(length(v), true) }),
		textFunction(),
		matchFunction(),
		numFunction(),
		boundedBuiltin("replace", lim.memory, replaceSize),
		boundedBuiltin("join", lim.memory, joinSize),
		boundedBuiltin("split", lim.memory, splitSize),
		boundedBuiltin("splitAfter", lim.memory, splitSize),
		expr.Patch(mp),
	}
}

// meterFunction declares a function f(meter, v) that returns v after
// count(meter, v) allowed it. Its type is its second argument's, so the
// checker knows as much of the wrapped value as before.
func meterFunction(name string, count func(m *meter, v any) error) expr.Option {
	fn := &builtin.Function{
		Name: name,
		Func: func(args ...any) (any, error) {
			m, _ := args[0].(*meter)
			if m == nil {
				return nil, errors.New("evaluated without a budget") // an Env not from NewEnv, nil
			}
			if err := count(m, args[1]); err != nil {
				return nil, err
			}
			return args[1], nil
		},
		Validate: func(args []reflect.Type) (reflect.Type, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("%s takes 2 arguments", name)
			}
			return args[1], nil
		},
	}
	return func(c *conf.Config) { c.Functions[name] = fn }
}

// textFunction declares text(meter, s, n): s, unless matching it against
// a literal pattern of n bytes is too much work.
func textFunction() expr.Option {
	fn := &builtin.Function{
		Name: textFunc,
		Func: func(args ...any) (any, error) {
			n, _ := args[2].(int)
			if err := checkMatch(args[0], args[1], n); err != nil {
				return nil, err
			}
			return args[1], nil
		},
		Validate: func(args []reflect.Type) (reflect.Type, error) {
			if len(args) != 3 {
				return nil, fmt.Errorf("%s takes 3 arguments", textFunc)
			}
			return args[1], nil
		},
	}
	return func(c *conf.Config) { c.Functions[textFunc] = fn }
}

// matchFunction declares matches(meter, s, pattern), what `s matches
// pattern` does for a computed pattern (compile it, match), unless that
// is too much work.
func matchFunction() expr.Option {
	fn := &builtin.Function{
		Name: matchFunc,
		Func: func(args ...any) (any, error) {
			if args[1] == nil || args[2] == nil {
				return false, nil
			}
			pattern, ok := args[2].(string)
			if !ok {
				return nil, fmt.Errorf("matches: the pattern is a %s, not a string", kindName(args[2]))
			}
			if err := checkMatch(args[0], args[1], len(pattern)); err != nil {
				return nil, err
			}
			re, err := regexp.Compile(pattern)
			if err != nil {
				return nil, err
			}
			switch s := args[1].(type) {
			case string:
				return re.MatchString(s), nil
			case []byte:
				return re.Match(s), nil
			}
			return nil, fmt.Errorf("matches: the text is a %s, not a string", kindName(args[1]))
		},
		Validate: func(args []reflect.Type) (reflect.Type, error) {
			if len(args) != 3 {
				return nil, fmt.Errorf("%s takes 3 arguments", matchFunc)
			}
			return reflect.TypeOf(true), nil
		},
	}
	return func(c *conf.Config) { c.Functions[matchFunc] = fn }
}

// numFunction declares num(meter, v): numFunc (computeValue), which
// copies the maps and arrays that hold numbers; a map or array it is given
// is charged as if copied, since even unchanged it is walked.
func numFunction() expr.Option {
	fn := &builtin.Function{
		Name: numMetered,
		Func: func(args ...any) (any, error) {
			switch args[1].(type) {
			case map[string]any, []any:
				m, _ := args[0].(*meter)
				if m == nil {
					return nil, errors.New("evaluated without a budget")
				}
				if err := m.charge(args[1]); err != nil {
					return nil, err
				}
			}
			return computeValue(args[1])
		},
		Validate: func(args []reflect.Type) (reflect.Type, error) {
			if len(args) != 2 {
				return nil, fmt.Errorf("%s takes 2 arguments", numMetered)
			}
			return anyType, nil
		},
	}
	return func(c *conf.Config) { c.Functions[numMetered] = fn }
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

// checkMatch counts a match of text against a pattern of n bytes as a
// step, and refuses one that is too much work.
func checkMatch(meterArg, text any, n int) error {
	m, _ := meterArg.(*meter)
	if m == nil {
		return errors.New("evaluated without a budget")
	}
	size := 0
	switch t := text.(type) {
	case string:
		size = len(t)
	case []byte:
		size = len(t)
	}
	if size > maxMatchWork/(n+1) {
		return &BudgetError{Limit: LimitMatch, Max: maxMatchWork}
	}
	return m.step(size*(n+1) >= largeValue)
}

// length is the number of iterations of a loop over v.
func length(v any) int {
	switch v := v.(type) {
	case []any:
		return len(v)
	case []int:
		return len(v)
	case nil:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map, reflect.String:
		return rv.Len()
	}
	return 0
}

// boundedBuiltin replaces expr's builtin name by one that first computes
// the size of its result with size and refuses a result over limit bytes.
// The builtin keeps its types and its implementation.
func boundedBuiltin(name string, limit int, size func(args []any) int) expr.Option {
	fn := *builtin.Builtins[builtin.Index[name]]
	inner := fn.Func
	fn.Func = func(args ...any) (any, error) {
		if size(args) > limit {
			return nil, &BudgetError{Limit: LimitMemory, Max: limit}
		}
		return inner(args...)
	}
	return func(c *conf.Config) { c.Functions[name] = &fn }
}

// replaceSize is the size of replace(s, old, new[, n]).
func replaceSize(args []any) int {
	s, _ := args[0].(string)
	old, _ := args[1].(string)
	repl, _ := args[2].(string)
	n := countSep(s, old)
	if len(args) == 4 {
		if limit, ok := args[3].(int); ok && limit >= 0 && limit < n {
			n = limit
		}
	}
	return saturate(len(s), n, len(repl)-len(old))
}

// joinSize is the size of join(list[, sep]).
func joinSize(args []any) int {
	sep := ""
	if len(args) == 2 {
		sep, _ = args[1].(string)
	}
	total, n := 0, 0
	switch list := args[0].(type) {
	case []string:
		for _, s := range list {
			total += len(s)
		}
		n = len(list)
	case []any:
		for _, e := range list {
			s, _ := e.(string)
			total += len(s)
		}
		n = len(list)
	}
	return saturate(total, max(n-1, 0), len(sep))
}

// splitSize is the size of split(s, sep[, n]) and splitAfter: a string
// header for each part.
func splitSize(args []any) int {
	s, _ := args[0].(string)
	sep, _ := args[1].(string)
	n := countSep(s, sep) + 1
	if len(args) == 3 {
		if limit, ok := args[2].(int); ok && limit > 0 && limit < n {
			n = limit
		}
	}
	return saturate(len(s), n, 16)
}

// countSep is how many times strings.Replace or strings.Split find sep in
// s: once per rune, and once more, for the empty separator.
func countSep(s, sep string) int {
	if sep == "" {
		return utf8.RuneCountInString(s) + 1
	}
	return strings.Count(s, sep)
}

// saturate returns base + n*each, or a number larger than any budget when
// that overflows.
func saturate(base, n, each int) int {
	const huge = 1 << 62
	if each <= 0 || n == 0 {
		return base
	}
	if n > (huge-base)/each {
		return huge
	}
	return base + n*each
}

// meterPatcher rewrites a checked syntax tree so that the evaluation
// counts what it does: every value built goes through chargeFunc, every
// predicate iteration through stepFunc. Literals and the values an
// expression only reads (record.name, first(list)) are not counted.
type meterPatcher struct {
	used bool // something was wrapped: the evaluation needs a meter
}

func (p *meterPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		// A loop counts its iterations before it starts; a body that
		// may be slow also counts each one as it runs, which looks at
		// the clock.
		for i, a := range n.Arguments {
			pred, ok := a.(*ast.PredicateNode)
			if !ok {
				continue
			}
			if i > 0 && !isLoop(n.Arguments[0]) {
				n.Arguments[0] = p.wrap(loopFunc, n.Arguments[0])
			}
			if !cheap(pred.Node) {
				pred.Node = p.wrap(stepFunc, pred.Node)
			}
		}
		if !returnsArgument[n.Name] && mayBuild(n.Type()) {
			ast.Patch(node, p.wrap(chargeFunc, n))
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == numFunc {
			// The number patcher's calls, counted: they take constant
			// time but on a map or an array, which they charge.
			ast.Patch(node, p.wrap(numMetered, n.Arguments[0]))
			return
		}
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && returnsArgument[id.Value] {
			return
		}
		if mayBuild(n.Type()) {
			ast.Patch(node, p.wrap(chargeFunc, n))
		}
	case *ast.BinaryNode:
		switch {
		case n.Operator == "+" && mayBuild(n.Type()),
			n.Operator == ".." && !(isLiteral(n.Left) && isLiteral(n.Right)):
			ast.Patch(node, p.wrap(chargeFunc, n))
		case n.Operator == "matches":
			// A literal pattern stays compiled once, by expr.
			if pat, ok := n.Right.(*ast.StringNode); ok {
				n.Left = p.wrap(textFunc, n.Left, &ast.IntegerNode{Value: len(pat.Value)})
			} else {
				ast.Patch(node, p.wrap(matchFunc, n.Left, n.Right))
			}
		}
	case *ast.ArrayNode:
		if !isLiteral(n) {
			ast.Patch(node, p.wrap(chargeFunc, n))
		}
	case *ast.MapNode:
		if !isLiteral(n) {
			ast.Patch(node, p.wrap(chargeFunc, n))
		}
	}
}

// wrap returns the call fn(meter, n, args...).
func (p *meterPatcher) wrap(fn string, n ast.Node, args ...ast.Node) ast.Node {
	p.used = true
	call := &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: fn},
		Arguments: append([]ast.Node{&ast.IdentifierNode{Value: meterKey}, n}, args...),
	}
	call.SetLocation(n.Location())
	return call
}

// isLoop reports whether n is already wrapped in loopFunc.
func isLoop(n ast.Node) bool {
	call, ok := n.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	return ok && id.Value == loopFunc
}

// cheap reports whether evaluating n takes constant time: no calls, no
// loops, no operation whose time grows with its operands (matches,
// contains, in, slices, comparing two values of unknown type...).
func cheap(n ast.Node) bool {
	v := &cheapVisitor{cheap: true}
	ast.Walk(&n, v)
	return v.cheap
}

type cheapVisitor struct{ cheap bool }

func (v *cheapVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode, *ast.PointerNode, *ast.IntegerNode, *ast.FloatNode, *ast.StringNode,
		*ast.BoolNode, *ast.NilNode, *ast.ConstantNode, *ast.MemberNode, *ast.ChainNode,
		*ast.UnaryNode, *ast.ConditionalNode:
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); !ok || id.Value != numMetered {
			v.cheap = false
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "||", "and", "or", "??":
		case "==", "!=", "<", ">", "<=", ">=", "-", "*", "/", "%", "**", "^":
			if !isScalar(n.Left) && !isScalar(n.Right) {
				v.cheap = false
			}
		default:
			v.cheap = false
		}
	default:
		v.cheap = false
	}
}

// isScalar reports whether n is a literal number, boolean, nil or short
// string, or of a number or boolean type: comparing with it takes
// constant time.
func isScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.StringNode:
		return true
	}
	t := n.Type()
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// returnsArgument are the builtins and functions that return one of their
// arguments, an element of one, or some of its elements (filter: no more
// than its argument, whose elements expr's own budget counts), without
// building anything. Not wrapping filter also keeps expr's optimisations
// of len(filter(...)), filter(...)[0] and the like.
var returnsArgument = map[string]bool{
	"first": true, "last": true, "get": true, "find": true, "findLast": true,
	"max": true, "min": true, "reduce": true, "type": true, "filter": true,
	"coalesce": true, "default": true,
}

// mayBuild reports whether a value of type t may be large: a string, an
// array, a map, or a type the checker does not know.
func mayBuild(t reflect.Type) bool {
	if t == nil {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface, reflect.Pointer:
		return true
	}
	return false
}

// isLiteral reports whether a node is a literal, or an array or map of
// literals: its size is bounded by the expression's text, and the
// optimizer folds it (x in ["a", "b"], x in 1..10).
func isLiteral(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode:
		return true
	case *ast.ArrayNode:
		for _, e := range n.Nodes {
			if !isLiteral(e) {
				return false
			}
		}
		return true
	case *ast.MapNode:
		for _, pair := range n.Pairs {
			if !isLiteral(pair) {
				return false
			}
		}
		return true
	case *ast.PairNode:
		return isLiteral(n.Key) && isLiteral(n.Value)
	}
	return false
}
