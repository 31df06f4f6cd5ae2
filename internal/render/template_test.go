package render

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// templateTests are compiled and rendered with String against testEnv.
var templateTests = []struct {
	src     string
	want    string // String's output when compilation succeeds
	static  bool
	wantPos int    // position of the compile error, when wantErr is set
	wantErr string // prefix of the compile error's message
}{
	{src: "", want: "", static: true},
	{src: "plain text", want: "plain text", static: true},
	{src: "{{", want: "{", static: true},
	{src: "}}", want: "}", static: true},
	{src: "{{record.id}}", want: "{record.id}", static: true},
	{src: `{{"a": 1}}`, want: `{"a": 1}`, static: true},
	{src: "é{{ü}}", want: "é{ü}", static: true},
	{src: "{record.id}", want: "rec_1"},
	{src: "a {record.id} b", want: "a rec_1 b"},
	{src: "{record.id}{record.name}", want: "rec_1Ada Lovelace"},
	{src: "{{{record.id}}}", want: "{rec_1}"},
	{src: `{{"id": "{record.id}"}}`, want: `{"id": "rec_1"}`},
	{src: "{ record.id }", want: "rec_1"},
	{src: "{\n\trecord.id\n}", want: "rec_1"},
	{src: "é{record.id}ü", want: "érec_1ü"},
	{src: "{record.nothing}", want: ""},
	{src: "{record.missing}", want: ""},
	{src: "{record.amount}", want: "1500"},
	{src: "{record.ratio}", want: "0.1"},
	{src: "{record.count}", want: "3"},
	{src: "{record.active}", want: "true"},
	{src: "{record.tags}", want: `["a","b"]`},
	{src: "{record.meta}", want: `{"a":"x<y","b":1}`},
	{src: "{now}", want: "2026-03-14T15:09:26Z"},
	{src: "{now()}", want: "2026-03-14T15:09:26Z"},
	// Braces nest and strings and comments are skipped inside expressions.
	{src: `{ {"a}": 1}["a}"] }`, want: "1"},
	{src: "{ {'a': {'b': 2}}.a.b }", want: "2"},
	{src: "{'}'}", want: "}"},
	{src: "{'{'}", want: "{"},
	{src: `{"\"}"}`, want: `"}`},
	{src: `{'\'}'}`, want: "'}"},
	{src: "{`}`}", want: "}"},
	{src: "{`a``b`}", want: "a`b"},
	{src: "{'a' /* } */ + 'b'}", want: "ab"},
	{src: "{record.id // }\n}", want: "rec_1"},
	{src: "{10 / 4}", want: "2.5"},
	{src: "{if record.active { 'y' } else { 'n' }}", want: "y"},
	{src: "{record.amount > 1000 ? 'big' : 'small'}", want: "big"},
	// Functions.
	{src: "{urlencode(record.query)}", want: "a%26b%3Dc+d"},
	{src: "{urlencode(record.amount)}", want: "1500"},
	{src: "{urlEncode(record.query)}", want: "a%26b%3Dc%20d"},
	{src: "{urlEncode('a+b ~._-/é')}", want: "a%2Bb%20~._-%2F%C3%A9"},
	{src: "{urlEncode(record.count)}", want: "3"},
	{src: "{toBase64Url('??>>')}", want: "Pz8-Pg"},
	{src: "{toBase64Url(record.nothing)}", want: ""},
	{src: "{sha256('abc')}", want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{src: "{sha256('')}", want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	// RFC 4231 test case 2
	{src: "{hmacSHA256('Jefe', 'what do ya want for nothing?')}", want: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{src: "{hmacSHA256(secrets.KEY, record.count)}", want: "5c35e40bcf2235339b6e4ddb6ef42f9df081df500550f6f69c3ccc23e3964d2f"},
	{src: "{formatDate(record.due, '02.01.2006')}", want: "01.04.2026"},
	{src: "{formatDate(record.dueAt, '2006-01-02 15:04 -07:00')}", want: "2026-04-01 10:00 +02:00"},
	{src: "{formatDate(now, 'Jan 2')}", want: "Mar 14"},
	{src: "{formatDate(record.nothing, '2006')}", want: ""},
	{src: "{coalesce(record.nothing, record.empty, 'x', 'y')}", want: "x"},
	{src: "{coalesce(record.nothing, 0)}", want: "0"},
	{src: "{coalesce(record.nothing)}", want: ""},
	{src: "{default(record.nothing, 'n/a')}", want: "n/a"},
	{src: "{default(record.empty, 'n/a')}", want: "n/a"},
	{src: "{default(record.id, 'n/a')}", want: "rec_1"},
	{src: "{default(false, true)}", want: "false"},
	{src: "{upper(record.id)} {lower('AB')} {trim('  x ')}", want: "REC_1 ab x"},
	{src: "{len(record.tags)}", want: "2"},
	{src: "{join(record.tags, ',')}", want: "a,b"},
	{src: "{fromJSON('{\"a\": 1}').a}", want: "1"},
	{src: "{toJSON(record.id)}", want: `"rec_1"`},
	{src: "{date('2026-01-02').Year()}", want: "2026"},
	{src: "{duration('90m').Minutes()}", want: "90"},
	{src: "{repeat('ab', 3)}", want: "ababab"},
	{src: "{secrets.KEY}/{fields.token}/{trigger.type}/{run.id}", want: "s3cr3t/tok/record_added/run_1"},
	// Syntax errors.
	{src: "}", wantPos: 0, wantErr: "unmatched '}' (write '}}' for a literal brace)"},
	{src: "a}b", wantPos: 1, wantErr: "unmatched '}'"},
	{src: "{record.id}}", wantPos: 11, wantErr: "unmatched '}'"},
	{src: "{", wantPos: 0, wantErr: "unclosed '{' (write '{{' for a literal brace)"},
	{src: "ab {record.id", wantPos: 3, wantErr: "unclosed '{'"},
	{src: "{ {'a': 1}", wantPos: 0, wantErr: "unclosed '{'"},
	{src: "{record.id // }", wantPos: 0, wantErr: "unclosed '{': a // comment"},
	{src: "{}", wantPos: 0, wantErr: "empty expression"},
	{src: "x {  }", wantPos: 2, wantErr: "empty expression"},
	{src: "{'abc}", wantPos: 1, wantErr: "unterminated string"},
	{src: `{"ab\"}`, wantPos: 1, wantErr: "unterminated string"},
	{src: "{`abc}", wantPos: 1, wantErr: "unterminated string"},
	{src: "{a /* }", wantPos: 3, wantErr: "unterminated comment"},
	// Expression errors, positioned in the template.
	{src: "{recrod.x}", wantPos: 1, wantErr: "unknown name recrod"},
	{src: "é {recrod.x}", wantPos: 4, wantErr: "unknown name recrod"},
	{src: "ab {record.x + }", wantPos: 14, wantErr: "unexpected token EOF"},
	{src: "{ 1 + 'a' }", wantPos: 4, wantErr: "invalid operation"},
	{src: "{record.a}{now(1)}", wantPos: 11, wantErr: "now is the run's time"},
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	env := testEnv()
	for _, tt := range templateTests {
		tmpl, err := CompileTemplate(tt.src, Options{})
		if tt.wantErr != "" {
			var re *Error
			if !errors.As(err, &re) {
				t.Errorf("CompileTemplate(%q) error = %v, want *Error %q", tt.src, err, tt.wantErr)
				continue
			}
			if re.Pos != tt.wantPos || !strings.HasPrefix(re.Msg, tt.wantErr) {
				t.Errorf("CompileTemplate(%q) error = %v, want position %d: %s", tt.src, err, tt.wantPos, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		if got := tmpl.Source(); got != tt.src {
			t.Errorf("Source() = %q, want %q", got, tt.src)
		}
		if got := tmpl.IsStatic(); got != tt.static {
			t.Errorf("CompileTemplate(%q).IsStatic() = %v, want %v", tt.src, got, tt.static)
		}
		got, err := tmpl.String(env)
		if err != nil {
			t.Errorf("CompileTemplate(%q).String: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CompileTemplate(%q).String = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestTemplateEvalNative(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want any
	}{
		{"{record.amount}", 1500.0},
		{"{record.tags}", []any{"a", "b"}},
		{"{record.meta}", map[string]any{"a": "x<y", "b": 1.0}},
		{"{record.active}", true},
		{"{record.nothing}", nil},
		{"{ record.amount }", 1500.0}, // spaces inside the braces are the expression's
		{"{now}", testNow},
		{"{len(record.tags)}", 2},
		{"{record.price}", "1500.00"},
		// Any literal text makes a string.
		{" {record.amount}", " 1500"},
		{"{record.amount} ", "1500 "},
		{"{record.amount}{record.amount}", "15001500"},
		{"{record.nothing}{record.nothing}", ""},
		{"{record.active}!", "true!"},
		{"static", "static"},
		{"", ""},
	}
	env := testEnv()
	for _, tt := range tests {
		tmpl, err := CompileTemplate(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		got, err := tmpl.Eval(env)
		if err != nil {
			t.Errorf("Eval(%q): %v", tt.src, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Eval(%q) mismatch (-want +got):\n%s", tt.src, diff)
		}
	}
}

func TestTemplateEvalError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want string
	}{
		{"{record.x.y}", `evaluate "{record.x.y}": cannot fetch y from <nil>`},
		{"id {record.id}: {record.amount + 'x'}", `evaluate "id {record.id}: {record.amount + 'x'}": invalid operation: float64 + string`},
		{"{formatDate(record.name, '2006')}", `evaluate "{formatDate(record.name, '2006')}": formatDate: "Ada Lovelace" is not a date (RFC 3339 or YYYY-MM-DD)`},
		{"{formatDate(record.amount, '2006')}", `evaluate "{formatDate(record.amount, '2006')}": formatDate: cannot use number as a date`},
		{"{repeat('ab', 1000000)}", `evaluate "{repeat('ab', 1000000)}": repeat: result would be longer than 1 MiB`},
		{"{repeat('ab', -1)}", `evaluate "{repeat('ab', -1)}": repeat: count must not be negative, got -1`},
	}
	env := testEnv()
	for _, tt := range tests {
		tmpl, err := CompileTemplate(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		for name, eval := range map[string]func(Env) (any, error){
			"Eval":   tmpl.Eval,
			"String": func(env Env) (any, error) { return tmpl.String(env) },
		} {
			_, err := eval(env)
			var ee *EvalError
			if !errors.As(err, &ee) {
				t.Errorf("%s(%q) error = %v, want *EvalError", name, tt.src, err)
				continue
			}
			if ee.Source != tt.src {
				t.Errorf("%s(%q) error source = %q, want the template", name, tt.src, ee.Source)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("%s(%q) error = %q, want %q", name, tt.src, got, tt.want)
			}
		}
	}
}

func TestTemplateUses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want []string // the roots used
	}{
		{"static {{secrets.KEY}}", nil},
		{"{secrets.KEY}", []string{"secrets"}},
		{"Bearer {secrets.KEY} for {record.id}", []string{"record", "secrets"}},
		{"{record.secrets}", []string{"record"}},
		{"{'secrets'}", nil},
		{"{map(record.tags, # + secrets.KEY)}", []string{"record", "secrets"}},
		{"{previous?.x} {fields.y} {trigger.type} {run.id}", []string{"fields", "previous", "run", "trigger"}},
		{"{now()}", []string{"now"}},
		{"{formatDate(now, '2006')}", []string{"now"}},
		{"{$env['secrets'].KEY}", roots[:]},
	}
	for _, tt := range tests {
		tmpl, err := CompileTemplate(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		var got []string
		for _, r := range roots {
			if tmpl.Uses(r) {
				got = append(got, r)
			}
		}
		want := map[string]bool{}
		for _, r := range tt.want {
			want[r] = true
		}
		for _, r := range roots {
			if tmpl.Uses(r) != want[r] {
				t.Errorf("CompileTemplate(%q): uses %v, want %v", tt.src, got, tt.want)
				break
			}
		}
	}
	tmpl, _ := CompileTemplate("{record.id}", Options{})
	if tmpl.Uses("unknown") {
		t.Error(`Uses("unknown") = true, want false`)
	}
}

func TestTemplateConcurrent(t *testing.T) {
	t.Parallel()
	tmpl, err := CompileTemplate("{record.id}-{upper(record.name)}-{len(record.tags) * 2}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			env := testEnv()
			for range 200 {
				got, err := tmpl.String(env)
				if err != nil || got != "rec_1-ADA LOVELACE-4" {
					t.Errorf("String = %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzCompileTemplate(f *testing.F) {
	for _, tt := range templateTests {
		f.Add(tt.src)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := CompileTemplate(src, Options{})
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || re.Pos < 0 || re.Pos > len(src) {
				t.Fatalf("CompileTemplate(%q) error = %#v, want an *Error inside the source", src, err)
			}
			return
		}
		got, err := tmpl.String(env)
		if tmpl.IsStatic() {
			want := strings.ReplaceAll(strings.ReplaceAll(src, "{{", "{"), "}}", "}")
			if err != nil || got != want {
				t.Fatalf("static CompileTemplate(%q).String = %q, %v, want %q", src, got, err, want)
			}
			return
		}
		if err != nil {
			var ee *EvalError
			if !errors.As(err, &ee) || ee.Source != src {
				t.Fatalf("CompileTemplate(%q).String error = %#v, want an *EvalError", src, err)
			}
		}
	})
}

func TestTemplateValuesUsing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want []string
	}{
		{"static {{secrets.KEY}}", nil},
		{"{record.id}", nil},
		{"Bearer {secrets.KEY} for {record.id}", []string{"s3cr3t"}},
		{"{toBase64('u:' + secrets.KEY)}-{upper(secrets.KEY)}", []string{"dTpzM2NyM3Q=", "S3CR3T"}},
		{"{len(secrets.KEY)}", []string{"6"}},
		{"{secrets.MISSING.x}", nil}, // fails to evaluate: String reports it
	}
	for _, tt := range tests {
		tmpl, err := CompileTemplate(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		got := tmpl.ValuesUsing(nil, testEnv(), "secrets")
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("ValuesUsing(%q) (-want +got):\n%s", tt.src, d)
		}
	}
}

// TestBodyRoot: body is the request body, for header values; it is a known
// name everywhere (the automation compiler says where it may be used) and
// nil where the environment has none.
func TestBodyRoot(t *testing.T) {
	t.Parallel()
	tpl, err := CompileTemplate("sha256={hmacSHA256(secrets.KEY, body)}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !tpl.Uses(RootBody) || !tpl.Uses(RootSecrets) || tpl.Uses(RootRecord) {
		t.Errorf("Uses: body %v, secrets %v, record %v", tpl.Uses(RootBody), tpl.Uses(RootSecrets), tpl.Uses(RootRecord))
	}
	env := testEnv()
	env[RootBody] = "3"
	got, err := tpl.String(env)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256=5c35e40bcf2235339b6e4ddb6ef42f9df081df500550f6f69c3ccc23e3964d2f"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, err := tpl.String(testEnv()); err != nil || got == "" {
		t.Errorf("without a body: %q, %v", got, err)
	}
}
