package store

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
)

var checkTextCases = []struct {
	name  string
	query string
	exec  bool
	args  []any
	want  []any // nil with wantErr
	err   bool
}{
	{"clean", `SELECT a FROM t WHERE b = ?`, false, []any{"x"}, []any{"x"}, false},
	{"a condition", `SELECT a FROM t WHERE b = ? AND c = ?`, false, []any{"x", "a\x00b"}, []any{"x", nil}, false},
	{"a named string type", `SELECT a FROM t WHERE s = ?`, false, []any{automation.Status("\xff")}, []any{nil}, false},
	{"an insert's value", `INSERT INTO t (a, b) VALUES (?, ?)`, true, []any{"x", "\xff"}, nil, true},
	{"an upsert's value", "INSERT INTO t (a) VALUES (?)\n\t\tON CONFLICT (a) DO UPDATE SET a = excluded.a", true, []any{"a\x00"}, nil, true},
	{"an update's value", "UPDATE t SET a = ?, b = ?\n\t\tWHERE c = ?", true, []any{"x", "\x00", "k"}, nil, true},
	{"an update's key", "UPDATE t SET a = ?, b = ?\n\t\tWHERE c = ? AND d IN (?, ?)", true, []any{"x", "y", "\x00", "q", "\xfe"}, []any{"x", "y", nil, "q", nil}, false},
	{"a delete's key", `DELETE FROM t WHERE a = ?`, true, []any{"\x00"}, []any{nil}, false},
	{"a function's argument", `SELECT pg_advisory_xact_lock(hashtext(?))`, true, []any{"a\x00"}, nil, true},
	{"numbers and nil", `INSERT INTO t (a, b, c) VALUES (?, ?, ?)`, true, []any{int64(1), nil, true}, []any{int64(1), nil, true}, false},
	{"valid non-ASCII", `INSERT INTO t (a) VALUES (?)`, true, []any{"Grüße 🙂"}, []any{"Grüße 🙂"}, false},
}

func TestCheckText(t *testing.T) {
	for _, c := range checkTextCases {
		got, err := checkText(c.query, c.args, c.exec)
		if c.err {
			if !errors.Is(err, errBadText) {
				t.Errorf("%s: %v, %v; want errBadText", c.name, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}

// FuzzCheckText: whatever the text, checkText sends only text every
// database holds, leaves valid text and other values as they are, and
// refuses exactly when a value to be written is invalid.
func FuzzCheckText(f *testing.F) {
	for _, c := range checkTextCases {
		for _, a := range c.args {
			if s, ok := a.(string); ok {
				f.Add(c.query, c.exec, s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, query string, exec bool, s string) {
		args := []any{s, int64(7), s}
		got, err := checkText(query, args, exec)
		values := valueArgs(query, exec)
		if err != nil {
			if validText(s) || values == 0 {
				t.Fatalf("refused %q in %q (exec %v): %v", s, query, exec, err)
			}
			return
		}
		if !validText(s) && values > 0 {
			t.Fatalf("took invalid value %q in %q (exec %v)", s, query, exec)
		}
		for i, a := range got {
			switch v := a.(type) {
			case string:
				if !validText(v) {
					t.Fatalf("sends %q", v)
				}
				if v != args[i] {
					t.Fatalf("changed %q into %q", args[i], v)
				}
			case nil:
				if validText(s) || i == 1 {
					t.Fatalf("dropped argument %d (%q)", i, args[i])
				}
			}
		}
		if got[1] != int64(7) {
			t.Fatalf("changed a number: %v", got[1])
		}
	})
}

// FuzzCursor: a cursor is an id this store wrote, or bad input.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "!!", cursorFor("run_01j0000000000000000000000"), cursorFor("\x00"), cursorFor("\xff\xfe"), "AA", "__4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		after, err := cursorAfter(Page{Cursor: cursor})
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("cursor %q: %v, want ErrBadInput", cursor, err)
			}
			return
		}
		if !validText(after) {
			t.Fatalf("cursor %q gives %q", cursor, after)
		}
	})
}

func TestValidMessage(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"a\x00b":        "a\uFFFDb",
		"a\xff\xfeb":    "a\uFFFDb",
		"\x00\xff":      "\uFFFD\uFFFD",
		"Grüße 🙂":       "Grüße 🙂",
		"answered 503:": "answered 503:",
	} {
		if got := validMessage(in); got != want || !validText(got) {
			t.Errorf("validMessage(%q) = %q, want %q", in, got, want)
		}
	}
}
