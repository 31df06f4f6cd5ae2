package automation

import (
	"net/textproto"
	"slices"
	"strings"

	"github.com/autohook/autohook/internal/problem"
	"github.com/autohook/autohook/internal/render"
)

// Auth types of a call_api step. Stored names are stable.
const (
	AuthBasic                   = "basic"
	AuthBearer                  = "bearer"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
)

// AuthTypes lists every auth type.
var AuthTypes = []string{AuthBasic, AuthBearer, AuthOAuth2ClientCredentials}

// Auth is how a call_api step authenticates. Every string is a template
// except the scopes; which fields belong depends on Type:
//   - basic: Username, Password (RFC 7617);
//   - bearer: Token (RFC 6750);
//   - oauth2_client_credentials: TokenURL, ClientID, ClientSecret, Scopes
//     (RFC 6749 section 4.4): Autohook obtains the access token and sends
//     it as a bearer token.
type Auth struct {
	Type         string   `json:"type"`
	Username     string   `json:"username,omitempty"`
	Password     string   `json:"password,omitempty"`
	Token        string   `json:"token,omitempty"`
	TokenURL     string   `json:"tokenUrl,omitempty"`
	ClientID     string   `json:"clientId,omitempty"`
	ClientSecret string   `json:"clientSecret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// CompiledAuth is a compiled Auth: templates compiled, scopes checked.
type CompiledAuth struct {
	Type         string
	Username     *render.Template
	Password     *render.Template
	Token        *render.Template
	TokenURL     *render.URLTemplate
	ClientID     *render.Template
	ClientSecret *render.Template
	Scopes       []string
}

// Limits of the auth object.
const (
	MaxScopes      = 50
	MaxScopeLength = 256
	// MaxPerSecondLimit is the highest maxPerSecond a step may ask for.
	MaxPerSecondLimit = 10000
)

// auth compiles the auth object of the call_api step s at path (the step's).
func (c *compiler) auth(path string, s *StepSpec, out *CallAPI) {
	a := s.Auth
	if a == nil {
		return
	}
	ap := path + ".auth"
	for i, h := range s.Headers {
		if textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(h.Name)) == "Authorization" {
			c.problems.Add(problem.Join(path, "headers", i)+".name", "Authorization is set by auth: remove this header or the auth")
		}
	}
	given := []struct {
		name string
		set  bool
		for_ []string
	}{
		{"username", a.Username != "", []string{AuthBasic}},
		{"password", a.Password != "", []string{AuthBasic}},
		{"token", a.Token != "", []string{AuthBearer}},
		{"tokenUrl", a.TokenURL != "", []string{AuthOAuth2ClientCredentials}},
		{"clientId", a.ClientID != "", []string{AuthOAuth2ClientCredentials}},
		{"clientSecret", a.ClientSecret != "", []string{AuthOAuth2ClientCredentials}},
		{"scopes", len(a.Scopes) > 0, []string{AuthOAuth2ClientCredentials}},
	}
	switch {
	case a.Type == "":
		c.problems.Add(ap+".type", "is required (one of %s)", strings.Join(AuthTypes, ", "))
		return
	case !slices.Contains(AuthTypes, a.Type):
		c.problems.Add(ap+".type", "unknown auth type %q (one of %s)", a.Type, strings.Join(AuthTypes, ", "))
		return
	}
	for _, g := range given {
		if g.set && !slices.Contains(g.for_, a.Type) {
			c.problems.Add(ap+"."+g.name, "is not an option of %s auth", a.Type)
		}
	}
	out.Auth = &CompiledAuth{Type: a.Type}
	switch a.Type {
	case AuthBasic:
		out.Auth.Username = c.required(ap+".username", a.Username, "the user name")
		if t := out.Auth.Username; t != nil && t.IsStatic() && strings.Contains(a.Username, ":") {
			c.problems.Add(ap+".username", "cannot contain ':' (RFC 7617: it separates the user name from the password)")
		}
		out.Auth.Password = c.credential(ap+".password", a.Password)
	case AuthBearer:
		out.Auth.Token = c.required(ap+".token", a.Token, "the token")
		c.warnLiteral(ap+".token", out.Auth.Token)
	case AuthOAuth2ClientCredentials:
		c.tokenURL(ap+".tokenUrl", a.TokenURL, out.Auth)
		out.Auth.ClientID = c.required(ap+".clientId", a.ClientID, "the client id")
		out.Auth.ClientSecret = c.required(ap+".clientSecret", a.ClientSecret, "the client secret")
		c.warnLiteral(ap+".clientSecret", out.Auth.ClientSecret)
		c.scopes(ap+".scopes", a.Scopes, out.Auth)
	}
}

// required compiles a template that must not be empty; what names it in
// the message.
func (c *compiler) required(path, src, what string) *render.Template {
	if strings.TrimSpace(src) == "" {
		c.problems.Add(path, "is required: %s", what)
		return nil
	}
	return c.template(path, src)
}

// credential compiles an optional credential template (a Basic password
// may be empty) and warns when it is written into the document.
func (c *compiler) credential(path, src string) *render.Template {
	t := c.template(path, src)
	c.warnLiteral(path, t)
	return t
}

// warnLiteral warns when a credential does not come from secrets: the
// document is shown to everyone who can read the automation, and only
// secrets are encrypted at rest.
func (c *compiler) warnLiteral(path string, t *render.Template) {
	if t == nil || t.Source() == "" || t.Uses("secrets") {
		return
	}
	c.warnings.Add(path, "the credential is written into the automation, where everyone who can read it sees it: store it as a secret and write {secrets.NAME}")
}

func (c *compiler) tokenURL(path, src string, out *CompiledAuth) {
	switch {
	case strings.TrimSpace(src) == "":
		c.problems.Add(path, "is required: the token endpoint, https://…")
		return
	case len(src) > MaxTemplateLength:
		c.problems.Add(path, "must be at most %d bytes", MaxTemplateLength)
		return
	}
	u, err := render.CompileURL(src, c.opts.Render)
	if err != nil {
		c.exprProblem(path, err)
		return
	}
	out.TokenURL = u
	if strings.HasPrefix(strings.ToLower(src), "http://") {
		c.warnings.Add(path, "the client secret would travel unencrypted over http: use https")
	}
}

// scopes checks scope tokens (RFC 6749 section 3.3: printable ASCII
// without space, '"' and '\').
func (c *compiler) scopes(path string, scopes []string, out *CompiledAuth) {
	if len(scopes) > MaxScopes {
		c.problems.Add(path, "at most %d scopes", MaxScopes)
		return
	}
	seen := map[string]bool{}
	for i, s := range scopes {
		sp := problem.Join(path, i)
		switch {
		case s == "":
			c.problems.Add(sp, "is empty")
		case len(s) > MaxScopeLength:
			c.problems.Add(sp, "must be at most %d bytes", MaxScopeLength)
		case strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\\' }) >= 0:
			c.problems.Add(sp, "%q is not a scope: printable ASCII without spaces, '\"' or '\\' (RFC 6749 section 3.3); give each scope its own entry", s)
		case seen[s]:
			c.problems.Add(sp, "duplicate scope %q", s)
		}
		seen[s] = true
	}
	out.Scopes = slices.Clone(scopes)
}

// maxPerSecond checks a step's rate.
func (c *compiler) maxPerSecond(path string, n float64, out *CallAPI) {
	if n == 0 {
		return
	}
	if !(n > 0 && n <= MaxPerSecondLimit) { // NaN too
		c.problems.Add(path, "must be more than 0 and at most %d (absent or 0: no limit)", MaxPerSecondLimit)
		return
	}
	out.MaxPerSecond = n
}
