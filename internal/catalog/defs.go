package catalog

import (
	"context"
	"sync"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
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

type collEntry struct {
	c   *record.Collection
	gen uint64
}

type enabledEntry struct {
	list []*automation.Compiled
	gen  uint64
}

type defs struct {
	mu      sync.Mutex
	gen     uint64
	off     bool // nodes share the database: no caching
	colls   map[defKey]collEntry
	enabled map[defKey]enabledEntry
}

// Invalidate forgets cached collections and automation lists; call it when
// a change to either commits.
func (c *Catalog) Invalidate() {
	c.defs.mu.Lock()
	c.defs.gen++
	c.defs.colls = map[defKey]collEntry{}
	c.defs.enabled = map[defKey]enabledEntry{}
	c.defs.mu.Unlock()
}

func (d *defs) fresh(gen uint64) bool { return !d.off && gen == d.gen }

// Collection returns a collection's definition, cached. The result is
// shared: do not change it.
func (c *Catalog) Collection(ctx context.Context, orgID, key string) (*record.Collection, error) {
	k := defKey{orgID, key}
	c.defs.mu.Lock()
	e, ok := c.defs.colls[k]
	gen := c.defs.gen
	if ok && c.defs.fresh(e.gen) {
		c.defs.mu.Unlock()
		return e.c, nil
	}
	c.defs.mu.Unlock()
	coll, err := c.st.Collection(ctx, orgID, key)
	if err != nil {
		return nil, err
	}
	c.defs.mu.Lock()
	if !c.defs.off && gen == c.defs.gen && len(c.defs.colls) < MaxEntries {
		c.defs.colls[k] = collEntry{c: coll, gen: gen}
	}
	c.defs.mu.Unlock()
	return coll, nil
}

// EnabledCached returns the compiled, enabled automations of a collection
// (every trigger type), cached like Collection.
func (c *Catalog) EnabledCached(ctx context.Context, orgID, collection string) ([]*automation.Compiled, error) {
	k := defKey{orgID, collection}
	c.defs.mu.Lock()
	e, ok := c.defs.enabled[k]
	gen := c.defs.gen
	if ok && c.defs.fresh(e.gen) {
		c.defs.mu.Unlock()
		return e.list, nil
	}
	c.defs.mu.Unlock()
	list, err := c.Enabled(ctx, c.st, orgID, collection)
	if err != nil {
		return nil, err
	}
	c.defs.mu.Lock()
	if !c.defs.off && gen == c.defs.gen && len(c.defs.enabled) < MaxEntries {
		c.defs.enabled[k] = enabledEntry{list: list, gen: gen}
	}
	c.defs.mu.Unlock()
	return list, nil
}
