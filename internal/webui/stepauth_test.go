package webui

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
)

func TestAutomationFromFormAuthAndRate(t *testing.T) {
	// Values typed into the sections of other types stay behind.
	others := url.Values{
		"steps.0.type": {"call_api"}, "steps.0.url": {"https://x.example/"},
		"steps.0.auth.username": {"u"}, "steps.0.auth.password": {"p"}, "steps.0.auth.token": {"t"},
		"steps.0.auth.tokenUrl": {" https://auth.example.com/token "}, "steps.0.auth.clientId": {"abc"},
		"steps.0.auth.clientSecret": {"{secrets.CS}"}, "steps.0.auth.scopes": {"crm.write, crm.read  x"},
	}
	tests := []struct {
		name     string
		authType string
		rate     string
		want     *automation.Auth
		wantRate float64
		problems problem.List
	}{
		{name: "none", authType: "", want: nil},
		{name: "basic", authType: "basic", want: &automation.Auth{Type: "basic", Username: "u", Password: "p"}},
		{name: "bearer", authType: "bearer", want: &automation.Auth{Type: "bearer", Token: "t"}},
		{name: "oauth2", authType: "oauth2_client_credentials", rate: " 2.5 ", wantRate: 2.5, want: &automation.Auth{
			Type: "oauth2_client_credentials", TokenURL: "https://auth.example.com/token", ClientID: "abc", ClientSecret: "{secrets.CS}",
			Scopes: []string{"crm.write", "crm.read", "x"}}},
		{name: "an unknown type is kept for the compiler to name", authType: "digest", want: &automation.Auth{Type: "digest"}},
		{name: "a rate that is not a number", authType: "", rate: "ten", problems: problem.List{{Path: "steps.0.maxPerSecond", Message: "must be a number of requests per second"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range others {
				form[k] = v
			}
			form.Set("steps.0.auth.type", tt.authType)
			form.Set("steps.0.maxPerSecond", tt.rate)
			a, probs := automationFromForm(formValues(form))
			if diff := cmp.Diff(tt.problems, probs); diff != "" {
				t.Fatalf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, a.Steps[0].Auth); diff != "" {
				t.Errorf("auth (-want +got):\n%s", diff)
			}
			if a.Steps[0].MaxPerSecond != tt.wantRate {
				t.Errorf("maxPerSecond = %v, want %v", a.Steps[0].MaxPerSecond, tt.wantRate)
			}
		})
	}
}
