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
	// In the authority a value is checked (or, in the user info, escaped):
	// it can never change the host the template writes.
	{"https://{record.sub}.crm.example.com/x", "https://eu-west_2.crm.example.com/x"},
	{"https://api-{record.sub}.example.com/", "https://api-eu-west_2.example.com/"},
	{"https://api.example.com:{record.port}/", "https://api.example.com:8443/"},
	{"{record.scheme}://api.example.com/", "https://api.example.com/"},
	{"https://user:{record.evil}@api.example.com/", "https://user:127.0.0.3%3A19000%2Fsteal%3F@api.example.com/"},
	{"https://{record.evil}:{secrets.KEY}@api.example.com/", "https://127.0.0.3%3A19000%2Fsteal%3F:s3cr3t@api.example.com/"},
	{"https://{record.ip6}/", "https://[::1]/"},
	{"https://{record.hostport}/", "https://example.org:8443/"},
	{"{secrets.ROOT}:{record.port}/x", "https://api.example.com:8443/x"},
	{"{secrets.ROOT}{'?a=1'}", "https://api.example.com?a=1"},
}

// urlEnv is testEnv with the values TestURL puts in the authority.
func urlEnv() Env {
	env := testEnv()
	rec := env["record"].(map[string]any)
	rec["sub"], rec["port"], rec["scheme"], rec["evil"] = "eu-west_2", "8443", "https", "127.0.0.3:19000/steal?"
	rec["ip6"], rec["hostport"] = "[::1]", "example.org:8443"
	return env
}

func TestURL(t *testing.T) {
	t.Parallel()
	env := urlEnv()
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
		{"http://{record.empty}/x", "invalid url: host is missing"},
		{"http://{record.empty}:80/x", "invalid url: host is missing"},
		{"https:{record.id}", "invalid url: host is missing"},
		{"https:{record.externalId}", "invalid url: the value of {record.externalId} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"{secrets.BAD}?a={record.id}", `invalid url: invalid URL escape "%zz"`},
		{"{record.name}", "invalid url: space or control character at byte 3"},
		// A value that would change the authority (issue 18, finding 5).
		{"http://{record.evil}.crm.example.com/", "invalid url: the value of {record.evil} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"http://{record.atHost}.crm.example.com/", "invalid url: the value of {record.atHost} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"http://{record.host}.crm.example.com/", "invalid url: the value of {record.host} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"http://{record.fullwidthDot}.crm.example.com/", "invalid url: the value of {record.fullwidthDot} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"http://crm.example.com:{record.evil}/", "invalid url: the value of {record.evil} is in the port, so it must be digits"},
		{"http://crm.example.com:{record.empty}/", "invalid url: the value of {record.empty} is in the port, so it must be digits"},
		{"{record.evil}://crm.example.com/", "invalid url: the value of {record.evil} is in the scheme, which must be http or https"},
		{"http://{record.evil}/x", "invalid url: the value of {record.evil} is the host and port, so what follows ':' must be a port number"},
		{"http://{record.atHost}/x", "invalid url: the value of {record.atHost} is the host and port, so it must be a host name (labels of letters, digits, '-' and '_', separated by dots) or an IP address, with an optional ':port'"},
		{"http://{record.atHost}:80/x", "invalid url: the value of {record.atHost} is the host, so it must be a host name (labels of letters, digits, '-' and '_', separated by dots) or an IP address"},
		{"http://{record.sub}{record.atHost}.example.com/x", "invalid url: the value of {record.atHost} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"{secrets.ROOT}{record.atHost}/x", "invalid url: the value of {record.atHost} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"http://{record.long}.example.com/x", "invalid url: the value of {record.long} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{"https://{record.name}/", "invalid url: the value of {record.name} is the host and port, so it must be a host name (labels of letters, digits, '-' and '_', separated by dots) or an IP address, with an optional ':port'"},
	}
	env := urlEnv()
	rec := env["record"].(map[string]any)
	rec["atHost"], rec["fullwidthDot"], rec["long"] = "evil.example@crm", "evil．example", strings.Repeat("a", 64)
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
		// Constants in the scheme or the host are checked at once.
		{src: "{'file'}:///etc/passwd", wantURL: "invalid url: the value of {'file'} is in the scheme, which must be http or https"},
		{src: "https://{'a\\nb'}/", wantURL: "invalid url: the value of {'a\\nb'} is the host and port, so it must be a host name (labels of letters, digits, '-' and '_', separated by dots) or an IP address, with an optional ':port'"},
		{src: "https://{'a:b:c'}/", wantURL: "invalid url: the value of {'a:b:c'} is the host and port, so what follows ':' must be a port number"},
		{src: "https://{'127.0.0.3:19000/steal?'}.crm.example.com/", wantURL: "invalid url: the value of {'127.0.0.3:19000/steal?'} is part of the host, so it must be one DNS label: 1 to 63 letters, digits, '-' or '_'"},
		{src: "https://api.example.com:{'80/x'}/", wantURL: "invalid url: the value of {'80/x'} is in the port, so it must be digits"},
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

func TestURLHostUsesAndPassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src            string
		record, secret bool // HostUses
		password       bool
	}{
		{src: "https://{record.sub}.example.com/{secrets.X}", record: true},
		{src: "https://api.example.com:{record.port}/", record: true},
		{src: "{record.url}/x", record: true},
		{src: "{secrets.BASE}/x/{record.id}", secret: true},
		{src: "https://api.example.com/{record.id}?k={secrets.K}"},
		{src: "https://user:{secrets.PW}@api.example.com/", password: true},
		{src: "https://user:pw@api.example.com/{record.id}", password: true},
		{src: "https://{record.user}@api.example.com/"},
		{src: "https://api.example.com/a:b@c"},
	} {
		u, err := CompileURL(tc.src, Options{})
		if err != nil {
			t.Fatalf("CompileURL(%q): %v", tc.src, err)
		}
		if got := u.HostUses("record"); got != tc.record {
			t.Errorf("CompileURL(%q).HostUses(record) = %v, want %v", tc.src, got, tc.record)
		}
		if got := u.HostUses("secrets"); got != tc.secret {
			t.Errorf("CompileURL(%q).HostUses(secrets) = %v, want %v", tc.src, got, tc.secret)
		}
		if got := u.HasPassword(); got != tc.password {
			t.Errorf("CompileURL(%q).HasPassword() = %v, want %v", tc.src, got, tc.password)
		}
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

// FuzzURLAuthority: whatever the values, the request goes to the host (and
// port, and user) that the template writes; a value in the host can only
// fill its own label, one in the port only digits, one in the user info is
// only ever user info.
func FuzzURLAuthority(f *testing.F) {
	templates := []string{
		"https://{record.v}.crm.example.com/x",
		"https://api-{record.v}.example.com/x",
		"https://api.example.com:{record.v}/x",
		"https://user:{record.v}@api.example.com/x",
		"https://{record.v}@api.example.com/x",
		"{record.v}://api.example.com/x",
		"https://api.example.com/{record.v}?q={record.v}#{record.v}",
		"https://api.example.com?{record.v}",
		"https://{record.v}/x",
		"https://{record.v}:8443/x",
	}
	for _, v := range []string{"eu", "127.0.0.3:19000/steal?", "a@b", "evil.example#", "a\\b", "[::1]", "x．y", "80", "https", "a/b", "", "%2F", "..", "a:b@c"} {
		for i := range templates {
			f.Add(uint8(i), v)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, v string) {
		src := templates[int(which)%len(templates)]
		u, err := CompileURL(src, Options{})
		if err != nil {
			t.Fatalf("CompileURL(%q): %v", src, err)
		}
		got, err := u.Eval(NewEnv(map[string]any{"v": v}, nil, nil, nil, nil, nil, testNow))
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("Eval(%q, %q) = %v, want ErrInvalidURL", src, v, err)
			}
			return
		}
		p, err := url.Parse(got)
		if err != nil {
			t.Fatalf("Eval(%q, %q) = %q, which does not parse: %v", src, v, got, err)
		}
		host, port := p.Hostname(), p.Port()
		want := func(ok bool) {
			t.Helper()
			if !ok {
				t.Fatalf("Eval(%q, %q) = %q: host %q, port %q, user %v", src, v, got, host, port, p.User)
			}
		}
		switch src {
		case templates[0]:
			want(p.User == nil && port == "" && strings.HasSuffix(host, ".crm.example.com") && strings.Count(host, ".") == 3)
		case templates[1]:
			want(p.User == nil && port == "" && strings.HasPrefix(host, "api-") && strings.HasSuffix(host, ".example.com") && strings.Count(host, ".") == 2)
		case templates[2]:
			want(p.User == nil && host == "api.example.com" && port == v)
		case templates[3]:
			pw, _ := p.User.Password()
			want(host == "api.example.com" && port == "" && p.User.Username() == "user" && pw == v)
		case templates[4]:
			_, hasPW := p.User.Password()
			want(host == "api.example.com" && port == "" && p.User.Username() == v && !hasPW)
		case templates[5], templates[6], templates[7]:
			want(p.User == nil && host == "api.example.com" && port == "")
		case templates[8]:
			want(p.User == nil && (p.Host == v || p.Host == strings.ToLower(v)))
		case templates[9]:
			want(p.User == nil && port == "8443" && !strings.ContainsAny(host, "/?#@"))
		}
	})
}
