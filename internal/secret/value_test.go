package secret

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const plaintext = "hunter2-plaintext"

func TestValueReveal(t *testing.T) {
	t.Parallel()
	if got := NewValue(plaintext).Reveal(); got != plaintext {
		t.Errorf("Reveal() = %q, want %q", got, plaintext)
	}
}

func TestValueFmt(t *testing.T) {
	t.Parallel()
	v := NewValue(plaintext)
	holder := struct {
		Name  string
		Token Value
		Ptr   *Value
	}{"n", v, &v}
	tests := []struct {
		format string
		arg    any
		want   string
	}{
		{"%v", v, "[redacted]"},
		{"%s", v, "[redacted]"},
		{"%q", v, `"[redacted]"`},
		{"%#v", v, "[redacted]"},
		{"%+v", v, "[redacted]"},
		{"%d", v, "[redacted]"},
		{"%x", v, "[redacted]"},
		{"%10s", v, "[redacted]"},
		{"%v", &v, "[redacted]"},
		{"%v", holder, "{n [redacted] [redacted]}"},
		{"%+v", holder, "{Name:n Token:[redacted] Ptr:[redacted]}"},
		{"%#v", holder, `struct { Name string; Token secret.Value; Ptr *secret.Value }{Name:"n", Token:[redacted], Ptr:[redacted]}`},
		{"%v", []Value{v}, "[[redacted]]"},
	}
	for _, tc := range tests {
		got := fmt.Sprintf(tc.format, tc.arg)
		if got != tc.want {
			t.Errorf("Sprintf(%q) = %q, want %q", tc.format, got, tc.want)
		}
		if strings.Contains(got, plaintext) {
			t.Errorf("Sprintf(%q) leaks the plaintext: %q", tc.format, got)
		}
	}
	if got := v.String(); got != Redacted {
		t.Errorf("String() = %q, want %q", got, Redacted)
	}
}

func TestValueMarshal(t *testing.T) {
	t.Parallel()
	v := NewValue(plaintext)
	type doc struct {
		Token Value            `json:"token" xml:"token"`
		Ptr   *Value           `json:"ptr" xml:"ptr,attr"`
		Map   map[string]Value `json:"map" xml:"-"`
	}
	d := doc{Token: v, Ptr: &v, Map: map[string]Value{"k": v}}
	got, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"token":"[redacted]","ptr":"[redacted]","map":{"k":"[redacted]"}}`; string(got) != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	x, err := xml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(x, []byte(plaintext)) || !bytes.Contains(x, []byte(Redacted)) {
		t.Errorf("xml.Marshal = %s, want it redacted", x)
	}
	text, err := v.MarshalText()
	if err != nil || string(text) != Redacted {
		t.Errorf("MarshalText = %q, %v; want %q", text, err, Redacted)
	}
}

func TestValueSlog(t *testing.T) {
	t.Parallel()
	v := NewValue(plaintext)
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("call", "token", v, "ptr", &v, slog.Any("any", v), slog.Group("g", "token", v))
		log.With("token", v).Info("with")
		log.Info("printf", "msg", fmt.Sprint(v))
		out := buf.String()
		if strings.Contains(out, plaintext) {
			t.Errorf("log output leaks the plaintext:\n%s", out)
		}
		if got := strings.Count(out, Redacted); got != 6 {
			t.Errorf("log output has %d redactions, want 6:\n%s", got, out)
		}
	}
}
