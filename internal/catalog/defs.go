package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/record"
	"github.com/autohook/autohook/internal/store"
)

// Every record write needs its collection's definition and the list of the
// collection's enabled automations; reading them each time cost a seventh
// of the CPU on SQLite and four statements per run on PostgreSQL. So every
// node caches them per organisation, with the generation of the
// organisation's definitions they were read at (store.CatalogGen): a change
// made on this node makes it forget them when it commits
// (store.Store.OnCatalogChange). A node that owns its database (SQLite)
// needs nothing more. Nodes sharing a PostgreSQL database also make sure,
// in the write's transaction, that the generation did not move on
// (Stamp.Check, one statement held in the write's round trip): a change
// made on another node must count at once (a record saved just after an
// automation was enabled elsewhere fires it). A write that finds it moved
// fails with store.ErrStaleDefs; the caller forgets the organisation's
// definitions (Stale) and plans the write again from fresh ones.

// defs is what a record write needs of its collection.
type defs struct {
	coll *record.Collection // nil when there is none
	list []*automation.Compiled
}

// Stamp is the generation of an organisation's definitions a write was
// planned with.
type Stamp struct {
	org    string
	gen    int64
	check  bool // nodes share the database: the write checks the generation
	cached bool // the definitions came from the cache, not the database
}

// Check makes sure, in the write's transaction, that the definitions the
// write was planned with are still current: the call fails with
// store.ErrStaleDefs (on PostgreSQL, at the latest when it commits) when
// another node changed them. A node that owns its database checks nothing:
// its own changes empty its cache when they commit. The zero Stamp checks
// nothing.
func (s Stamp) Check(ctx context.Context, tx *store.Tx) error {
	if !s.check {
		return nil
	}
	return tx.CheckCatalogGen(ctx, s.org, s.gen)
}

// Recheck returns err, a refusal decided before the write's transaction
// from the definitions (an unknown collection or field, a value of the
// wrong type): as it is, or store.ErrStaleDefs when they came from the
// cache of a node sharing its database, where another node may have
// changed them since. Then the caller (Stale) plans the write again from
// fresh definitions, and refuses it only if they refuse it too: a field
// added on another node is accepted at once.
func (s Stamp) Recheck(err error) error {
	if err == nil || !s.check || !s.cached {
		return err
	}
	return fmt.Errorf("%w: refused (%v) by definitions that may be stale", store.ErrStaleDefs, err)
}

// MaxStaleTries bounds how many times a write is planned again because the
// definitions it was planned with changed meanwhile.
const MaxStaleTries = 5

// Stale reports whether err is a write's finding that the organisation's
// definitions changed since they were read (store.ErrStaleDefs), and then
// forgets them, so that the write is planned again from fresh ones.
func (c *Catalog) Stale(orgID string, err error) bool {
	if !errors.Is(err, store.ErrStaleDefs) {
		return false
	}
	c.defs.Forget(orgID)
	return true
}

// Defs returns a collection's definition (nil when there is none) and its
// enabled automations, compiled: what a record write needs, cached (see
// above), and the Stamp the write checks. The results are shared: do not
// change them. On a miss PostgreSQL reads the organisation's generation,
// the collection and the automations in one round trip.
func (c *Catalog) Defs(ctx context.Context, orgID, key string) (*record.Collection, []*automation.Compiled, Stamp, error) {
	d, gen, since, cached := c.defs.Get(orgID, key)
	if !cached {
		coll, refs, g, err := c.st.CollectionAndEnabledAutomations(ctx, orgID, key)
		if err != nil {
			return nil, nil, Stamp{}, fmt.Errorf("find automations: %w", err)
		}
		d = defs{coll: coll, list: make([]*automation.Compiled, 0, len(refs))}
		for _, ref := range refs {
			comp, err := c.get(ctx, c.st, orgID, ref.ID, ref.Version)
			if err != nil {
				return nil, nil, Stamp{}, err
			}
			d.list = append(d.list, comp)
		}
		gen = g
		c.defs.Put(orgID, key, gen, since, d)
	}
	return d.coll, d.list, Stamp{org: orgID, gen: gen, check: c.shared, cached: cached}, nil
}
