package render_test

import (
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/render"
)

func Example() {
	// Compile once, when the automation is saved.
	url, err := render.CompileURL("{secrets.BASE}/customers/{record.externalId}?note={record.note}", render.Options{})
	if err != nil {
		panic(err)
	}
	amount, err := render.CompileTemplate("{record.amount}", render.Options{})
	if err != nil {
		panic(err)
	}

	// Evaluate on every run.
	env := render.NewEnv(
		map[string]any{"externalId": "ext/42", "note": "a&b", "amount": "1500.00"},
		nil, nil,
		map[string]any{"BASE": "https://api.example.com/v1"},
		map[string]any{"type": "record_added"}, map[string]any{"id": "run_1"},
		time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
	)
	u, err := url.Eval(env)
	if err != nil {
		panic(err)
	}
	fmt.Println(u)

	v, err := amount.Eval(env)
	if err != nil {
		panic(err)
	}
	n, err := render.Convert(v, render.TypeNumber)
	if err != nil {
		panic(err)
	}
	fmt.Println(n)
	// Output:
	// https://api.example.com/v1/customers/ext%2F42?note=a%26b
	// 1500.00
}
