package render

import (
	"testing"

	"github.com/expr-lang/expr"
)

func mustTemplate(b *testing.B, src string) *Template {
	b.Helper()
	t, err := CompileTemplate(src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return t
}

func BenchmarkTemplateEval(b *testing.B) {
	t := mustTemplate(b, "{record.amount}")
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplateString(b *testing.B) {
	t := mustTemplate(b, "Order {record.id} for {upper(record.name)}: {record.amount} ({len(record.tags)} tags)")
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.String(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplateStatic(b *testing.B) {
	t := mustTemplate(b, "application/json")
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.String(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkURLEval(b *testing.B) {
	u, err := CompileURL("{secrets.BASE}/users/{record.externalId}/orders?q={record.query}", Options{})
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExprEvalBool(b *testing.B) {
	e, err := CompileExpr("record.amount > 1000 && record.active", Options{})
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.EvalBool(env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExprRunUnpooled is the same condition through expr.Run, which
// allocates a VM per call: the baseline of the VM pool.
func BenchmarkExprRunUnpooled(b *testing.B) {
	e, err := CompileExpr("record.amount > 1000 && record.active", Options{})
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := expr.Run(e.prog, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConvertNumber(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Convert("1500.00", TypeNumber); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBenchBody evaluates the five fields of the JSON body that
// `autohook bench` sends, as the webhook client does.
func BenchmarkBenchBody(b *testing.B) {
	var fields []*Template
	for _, src := range []string{"{record.id}", "{upper(record.customer)}", "{record.amount * 1.2}", "{record.vip}", "{record.items}"} {
		fields = append(fields, mustTemplate(b, src))
	}
	env := testEnv()
	rec := env[RootRecord].(map[string]any)
	rec["customer"] = "ACME"
	rec["vip"] = true
	rec["items"] = []any{map[string]any{"sku": "A", "qty": 2.0}, map[string]any{"sku": "B", "qty": 1.0}}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range fields {
			if _, err := f.Eval(env); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkLoop is a condition with a loop: every iteration is a step of
// the budget.
func BenchmarkLoop(b *testing.B) {
	e, err := CompileExpr("len(filter(1..100, # % 3 == 0)) > 10", Options{})
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.EvalBool(env); err != nil {
			b.Fatal(err)
		}
	}
}
