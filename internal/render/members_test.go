package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMembers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		template string
		want     []string
	}{
		{"Bearer {secrets.CRM_KEY}", []string{"CRM_KEY"}},
		{`{secrets["B"]}:{secrets.A}/{secrets.B}`, []string{"A", "B"}},
		{"{secrets?.OPT ?? 'none'}", []string{"OPT"}},
		{"{toBase64(secrets.USER + ':' + secrets.PASS)}", []string{"PASS", "USER"}},
		{"{upper(secrets.K) + record.name}", []string{"K"}},
		{"{secrets[record.kind]}", nil},  // computed: not known before a run
		{"{record.secrets.X}", nil},      // not the root
		{"no braces: secrets.X", nil},    // literal text
		{"{{secrets.X}}", nil},           // literal braces
		{"{fields.secrets}", nil},        // a field named secrets
		{"{secrets.A.B}", []string{"A"}}, // a member of the secret's value
		{"{len(secrets)}", nil},          // the whole root, no name
		{"{[secrets.X, secrets.X]}", []string{"X"}},
	} {
		tpl, err := CompileTemplate(c.template, Options{})
		if err != nil {
			if c.want == nil {
				continue // the template does not compile: nothing to list
			}
			t.Fatalf("%s: %v", c.template, err)
		}
		if d := cmp.Diff(c.want, tpl.Members(RootSecrets)); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.template, d)
		}
	}
	e, err := CompileExpr(`secrets.TOKEN != "" && record.value > 1`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"TOKEN"}, e.Members(RootSecrets)); d != "" {
		t.Errorf("expression (-want +got):\n%s", d)
	}
	if got := e.Members(RootRecord); !cmp.Equal(got, []string{"value"}) {
		t.Errorf("record members %v, want [value]", got)
	}
}
