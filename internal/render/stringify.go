package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// Stringify writes a value as text, the way templates insert it:
//   - nil is "";
//   - a string is itself;
//   - numbers are decimal, without exponent or trailing zeros (1500, 0.1);
//   - a bool is "true" or "false";
//   - a time.Time is RFC 3339 in UTC, with nanoseconds when it has them;
//   - a json.Number is itself;
//   - maps and slices are compact JSON, map keys sorted, without HTML
//     escaping.
//
// Anything else is written by fmt.
func Stringify(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return string(appendOther(nil, v))
}

// appendStringify appends Stringify(v) to b.
func appendStringify(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return b
	case string:
		return append(b, v...)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case float64:
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	case json.Number:
		return append(b, v...)
	case time.Time:
		return v.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	return appendOther(b, v)
}

// appendOther handles the less common types of Stringify.
func appendOther(b []byte, v any) []byte {
	switch v := v.(type) {
	case []byte:
		return append(b, v...)
	case int8:
		return strconv.AppendInt(b, int64(v), 10)
	case int16:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case float32:
		return strconv.AppendFloat(b, float64(v), 'f', -1, 32)
	case time.Duration:
		return append(b, v.String()...)
	case map[string]any, []any, []string:
		if j, err := compactJSON(v); err == nil {
			return append(b, j...)
		}
		return fmt.Append(b, v)
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Slice, reflect.Array:
		if j, err := compactJSON(v); err == nil {
			return append(b, j...)
		}
	}
	return fmt.Append(b, v)
}

// compactJSON marshals v without HTML escaping and without the trailing
// newline of json.Encoder.
func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// kindName names the kind of a value in JSON terms, for messages.
func kindName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case time.Time:
		return "time"
	case time.Duration:
		return "duration"
	}
	return fmt.Sprintf("%T", v)
}
