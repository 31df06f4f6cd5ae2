package catalog

import "sync"

// PerOrg caches values by organisation and key, each with the generation
// of the organisation's definitions and secrets it was read at
// (store.CatalogGen), bounded by MaxEntries. A node forgets an
// organisation's values when one of its own changes commits
// (store.Store.OnCatalogChange); changes made by other nodes show as a
// newer generation, which the reader compares (or the write checks:
// Stamp). The zero value is empty and ready.
type PerOrg[K comparable, V any] struct {
	mu    sync.Mutex
	epoch uint64 // moves on at every Forget: a value read across one is not kept
	orgs  map[string]*orgValues[K, V]
	n     int // values held, over every organisation
}

type orgValues[K comparable, V any] struct {
	gen int64
	m   map[K]V
}

// Get returns the value held for org and k, the generation it was read at,
// and whether there is one; since is what Put needs to know whether a
// Forget came after this Get.
func (p *PerOrg[K, V]) Get(org string, k K) (v V, gen int64, since uint64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.orgs[org]
	if o != nil {
		v, ok = o.m[k]
		gen = o.gen
	}
	return v, gen, p.epoch, ok
}

// Put holds v for org and k, read at generation gen after a Get that
// returned since: unless a Forget came in between, or the organisation's
// values held are of a newer generation. Values of an older generation are
// dropped. Past MaxEntries everything is dropped first.
func (p *PerOrg[K, V]) Put(org string, k K, gen int64, since uint64, v V) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if since != p.epoch {
		return
	}
	if p.orgs == nil || p.n >= MaxEntries {
		p.orgs, p.n = map[string]*orgValues[K, V]{}, 0
	}
	o := p.orgs[org]
	switch {
	case o == nil || o.gen < gen:
		if o != nil {
			p.n -= len(o.m)
		}
		o = &orgValues[K, V]{gen: gen, m: map[K]V{}}
		p.orgs[org] = o
	case o.gen > gen:
		return
	}
	if _, had := o.m[k]; !had {
		p.n++
	}
	o.m[k] = v
}

// Forget drops an organisation's values.
func (p *PerOrg[K, V]) Forget(org string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch++
	if o := p.orgs[org]; o != nil {
		p.n -= len(o.m)
		delete(p.orgs, org)
	}
}
