package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Nodes cache an organisation's definitions (its collections and their
// enabled automations) and its opened secrets. Every change to them bumps
// the organisation's generation (organisations.catalog_gen) in the
// transaction that makes it, here in the store, so that no caller can
// forget to: a node sharing the database compares the generation its copy
// was read at with the stored one, and the listeners of this node
// (OnCatalogChange) forget their copy once the change commits.

// ErrStaleDefs is returned by a write whose CheckCatalogGen found the
// organisation's generation moved on: the definitions the write was
// planned with changed meanwhile, and the caller plans it again. It does
// not wrap ErrConflict on purpose: callers give ErrConflict meanings of
// their own (an idempotency key used meanwhile, a record that moved).
var ErrStaleDefs = errors.New("the organisation's definitions or secrets changed since they were read")

// catalogListeners are the functions told, after a commit, which
// organisation's definitions or secrets it changed.
type catalogListeners struct {
	mu sync.RWMutex
	fs []func(orgID string)
}

// OnCatalogChange registers f to be called, after the commit, with the
// organisation of every committed change to collections, automations or
// secrets made through this store (changes made by other nodes move the
// generation only: see CatalogGen).
func (s *Store) OnCatalogChange(f func(orgID string)) {
	s.listeners.mu.Lock()
	s.listeners.fs = append(s.listeners.fs, f)
	s.listeners.mu.Unlock()
}

func (l *catalogListeners) changed(orgID string) {
	l.mu.RLock()
	fs := l.fs
	l.mu.RUnlock()
	for _, f := range fs {
		f(orgID)
	}
}

// bumpCatalog moves the organisation's generation on, in the transaction
// of a change to its definitions or secrets, and tells this node's
// listeners once the change commits. Every method writing collections,
// automations, automation_versions or secrets calls it
// (TestEveryCatalogWriterBumps in storetest).
func (tx *Tx) bumpCatalog(ctx context.Context, orgID string) error {
	// Nobody reads its answer: on PostgreSQL it is held and sent with the
	// call's next statement (execLater).
	if err := tx.q.execLater(ctx, `UPDATE organisations SET catalog_gen = catalog_gen + 1 WHERE id = ?`, orgID); err != nil {
		return fmt.Errorf("bump generation: %w", err)
	}
	if l := tx.listeners; l != nil {
		tx.OnCommit(func() { l.changed(orgID) })
	}
	return nil
}

// CatalogGen returns an organisation's generation (0 for an organisation
// that does not exist).
func (o ops) CatalogGen(ctx context.Context, orgID string) (int64, error) {
	var gen int64
	err := o.q.queryRow(ctx, catalogGenQuery, orgID).Scan(&gen)
	if isNoRows(err) {
		return 0, nil
	}
	return gen, err
}

const catalogGenQuery = `SELECT catalog_gen FROM organisations WHERE id = ?`

// CheckCatalogGen fails the call with ErrStaleDefs unless the
// organisation's generation is still gen: a write planned with definitions
// read at gen makes sure, in its transaction, that they are still current.
// On PostgreSQL the check is held and sent with the call's next statement
// (execExpect): no round trip of its own, and the failure may show at a
// later statement of the call or once it returned — the Write call fails
// as a whole. A second check of the same generation in one call is the
// first's.
func (tx *Tx) CheckCatalogGen(ctx context.Context, orgID string, gen int64) error {
	if g, ok := tx.checked[orgID]; ok && g == gen {
		return nil
	}
	err := tx.q.execExpect(ctx, ErrStaleDefs, `SELECT 1 FROM organisations WHERE id = ? AND catalog_gen = ?`, orgID, gen)
	if err := checked("check generation", err, ErrStaleDefs); err != nil {
		return err
	}
	if tx.checked == nil {
		tx.checked = map[string]int64{}
	}
	tx.checked[orgID] = gen
	return nil
}
