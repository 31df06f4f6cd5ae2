package secret

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestRedactor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"none", nil, "token abc", "token abc"},
		{"empty values ignored", []string{"", ""}, "token abc", "token abc"},
		{"one", []string{"abc"}, "token abc!", "token [redacted]!"},
		{"every occurrence", []string{"abc"}, "abc-abc-xabcx", "[redacted]-[redacted]-x[redacted]x"},
		{"adjacent occurrences stay apart", []string{"abc"}, "abcabc", "[redacted][redacted]"},
		{"longest first", []string{"sec", "secret-long"}, "a secret-long b sec", "a [redacted] b [redacted]"},
		{"prefix of another", []string{"secret-long", "secret"}, "secret-longer", "[redacted]er"},
		{"overlapping values", []string{"abcd", "cdef"}, "xabcdefx", "x[redacted]x"},
		{"self-overlap", []string{"aa"}, "aaa", "[redacted]"},
		{"unicode", []string{"pässwörd"}, "p=pässwörd;", "p=[redacted];"},
		{"query escaped", []string{"p@ss word&x"}, "https://h/?k=p%40ss+word%26x", "https://h/?k=[redacted]"},
		{"path escaped", []string{"a b/c"}, "https://h/a%20b%2Fc/x", "https://h/[redacted]/x"},
		{"json escaped", []string{`he said "hi" <b>`}, `{"k":"he said \"hi\" \u003cb\u003e"}`, `{"k":"[redacted]"}`},
		{"json escaped, no html escaping", []string{`a"<b`}, `{"k":"a\"<b"}`, `{"k":"[redacted]"}`},
		{"case sensitive", []string{"Token"}, "token Token", "token [redacted]"},
		{"whole string", []string{"abc"}, "abc", "[redacted]"},
		{"duplicates", []string{"abc", "abc"}, "abc", "[redacted]"},
	}
	for _, tc := range tests {
		r := NewRedactor(tc.values...)
		if got := r.String(tc.in); got != tc.want {
			t.Errorf("%s: String(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
		if got := string(r.Bytes([]byte(tc.in))); got != tc.want {
			t.Errorf("%s: Bytes(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestRedactorZero(t *testing.T) {
	t.Parallel()
	var nilRedactor *Redactor
	for _, r := range []*Redactor{nil, nilRedactor, {}, NewRedactor()} {
		if got := r.String("abc"); got != "abc" {
			t.Errorf("String = %q, want it unchanged", got)
		}
		if got := r.Bytes(nil); got != nil {
			t.Errorf("Bytes(nil) = %q, want nil", got)
		}
	}
}

func TestRedactorManyValues(t *testing.T) {
	t.Parallel()
	var values []string
	var b strings.Builder
	for i := range 500 {
		v := fmt.Sprintf("secret-%03d-%x", i, i*7919)
		values = append(values, v)
		fmt.Fprintf(&b, "k%d=%s;", i, v)
	}
	r := NewRedactor(values...)
	out := r.String(b.String())
	for _, v := range values {
		if strings.Contains(out, v) {
			t.Fatalf("output still contains %q", v)
		}
	}
	if got, want := strings.Count(out, Redacted), len(values); got != want {
		t.Errorf("%d redactions, want %d", got, want)
	}
	if !strings.HasPrefix(out, "k0=[redacted];k1=[redacted];") {
		t.Errorf("output starts %q, want the keys kept", out[:40])
	}
}

func TestRedactorConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRedactor("alpha", "beta")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got := r.String("alpha beta gamma"); got != "[redacted] [redacted] gamma" {
					t.Errorf("String = %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzRedactor(f *testing.F) {
	f.Add("abc", "xabcx")
	f.Add("aa", "aaaa")
	f.Add("p@ss word", "q=p%40ss+word")
	f.Add(`"<`, `\"\u003c`)
	f.Add("][", "][][")
	f.Fuzz(func(t *testing.T, value, text string) {
		out := NewRedactor(value).String(text)
		if value == "" || strings.Contains(value, "\x00") {
			return
		}
		// Replacing the markers by a byte the value lacks leaves only what
		// came from text: the value must not be in it.
		if strings.Contains(strings.ReplaceAll(out, Redacted, "\x00"), value) {
			t.Fatalf("String(%q) with %q = %q, still contains it", text, value, out)
		}
	})
}

func TestAlwaysRedactedHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"Authorization", true},
		{"authorization", true},
		{"AUTHORIZATION", true},
		{"Cookie", true},
		{"set-cookie", true},
		{"Proxy-Authorization", true},
		{"x-api-key", true},
		{"X-API-KEY", true},
		{"Content-Type", false},
		{"X-Api-Key-Id", false},
		{"Authorization-Hint", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := AlwaysRedactedHeader(tc.name); got != tc.want {
			t.Errorf("AlwaysRedactedHeader(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRedactorWith(t *testing.T) {
	base := NewRedactor("alpha")
	if got := base.With(); got != base {
		t.Error("With() returned a new Redactor, want the same one")
	}
	more := base.With("beta")
	if got, want := more.String("alpha beta gamma"), "[redacted] [redacted] gamma"; got != want {
		t.Errorf("With(beta).String = %q, want %q", got, want)
	}
	if got, want := base.String("alpha beta"), "[redacted] beta"; got != want {
		t.Errorf("the base Redactor changed: %q, want %q", got, want)
	}
	var zero *Redactor
	if got, want := zero.With("beta").String("beta"), "[redacted]"; got != want {
		t.Errorf("nil.With(beta).String = %q, want %q", got, want)
	}
}
