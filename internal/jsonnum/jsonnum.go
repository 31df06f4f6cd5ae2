// Package jsonnum provides exact JSON numbers: decoding JSON with every
// number kept as its text (json.Number), checking that a text is a JSON
// number, and comparing two numbers by their decimal value without
// converting them to float64.
//
// A float64 holds about 16 significant digits: a 20-digit id such as
// 12345678901234567891 read as one comes back as 12345678901234567000.
// Autohook therefore keeps numbers as json.Number from the moment they are
// read (API input, response bodies, stored rows) to the moment they are
// written (request bodies, stored rows, API output); only an expression that
// computes with a number reads it as int or float64 (see package render).
//
// Compare is written here rather than taken from a decimal library: the
// libraries (math/big.Rat, shopspring/decimal, cockroachdb/apd) rescale
// both operands to a common exponent, so comparing 1e-999999999 with 1
// would allocate a billion digits; comparing the normalised digit strings
// and exponents costs only the length of the texts.
package jsonnum

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Valid reports whether s is a number in JSON's grammar (RFC 8259 section
// 6): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func Valid(s string) bool {
	_, _, _, _, ok := scan(s)
	return ok
}

// Decode decodes one JSON text, numbers as json.Number with the text they
// have in data. Data after the value (other than spaces) is an error.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no JSON text")
		}
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON text")
	}
	return v, nil
}

// Text returns the decimal text of a Go number (json.Number, a float or
// an integer type); ok is false for anything else and for a float that is
// not finite. A float is written in the shortest form that reads back as
// the same float64 ('g' format, so 1e+21 keeps its exponent).
func Text(v any) (s string, ok bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case float64:
		return floatText(x, 64)
	case float32:
		return floatText(float64(x), 32)
	case int:
		return strconv.Itoa(x), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

func floatText(f float64, bits int) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false
	}
	return strconv.FormatFloat(f, 'g', -1, bits), true
}

// Compare compares two JSON numbers by value: -1 when a < b, 0 when they
// are equal (1.50 equals 1.5 and 15e-1; -0 equals 0), +1 when a > b. It
// returns an error when a or b is not a JSON number. Exponents beyond
// ±10^15 are taken as ±10^15, so numbers that differ only beyond that are
// equal (no float64 comes near: its exponents end at ±324).
func Compare(a, b string) (int, error) {
	x, ok := parse(a)
	if !ok {
		return 0, fmt.Errorf("%q is not a JSON number", a)
	}
	y, ok := parse(b)
	if !ok {
		return 0, fmt.Errorf("%q is not a JSON number", b)
	}
	return x.cmp(y), nil
}

// decimal is the value of a JSON number: (-1 if neg) × 0.digits × 10^exp,
// digits without leading or trailing zeros; zero has no digits.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// maxExp bounds the exponents parse keeps (see Compare).
const maxExp = 1e15

// parse reads a JSON number. The digits of the result share s's memory
// when the number has no fraction.
func parse(s string) (decimal, bool) {
	neg, intPart, frac, exp, ok := scan(s)
	if !ok {
		return decimal{}, false
	}
	// value = 0.(intPart frac) × 10^(len(intPart) + exp)
	exp += int64(len(intPart))
	digits := intPart + frac // no copy when frac is empty
	trimmed := strings.TrimLeft(digits, "0")
	exp -= int64(len(digits) - len(trimmed))
	d := decimal{neg: neg, digits: strings.TrimRight(trimmed, "0")}
	if d.digits == "" {
		return decimal{}, true // zero, whatever its sign
	}
	d.exp = exp
	return d, true
}

// scan splits a JSON number into its sign, integer digits, fraction digits
// and exponent (bounded by maxExp); ok is false when s is not one.
func scan(s string) (neg bool, intPart, frac string, exp int64, ok bool) {
	i := 0
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false, "", "", 0, false
	}
	intPart = s[intStart:i]
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false, "", "", 0, false
		}
		frac = s[start:i]
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if exp < maxExp {
				exp = exp*10 + int64(s[i]-'0')
			}
		}
		if i == start {
			return false, "", "", 0, false
		}
		exp = min(exp, maxExp)
		if eneg {
			exp = -exp
		}
	}
	if i != len(s) {
		return false, "", "", 0, false
	}
	return neg, intPart, frac, exp, true
}

func (x decimal) cmp(y decimal) int {
	sx, sy := x.sign(), y.sign()
	switch {
	case sx != sy:
		if sx < sy {
			return -1
		}
		return 1
	case sx == 0:
		return 0
	}
	// Same sign, both non-zero: compare magnitudes.
	m := 0
	switch {
	case x.exp != y.exp:
		m = 1
		if x.exp < y.exp {
			m = -1
		}
	default:
		m = strings.Compare(x.digits, y.digits)
	}
	return m * sx
}

func (x decimal) sign() int {
	switch {
	case x.digits == "":
		return 0
	case x.neg:
		return -1
	}
	return 1
}
