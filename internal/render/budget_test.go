package render

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// budgetTests are expressions that must stop at a limit. Each runs both as
// a template ("{src}") and, when cond is set, as a condition.
var budgetTests = []struct {
	name      string
	src       string
	opts      Options
	wantLimit string
}{
	// The finding of issue 18: a megabyte string a thousand times.
	{name: "repeat in a loop", src: `len(map(1..5000, repeat("a", 1048576)))`, wantLimit: LimitMemory},
	{name: "repeat in a loop, 500", src: `len(map(1..500, repeat("a", 1048576)))`, wantLimit: LimitMemory},
	{name: "doubling a string", src: `len(reduce(1..40, #acc + #acc, "ab"))`, wantLimit: LimitMemory},
	{name: "concatenation in a loop", src: `len(reduce(1..100000, #acc + record.name, ""))`, wantLimit: LimitMemory},
	{name: "shared values serialised", src: `len(toJSON(map(1..100, repeat("a", 1048576))))`, wantLimit: LimitMemory},
	{name: "shared values in an array literal", src: `len(toJSON([repeat("a", 1048576), repeat("a", 1048576), repeat("a", 1048576), repeat("a", 1048576), repeat("a", 1048576), repeat("a", 1048576), repeat("a", 1048576), repeat("a", 1048576), repeat("a", 1048576)]))`, wantLimit: LimitMemory},
	{name: "replace multiplies", src: `len(replace(repeat("a", 1048576), "a", repeat("b", 1000)))`, wantLimit: LimitMemory},
	{name: "replace of the empty string", src: `len(replace(repeat("a", 100000), "", repeat("b", 100)))`, wantLimit: LimitMemory},
	{name: "join with a long separator", src: `len(join(map(1..100000, "x"), repeat("-", 1000)))`, wantLimit: LimitMemory},
	{name: "split into runes", src: `len(split(repeat("a", 1048576), ""))`, wantLimit: LimitMemory},
	{name: "splitAfter into runes", src: `len(splitAfter(repeat("a", 1048576), ""))`, wantLimit: LimitMemory},
	{name: "a huge range", src: `len(1..100000000)`, wantLimit: LimitMemory},
	{name: "a huge computed range", src: `len(1..(record.amount * 100000))`, wantLimit: LimitMemory},
	{name: "a small memory budget", src: `len(repeat("a", 1000) + repeat("b", 1000))`, opts: Options{MaxMemory: 1500}, wantLimit: LimitMemory},
	// CPU: loops stop at the step budget, whatever their memory.
	{name: "a long loop", src: `count(1..999999, # > 0)`, wantLimit: LimitSteps},
	{name: "nested loops", src: `count(1..1000, all(1..1000, # > 0))`, wantLimit: LimitSteps},
	{name: "nested loops over a record", src: `count(1..1000, any(1..1000, # in record.tags))`, wantLimit: LimitSteps},
	{name: "a small step budget", src: `sum(map(1..100, # * 2))`, opts: Options{MaxSteps: 50}, wantLimit: LimitSteps},
	// Time: a backstop when the other limits are far away, looked at while
	// a loop runs when its body's time may grow (a constant-time body
	// runs at most MaxSteps times).
	{name: "time", src: `count(1..1000000, string(#) != "x")`, opts: Options{MaxSteps: 1 << 40, MaxTime: time.Millisecond}, wantLimit: LimitTime},
	{name: "time, nested loops", src: `count(1..1000, any(1..1000, # < 0))`, opts: Options{MaxSteps: 1 << 40, MaxTime: time.Millisecond}, wantLimit: LimitTime},
	// Matching: Go's regexp cannot be interrupted, so the work is bounded
	// before it starts.
	{name: "matching a long text", src: `repeat("a", 1048576) + repeat("a", 1048576) matches "^(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p)+$"`, wantLimit: LimitMatch},
	{name: "matching against a computed pattern", src: `repeat("a", 1048576) matches ("^(a|b)+" + repeat("c?", 50) + "$")`, wantLimit: LimitMatch},
	{name: "matching in a loop", src: `all(1..1000000, record.name matches "^Ada")`, wantLimit: LimitSteps},
	// The result.
	{name: "a long result", src: `repeat("a", 2000)`, opts: Options{MaxResult: 1000}, wantLimit: LimitResult},
	{name: "a large array as the result", src: `map(1..100, record.name)`, opts: Options{MaxResult: 100}, wantLimit: LimitResult},
}

func TestBudgetStops(t *testing.T) {
	t.Parallel()
	for _, tt := range budgetTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.opts.MaxTime == 0 {
				// The clock is not what these cases test: a busy machine
				// (or -race) must not reach it first.
				tt.opts.MaxTime = time.Minute
			}
			tmpl, err := CompileTemplate("{"+tt.src+"}", tt.opts)
			if err != nil {
				t.Fatalf("CompileTemplate: %v", err)
			}
			got, err := tmpl.Eval(testEnv())
			checkBudgetError(t, "{"+tt.src+"}", got, err, tt.wantLimit)
			if tt.wantLimit == LimitResult {
				return // a condition's result is a boolean
			}
			// Not "> 0": the optimizer turns count(...) > 0 into any(...).
			cond, err := CompileExpr(tt.src+" != nil", tt.opts)
			if err != nil {
				t.Fatalf("CompileExpr: %v", err)
			}
			ok, err := cond.EvalBool(testEnv())
			checkBudgetError(t, cond.Source(), ok, err, tt.wantLimit)
		})
	}
}

func checkBudgetError(t *testing.T, src string, got any, err error, limit string) {
	t.Helper()
	var ee *EvalError
	var be *BudgetError
	if !errors.As(err, &ee) || !errors.As(err, &be) || !errors.Is(err, ErrBudget) {
		t.Fatalf("evaluate %.60q = %.40v, %v; want an *EvalError over the %s budget", src, got, err, limit)
	}
	if be.Limit != limit {
		t.Errorf("evaluate %.60q: over the %s budget (%v), want %s", src, be.Limit, err, limit)
	}
	if !strings.HasPrefix(err.Error(), "evaluate ") || !strings.Contains(err.Error(), be.Error()) {
		t.Errorf("error %q does not name the expression and the limit", err)
	}
}

func TestBudgetMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  *BudgetError
		want string
	}{
		{&BudgetError{Limit: LimitMemory, Max: DefaultMaxMemory}, "over the memory budget: the values the expression builds exceed 8 MiB"},
		{&BudgetError{Limit: LimitMemory, Max: 1500}, "over the memory budget: the values the expression builds exceed 1500 bytes"},
		{&BudgetError{Limit: LimitSteps, Max: DefaultMaxSteps}, "over the step budget: more than 200000 loop iterations and values built"},
		{&BudgetError{Limit: LimitTime, Max: 1000}, "over the time budget: still running after 1000 ms"},
		{&BudgetError{Limit: LimitResult, Max: 64 << 10}, "the result is larger than 64 KiB (result size limit)"},
		{&BudgetError{Limit: LimitMatch, Max: maxMatchWork}, "over the time budget: matching a text against a pattern is limited to 67108864 text bytes × pattern bytes"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", *tt.err, got, tt.want)
		}
	}
}

// legitimate are templates that real automations use, with what they
// render; they must work within the default budget.
var legitimate = []struct {
	src  string
	want string
}{
	// The bench's call_api step.
	{"{record.sink}/hook/{record.id}", "http://127.0.0.1:1/hook/rec_1"},
	{"{record.customer}", "ACME"},
	{"{upper(record.customer)}", "ACME"},
	{"{record.amount * 1.2}", "1800"},
	{"{record.vip}", "true"},
	{"{record.items}", `[{"qty":2,"sku":"A"},{"qty":1,"sku":"B"}]`},
	// Strings, lists and maps built from the record.
	{"{record.name + ' <' + lower(record.id) + '>'}", "Ada Lovelace <rec_1>"},
	{"{join(map(record.items, #.sku + 'x' + string(#.qty)), ', ')}", "Ax2, Bx1"},
	{"{toJSON({'id': record.id, 'tags': record.tags})}", "{\n  \"id\": \"rec_1\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ]\n}"},
	{"{sum(map(record.items, #.qty))}", "3"},
	{"{len(filter(1..10000, # % 7 == 0))}", "1428"},
	{"{len(split(record.big, ','))}", "20000"},
	{"{len(replace(record.big, ',', ', '))}", "139998"},
	{"{len(toJSON(record.big))}", "120001"},
	{"{len(repeat('ab', 500000))}", "1000000"},
	{"{record.id in ['rec_1', 'rec_2'] && record.amount in 1..1000000}", "true"},
	{"{formatDate(record.due, '02/01/2006')}", "01/04/2026"},
	{"{record.name matches '^Ada' && record.name matches ('Love' + 'lace$') && !(record.nothing matches 'x')}", "true"},
	{"{len(record.big) > 0 && record.big matches '^(abcde,)+abcde$'}", "true"},
}

// legitEnv is testEnv with the bench's fields and a large text field.
func legitEnv() Env {
	env := testEnv()
	rec := env[RootRecord].(map[string]any)
	rec["sink"] = "http://127.0.0.1:1"
	rec["customer"] = "ACME"
	rec["vip"] = true
	rec["items"] = []any{map[string]any{"sku": "A", "qty": 2.0}, map[string]any{"sku": "B", "qty": 1.0}}
	rec["big"] = strings.Repeat("abcde,", 20000)[:119999] // a 120 kB text field
	return env
}

func TestBudgetAllowsLegitimateUse(t *testing.T) {
	t.Parallel()
	for _, tt := range legitimate {
		tmpl, err := CompileTemplate(tt.src, Options{})
		if err != nil {
			t.Errorf("CompileTemplate(%q): %v", tt.src, err)
			continue
		}
		got, err := tmpl.String(legitEnv())
		if err != nil || got != tt.want {
			t.Errorf("String(%q) = %.80q, %v, want %.80q", tt.src, got, err, tt.want)
		}
	}
}

// TestTemplatePartsShareBudget: the parts of one template are one
// evaluation, so splitting work over many parts gains nothing.
func TestTemplatePartsShareBudget(t *testing.T) {
	t.Parallel()
	part := `{len(repeat("a", 1048576))}`
	opts := Options{MaxResult: 64 << 20}
	one, err := CompileTemplate(strings.Repeat(part, 7), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.String(testEnv()); err != nil {
		t.Errorf("7 parts of 1 MiB: %v", err)
	}
	many, err := CompileTemplate(strings.Repeat(part, 9), opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = many.String(testEnv())
	checkBudgetError(t, many.Source(), nil, err, LimitMemory)

	// The text itself is bounded by the result limit.
	long, err := CompileTemplate(`{repeat("a", 600)}-{repeat("b", 600)}`, Options{MaxResult: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = long.String(testEnv())
	checkBudgetError(t, long.Source(), nil, err, LimitResult)
}

// TestBudgetBoundsAllocation measures what the finding's expression
// allocates: within a small multiple of the memory budget, where it used
// to take gigabytes. It does not run in parallel, so that the allocation
// counter sees this test alone.
func TestBudgetBoundsAllocation(t *testing.T) {
	for _, src := range []string{
		`{len(map(1..5000, repeat("a", 1048576)))}`,
		`{len(reduce(1..40, #acc + #acc, "ab"))}`,
		`{len(split(repeat("a", 1048576), ""))}`,
		`{len(toJSON(map(1..1000, repeat("a", 1048576))))}`,
	} {
		tmpl, err := CompileTemplate(src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		env := testEnv()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = tmpl.Eval(env)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrBudget) {
			t.Errorf("Eval(%q) = %v, want over budget", src, err)
		}
		if got, bound := after.TotalAlloc-before.TotalAlloc, uint64(4*DefaultMaxMemory); got > bound {
			t.Errorf("Eval(%q) allocated %d MiB, want at most %d MiB", src, got>>20, bound>>20)
		}
	}
}

// TestSecretsInErrors: an expression that reads secrets does not show its
// error message, which could quote a value computed from a secret; budget
// errors, which quote nothing, still show.
func TestSecretsInErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src      string
		want     string // in the message
		leak     string // must not be in the message
		isBudget bool
	}{
		{src: "{int(upper(secrets.KEY))}", want: "error message is hidden", leak: "S3CR3T"},
		{src: "{int(secrets.KEY + 'x')}", want: "error message is hidden", leak: "s3cr3tx"},
		{src: "{date(secrets.KEY)}", want: "error message is hidden", leak: "s3cr3t"},
		{src: "https://x.example/{int(upper(secrets.KEY))}", want: "error message is hidden", leak: "S3CR3T"},
		{src: "{len(map(1..20, repeat(secrets.KEY, 100000)))}", want: "over the memory budget", isBudget: true},
		{src: "{int(upper(record.name))}", want: "ADA LOVELACE"}, // no secret: the message helps
	}
	for _, tt := range tests {
		tmpl, err := CompileTemplate(tt.src, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tmpl.String(testEnv())
		if err == nil {
			t.Errorf("String(%q) succeeded, want an error", tt.src)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || tt.leak != "" && strings.Contains(err.Error(), tt.leak) {
			t.Errorf("String(%q) error = %q, want it to say %q and not %q", tt.src, err, tt.want, tt.leak)
		}
		if errors.Is(err, ErrBudget) != tt.isBudget {
			t.Errorf("String(%q) error = %v, over budget: %v, want %v", tt.src, err, !tt.isBudget, tt.isBudget)
		}
	}
}

// TestEnvWithoutMeter: an Env not made by NewEnv gets a meter on its first
// evaluation.
func TestEnvWithoutMeter(t *testing.T) {
	t.Parallel()
	tmpl, err := CompileTemplate(`{record.a + "!"} {len(map(1..5000, repeat("a", 1048576)))}`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.String(Env{"record": map[string]any{"a": "x"}})
	checkBudgetError(t, tmpl.Source(), nil, err, LimitMemory)
	if _, err := tmpl.String(nil); err == nil {
		t.Errorf("String(nil) succeeded, want an error")
	}
}

// FuzzEvalBudget evaluates random expressions over a small environment
// within a small budget: each evaluation returns (no panic escapes), and
// allocates and takes at most a bounded multiple of its budget.
func FuzzEvalBudget(f *testing.F) {
	for _, tt := range budgetTests {
		f.Add(tt.src)
	}
	for _, tt := range legitimate {
		f.Add(strings.Trim(tt.src, "{}"))
	}
	for _, tt := range templateTests {
		if tt.wantErr == "" && !tt.static {
			f.Add(strings.Trim(tt.src, "{}"))
		}
	}
	opts := Options{MaxMemory: 1 << 20, MaxSteps: 20000, MaxTime: 100 * time.Millisecond}
	env := testEnv()
	f.Fuzz(func(t *testing.T, src string) {
		e, err := CompileExpr(src, opts)
		if err != nil {
			return
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err = e.Eval(env)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil {
			if _, ok := errors.AsType[*EvalError](err); !ok {
				t.Fatalf("Eval(%q) error = %#v, want an *EvalError", src, err)
			}
		}
		// Generous bounds: a single builtin may allocate several times
		// its input before its result is counted, and the machine may be
		// busy.
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
			t.Fatalf("Eval(%q) allocated %d MiB with a 1 MiB budget", src, got>>20)
		}
		if took > 10*time.Second {
			t.Fatalf("Eval(%q) took %v with a 100 ms budget", src, took)
		}
	})
}
