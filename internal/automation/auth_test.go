package automation

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/render"
)

// authSummary shows a compiled auth by its templates' sources.
func authSummary(a *CompiledAuth) map[string]any {
	if a == nil {
		return nil
	}
	out := map[string]any{"type": a.Type}
	for name, t := range map[string]*render.Template{
		"username": a.Username, "password": a.Password, "token": a.Token,
		"clientId": a.ClientID, "clientSecret": a.ClientSecret,
	} {
		if t != nil {
			out[name] = t.Source()
		}
	}
	if a.TokenURL != nil {
		out["tokenUrl"] = a.TokenURL.Source()
	}
	if a.Scopes != nil {
		out["scopes"] = a.Scopes
	}
	return out
}

func TestCompileAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		auth     *Auth
		want     map[string]any
		warnings []string
	}{
		{
			name: "basic",
			auth: &Auth{Type: AuthBasic, Username: "{secrets.USER}", Password: "{secrets.PASS}"},
			want: map[string]any{"type": "basic", "username": "{secrets.USER}", "password": "{secrets.PASS}"},
		},
		{
			name: "basic without a password",
			auth: &Auth{Type: AuthBasic, Username: "api"},
			want: map[string]any{"type": "basic", "username": "api", "password": ""},
		},
		{
			name:     "basic with a literal password warns",
			auth:     &Auth{Type: AuthBasic, Username: "api", Password: "hunter2"},
			want:     map[string]any{"type": "basic", "username": "api", "password": "hunter2"},
			warnings: []string{"steps[0].auth.password"},
		},
		{
			name: "bearer",
			auth: &Auth{Type: AuthBearer, Token: "{secrets.TOKEN}"},
			want: map[string]any{"type": "bearer", "token": "{secrets.TOKEN}"},
		},
		{
			name:     "bearer with a literal token warns",
			auth:     &Auth{Type: AuthBearer, Token: "abc123"},
			want:     map[string]any{"type": "bearer", "token": "abc123"},
			warnings: []string{"steps[0].auth.token"},
		},
		{
			name: "oauth2 client credentials",
			auth: &Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "https://auth.example.com/token", ClientID: "abc",
				ClientSecret: "{secrets.CLIENT_SECRET}", Scopes: []string{"crm.write", "crm.read"}},
			want: map[string]any{"type": "oauth2_client_credentials", "tokenUrl": "https://auth.example.com/token", "clientId": "abc",
				"clientSecret": "{secrets.CLIENT_SECRET}", "scopes": []string{"crm.write", "crm.read"}},
		},
		{
			name: "oauth2 with a templated token url, no scopes, plain http",
			auth: &Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "http://{secrets.TENANT}.auth.example.com/token", ClientID: "{secrets.ID}", ClientSecret: "{secrets.S}"},
			want: map[string]any{"type": "oauth2_client_credentials", "tokenUrl": "http://{secrets.TENANT}.auth.example.com/token",
				"clientId": "{secrets.ID}", "clientSecret": "{secrets.S}"},
			warnings: []string{"steps[0].auth.tokenUrl"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := example(t)
			a.Steps[0].Headers = nil
			a.Steps[0].Auth = tt.auth
			c, warnings, err := Compile(a, leads(), "", Options{})
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if diff := cmp.Diff(tt.want, authSummary(c.Steps[0].(*CallAPI).Auth)); diff != "" {
				t.Errorf("compiled auth (-want +got):\n%s", diff)
			}
			var paths []string
			for _, w := range warnings {
				paths = append(paths, w.Path)
			}
			if diff := cmp.Diff(tt.warnings, paths); diff != "" {
				t.Errorf("warning paths (-want +got):\n%s\n%+v", diff, warnings)
			}
		})
	}
}

func TestCompileAuthInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(s *StepSpec)
		paths  []string
		msg    string // in the first problem
	}{
		{"no type", func(s *StepSpec) { s.Auth = &Auth{Token: "x"} }, []string{"steps[0].auth.type"}, "is required"},
		{"unknown type", func(s *StepSpec) { s.Auth = &Auth{Type: "digest"} }, []string{"steps[0].auth.type"}, `unknown auth type "digest"`},
		{"basic without username", func(s *StepSpec) { s.Auth = &Auth{Type: AuthBasic, Password: "{secrets.P}"} }, []string{"steps[0].auth.username"}, "is required"},
		{"basic username with a colon", func(s *StepSpec) { s.Auth = &Auth{Type: AuthBasic, Username: "a:b"} }, []string{"steps[0].auth.username"}, "cannot contain ':'"},
		{"basic with a bad template", func(s *StepSpec) { s.Auth = &Auth{Type: AuthBasic, Username: "u", Password: "{secrets.P"} }, []string{"steps[0].auth.password"}, "unclosed"},
		{"basic with a token", func(s *StepSpec) { s.Auth = &Auth{Type: AuthBasic, Username: "u", Token: "t"} }, []string{"steps[0].auth.token"}, "is not an option of basic auth"},
		{"bearer without token", func(s *StepSpec) { s.Auth = &Auth{Type: AuthBearer, Token: "  "} }, []string{"steps[0].auth.token"}, "is required"},
		{"bearer with scopes", func(s *StepSpec) { s.Auth = &Auth{Type: AuthBearer, Token: "{secrets.T}", Scopes: []string{"a"}} }, []string{"steps[0].auth.scopes"}, "is not an option of bearer auth"},
		{"oauth2 missing everything", func(s *StepSpec) { s.Auth = &Auth{Type: AuthOAuth2ClientCredentials} },
			[]string{"steps[0].auth.tokenUrl", "steps[0].auth.clientId", "steps[0].auth.clientSecret"}, "is required"},
		{"oauth2 token url not http", func(s *StepSpec) {
			s.Auth = &Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "ftp://auth/token", ClientID: "a", ClientSecret: "{secrets.S}"}
		}, []string{"steps[0].auth.tokenUrl"}, "scheme must be http or https"},
		{"oauth2 token url relative", func(s *StepSpec) {
			s.Auth = &Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "/token", ClientID: "a", ClientSecret: "{secrets.S}"}
		}, []string{"steps[0].auth.tokenUrl"}, "must be absolute"},
		{"oauth2 bad scopes", func(s *StepSpec) {
			s.Auth = &Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "https://a/t", ClientID: "a", ClientSecret: "{secrets.S}",
				Scopes: []string{"ok", "two words", "", "ok", `q"`}}
		}, []string{"steps[0].auth.scopes[1]", "steps[0].auth.scopes[2]", "steps[0].auth.scopes[3]", "steps[0].auth.scopes[4]"}, "is not a scope"},
		{"oauth2 with a password", func(s *StepSpec) {
			s.Auth = &Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "https://a/t", ClientID: "a", ClientSecret: "{secrets.S}", Password: "p"}
		}, []string{"steps[0].auth.password"}, "is not an option of oauth2_client_credentials auth"},
		{"auth and an Authorization header", func(s *StepSpec) { s.Auth = &Auth{Type: AuthBearer, Token: "{secrets.T}"} }, []string{"steps[0].headers[0].name"}, "Authorization is set by auth"},
		{"maxPerSecond negative", func(s *StepSpec) { s.Headers = nil; s.MaxPerSecond = -1 }, []string{"steps[0].maxPerSecond"}, "more than 0"},
		{"maxPerSecond not a number", func(s *StepSpec) { s.Headers = nil; s.MaxPerSecond = math.NaN() }, []string{"steps[0].maxPerSecond"}, "more than 0"},
		{"maxPerSecond too high", func(s *StepSpec) { s.Headers = nil; s.MaxPerSecond = MaxPerSecondLimit + 1 }, []string{"steps[0].maxPerSecond"}, "at most 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := example(t)
			if !strings.HasPrefix(tt.name, "auth and") {
				a.Steps[0].Headers = nil
			}
			tt.mutate(&a.Steps[0])
			_, _, err := Compile(a, leads(), "", Options{})
			checkProblems(t, err, tt.paths, tt.msg)
		})
	}
}

// checkProblems checks that err is a *problem.Error with problems at paths,
// in order, the first one's message holding msg.
func checkProblems(t *testing.T, err error, paths []string, msg string) {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Compile = %T %v, want *problem.Error", err, err)
	}
	var got []string
	for _, p := range pe.Problems {
		got = append(got, p.Path)
	}
	if diff := cmp.Diff(paths, got); diff != "" {
		t.Errorf("problem paths mismatch (-want +got):\n%s\nerror: %v", diff, err)
	}
	if !strings.Contains(pe.Problems[0].Message, msg) {
		t.Errorf("first message = %q, want it to contain %q", pe.Problems[0].Message, msg)
	}
}

func TestCompileAuthAndRateNotOnUpdateRecord(t *testing.T) {
	t.Parallel()
	a := example(t)
	a.Steps[1].Auth = &Auth{Type: AuthBearer, Token: "{secrets.T}"}
	a.Steps[1].MaxPerSecond = 5
	_, _, err := Compile(a, leads(), "", Options{})
	checkProblems(t, err, []string{"steps[1].auth", "steps[1].maxPerSecond"}, "is not an option of update_record")
}

func TestCompileMaxPerSecond(t *testing.T) {
	t.Parallel()
	for _, n := range []float64{0, 0.5, 10, MaxPerSecondLimit} {
		a := example(t)
		a.Steps[0].MaxPerSecond = n
		c, _, err := Compile(a, leads(), "", Options{})
		if err != nil {
			t.Fatalf("maxPerSecond %v: %v", n, err)
		}
		if got := c.Steps[0].(*CallAPI).MaxPerSecond; got != n {
			t.Errorf("maxPerSecond %v compiled to %v", n, got)
		}
	}
}

// TestDecodeAuth: the document's JSON names, strictly.
func TestDecodeAuth(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(exampleDoc, `"maxAttempts": 8,`, `"maxAttempts": 8, "maxPerSecond": 10,
      "auth": {"type":"oauth2_client_credentials","tokenUrl":"https://auth.example.com/token","clientId":"abc","clientSecret":"{secrets.CLIENT_SECRET}","scopes":["crm.write"]},`, 1)
	a, err := Decode([]byte(doc))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := &Auth{Type: AuthOAuth2ClientCredentials, TokenURL: "https://auth.example.com/token", ClientID: "abc", ClientSecret: "{secrets.CLIENT_SECRET}", Scopes: []string{"crm.write"}}
	if diff := cmp.Diff(want, a.Steps[0].Auth); diff != "" {
		t.Errorf("auth (-want +got):\n%s", diff)
	}
	if a.Steps[0].MaxPerSecond != 10 {
		t.Errorf("maxPerSecond = %v, want 10", a.Steps[0].MaxPerSecond)
	}
	_, err = Decode([]byte(strings.Replace(doc, `"clientId"`, `"client_id"`, 1)))
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Problems[0].Path != "steps[0].auth.client_id" {
		t.Errorf("Decode(client_id) = %v, want a problem at steps[0].auth.client_id", err)
	}
}
