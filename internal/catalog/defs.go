package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

// Every record write needs its collection's definition and the list of the
// collection's enabled automations; reading them from SQLite each time cost
// about a seventh of the CPU at thousands of writes per second. So a node
// that owns its database caches them, and a change empties the cache when
// it commits (Invalidate): the cache is never stale. Nodes sharing a
// PostgreSQL database do not cache: a change made on another node must count
// at once (a record saved just after a record_due automation was enabled
// elsewhere must still get its due time), and PostgreSQL serves these reads
// in parallel anyway.

type defKey struct{ org, coll string }

type entry[T any] struct {
	v   T
	gen uint64
}

type defs struct {
	mu      sync.Mutex
	gen     uint64
	off     bool // nodes share the database: no caching
	colls   map[defKey]entry[*record.Collection]
	enabled map[defKey]entry[[]*automation.Compiled]
}

// Invalidate forgets cached collections and automation lists; call it when
// a change to either commits.
func (c *Catalog) Invalidate() {
	c.defs.mu.Lock()
	c.defs.gen++
	c.defs.colls = map[defKey]entry[*record.Collection]{}
	c.defs.enabled = map[defKey]entry[[]*automation.Compiled]{}
	c.defs.mu.Unlock()
}

// cached returns m[k] when it is current, else load's result, remembered
// unless an Invalidate happened meanwhile.
func cached[T any](d *defs, m func() map[defKey]entry[T], k defKey, load func() (T, error)) (T, error) {
	d.mu.Lock()
	e, ok := m()[k]
	gen := d.gen
	d.mu.Unlock()
	if ok && !d.off && e.gen == gen {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	d.mu.Lock()
	if !d.off && gen == d.gen && len(m()) < MaxEntries {
		m()[k] = entry[T]{v: v, gen: gen}
	}
	d.mu.Unlock()
	return v, nil
}

// Collection returns a collection's definition, cached. The result is
// shared: do not change it.
func (c *Catalog) Collection(ctx context.Context, orgID, key string) (*record.Collection, error) {
	return cached(&c.defs, func() map[defKey]entry[*record.Collection] { return c.defs.colls }, defKey{orgID, key},
		func() (*record.Collection, error) { return c.st.Collection(ctx, orgID, key) })
}

// Defs returns a collection's definition (nil when there is none) and its
// enabled automations, compiled: what a record write needs. Cached like
// Collection on a node that owns its database; read together, in one round
// trip, by nodes sharing PostgreSQL.
func (c *Catalog) Defs(ctx context.Context, orgID, key string) (*record.Collection, []*automation.Compiled, error) {
	if !c.defs.off {
		coll, err := c.Collection(ctx, orgID, key)
		if errors.Is(err, store.ErrNotFound) {
			coll, err = nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		list, err := c.EnabledCached(ctx, orgID, key)
		return coll, list, err
	}
	coll, refs, err := c.st.CollectionAndEnabledAutomations(ctx, orgID, key)
	if err != nil {
		return nil, nil, fmt.Errorf("find automations: %w", err)
	}
	list := make([]*automation.Compiled, 0, len(refs))
	for _, ref := range refs {
		comp, err := c.get(ctx, c.st, orgID, ref.ID, ref.Version)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, comp)
	}
	return coll, list, nil
}

// EnabledCached returns the compiled, enabled automations of a collection
// (every trigger type), cached like Collection.
func (c *Catalog) EnabledCached(ctx context.Context, orgID, collection string) ([]*automation.Compiled, error) {
	return cached(&c.defs, func() map[defKey]entry[[]*automation.Compiled] { return c.defs.enabled }, defKey{orgID, collection},
		func() ([]*automation.Compiled, error) { return c.Enabled(ctx, c.st, orgID, collection) })
}
