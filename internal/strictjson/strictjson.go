// Package strictjson decodes JSON input strictly: a syntax error reports its
// line and column, and every unknown field or wrongly typed value is reported
// as a problem at its exact path (`steps[0].headers[1].nmae`), all at once.
//
// encoding/json stops at the first unknown field and does not say where it
// is; its type errors name the path without array indices. People fixing an
// automation document need the exact path of every mistake, so this package
// walks the decoded value against the Go type first, then lets encoding/json
// do the decoding it already does well.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/autohook/autohook/internal/problem"
)

// SyntaxError is malformed JSON, with the position of the problem.
type SyntaxError struct {
	Offset int64
	Line   int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Decode decodes data into v (a pointer). It returns a *SyntaxError for
// malformed JSON and a *problem.Error naming every unknown field and every
// value of the wrong JSON type.
func Decode(data []byte, v any) error {
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return syntaxError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		off := dec.InputOffset()
		return position(data, off, "unexpected data after the JSON value")
	}
	var l problem.List
	walk(&l, "", tree, reflect.TypeOf(v).Elem())
	if err := l.Err(); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return problem.New(ute.Field, "must be %s", describe(ute.Type))
		}
		return problem.New("", "%v", err)
	}
	return nil
}

func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return position(data, se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return position(data, int64(len(data)), "unexpected end of input")
	}
	return position(data, 0, err.Error())
}

func position(data []byte, off int64, msg string) *SyntaxError {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
			continue
		}
		col++
	}
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: msg}
}

var (
	rawMessageType = reflect.TypeOf(json.RawMessage(nil))
	unmarshalerTyp = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

func walk(l *problem.List, path string, v any, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		if v == nil {
			return
		}
		t = t.Elem()
	}
	if v == nil || t == rawMessageType || t.Kind() == reflect.Interface ||
		reflect.PointerTo(t).Implements(unmarshalerTyp) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			l.Add(path, "must be an object, got %s", jsonKind(v))
			return
		}
		fields := structFields(t)
		for _, key := range sortedKeys(obj) {
			f, ok := fields[key]
			if !ok {
				l.Add(problem.Join(path, key), "unknown field")
				continue
			}
			walk(l, problem.Join(path, key), obj[key], f)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			l.Add(path, "must be an object, got %s", jsonKind(v))
			return
		}
		for _, key := range sortedKeys(obj) {
			walk(l, problem.Join(path, key), obj[key], t.Elem())
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			l.Add(path, "must be an array, got %s", jsonKind(v))
			return
		}
		for i, e := range arr {
			walk(l, path+fmt.Sprintf("[%d]", i), e, t.Elem())
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			l.Add(path, "must be a string, got %s", jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			l.Add(path, "must be true or false, got %s", jsonKind(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			l.Add(path, "must be a whole number, got %s", jsonKind(v))
			return
		}
		if _, err := n.Int64(); err != nil {
			l.Add(path, "must be a whole number, got %s", n)
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			l.Add(path, "must be a number, got %s", jsonKind(v))
		}
	}
}

// structFields maps JSON names to field types, following encoding/json's
// rules for tags and embedded structs (exact names only: strict input does
// not match case-insensitively).
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range structFields(et) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a whole number"
}
