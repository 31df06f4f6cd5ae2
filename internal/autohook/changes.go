package autohook

import (
	"encoding/json"
	"slices"

	"github.com/autohook/autohook/internal/jsonnum"
	"github.com/autohook/autohook/internal/problem"
)

// ChangedPaths returns the paths at which two JSON documents differ, in
// the form of validation problems (steps[0].url, fields[2].type): an
// object's keys in sorted order, an array's elements by index, one path for
// each element only one side has. Numbers compare by value.
func ChangedPaths(old, new json.RawMessage) ([]string, error) {
	a, err := jsonnum.Decode(old)
	if err != nil {
		return nil, err
	}
	b, err := jsonnum.Decode(new)
	if err != nil {
		return nil, err
	}
	var out []string
	diffValues(&out, "", a, b)
	return out, nil
}

func diffValues(out *[]string, path string, a, b any) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			*out = append(*out, path)
			return
		}
		keys := make([]string, 0, len(x)+len(y))
		for k := range x {
			keys = append(keys, k)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			xv, inX := x[k]
			yv, inY := y[k]
			if !inX || !inY {
				*out = append(*out, problem.Join(path, k))
				continue
			}
			diffValues(out, problem.Join(path, k), xv, yv)
		}
	case []any:
		y, ok := b.([]any)
		if !ok {
			*out = append(*out, path)
			return
		}
		for i := range max(len(x), len(y)) {
			p := problem.Join(path, i)
			if i >= len(x) || i >= len(y) {
				*out = append(*out, p)
				continue
			}
			diffValues(out, p, x[i], y[i])
		}
	default:
		if !sameScalar(a, b) {
			*out = append(*out, path)
		}
	}
}

func sameScalar(a, b any) bool {
	if x, ok := a.(json.Number); ok {
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		c, err := jsonnum.Compare(x.String(), y.String())
		return err == nil && c == 0
	}
	switch b.(type) {
	case map[string]any, []any:
		return false
	}
	return a == b
}
