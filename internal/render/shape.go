package render

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/types"
)

// Kind is the type of a record value as the check at save knows it.
type Kind int

// Kinds of record values.
const (
	KindAny    Kind = iota // a json field: anything
	KindText               // text, dates and times (RFC 3339 text)
	KindNumber             // a number (json.Number in the environment)
	KindBool
)

// TriggerKeys and RunKeys are the members of trigger and run: the engine,
// the trigger and the dry run build those maps with exactly these keys.
var (
	TriggerKeys = []string{"type", "at"}
	RunKeys     = []string{"id", "automationId"}
	// StepKeys are the members of each steps.<id>: ok (a boolean),
	// status (the HTTP status, or nil), error ({class, message}, or nil)
	// and skipped (its if was false).
	StepKeys = []string{"ok", "status", "error", "skipped"}
)

// Shape declares what is known, when an automation is saved, about the
// values its expressions read: the collection's fields, the members of
// trigger and run. With Options.Shape set, compiling checks every
// expression against it, so that a typo (record.nmae) or an operation that
// cannot work (record.name > 10, where name is text) is found at save
// instead of in every run. fields (captured response values), secrets and
// any root the Shape does not know stay dynamic: only what is knowable is
// checked.
//
// The check compiles the expression a second time, against a typed
// environment (expr's types.Map) and without the number patcher; that
// program is thrown away, so evaluation is exactly as without a Shape:
// numbers still arrive as json.Number and keep their digits.
type Shape struct {
	// Record holds the members of record and previous: the collection's
	// fields and the record's own keys (id, stage, ...), by kind.
	Record map[string]Kind
	// Steps are the ids of the steps whose outcome an expression may read
	// as steps.<id>: the steps before the one being compiled.
	Steps []string
}

// kindTypes maps a Kind to the type the checker sees. A number is an int:
// where an expression computes with a whole number it is one (numberValue),
// and the checker treats int and float alike but for %, which whole numbers
// allow.
var kindTypes = map[Kind]types.Type{KindAny: types.Any, KindText: types.String, KindNumber: types.Int, KindBool: types.Bool}

// typed returns the typed environment of the check.
func (s *Shape) typed() types.Map {
	rec := types.Map{}
	for k, kind := range s.Record {
		rec[k] = kindTypes[kind]
	}
	strict := func(keys []string) types.Map {
		m := types.Map{}
		for _, k := range keys {
			m[k] = types.String
		}
		return m
	}
	env := types.Map{}
	for root, v := range typeEnv {
		switch root {
		case RootRecord, RootPrevious:
			env[root] = rec
		case RootTrigger:
			env[root] = strict(TriggerKeys)
		case RootRun:
			env[root] = strict(RunKeys)
		case RootSteps:
			step := types.Map{"ok": types.Bool, "status": types.Any, "error": types.Any, "skipped": types.Bool}
			m := types.Map{}
			for _, id := range s.Steps {
				m[id] = step
			}
			env[root] = m
		case RootSecrets:
			env[root] = types.Map{types.Extra: types.String}
		case RootNow:
			env[root] = types.TypeOf(time.Time{})
		default:
			if v == nil || reflect.TypeOf(v).Kind() == reflect.Map {
				env[root] = types.Map{types.Extra: types.Any} // fields, and roots added later
			} else {
				env[root] = types.TypeOf(v)
			}
		}
	}
	return env
}

// check checks a compiled expression against the shape. node is its tree,
// src its text, which starts at byte offset base of what the user wrote.
func (s *Shape) check(node ast.Node, src string, base int, opts Options) error {
	// Members of record, previous, trigger and run that do not exist, with
	// the nearest name, before the checker's terser "unknown field".
	mv := &shapeVisitor{shape: s}
	ast.Walk(&node, mv)
	if mv.err != nil {
		return &Error{Pos: base + byteOffset(src, mv.err.Pos), Msg: mv.err.Msg}
	}
	np := &nowPatcher{}
	o := []expr.Option{expr.Env(s.typed()), expr.MaxNodes(opts.maxNodes()), expr.Patch(np)}
	if _, err := expr.Compile(src, append(o, functions...)...); err != nil {
		var fe *file.Error
		if !errors.As(err, &fe) {
			return &Error{Pos: base, Msg: err.Error()}
		}
		msg, pos := humanize(src, fe.Message, fe.From)
		return &Error{Pos: base + byteOffset(src, pos), Msg: msg}
	}
	return nil
}

// shapeVisitor finds the first root.name (or root["name"]) whose root is
// record, previous, trigger or run and whose name the shape does not know.
type shapeVisitor struct {
	shape *Shape
	err   *Error // Pos in runes
}

func (v *shapeVisitor) Visit(node *ast.Node) {
	if v.err != nil {
		return
	}
	root, prop, ok := constantMember(*node)
	if !ok {
		return
	}
	var known []string
	switch root {
	case RootRecord, RootPrevious:
		for k := range v.shape.Record {
			known = append(known, k)
		}
	case RootTrigger:
		known = slices.Clone(TriggerKeys) // sorted below: the package's lists stay as they are
	case RootRun:
		known = slices.Clone(RunKeys)
	case RootSteps:
		if !slices.Contains(v.shape.Steps, prop.Value) {
			msg := fmt.Sprintf("steps has no step %q before this one", prop.Value)
			if len(v.shape.Steps) == 0 {
				msg += " (no step comes before it)"
			} else {
				msg += " (earlier steps: " + strings.Join(v.shape.Steps, ", ") + ")"
			}
			v.err = &Error{Pos: prop.Location().From, Msg: msg}
		}
		return
	default:
		return
	}
	if slices.Contains(known, prop.Value) {
		return
	}
	sort.Strings(known)
	msg := fmt.Sprintf("%s has no field %q", root, prop.Value)
	if near := nearest(prop.Value, known); near != "" {
		msg += fmt.Sprintf(": did you mean %s.%s?", root, near)
	}
	msg += " (" + root + " has " + strings.Join(known, ", ") + ")"
	v.err = &Error{Pos: prop.Location().From, Msg: msg}
}

// constantMember reports whether node reads a member of a root by a
// constant name (root.name, root["name"], root?.name), and which.
func constantMember(node ast.Node) (root string, prop *ast.StringNode, ok bool) {
	m, ok := node.(*ast.MemberNode)
	if !ok {
		return "", nil, false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return "", nil, false
	}
	prop, ok = m.Property.(*ast.StringNode)
	return id.Value, prop, ok
}

// nearest returns the known name closest to name, when it is close: at
// most a third of its letters apart (case aside), or the same letters in
// another case.
func nearest(name string, known []string) string {
	best, bestD := "", -1
	for _, k := range known {
		d := editDistance(strings.ToLower(name), strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	if bestD < 0 || bestD > max(1, len(name)/3) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance (Levenshtein with
// adjacent transpositions, so "nmae" is one from "name"). Written here:
// a dozen lines do not justify a module.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
