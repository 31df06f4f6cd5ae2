// Package keyring keeps the nodes of one database on the key that seals
// secrets at rest. A constant sealed with that key is stored in the
// database (the key check): a node whose keys do not open it refuses to
// start (Check), instead of failing every run that uses a secret. While the
// key is changed, the check says which of a node's keys seals new values
// (Sealer), and Rotate seals every stored value again with the new key, in
// batches, while the nodes serve.
//
// A rolling key change, node by node, never leaves a value that some node
// cannot open:
//
//  1. each node is restarted with AUTOHOOK_SECRET_KEY=new and
//     AUTOHOOK_SECRET_KEY_PREVIOUS=old: it opens values sealed with either,
//     and still seals with the old key (the check's);
//  2. `autohook rotate-key --new-key new` seals the check, then every
//     value, with the new key; from the check's change on, nodes seal with
//     the new key;
//  3. AUTOHOOK_SECRET_KEY_PREVIOUS can go (one more rolling restart).
package keyring

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
)

// The key check: checkPlain sealed with the key, bound to checkAAD, in the
// autohook_meta row checkName.
const checkName = "key_check"

var (
	checkPlain = []byte("autohook key check v1")
	checkAAD   = []byte("autohook:key_check")
)

// ErrWrongKey is wrapped by the errors that say the node's keys do not open
// the database's sealed values.
var ErrWrongKey = errors.New("wrong secret key")

// sampleSize is how many stored values Check tries to open, in a database
// from before the key check, to learn whether the node has the right key.
const sampleSize = 50

// Keyring is a node's keys, checked against its database.
type Keyring struct {
	box *secret.Box
}

// Box opens values sealed with any of the node's keys.
func (k *Keyring) Box() *secret.Box { return k.box }

// Check makes sure box holds the key the database's values are sealed with
// and returns the node's Keyring. A database without a key check gets one:
// sealed with the key that opens its existing secrets and signing secrets
// (some of them are tried), or with box's first key when it has none (a
// first start). The error wraps ErrWrongKey when box opens neither the
// check nor any of the values tried.
func Check(ctx context.Context, st *store.Store, box *secret.Box) (*Keyring, error) {
	for range 2 {
		sealed, err := st.Meta(ctx, checkName)
		if err == nil {
			if _, err := openCheck(box, sealed); err != nil {
				return nil, fmt.Errorf("%w: the key check stored in the database does not open with it", ErrWrongKey)
			}
			return &Keyring{box: box}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("key check: %w", err)
		}
		key, err := keyOfValues(ctx, st, box)
		if err != nil {
			return nil, err
		}
		check := sealCheck(box.SealingWith(key))
		err = st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.InsertMeta(ctx, checkName, check)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("key check: %w", err)
		}
		// Read it back: another node may have sealed it first.
	}
	return nil, errors.New("key check: it is neither in the database nor could it be stored")
}

// Sealer returns the Box that seals the values written in tx: the one of
// the node's keys that opens the key check, which is the old key until
// rotate-key changes the check during a key change, so that the nodes that
// do not have the new key yet can open what any node writes. On PostgreSQL
// the check stays as it is until tx ends (the row is read FOR SHARE), so
// Rotate cannot change keys between this choice and the commit.
func (k *Keyring) Sealer(ctx context.Context, tx *store.Tx) (*secret.Box, error) {
	sealed, err := tx.MetaForShare(ctx, checkName)
	if errors.Is(err, store.ErrNotFound) {
		return k.box, nil // no check (a store that Check never saw: tests, tools)
	}
	if err != nil {
		return nil, fmt.Errorf("key check: %w", err)
	}
	key, err := openCheck(k.box, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: the database's key check was sealed again with a key this node does not have (autohook rotate-key ran before this node was given the new key): restart it with the new AUTOHOOK_SECRET_KEY", ErrWrongKey)
	}
	return k.box.SealingWith(key), nil
}

// openCheck opens a stored key check and says which key opened it.
func openCheck(box *secret.Box, sealed string) (int, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		return -1, fmt.Errorf("key check: %w", err)
	}
	plain, key, err := box.OpenKey(raw, checkAAD)
	if err != nil {
		return -1, err
	}
	if string(plain) != string(checkPlain) {
		return -1, fmt.Errorf("key check: unexpected content")
	}
	return key, nil
}

func sealCheck(box *secret.Box) string {
	return base64.StdEncoding.EncodeToString(box.Seal(checkPlain, checkAAD))
}

// Open opens a stored sealed value with box, and says which key opened it.
func Open(box *secret.Box, v store.SealedValue) ([]byte, int, error) {
	raw, err := base64.StdEncoding.DecodeString(v.Sealed)
	if err != nil {
		return nil, -1, fmt.Errorf("%w: not base64: %v", secret.ErrOpen, err)
	}
	return box.OpenKey(raw, aad(v))
}

// Seal seals plain as the value v, with box's sealing key.
func Seal(box *secret.Box, v store.SealedValue, plain []byte) string {
	return base64.StdEncoding.EncodeToString(box.Seal(plain, aad(v)))
}

func aad(v store.SealedValue) []byte {
	if v.Kind == store.SealedSigning {
		return secret.SigningAAD(v.OrgID)
	}
	return secret.SecretAAD(v.OrgID, v.Name)
}

// keyOfValues returns the key of box that opens the first of the stored
// values that one of its keys opens, trying up to sampleSize (0 when there
// are none).
func keyOfValues(ctx context.Context, st *store.Store, box *secret.Box) (int, error) {
	vals, err := st.SealedValues(ctx, store.SealedValue{}, sampleSize)
	if err != nil {
		return 0, fmt.Errorf("key check: %w", err)
	}
	for _, v := range vals {
		if _, key, err := Open(box, v); err == nil {
			return key, nil
		}
	}
	if len(vals) > 0 {
		return 0, fmt.Errorf("%w: the database has no key check yet, and none of the %d secrets and signing secrets tried opens with it", ErrWrongKey, len(vals))
	}
	return 0, nil
}

// RotateConfig configures Rotate.
type RotateConfig struct {
	// Batch is how many values one transaction seals again (default 100);
	// Pause the wait between transactions (default 10 ms), so that the
	// nodes' own writes go on in between.
	Batch int
	Pause time.Duration
	// Progress, if not nil, is told the counts after each batch.
	Progress func(RotateStats)
}

// RotateStats counts what Rotate did.
type RotateStats struct {
	Resealed int      // values sealed again with the new key
	Already  int      // values already sealed with it
	Changed  int      // values changed meanwhile (saved again by a node, with the new key)
	Failed   []string // values none of the keys opens: "secret org/NAME", "signing automation vN"
	Passes   int
}

// Rotate seals the key check, then every secret and signing secret, again
// with box's first key, opening them with any of its keys (box is the new
// key followed by the old ones). It works in small transactions while
// nodes serve, and goes over the values again until a pass finds none left
// under an old key. Values that none of the keys opens are listed in
// RotateStats.Failed (and make it fail) but do not stop it.
func Rotate(ctx context.Context, st *store.Store, box *secret.Box, cfg RotateConfig) (RotateStats, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 10 * time.Millisecond
	}
	var stats RotateStats
	// The check first: it proves the old key is among box's, and from its
	// change on, nodes seal with the new key.
	err := st.Write(ctx, func(tx *store.Tx) error {
		sealed, err := tx.MetaForShare(ctx, checkName)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if _, err := keyOfValues(ctx, st, box); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("key check: %w", err)
		default:
			if _, err := openCheck(box, sealed); err != nil {
				return fmt.Errorf("%w: none of the keys given (the new key, AUTOHOOK_SECRET_KEY, AUTOHOOK_SECRET_KEY_PREVIOUS) opens the database's key check", ErrWrongKey)
			}
		}
		return tx.SetMeta(ctx, checkName, sealCheck(box))
	})
	if err != nil {
		return stats, err
	}
	failed := map[string]bool{}
	for stats.Passes < 5 {
		stats.Passes++
		resealed, err := rotatePass(ctx, st, box, cfg, &stats, failed)
		if err != nil {
			return stats, err
		}
		if resealed == 0 {
			break
		}
	}
	if len(stats.Failed) > 0 {
		return stats, fmt.Errorf("%w: %d value(s) open with none of the keys given: %v", ErrWrongKey, len(stats.Failed), stats.Failed)
	}
	return stats, nil
}

// rotatePass goes once over every value stored when it begins (those
// stored later are sealed with the new key: the check was changed first)
// and returns how many it sealed again.
func rotatePass(ctx context.Context, st *store.Store, box *secret.Box, cfg RotateConfig, stats *RotateStats, failed map[string]bool) (int, error) {
	resealed := 0
	last, err := st.LastSealedValue(ctx)
	if err != nil || last.Kind == "" {
		return 0, err
	}
	after := store.SealedValue{}
	for {
		if after.Kind != "" && !last.After(after) {
			return resealed, nil
		}
		vals, err := st.SealedValues(ctx, after, cfg.Batch)
		if err != nil {
			return resealed, err
		}
		if len(vals) == 0 {
			return resealed, nil
		}
		after = vals[len(vals)-1]
		type job struct {
			v     store.SealedValue
			plain []byte
		}
		var todo []job
		for _, v := range vals {
			plain, key, err := Open(box, v)
			switch {
			case err != nil:
				if name := describe(v); !failed[name] {
					failed[name] = true
					stats.Failed = append(stats.Failed, name)
				}
			case key == 0:
				if stats.Passes == 1 {
					stats.Already++
				}
			default:
				todo = append(todo, job{v, plain})
			}
		}
		if len(todo) > 0 {
			var done, changed int
			err := st.Write(ctx, func(tx *store.Tx) error {
				done, changed = 0, 0 // the function may run again (a deadlock retried)
				for _, j := range todo {
					ok, err := tx.Reseal(ctx, j.v, Seal(box, j.v, j.plain))
					if err != nil {
						return err
					}
					if ok {
						done++
					} else {
						changed++
					}
				}
				return nil
			})
			if err != nil {
				return resealed, fmt.Errorf("seal again: %w", err)
			}
			stats.Resealed += done
			stats.Changed += changed
			resealed += done
		}
		if cfg.Progress != nil {
			cfg.Progress(*stats)
		}
		select {
		case <-ctx.Done():
			return resealed, ctx.Err()
		case <-time.After(cfg.Pause):
		}
	}
}

func describe(v store.SealedValue) string {
	if v.Kind == store.SealedSigning {
		return fmt.Sprintf("signing secret of automation %s v%d", v.Name, v.Version)
	}
	return fmt.Sprintf("secret %s of organisation %s", v.Name, v.OrgID)
}
