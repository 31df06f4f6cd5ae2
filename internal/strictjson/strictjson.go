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
	"math"
	"reflect"
	"slices"
	"strconv"
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
// value of the wrong JSON type. A number decoded into an interface value
// (the fields of a record) is a json.Number holding its text as sent.
func Decode(data []byte, v any) error {
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return syntaxError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		// the offset of the first non-space byte after the value
		off := int64(len(data)) - int64(len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")))
		if err == nil {
			off = firstAfterValue(data)
		}
		return position(data, off, "unexpected data after the JSON value")
	}
	var l problem.List
	walk(&l, "", tree, reflect.TypeOf(v).Elem())
	if err := l.Err(); err != nil {
		return err
	}
	// Numbers decoded into any stay json.Number: the text as sent, every
	// digit (a float64 would keep about 16).
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
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
		// Offset counts the offending byte: point at it, not past it.
		return position(data, max(se.Offset-1, 0), strings.TrimPrefix(se.Error(), "json: "))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return position(data, int64(len(data)), "unexpected end of input")
	}
	return position(data, 0, err.Error())
}

// firstAfterValue returns the offset of the first byte after the first
// JSON value in data and the spaces that follow it.
func firstAfterValue(data []byte) int64 {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	_ = dec.Decode(&v)
	off := dec.InputOffset()
	return int64(len(data)) - int64(len(bytes.TrimLeft(data[off:], " \t\r\n")))
}

// position describes the byte at offset off by line and column (columns
// count characters, from 1).
func position(data []byte, off int64, msg string) *SyntaxError {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, r := range string(data[:off]) {
		if r == '\n' {
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
	switch {
	case v == nil || t == rawMessageType:
		return
	case t.Kind() == reflect.Interface:
		checkNumbers(l, path, v)
		return
	case reflect.PointerTo(t).Implements(unmarshalerTyp):
		// Let the type judge its own JSON, here, where the path is known.
		raw, err := json.Marshal(v)
		if err == nil {
			err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw)
		}
		if err != nil {
			l.Add(path, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			l.Add(path, "must be an object, got %s", Kind(v))
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
			l.Add(path, "must be an object, got %s", Kind(v))
			return
		}
		for _, key := range sortedKeys(obj) {
			walk(l, problem.Join(path, key), obj[key], t.Elem())
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			l.Add(path, "must be an array, got %s", Kind(v))
			return
		}
		for i, e := range arr {
			walk(l, path+fmt.Sprintf("[%d]", i), e, t.Elem())
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			l.Add(path, "must be a string, got %s", Kind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			l.Add(path, "must be true or false, got %s", Kind(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			l.Add(path, "must be a whole number, got %s", Kind(v))
			return
		}
		i, err := n.Int64()
		switch {
		case err != nil:
			if _, ferr := n.Float64(); ferr == nil && !strings.ContainsAny(n.String(), ".eE") {
				l.Add(path, "is out of range: %s", n)
			} else {
				l.Add(path, "must be a whole number, got %s", n)
			}
		case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
			if i < 0 || reflect.Zero(t).OverflowUint(uint64(i)) {
				l.Add(path, "is out of range: %s", n)
			}
		case reflect.Zero(t).OverflowInt(i):
			l.Add(path, "is out of range: %s", n)
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			l.Add(path, "must be a number, got %s", Kind(v))
			return
		}
		if f, err := strconv.ParseFloat(n.String(), t.Bits()); err != nil || math.IsInf(f, 0) {
			l.Add(path, "is out of range: %s", n)
		}
	}
}

// checkNumbers reports numbers that do not fit a float64 anywhere in a
// free-form value (decoded into any, they would fail later without a path).
func checkNumbers(l *problem.List, path string, v any) {
	switch x := v.(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(x.String(), 64); err != nil || math.IsInf(f, 0) {
			l.Add(path, "is out of range: %s", x)
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			checkNumbers(l, problem.Join(path, k), x[k])
		}
	case []any:
		for i, e := range x {
			checkNumbers(l, path+fmt.Sprintf("[%d]", i), e)
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

// Kind describes a decoded JSON value for messages: "a string", "a number"…
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64, int, int64:
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
