package render

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// numFunc is the function the compiler wraps around a value read from the
// environment where an expression computes with it (see numPatcher). The
// name cannot clash with a record field: keys start with a letter.
const numFunc = "$num"

// numberValue is the value a JSON number has where an expression computes
// with it: an int when it is a whole number that fits in 64 bits (so ids
// up to 9223372036854775807 compare exactly), else a float64 (nearest).
// A text that is not a number stays as it is, and fails the operation.
func numberValue(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(i)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && f == 0 {
		return n // not a number at all
	}
	return f // ±Inf beyond float64's range, 0 below it
}

// computeValue is numFunc: v with every json.Number in it replaced by its
// numberValue. Maps and arrays that hold numbers are copied; the
// environment's values are shared between evaluations and never changed.
func computeValue(args ...any) (any, error) {
	v, _ := convertNumbers(args[0])
	return v, nil
}

// convertNumbers returns v with its numbers converted, and whether
// anything changed (a map or array without numbers is returned as it is).
func convertNumbers(v any) (any, bool) {
	switch x := v.(type) {
	case json.Number:
		return numberValue(x), true
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			c, changed := convertNumbers(e)
			if !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			out[k] = c
		}
		if out == nil {
			return x, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range x {
			c, changed := convertNumbers(e)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), x...)
			}
			out[i] = c
		}
		if out == nil {
			return x, false
		}
		return out, true
	}
	return v, false
}

// numPatcher makes numbers exact where they pass through and numeric where
// they are computed with. Values in the environment keep JSON numbers as
// json.Number (their text); the patcher wraps numFunc around every value
// read from the environment (a node whose type the compiler does not know)
// in a position that computes with it: an operand of an operator, an index,
// a condition, an argument of a function that reads numbers. Positions that
// only pass a value on are left alone, so the value keeps its text: the
// whole expression, a member's object, `??` and the branches of `?:`,
// array and map literals, and the arguments of the functions in
// passThrough. The body of map() passes its value on; the bodies of the
// other predicates (filter, sum, sortBy, ...) compute.
type numPatcher struct{}

// passThrough lists the functions whose arguments keep their text: they
// return an argument unchanged, or write it as text (string, toJSON and
// the encoders and hashes that read it as Stringify writes it), or only
// look at a collection's elements without computing with them.
var passThrough = map[string]bool{
	"coalesce": true, "default": true,
	"string": true, "toJSON": true, "len": true, "type": true,
	"urlencode": true, "urlEncode": true, "toBase64Url": true, "sha256": true, "hmacSHA256": true,
	"first": true, "last": true, "keys": true, "values": true, "toPairs": true, "fromPairs": true,
	"reverse": true, "concat": true, "flatten": true,
}

// collectionFirst lists the builtins whose first argument is a collection
// they pass elements of on (get, take and the predicates): only the other
// arguments compute. sum without a predicate computes with its elements,
// so it is not here (see Visit).
var collectionFirst = map[string]bool{
	"get": true, "take": true,
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "count": true,
	"groupBy": true, "sortBy": true, "reduce": true,
}

func (numPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.UnaryNode:
		wrapNum(&n.Node)
	case *ast.BinaryNode:
		switch n.Operator {
		case "??":
			return
		case "in":
			if n.Right.Type() == mapType {
				wrapNum(&n.Left) // a key looked up: the map need not change
				return
			}
		}
		wrapNum(&n.Left)
		wrapNum(&n.Right)
	case *ast.MemberNode:
		wrapNum(&n.Property)
	case *ast.SliceNode:
		wrapNum(&n.From)
		wrapNum(&n.To)
	case *ast.ConditionalNode:
		wrapNum(&n.Cond)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && (passThrough[id.Value] || id.Value == numFunc) {
			return
		}
		for i := range n.Arguments {
			wrapNum(&n.Arguments[i])
		}
	case *ast.BuiltinNode:
		if passThrough[n.Name] {
			return
		}
		for i := range n.Arguments {
			if p, ok := n.Arguments[i].(*ast.PredicateNode); ok {
				if n.Name != "map" {
					wrapNum(&p.Node)
				}
				continue
			}
			if i == 0 && (collectionFirst[n.Name] || n.Name == "sum" && len(n.Arguments) > 1) {
				continue
			}
			wrapNum(&n.Arguments[i])
		}
	}
}

// The types of the environment's containers.
var (
	mapType   = reflect.TypeOf(map[string]any(nil))
	sliceType = reflect.TypeOf([]any(nil))
)

// wrapNum wraps numFunc around the node when its value may hold a JSON
// number: its type is unknown (read from a map of the environment) or one
// of the environment's containers.
func wrapNum(slot *ast.Node) {
	n := *slot
	if n == nil {
		return
	}
	switch t := n.Type(); {
	case t == nil, t.Kind() == reflect.Interface, t == mapType, t == sliceType:
	default:
		return
	}
	if c, ok := n.(*ast.CallNode); ok {
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == numFunc {
			return // wrapped already (the checker runs the patchers again)
		}
	}
	call := &ast.CallNode{Callee: &ast.IdentifierNode{Value: numFunc}, Arguments: []ast.Node{n}}
	call.SetLocation(n.Location())
	call.Callee.SetLocation(n.Location())
	*slot = call
}
