package render

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// urlTests are compiled with CompileURL and rendered against testEnv.
var urlTests = []struct {
	src  string
	want string
}{
	{"https://api.example.com/orders", "https://api.example.com/orders"},
	{"HTTP://api.example.com/", "http://api.example.com/"},
	// A path value is one segment.
	{"https://api.example.com/users/{record.externalId}", "https://api.example.com/users/ext%2F42"},
	{"https://api.example.com/s/{record.name}/x", "https://api.example.com/s/Ada%20Lovelace/x"},
	{"https://api.example.com/{'a?b#c'}", "https://api.example.com/a%3Fb%23c"},
	{"https://api.example.com/{record.dots}/admin", "https://api.example.com/%2E%2E/admin"},
	{"https://api.example.com/{'.'}/x", "https://api.example.com/%2E/x"},
	{"https://api.example.com/v{record.amount}.json", "https://api.example.com/v1500.json"},
	{"https://api.example.com/{record.nothing}", "https://api.example.com/"},
	{"https://api.example.com/{'é'}", "https://api.example.com/%C3%A9"},
	// A query value escapes "&", "=" and spaces.
	{"https://api.example.com/search?q={record.query}&n=1", "https://api.example.com/search?q=a%26b%3Dc+d&n=1"},
	{"https://api.example.com?q={record.query}", "https://api.example.com?q=a%26b%3Dc+d"},
	{"https://api.example.com/?{record.query}=1", "https://api.example.com/?a%26b%3Dc+d=1"},
	{"https://api.example.com/p?path={record.externalId}", "https://api.example.com/p?path=ext%2F42"},
	// A fragment.
	{"https://api.example.com/p#{record.query}", "https://api.example.com/p#a&b=c%20d"},
	{"https://api.example.com/p?x=1#{'a#b'}", "https://api.example.com/p?x=1#a%23b"},
	// Before the path a value is raw.
	{"{secrets.BASE}/orders/{record.id}", "https://api.example.com/v1/orders/rec_1"},
	{"{secrets.ROOT}{'/a/b'}", "https://api.example.com/a/b"},
	{"{secrets.BASE}?key={record.query}", "https://api.example.com/v1?key=a%26b%3Dc+d"},
	{"https://{record.host}/x/{record.externalId}", "https://example.org/x/ext%2F42"},
	{"https://{record.host}:8443/", "https://example.org:8443/"},
	{"https://api.example.com/{{x}}", "https://api.example.com/%7Bx%7D"},
}

func TestURL(t *testing.T) {
	t.Parallel()
	env := testEnv()
	for _, tt := range urlTests {
		u, err := CompileURL(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileURL(%q): %v", tt.src, err)
			continue
		}
		if got := u.Source(); got != tt.src {
			t.Errorf("Source() = %q, want %q", got, tt.src)
		}
		got, err := u.Eval(env)
		if err != nil {
			t.Errorf("CompileURL(%q).Eval: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CompileURL(%q).Eval = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestURLInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want string
	}{
		{"{record.id}/x", "invalid url: must be absolute, starting with http:// or https://"},
		{"{record.nothing}", "invalid url: must be absolute, starting with http:// or https://"},
		{"{secrets.FTP}/{record.id}", `invalid url: scheme must be http or https, got "ftp"`},
		{"{'file'}:///etc/passwd", `invalid url: scheme must be http or https, got "file"`},
		{"http://{record.empty}/x", "invalid url: host is missing"},
		{"http://{record.empty}:80/x", "invalid url: host is missing"},
		{"https:{record.id}", "invalid url: host is missing"},
		{"{secrets.BAD}?a={record.id}", `invalid url: invalid URL escape "%zz"`},
		{"{record.name}", "invalid url: space or control character at byte 3"},
		{"https://{record.name}/", "invalid url: space or control character at byte 11"},
		{"https://{'a\\nb'}/", "invalid url: space or control character at byte 9"},
		{"https://{'a:b:c'}/", `invalid url: invalid port ":b:c" after host`},
	}
	env := testEnv()
	for _, tt := range tests {
		u, err := CompileURL(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileURL(%q): %v", tt.src, err)
			continue
		}
		got, err := u.Eval(env)
		if !errors.Is(err, ErrInvalidURL) {
			t.Errorf("CompileURL(%q).Eval = %q, %v, want ErrInvalidURL", tt.src, got, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("CompileURL(%q).Eval error = %q, want %q", tt.src, err, tt.want)
		}
	}
}

func TestCompileURLInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src     string
		wantURL string // ErrInvalidURL message, or
		wantPos int    // position of an *Error
	}{
		{src: "ftp://example.com/{record.id}", wantURL: `invalid url: scheme must be http or https, got "ftp"`},
		{src: "FTP://{record.host}", wantURL: `invalid url: scheme must be http or https, got "ftp"`},
		{src: "https://example.com/%zz", wantURL: `invalid url: invalid URL escape "%zz"`},
		{src: "/relative/path", wantURL: "invalid url: must be absolute, starting with http:// or https://"},
		{src: "", wantURL: "invalid url: must be absolute, starting with http:// or https://"},
		{src: "https:///path", wantURL: "invalid url: host is missing"},
		{src: "https://example.com/a b", wantURL: "invalid url: space or control character at byte 21"},
		{src: "https://example.com/{record.x", wantPos: 20},
		{src: "https://example.com/}", wantPos: 20},
		{src: "https://example.com/{recrod.x}", wantPos: 21},
	}
	for _, tt := range tests {
		_, err := CompileURL(tt.src, Options{})
		if tt.wantURL != "" {
			if !errors.Is(err, ErrInvalidURL) || err.Error() != tt.wantURL {
				t.Errorf("CompileURL(%q) error = %v, want %q", tt.src, err, tt.wantURL)
			}
			continue
		}
		var re *Error
		if !errors.As(err, &re) || re.Pos != tt.wantPos {
			t.Errorf("CompileURL(%q) error = %v, want an *Error at position %d", tt.src, err, tt.wantPos)
		}
	}
}

func TestURLEvalError(t *testing.T) {
	t.Parallel()
	u, err := CompileURL("https://example.com/{record.x.y}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Eval(testEnv())
	var ee *EvalError
	if !errors.As(err, &ee) || errors.Is(err, ErrInvalidURL) {
		t.Fatalf("Eval error = %v, want an *EvalError", err)
	}
	if want := `evaluate "https://example.com/{record.x.y}": cannot fetch y from <nil>`; err.Error() != want {
		t.Errorf("Eval error = %q, want %q", err, want)
	}
}

func TestURLUses(t *testing.T) {
	t.Parallel()
	u, err := CompileURL("{secrets.BASE}/x/{record.id}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !u.Uses("secrets") || !u.Uses("record") || u.Uses("fields") {
		t.Errorf("Uses: secrets %v, record %v, fields %v; want true, true, false", u.Uses("secrets"), u.Uses("record"), u.Uses("fields"))
	}
}

// FuzzURL renders templates with a fuzzed value in every position.
func FuzzURL(f *testing.F) {
	for _, tt := range urlTests {
		f.Add(tt.src, "v")
	}
	for _, v := range []string{"", "a/b", "a b", "..", "?x=1#y", "%zz", "https://evil.example", "é\x00\n", "{}"} {
		f.Add("https://example.com/{record.v}?q={record.v}#{record.v}", v)
		f.Add("{record.v}/path", v)
		f.Add("https://{record.v}/", v)
	}
	f.Fuzz(func(t *testing.T, src, value string) {
		u, err := CompileURL(src, Options{})
		if err != nil {
			var re *Error
			if !errors.As(err, &re) && !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("CompileURL(%q) error = %#v, want *Error or ErrInvalidURL", src, err)
			}
			return
		}
		env := testEnv()
		env["record"].(map[string]any)["v"] = value
		got, err := u.Eval(env)
		if err != nil {
			var ee *EvalError
			if !errors.As(err, &ee) && !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("Eval(%q, %q) error = %#v, want *EvalError or ErrInvalidURL", src, value, err)
			}
			return
		}
		p, err := url.Parse(got)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Hostname() == "" || p.Opaque != "" {
			t.Fatalf("Eval(%q, %q) = %q, which is not an absolute http(s) URL (%v)", src, value, got, err)
		}
		if again, err := checkURL(got); err != nil || again != got {
			t.Fatalf("Eval(%q, %q) = %q, not canonical: %q, %v", src, value, got, again, err)
		}
		// A value in the path or the query stays inside its segment.
		if strings.HasPrefix(src, "https://example.com/{record.v}?q={record.v}") && value != "" {
			seg := strings.TrimPrefix(p.EscapedPath(), "/")
			if strings.Contains(seg, "/") || strings.Count(p.RawQuery, "&") != 0 {
				t.Fatalf("Eval(%q, %q) = %q: the value escaped its segment", src, value, got)
			}
		}
	})
}
