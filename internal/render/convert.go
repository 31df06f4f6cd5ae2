package render

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/jsonnum"
)

// FieldType is the declared type of a JSON body field.
type FieldType string

// Field types.
const (
	TypeString  FieldType = "string"
	TypeNumber  FieldType = "number"
	TypeBoolean FieldType = "boolean"
	TypeJSON    FieldType = "json"
)

// Convert converts a template's value to the declared type of a JSON body
// field, into a value that encoding/json marshals as that type. nil stays
// nil (JSON null) for every type.
//
//   - string: Stringify of the value.
//   - number: numbers as they are; a string, trimmed, must be a JSON
//     number and is kept as written ("1500.00" is json.Number("1500.00"),
//     numerically 1500). Numbers are returned as json.Number, in decimal
//     without exponent unless the text had one. Booleans, objects and
//     arrays are errors.
//   - boolean: a bool as it is; a string, trimmed, as strconv.ParseBool
//     reads it ("true", "1", "F", ...). Anything else is an error.
//   - json: objects, arrays, numbers and booleans as they are; a string must
//     be one JSON text and is decoded, numbers as json.Number.
//
// The errors name the value, not the field: the caller adds the key.
func Convert(v any, typ FieldType) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case TypeString:
		return Stringify(v), nil
	case TypeNumber:
		return toNumber(v)
	case TypeBoolean:
		return toBool(v)
	case TypeJSON:
		return toJSON(v)
	}
	return nil, fmt.Errorf("unknown field type %q", typ)
}

func toNumber(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if !jsonnum.Valid(string(v)) {
			return nil, fmt.Errorf("cannot convert %q to number", string(v))
		}
		return v, nil
	case string:
		s := strings.TrimSpace(v)
		if !jsonnum.Valid(s) {
			return nil, fmt.Errorf("cannot convert %q to number", v)
		}
		return json.Number(s), nil
	case float64:
		return floatNumber(v, 64)
	case float32:
		return floatNumber(float64(v), 32)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return json.Number(Stringify(v)), nil
	}
	return nil, fmt.Errorf("cannot convert %s to number", describe(v))
}

func floatNumber(f float64, bits int) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("cannot convert %v to number", f)
	}
	return json.Number(strconv.FormatFloat(f, 'f', -1, bits)), nil
}

func toBool(v any) (any, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("cannot convert %q to boolean", v)
		}
		return b, nil
	}
	return nil, fmt.Errorf("cannot convert %s to boolean", describe(v))
}

func toJSON(v any) (any, error) {
	switch v := v.(type) {
	case string:
		out, err := jsonnum.Decode([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("value is not valid JSON: %w", err)
		}
		return out, nil
	case float64:
		return floatNumber(v, 64)
	case float32:
		return floatNumber(float64(v), 32)
	case time.Time:
		return Stringify(v), nil
	}
	return v, nil
}

// describe names a value in a conversion error: its kind, with the value
// when it is short.
func describe(v any) string {
	switch v := v.(type) {
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return fmt.Sprintf("%s %s", kindName(v), Stringify(v))
	case time.Time:
		return "time " + Stringify(v)
	}
	return kindName(v)
}
