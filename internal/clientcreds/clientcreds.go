// Package clientcreds provides OAuth 2.0 access tokens obtained with the
// client credentials grant (RFC 6749 section 4.4), cached in the process per
// organisation, token URL, client, scopes and client secret until they
// expire. The grant itself is golang.org/x/oauth2/clientcredentials; this
// package adds what a server sending requests for many tenants needs: one
// token request at a time per key however many requests wait for it, a
// token that the API refused replaced once, and tokens of one organisation
// never served to another.
//
// Tokens live only in memory: on a cluster every node fetches its own.
package clientcreds

import (
	"context"
	"crypto/sha256"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Config names the client whose token is wanted.
type Config struct {
	Org          string // tokens are never shared between organisations
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
}

// NoExpiryLifetime is how long a token whose response gave no expires_in is
// used before it is fetched again (a 401 from the API renews it sooner).
const NoExpiryLifetime = time.Hour

// earlyRenewal is how long before its expiry a token is renewed: 10 s (as
// golang.org/x/oauth2 does), or half of a shorter lifetime.
func earlyRenewal(lifetime time.Duration) time.Duration {
	return min(10*time.Second, lifetime/2)
}

// sweepEvery is how often entries without a usable token are dropped.
const sweepEvery = time.Minute

// Cache holds tokens. The zero value is not usable: call New. It is safe for
// concurrent use.
type Cache struct {
	now func() time.Time

	mu        sync.Mutex
	entries   map[key]*entry
	lastSweep time.Time
}

// key identifies one client's tokens. The client secret is part of it (as
// a hash), so that a token obtained with a secret since replaced is not
// served to the new one.
type key struct {
	org, tokenURL, clientID, scopes string
	secret                          [sha256.Size]byte
}

type entry struct {
	fetching chan struct{} // a token request is under way while it holds a value
	conf     *clientcredentials.Config
	// guarded by Cache.mu
	tok     *oauth2.Token
	expires time.Time // when tok stops being served
}

// New returns an empty cache on the clock now (nil: time.Now).
func New(now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{now: now, entries: map[key]*entry{}}
}

// Token returns a token for cfg: the cached one while it is valid, else a
// new one requested with hc (through ctx, which bounds the request). While
// one caller requests a token for a key, the others wait for it. A failed
// request is not cached: the next call tries again. The error of a refused
// request is an *oauth2.RetrieveError.
func (c *Cache) Token(ctx context.Context, cfg Config, hc *http.Client) (*oauth2.Token, error) {
	return c.get(ctx, cfg, hc, "")
}

// Renew returns a token other than stale, which the API refused: a new one
// requested with hc, or the one another caller already obtained after
// stale.
func (c *Cache) Renew(ctx context.Context, cfg Config, hc *http.Client, stale *oauth2.Token) (*oauth2.Token, error) {
	refused := "\x00" // matches no token: renew whatever is cached
	if stale != nil {
		refused = stale.AccessToken
	}
	return c.get(ctx, cfg, hc, refused)
}

// get returns the cached token unless it is expired or is refused, else
// fetches one.
func (c *Cache) get(ctx context.Context, cfg Config, hc *http.Client, refused string) (*oauth2.Token, error) {
	e := c.entry(cfg)
	if tok := c.usable(e, refused); tok != nil {
		return tok, nil
	}
	select {
	case e.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-e.fetching }()
	// Another caller may have fetched one while this one waited.
	if tok := c.usable(e, refused); tok != nil {
		return tok, nil
	}
	began := time.Now()
	tok, err := e.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	if err != nil {
		return nil, err
	}
	lifetime := NoExpiryLifetime
	if !tok.Expiry.IsZero() {
		// The library stamps Expiry on the wall clock at receipt; the
		// cache keeps time on its own clock.
		lifetime = tok.Expiry.Sub(began)
	}
	c.mu.Lock()
	e.tok = tok
	e.expires = c.now().Add(lifetime - earlyRenewal(lifetime))
	c.mu.Unlock()
	return tok, nil
}

// usable returns e's token if it is still valid and not refused.
func (c *Cache) usable(e *entry, refused string) *oauth2.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.tok == nil || e.tok.AccessToken == "" || e.tok.AccessToken == refused || !c.now().Before(e.expires) {
		return nil
	}
	return e.tok
}

// entry returns cfg's entry, made on first use.
func (c *Cache) entry(cfg Config) *entry {
	scopes := slices.Clone(cfg.Scopes)
	slices.Sort(scopes)
	k := key{org: cfg.Org, tokenURL: cfg.TokenURL, clientID: cfg.ClientID, scopes: strings.Join(scopes, " "), secret: sha256.Sum256([]byte(cfg.ClientSecret))}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep()
	e, ok := c.entries[k]
	if !ok {
		e = &entry{
			fetching: make(chan struct{}, 1),
			// One Config per key keeps what the library learns of the
			// endpoint: whether it wants the credentials in a header or
			// in the form.
			conf: &clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL, Scopes: slices.Clone(cfg.Scopes)},
		}
		c.entries[k] = e
	}
	return e
}

// sweep drops, at most every sweepEvery, the entries whose token has
// expired and that nobody is fetching for. c.mu is held.
func (c *Cache) sweep() {
	now := c.now()
	if now.Sub(c.lastSweep) < sweepEvery {
		return
	}
	c.lastSweep = now
	for k, e := range c.entries {
		if len(e.fetching) == 0 && !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}

// Len is the number of keys the cache holds (tests, metrics).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
