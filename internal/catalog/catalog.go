// Package catalog provides compiled automations: loaded from the store by
// (id, version), their signing secrets opened, compiled once and cached.
// Versions are immutable, so a cached entry never goes stale, on one node or
// many. It also caches, per organisation, each collection with its enabled
// automations (Defs), exact across nodes by the organisation's generation
// (PerOrg, Stamp).
package catalog

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
)

// MaxEntries bounds the cache; past it, the cache is emptied and refilled
// from what is used (cheap: a compile takes tens of microseconds).
const MaxEntries = 10000

// Catalog compiles and caches automation versions.
type Catalog struct {
	st   *store.Store
	box  *secret.Box
	opts automation.Options

	mu sync.RWMutex
	m  map[key]*automation.Compiled

	// collections and their enabled automations, by organisation and
	// collection key (defs.go)
	defs   PerOrg[string, defs]
	shared bool // other nodes write to the same database
}

type key struct {
	id      string
	version int64
}

// New returns a catalog reading from st and opening signing secrets with box.
// shared says other nodes write to the same database (PostgreSQL): then
// writes check that the collections and automation lists they were planned
// with are current (Stamp); compiled versions never change.
func New(st *store.Store, box *secret.Box, opts automation.Options, shared bool) *Catalog {
	c := &Catalog{st: st, box: box, opts: opts, m: map[key]*automation.Compiled{}, shared: shared}
	st.OnCatalogChange(c.defs.Forget)
	return c
}

// Options returns the compile options, for compiling documents being saved.
func (c *Catalog) Options() automation.Options { return c.opts }

// Get returns the compiled version of an automation of the organisation.
func (c *Catalog) Get(ctx context.Context, orgID, id string, version int64) (*automation.Compiled, error) {
	return c.get(ctx, c.st, orgID, id, version)
}

// versionReader loads automation versions: the read pool or a transaction.
type versionReader interface {
	AutomationAt(ctx context.Context, orgID, id string, version int64) (*store.AutomationVersion, error)
}

func (c *Catalog) get(ctx context.Context, q versionReader, orgID, id string, version int64) (*automation.Compiled, error) {
	k := key{id, version}
	c.mu.RLock()
	comp, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return comp, nil
	}
	v, err := q.AutomationAt(ctx, orgID, id, version)
	if err != nil {
		return nil, fmt.Errorf("load automation %s v%d: %w", id, version, err)
	}
	doc := v.Doc
	signingSecret, signErr := c.OpenSigningSecret(orgID, v)
	if signErr != nil {
		// Records must still be written and their runs created: the
		// version compiles unsigned, and its call_api steps fail with
		// signErr (the engine's class secret) instead of sending.
		unsigned := *v.Doc
		unsigned.Signing = nil
		doc = &unsigned
	}
	comp, _, err = automation.Compile(doc, nil, signingSecret, c.opts)
	if err != nil {
		return nil, fmt.Errorf("compile automation %s v%d: %w", id, version, err)
	}
	comp.SignerErr = signErr
	c.mu.Lock()
	if len(c.m) >= MaxEntries {
		c.m = map[key]*automation.Compiled{}
	}
	c.m[k] = comp
	c.mu.Unlock()
	return comp, nil
}

// SealSigningSecret seals a signing secret for storage with sealer (see
// keyring.Keyring.Sealer), bound to the organisation.
func SealSigningSecret(sealer *secret.Box, orgID, plain string) string {
	return base64.StdEncoding.EncodeToString(sealer.Seal([]byte(plain), secret.SigningAAD(orgID)))
}

// OpenSigningSecret opens a stored version's signing secret ("" when none).
func (c *Catalog) OpenSigningSecret(orgID string, v *store.AutomationVersion) (string, error) {
	if v.SealedSigningSecret == "" {
		return "", nil
	}
	sealed, err := base64.StdEncoding.DecodeString(v.SealedSigningSecret)
	if err != nil {
		return "", fmt.Errorf("signing secret of %s: %w", v.Doc.ID, err)
	}
	plain, err := c.box.Open(sealed, secret.SigningAAD(orgID))
	if err != nil {
		return "", fmt.Errorf("signing secret of %s: %w", v.Doc.ID, err)
	}
	return string(plain), nil
}

// RefReader lists enabled automations and loads their versions: the
// store's read pool or a transaction (which sees its own writes).
type RefReader interface {
	EnabledAutomations(ctx context.Context, orgID, collection string, triggerTypes ...string) ([]store.AutomationRef, error)
	versionReader
}

// Enabled returns the compiled, enabled automations of a collection with the
// given trigger types (all when none are given), read through q.
func (c *Catalog) Enabled(ctx context.Context, q RefReader, orgID, collection string, triggerTypes ...string) ([]*automation.Compiled, error) {
	refs, err := q.EnabledAutomations(ctx, orgID, collection, triggerTypes...)
	if err != nil {
		return nil, fmt.Errorf("find automations: %w", err)
	}
	out := make([]*automation.Compiled, 0, len(refs))
	for _, ref := range refs {
		comp, err := c.get(ctx, q, orgID, ref.ID, ref.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, comp)
	}
	return out, nil
}

// Store returns the store the catalog reads from.
func (c *Catalog) Store() *store.Store { return c.st }
