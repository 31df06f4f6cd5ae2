package store

import (
	"context"
	"sync"
)

// Record writers plan before they write: a record update's conditions
// (and an update_record step's assignments) are evaluated before its
// transaction, which then writes only if the record is still at the
// version that was read (UpdateRecordAt). Two writers of one record on one
// node would make each other plan again, so they take turns: LockRecord
// serialises them from their read to their commit. Writers on other nodes
// (PostgreSQL) are caught by the version check.
//
// Hand-written: a mutex per key, made on demand and dropped when no one
// holds or waits for it, is a few lines; no maintained module provides it.

// recordLocks are the locks of the records being written on this node.
type recordLocks struct {
	mu sync.Mutex
	m  map[string]*recordLock
}

type recordLock struct {
	ch    chan struct{} // holds a token while locked
	users int           // holders and waiters
}

// LockRecord waits until no other writer on this node holds the record,
// then holds it until unlock is called. It fails only when ctx is done.
func (s *Store) LockRecord(ctx context.Context, orgID, id string) (unlock func(), err error) {
	return s.locks.lock(ctx, orgID+"/"+id)
}

func (r *recordLocks) lock(ctx context.Context, key string) (func(), error) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]*recordLock{}
	}
	l := r.m[key]
	if l == nil {
		l = &recordLock{ch: make(chan struct{}, 1)}
		r.m[key] = l
	}
	l.users++
	r.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return func() {
			<-l.ch
			r.release(key, l)
		}, nil
	case <-ctx.Done():
		r.release(key, l)
		return nil, ctx.Err()
	}
}

func (r *recordLocks) release(key string, l *recordLock) {
	r.mu.Lock()
	if l.users--; l.users == 0 {
		delete(r.m, key)
	}
	r.mu.Unlock()
}
