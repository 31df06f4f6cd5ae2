package webhook

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/clientcreds"
	"github.com/autohook/autohook/internal/render"
	"github.com/autohook/autohook/internal/retry"
)

// applyAuth renders a step's auth into req: the Authorization header of
// Basic and Bearer auth, or the OAuth 2.0 client whose token Do obtains.
// Every credential joins req.Derived, so history hides it wherever it
// shows up (a receiver echoing it, an error quoting it), even when it was
// written into the document rather than taken from secrets.
func applyAuth(a *automation.CompiledAuth, env render.Env, req *Request) *retry.Failure {
	if a == nil {
		return nil
	}
	value := func(name string, t *render.Template) (string, *retry.Failure) {
		v, err := t.String(env)
		if err != nil {
			return "", fail(retry.Render, "auth.%s: %v", name, err)
		}
		return v, nil
	}
	switch a.Type {
	case automation.AuthBasic:
		user, f := value("username", a.Username)
		if f != nil {
			return f
		}
		pass, f := value("password", a.Password)
		if f != nil {
			return f
		}
		cred := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		req.Derived = appendCredentials(req.Derived, pass, cred)
		if strings.Contains(user, ":") {
			return fail(retry.Render, "auth.username: the user name holds ':', which Basic auth uses to separate it from the password (RFC 7617)")
		}
		req.Header.Set("Authorization", "Basic "+cred)
	case automation.AuthBearer:
		tok, f := value("token", a.Token)
		if f != nil {
			return f
		}
		req.Derived = appendCredentials(req.Derived, tok)
		if f := checkCredential("token", tok); f != nil {
			return f
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case automation.AuthOAuth2ClientCredentials:
		id, f := value("clientId", a.ClientID)
		if f != nil {
			return f
		}
		secret, f := value("clientSecret", a.ClientSecret)
		if f != nil {
			return f
		}
		req.Derived = appendCredentials(req.Derived, secret)
		tokenURL, err := a.TokenURL.Eval(env)
		if err != nil {
			if errors.Is(err, render.ErrInvalidURL) {
				return fail(retry.InvalidURL, "auth.tokenUrl: %v", err)
			}
			return fail(retry.Render, "auth.tokenUrl: %v", err)
		}
		if id == "" || secret == "" {
			return fail(retry.Render, "auth: the client id and the client secret must not be empty")
		}
		req.OAuth = &clientcreds.Config{TokenURL: tokenURL, ClientID: id, ClientSecret: secret, Scopes: a.Scopes}
	}
	return nil
}

// appendCredentials appends the non-empty values to dst.
func appendCredentials(dst []string, values ...string) []string {
	for _, v := range values {
		if v != "" {
			dst = append(dst, v)
		}
	}
	return dst
}

// checkCredential refuses a credential that cannot travel in a header.
func checkCredential(name, v string) *retry.Failure {
	if i := strings.IndexFunc(v, isControl); i >= 0 {
		return fail(retry.Render, "auth.%s: the value holds a control character at position %d", name, i)
	}
	if v == "" {
		return fail(retry.Render, "auth.%s: the value is empty", name)
	}
	return nil
}

// authorized sends req, with an OAuth 2.0 access token when the step has
// OAuth 2.0 auth. The token comes from the node's cache, or is requested
// from the token endpoint through the same destination policy and within
// the same step timeout as the request itself. When the API answers 401,
// the token is renewed once and the request sent again within the same
// attempt: history shows that second exchange.
func (c *Client) authorized(ctx, stepCtx context.Context, step *automation.CallAPI, req *Request) *Result {
	if req.OAuth == nil {
		return c.send(ctx, stepCtx, step, req)
	}
	cfg := *req.OAuth
	cfg.Org = req.Org
	tok, f := c.token(ctx, stepCtx, step, cfg, nil)
	if f != nil {
		return &Result{Failure: f}
	}
	req.Header.Set("Authorization", bearer(tok))
	res := c.send(ctx, stepCtx, step, req)
	res.Derived = append(res.Derived, tok.AccessToken)
	if res.Status != http.StatusUnauthorized {
		return res
	}
	fresh, f := c.token(ctx, stepCtx, step, cfg, tok)
	if f != nil {
		f.Message = "the receiver answered " + http.StatusText(http.StatusUnauthorized) + " and renewing the token failed: " + f.Message
		res.Failure = f
		return res
	}
	req.Header.Set("Authorization", bearer(fresh))
	again := c.send(ctx, stepCtx, step, req)
	again.Derived = append(res.Derived, fresh.AccessToken)
	return again
}

// bearer is the Authorization header value of a token: its type as the
// token endpoint named it ("Bearer" when it named none), then the token.
func bearer(tok *oauth2.Token) string { return tok.Type() + " " + tok.AccessToken }

// token returns a token for cfg from the cache, or requests one; with
// stale, a token other than stale. A failure names the token request.
func (c *Client) token(ctx, stepCtx context.Context, step *automation.CallAPI, cfg clientcreds.Config, stale *oauth2.Token) (*oauth2.Token, *retry.Failure) {
	u, err := url.Parse(cfg.TokenURL)
	if err != nil {
		return nil, fail(retry.InvalidURL, "token request: %v", err)
	}
	if f := c.checkDestination(u); f != nil {
		f.Message = "token request: " + f.Message
		return nil, f
	}
	var tok *oauth2.Token
	if stale == nil {
		tok, err = c.tokens.Token(stepCtx, cfg, c.http)
	} else {
		tok, err = c.tokens.Renew(stepCtx, cfg, c.http, stale)
	}
	if err != nil {
		return nil, tokenFailure(ctx, stepCtx, err, step.Timeout)
	}
	return tok, nil
}

// tokenFailure classifies a failed token request like a request of the
// step's own: the endpoint's status (401 → http_4xx, 5xx → http_5xx, with
// its Retry-After), or the transport error. Messages start with "token
// request:" and quote the endpoint's error code and description, never its
// body.
func tokenFailure(ctx, stepCtx context.Context, err error, timeout time.Duration) *retry.Failure {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		if re.Response.StatusCode < 200 || re.Response.StatusCode > 299 {
			f := statusFailure(re.Response, time.Now())
			f.Message = "token request: the token endpoint answered " + re.Response.Status
			if re.ErrorCode != "" {
				f.Message += " (" + re.ErrorCode
				if re.ErrorDescription != "" {
					f.Message += ": " + re.ErrorDescription
				}
				f.Message += ")"
			}
			return f
		}
		return fail(retry.Response, "token request: the token endpoint's answer holds no token: %s %s", re.ErrorCode, re.ErrorDescription)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) || ctx.Err() != nil || stepCtx.Err() != nil {
		f := classify(ctx, stepCtx, err, timeout)
		f.Message = "token request: " + f.Message
		return f
	}
	// The library's own errors: an answer it cannot read, or one without
	// access_token.
	return fail(retry.Response, "token request: %s", strings.TrimPrefix(err.Error(), "oauth2: "))
}

// checkDestination refuses a request to a host the destination policy
// denies, or to this server's own address.
func (c *Client) checkDestination(u *url.URL) *retry.Failure {
	if host := u.Hostname(); host != "" {
		if err := c.cfg.Policy.CheckHost(host); err != nil {
			return fail(retry.BlockedDestination, "%v", err)
		}
	}
	if raw := u.String(); c.isSelf(raw) {
		return fail(retry.BlockedDestination, "%s is this Autohook server's own address", hostKey(raw))
	}
	return nil
}
