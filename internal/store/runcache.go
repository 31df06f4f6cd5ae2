package store

import (
	"database/sql"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
)

// The just-created run (SQLite).
//
// A run is created by a record's transaction and read back, a moment
// later, by the worker that takes its job: under load that read was a
// tenth of the node's CPU. A node on SQLite is the only writer of its
// database, so it can keep what it inserted: runCache holds each run row
// this node inserted, as the values it wrote, until the first read of the
// run takes it. It serves a row only once the transaction that inserted it
// committed, and any statement that changes or deletes a run drops the
// run's row first, so a row served is always the row stored. (PostgreSQL
// nodes share their database: they read.)
type runCache struct {
	mu sync.Mutex
	m  map[string]cachedRun
}

type cachedRun struct {
	org       string
	cols      []any // runCols' values, as written
	committed *atomic.Bool
}

// maxCachedRuns bounds the cache: rows of transactions rolled back, and of
// runs nobody reads, are never taken; past the bound the cache starts over.
const maxCachedRuns = 50000

func newRunCache() *runCache { return &runCache{m: map[string]cachedRun{}} }

func (c *runCache) put(id, org string, cols []any, committed *atomic.Bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedRuns {
		c.m = map[string]cachedRun{}
	}
	c.m[id] = cachedRun{org: org, cols: cols, committed: committed}
	c.mu.Unlock()
}

// drop forgets runs about to change.
func (c *runCache) drop(ids ...any) {
	if c == nil {
		return
	}
	c.mu.Lock()
	for _, id := range ids {
		if s, ok := id.(string); ok {
			delete(c.m, s)
		}
	}
	c.mu.Unlock()
}

// take returns the run's row and forgets it, if it holds the committed row.
func (c *runCache) take(org, id string) (row, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || e.org != org || !e.committed.Load() {
		return nil, false
	}
	delete(c.m, id)
	return cachedRow(e.cols), true
}

// cachedRow is a row of values held in memory, scanned as the database
// would scan them.
type cachedRow []any

func (r cachedRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("cached run: %d columns, %d destinations", len(r), len(dest))
	}
	for i, d := range dest {
		if s, ok := d.(sql.Scanner); ok {
			if err := s.Scan(r[i]); err != nil {
				return err
			}
			continue
		}
		dv := reflect.ValueOf(d).Elem()
		if r[i] == nil {
			dv.SetZero()
			continue
		}
		v := reflect.ValueOf(r[i])
		if !v.CanConvert(dv.Type()) {
			return fmt.Errorf("cached run: column %d: %T into %s", i, r[i], dv.Type())
		}
		dv.Set(v.Convert(dv.Type()))
	}
	return nil
}
