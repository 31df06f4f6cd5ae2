package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/autohook/autohook/internal/store"
)

func putKey(st *store.Store, k store.IdempotencyKey) error {
	return try(st, func(ctx context.Context, tx *store.Tx) error { return tx.PutIdempotencyKey(ctx, &k) })
}

func testIdempotencyKey(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	want := store.IdempotencyKey{OrgID: a, Key: "k-1", RequestHash: "h1", RecordID: "rec_1"}
	if err := putKey(st, want); err != nil {
		t.Fatal(err)
	}
	got, err := st.IdempotencyKey(ctx, a, "k-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, *got, cmpopts.IgnoreFields(store.IdempotencyKey{}, "CreatedAt")); d != "" || got.CreatedAt.IsZero() {
		t.Errorf("read back (-want +got):\n%s\ncreated %v", d, got.CreatedAt)
	}
	for _, c := range []struct{ what, org, key string }{
		{"another organisation's", b, "k-1"},
		{"an unused key", a, "k-2"},
		{"another case", a, "K-1"},
	} {
		if _, err := st.IdempotencyKey(ctx, c.org, c.key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.what, err)
		}
	}
}

func testPutIdempotencyKey(t *testing.T, s *suite) {
	st := s.shared
	a, b := newOrg(t, st), newOrg(t, st)
	k := store.IdempotencyKey{OrgID: a, Key: "once", RequestHash: "h", RecordID: "rec_1"}
	if err := putKey(st, k); err != nil {
		t.Fatal(err)
	}
	again := k
	again.RecordID = "rec_2"
	wantErr(t, "the same key again", putKey(st, again), store.ErrConflict)
	other := k
	other.OrgID = b
	if err := putKey(st, other); err != nil {
		t.Errorf("another organisation's key of the same name: %v", err)
	}
	// A key put by a transaction that rolled back was never used.
	rolled := store.IdempotencyKey{OrgID: a, Key: "rolled back", RequestHash: "h", RecordID: "rec_3"}
	boom := errors.New("boom")
	err := try(st, func(ctx context.Context, tx *store.Tx) error {
		if err := tx.PutIdempotencyKey(ctx, &rolled); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "the failing write", err, boom)
	if err := putKey(st, rolled); err != nil {
		t.Errorf("the key of a rolled back write: %v", err)
	}

	// Writers that put one key at once, on nodes sharing the database
	// where the backend has several: exactly one of them uses it.
	url := s.b.NewURL(t)
	first := s.openURL(t, store.Config{URL: url})
	org := newOrg(t, first)
	stores := []*store.Store{first}
	if s.b.Clustered {
		stores = append(stores, s.openURL(t, store.Config{URL: url}), s.openURL(t, store.Config{URL: url}))
	}
	const writers = 6
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			errs[i] = putKey(stores[i%len(stores)], store.IdempotencyKey{OrgID: org, Key: "raced", RequestHash: "h", RecordID: "rec_x"})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("a racing writer: %v, want nil or ErrConflict", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d racing writers used the key, want 1", ok, writers)
	}
}

func testPruneIdempotencyKeys(t *testing.T, s *suite) {
	ctx := context.Background()
	st := s.fresh(t)
	a := newOrg(t, st)
	for _, key := range []string{"k1", "k2", "k3"} {
		if err := putKey(st, store.IdempotencyKey{OrgID: a, Key: key, RequestHash: "h", RecordID: "rec_" + key}); err != nil {
			t.Fatal(err)
		}
	}
	prune := func(before time.Time, limit int) int {
		t.Helper()
		var n int
		write(t, st, func(ctx context.Context, tx *store.Tx) error {
			var err error
			n, err = tx.PruneIdempotencyKeys(ctx, before, limit)
			return err
		})
		return n
	}
	if n := prune(time.Now().Add(-time.Hour), 10); n != 0 {
		t.Errorf("pruned %d keys used after the cutoff", n)
	}
	if n := prune(time.Now().Add(time.Hour), 2); n != 2 {
		t.Errorf("pruned %d with limit 2, want 2", n)
	}
	if n := prune(time.Now().Add(time.Hour), 10); n != 1 {
		t.Errorf("pruned %d of the rest, want 1", n)
	}
	for _, key := range []string{"k1", "k2", "k3"} {
		if _, err := st.IdempotencyKey(ctx, a, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("key %s after pruning: %v", key, err)
		}
	}
}
