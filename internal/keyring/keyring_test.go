package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/autohook/autohook/internal/automation"
	"github.com/autohook/autohook/internal/keyring"
	"github.com/autohook/autohook/internal/pgtest"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
)

// forEachDB runs test on a fresh SQLite database and a fresh PostgreSQL
// database.
func forEachDB(t *testing.T, test func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "autohook.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			t.Parallel()
			st, err := store.Open(context.Background(), store.Config{URL: db.url(t)})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { st.Close(context.Background()) })
			test(t, st)
		})
	}
}

func key(fill byte) []byte { return bytes.Repeat([]byte{fill}, secret.KeySize) }

func box(t *testing.T, keys ...[]byte) *secret.Box {
	t.Helper()
	b, err := secret.NewBox(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newOrg(t *testing.T, st *store.Store) string {
	t.Helper()
	var id string
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		o, err := tx.CreateOrganisation(context.Background(), "acme")
		if o != nil {
			id = o.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// putSecrets stores n secrets (S000...) and n signed automations of org,
// sealed with b.
func putSecrets(t *testing.T, st *store.Store, b *secret.Box, org string, n int) {
	t.Helper()
	ctx := context.Background()
	err := st.Write(ctx, func(tx *store.Tx) error {
		for i := range n {
			name := fmt.Sprintf("S%03d", i)
			v := store.SealedValue{Kind: store.SealedSecret, OrgID: org, Name: name}
			if err := tx.PutSecret(ctx, org, name, keyring.Seal(b, v, []byte("value-"+name))); err != nil {
				return err
			}
			a := &automation.Automation{Name: name, Collection: "leads", Enabled: true, Trigger: automation.Trigger{Type: automation.RecordAdded},
				Signing: &automation.Signing{Secret: automation.SecretRedacted}}
			sv := store.SealedValue{Kind: store.SealedSigning, OrgID: org}
			if err := tx.SaveAutomation(ctx, org, a, keyring.Seal(b, sv, []byte("whsec_"+name))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openAll opens every stored value with b and returns how many opened and
// the descriptions of those that did not.
func openAll(t *testing.T, st *store.Store, b *secret.Box) (opened int, failed []string) {
	t.Helper()
	after := store.SealedValue{}
	for {
		vals, err := st.SealedValues(context.Background(), after, 37)
		if err != nil {
			t.Fatal(err)
		}
		if len(vals) == 0 {
			return opened, failed
		}
		after = vals[len(vals)-1]
		for _, v := range vals {
			plain, _, err := keyring.Open(b, v)
			want := "value-" + v.Name
			if v.Kind == store.SealedSigning {
				want = "whsec_"
			}
			if err != nil || !bytes.HasPrefix(plain, []byte(want)) {
				failed = append(failed, fmt.Sprintf("%s %s v%d: %q, %v", v.Kind, v.Name, v.Version, plain, err))
				continue
			}
			opened++
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		a, b := key(1), key(2)
		// First start: the check is sealed with the node's key.
		if _, err := keyring.Check(ctx, st, box(t, a)); err != nil {
			t.Fatalf("first Check: %v", err)
		}
		if _, err := st.Meta(ctx, "key_check"); err != nil {
			t.Fatalf("the key check was not stored: %v", err)
		}
		tests := []struct {
			name    string
			keys    [][]byte
			wantErr bool
		}{
			{"the same key", [][]byte{a}, false},
			{"another key", [][]byte{b}, true},
			{"another key, with the right one as the previous", [][]byte{b, a}, false},
			{"two wrong keys", [][]byte{b, key(3)}, true},
		}
		for _, tc := range tests {
			_, err := keyring.Check(ctx, st, box(t, tc.keys...))
			if got := errors.Is(err, keyring.ErrWrongKey); got != tc.wantErr {
				t.Errorf("%s: Check = %v, want ErrWrongKey %v", tc.name, err, tc.wantErr)
			}
		}
	})
}

// A database from before the key check: the node's key is proved by the
// secrets it opens, and the check is sealed then (with the key that opens
// them).
func TestCheckDatabaseWithoutCheck(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		old, fresh := key(1), key(2)
		org := newOrg(t, st)
		putSecrets(t, st, box(t, old), org, 3)

		if _, err := keyring.Check(ctx, st, box(t, fresh)); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("Check with a key that opens none of the secrets = %v, want ErrWrongKey", err)
		}
		if _, err := st.Meta(ctx, "key_check"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused Check stored a key check (%v): the next node with the wrong key would pass", err)
		}
		// New key first, old key previous: the check is sealed with the old
		// key, which is the one that opens the secrets.
		k, err := keyring.Check(ctx, st, box(t, fresh, old))
		if err != nil {
			t.Fatalf("Check with the old key as the previous: %v", err)
		}
		var sealsWith int
		err = st.Write(ctx, func(tx *store.Tx) error {
			s, err := k.Sealer(ctx, tx)
			if s != nil {
				sealsWith = s.SealsWith()
			}
			return err
		})
		if err != nil || sealsWith != 1 {
			t.Errorf("Sealer seals with key %d (%v), want 1: the old key, until rotate-key", sealsWith, err)
		}
		if _, err := keyring.Check(ctx, st, box(t, old)); err != nil {
			t.Errorf("Check with the old key alone after the check was sealed: %v", err)
		}
	})
}

// The rolling key change of the package documentation, while a node keeps
// writing secrets with keyring.Sealer: at the end every value opens with
// the new key alone, and nothing written meanwhile was missed.
func TestRotate(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		old, fresh := key(1), key(2)
		org := newOrg(t, st)
		if _, err := keyring.Check(ctx, st, box(t, old)); err != nil {
			t.Fatal(err)
		}
		putSecrets(t, st, box(t, old), org, 120)

		// Step 1: a node restarted with the new key and the old one as the
		// previous still seals with the old key; an old node opens it.
		node, err := keyring.Check(ctx, st, box(t, fresh, old))
		if err != nil {
			t.Fatal(err)
		}
		oldNode, err := keyring.Check(ctx, st, box(t, old))
		if err != nil {
			t.Fatal(err)
		}
		sealer := func(k *keyring.Keyring) (int, error) {
			var i int
			err := st.Write(ctx, func(tx *store.Tx) error {
				s, err := k.Sealer(ctx, tx)
				if s != nil {
					i = s.SealsWith()
				}
				return err
			})
			return i, err
		}
		if i, err := sealer(node); err != nil || i != 1 {
			t.Fatalf("before rotate-key, the node with both keys seals with key %d (%v), want 1 (the old key)", i, err)
		}

		// Step 2: rotate while the node writes more secrets.
		var (
			wg      sync.WaitGroup
			stop    atomic.Bool
			written atomic.Int64
			werr    error
		)
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				name := fmt.Sprintf("W%04d", i)
				err := st.Write(ctx, func(tx *store.Tx) error {
					s, err := node.Sealer(ctx, tx)
					if err != nil {
						return err
					}
					v := store.SealedValue{Kind: store.SealedSecret, OrgID: org, Name: name}
					return tx.PutSecret(ctx, org, name, keyring.Seal(s, v, []byte("value-"+name)))
				})
				if err != nil {
					werr = err
					return
				}
				written.Add(1)
				time.Sleep(time.Millisecond) // a person saving secrets, fast
			}
		})
		stats, err := keyring.Rotate(ctx, st, box(t, fresh, old), keyring.RotateConfig{Batch: 50})
		stop.Store(true)
		wg.Wait()
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if werr != nil {
			t.Fatalf("writing secrets during the rotation: %v", werr)
		}
		if stats.Resealed < 240 {
			t.Errorf("Rotate sealed %d values again, want at least the 240 stored before (%+v)", stats.Resealed, stats)
		}
		t.Logf("rotated: %+v; %d secrets written meanwhile", stats, written.Load())

		// Every value, including those written meanwhile, opens with the
		// new key alone.
		opened, failed := openAll(t, st, box(t, fresh))
		if len(failed) > 0 {
			t.Errorf("%d values do not open with the new key alone: %v", len(failed), failed[:min(len(failed), 5)])
		}
		if want := 240 + int(written.Load()); opened != want {
			t.Errorf("%d values open with the new key, want %d", opened, want)
		}
		if i, err := sealer(node); err != nil || i != 0 {
			t.Errorf("after rotate-key, the node seals with key %d (%v), want 0 (the new key)", i, err)
		}
		// A node that never got the new key cannot seal any more, and
		// says why; a restart with the old key alone is refused.
		if _, err := sealer(oldNode); !errors.Is(err, keyring.ErrWrongKey) {
			t.Errorf("Sealer of a node without the new key = %v, want ErrWrongKey", err)
		}
		if _, err := keyring.Check(ctx, st, box(t, old)); !errors.Is(err, keyring.ErrWrongKey) {
			t.Errorf("Check with the old key after the rotation = %v, want ErrWrongKey", err)
		}
		// Step 3: the new key alone.
		if _, err := keyring.Check(ctx, st, box(t, fresh)); err != nil {
			t.Errorf("Check with the new key alone: %v", err)
		}
		// Running it again finds nothing to do.
		again, err := keyring.Rotate(ctx, st, box(t, fresh, old), keyring.RotateConfig{})
		if err != nil || again.Resealed != 0 || again.Already != opened {
			t.Errorf("Rotate again = %+v, %v; want nothing sealed again, %d already", again, err, opened)
		}
	})
}

func TestRotateRefusesWrongKeysAndReportsDamage(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		old, fresh := key(1), key(2)
		org := newOrg(t, st)
		if _, err := keyring.Check(ctx, st, box(t, old)); err != nil {
			t.Fatal(err)
		}
		putSecrets(t, st, box(t, old), org, 2)
		// Keys that do not include the current one: nothing changes.
		if _, err := keyring.Rotate(ctx, st, box(t, fresh, key(3)), keyring.RotateConfig{}); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("Rotate without the current key = %v, want ErrWrongKey", err)
		}
		if _, err := keyring.Check(ctx, st, box(t, old)); err != nil {
			t.Fatalf("after a refused rotation the old key no longer passes the check: %v", err)
		}
		// A value sealed with a key nobody has is reported, the rest rotated.
		err := st.Write(ctx, func(tx *store.Tx) error {
			v := store.SealedValue{Kind: store.SealedSecret, OrgID: org, Name: "LOST"}
			return tx.PutSecret(ctx, org, "LOST", keyring.Seal(box(t, key(9)), v, []byte("x")))
		})
		if err != nil {
			t.Fatal(err)
		}
		stats, err := keyring.Rotate(ctx, st, box(t, fresh, old), keyring.RotateConfig{})
		if !errors.Is(err, keyring.ErrWrongKey) || len(stats.Failed) != 1 || stats.Resealed != 4 {
			t.Errorf("Rotate with one value nobody can open = %+v, %v; want 4 sealed again, 1 failed, ErrWrongKey", stats, err)
		}
	})
}
