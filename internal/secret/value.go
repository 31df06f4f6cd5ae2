package secret

import (
	"fmt"
	"log/slog"
	"strconv"
)

// Value holds a secret in memory. Printing it with fmt (any verb), marshalling
// it as JSON or text, or logging it with slog all give Redacted; only Reveal
// returns the plaintext.
type Value struct {
	plaintext string
}

// Guards: each way of showing a Value goes through a method below.
var (
	_ fmt.Stringer   = Value{}
	_ fmt.GoStringer = Value{}
	_ fmt.Formatter  = Value{}
	_ slog.LogValuer = Value{}
)

// NewValue wraps s.
func NewValue(s string) Value { return Value{plaintext: s} }

// Reveal returns the plaintext, for the one place that needs it.
func (v Value) Reveal() string { return v.plaintext }

// String returns Redacted.
func (v Value) String() string { return Redacted }

// GoString returns Redacted, for %#v.
func (v Value) GoString() string { return Redacted }

// Format writes Redacted whatever the verb, so that %d or %x cannot reach the
// field inside; %q quotes it.
func (v Value) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = f.Write([]byte(strconv.Quote(Redacted)))
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// MarshalJSON returns "[redacted]" as a JSON string.
func (v Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns Redacted.
func (v Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue returns Redacted, for slog.
func (v Value) LogValue() slog.Value { return slog.StringValue(Redacted) }
