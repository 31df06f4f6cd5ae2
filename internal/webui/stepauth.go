package webui

import (
	"strconv"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/problem"
)

// authFromForm reads the auth section of call_api step p: only the fields
// of the chosen type, so that values left in the hidden sections of other
// types never cause problems. "" chooses none.
func authFromForm(v values, p string) *automation.Auth {
	a := &automation.Auth{Type: v[p+".auth.type"]}
	switch a.Type {
	case "":
		return nil
	case automation.AuthBasic:
		a.Username, a.Password = v.trim(p+".auth.username"), v[p+".auth.password"]
	case automation.AuthBearer:
		a.Token = v.trim(p + ".auth.token")
	case automation.AuthOAuth2ClientCredentials:
		a.TokenURL, a.ClientID, a.ClientSecret = v.trim(p+".auth.tokenUrl"), v.trim(p+".auth.clientId"), v.trim(p+".auth.clientSecret")
		a.Scopes = splitList(v[p+".auth.scopes"])
	}
	return a
}

// rate reads a step's maxPerSecond: empty is no limit; a number that is not
// one is a problem of its own.
func rate(l *problem.List, v values, name string) float64 {
	s := v.trim(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		l.Add(name, "must be a number of requests per second")
	}
	return n
}
