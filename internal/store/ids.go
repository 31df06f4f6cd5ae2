package store

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
)

// newID returns a new id: a prefix and a ULID, so ids sort by creation time
// (which the cursors and the history pruning rely on).
func newID(prefix string) string {
	return prefix + "_" + strings.ToLower(ulid.Make().String())
}

// idAt returns the smallest id with the prefix that newID could make at t.
func idAt(prefix string, t time.Time) string {
	var zero [10]byte
	id, err := ulid.New(ulid.Timestamp(t), bytes.NewReader(zero[:]))
	if err != nil {
		return prefix + "_"
	}
	return prefix + "_" + strings.ToLower(id.String())
}

// cursorAfter decodes the cursor: the id of the last item already seen.
func cursorAfter(p Page) (string, error) {
	if p.Cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil || len(b) == 0 || !validText(string(b)) { // no id holds such text
		return "", fmt.Errorf("%w: invalid cursor", ErrBadInput)
	}
	return string(b), nil
}

func cursorFor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// encJSON and decJSON encode the JSON columns (a run's record snapshot,
// steps and fields; an attempt's request and response). They use
// goccy/go-json, which writes and reads what encoding/json does
// (TestJSONMatchesStdlib) at about twice its speed: these columns were an
// eighth of the engine's CPU under load (docs/PERFORMANCE.md).
func encJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err)) // only our own types are encoded
	}
	return string(b)
}

// decJSON reads numbers decoded into interface values as json.Number, their
// text as stored: a record field or captured value keeps every digit
// (a float64 keeps about 16). Rows written before, with float64 numbers,
// read the same way.
func decJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if unmarshalUsesNumber {
		return json.UnmarshalWithOption([]byte(s), v, useNumber)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("store: data after the JSON value")
	}
	return nil
}

// useNumber makes goccy/go-json's Unmarshal decode numbers into interface
// values as json.Number. go-json offers that only as Decoder.UseNumber,
// and a Decoder costs a read buffer per call: on a record row, 3.4 KB and
// 54 allocations instead of 1.9 KB and 45, and about a third more time. The
// bit is the one Decoder.UseNumber sets (decoder.UseNumberOption, in an
// internal package); unmarshalUsesNumber checks once that it still means
// that, else decJSON takes the Decoder.
func useNumber(o *json.DecodeOption) { o.Flags |= 1 << 3 }

var unmarshalUsesNumber = func() bool {
	var v any
	err := json.UnmarshalWithOption([]byte(`12345678901234567891`), &v, useNumber)
	return err == nil && v == json.Number("12345678901234567891")
}()
