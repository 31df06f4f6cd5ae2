// Package secret keeps secrets safe: it encrypts them at rest (Box, LoadKey),
// redacts them from history (Redactor, AlwaysRedactedHeader) and holds them in
// memory in a Value that will not print, marshal or log its plaintext.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"slices"
)

// KeySize is the size of a Box key: AES-256.
const KeySize = 32

// version1 marks AES-256-GCM with a random 12-byte nonce.
const version1 byte = 1

// ErrOpen is wrapped by every error Open returns.
var ErrOpen = errors.New("cannot open sealed value")

// Box seals and opens values with AES-256-GCM. It is safe for concurrent use.
//
// A sealed value is a version byte (1), the random 12-byte nonce, then the
// ciphertext and its 16-byte tag. With random nonces one key may seal about
// 2^32 values before nonce reuse becomes a concern, far beyond how many
// secrets are stored.
//
// A Box may hold more than one key while keys are changed (see
// internal/keyring): it seals with one of them and opens with any. A value
// sealed with a key the Box does not hold never opens (GCM authenticates),
// so trying each key in turn cannot give a wrong plaintext.
type Box struct {
	aeads []cipher.AEAD // the keys, in the order given to NewBox
	seal  int           // the index of the key Seal uses
}

// NewBox returns a Box that seals with key and opens with key or any of
// others (the keys being replaced during a key change). Every key must be
// KeySize bytes; a key given twice counts once.
func NewBox(key []byte, others ...[]byte) (*Box, error) {
	keys := append([][]byte{key}, others...)
	b := &Box{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secret key: want %d bytes, got %d", KeySize, len(k))
		}
		if slices.ContainsFunc(keys[:i], func(prev []byte) bool { return bytes.Equal(prev, k) }) {
			continue
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
		b.aeads = append(b.aeads, aead)
	}
	return b, nil
}

// Keys is how many distinct keys the Box holds.
func (b *Box) Keys() int { return len(b.aeads) }

// SealingWith returns a Box holding the same keys that seals with key i
// (0 is the first key given to NewBox, then the other distinct keys in
// order). It panics when i is out of range.
func (b *Box) SealingWith(i int) *Box {
	if i < 0 || i >= len(b.aeads) {
		panic(fmt.Sprintf("secret: SealingWith(%d) of a box with %d keys", i, len(b.aeads)))
	}
	return &Box{aeads: b.aeads, seal: i}
}

// SealsWith is the index of the key Seal uses.
func (b *Box) SealsWith() int { return b.seal }

// Seal encrypts plaintext, binding it to additionalData (say, the
// organisation and secret name, so a sealed value cannot be moved to another
// row); the same additionalData must be given to Open.
func (b *Box) Seal(plaintext, additionalData []byte) []byte {
	aead := b.aeads[b.seal]
	out := make([]byte, 1, 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version1
	return aead.Seal(out, nil, plaintext, additionalData)
}

// Open decrypts what Seal returned. The error wraps ErrOpen when the value is
// malformed, of an unknown version, tampered with, sealed with a key the Box
// does not hold or with other additional data.
func (b *Box) Open(sealed, additionalData []byte) ([]byte, error) {
	plaintext, _, err := b.OpenKey(sealed, additionalData)
	return plaintext, err
}

// OpenKey is Open that also says which key opened the value (0 is the first
// key given to NewBox).
func (b *Box) OpenKey(sealed, additionalData []byte) ([]byte, int, error) {
	if len(sealed) == 0 {
		return nil, -1, fmt.Errorf("%w: empty", ErrOpen)
	}
	if sealed[0] != version1 {
		return nil, -1, fmt.Errorf("%w: unknown version %d", ErrOpen, sealed[0])
	}
	if len(sealed)-1 < b.aeads[0].Overhead() {
		return nil, -1, fmt.Errorf("%w: too short", ErrOpen)
	}
	for i, aead := range b.aeads {
		if plaintext, err := aead.Open(nil, nil, sealed[1:], additionalData); err == nil {
			return plaintext, i, nil
		}
	}
	// crypto/cipher's error says no more than this.
	if len(b.aeads) > 1 {
		return nil, -1, fmt.Errorf("%w: none of the %d keys opens it (another key, other additional data or tampered)", ErrOpen, len(b.aeads))
	}
	return nil, -1, fmt.Errorf("%w: wrong key, wrong additional data or tampered", ErrOpen)
}

// What each kind of stored sealed value is bound to (its additional data),
// so that a sealed value cannot be moved to another row.

// SecretAAD binds an organisation's secret to the organisation and its name.
func SecretAAD(orgID, name string) []byte { return []byte("secret:" + orgID + ":" + name) }

// SigningAAD binds an automation's signing secret to its organisation.
func SigningAAD(orgID string) []byte { return []byte("signing:" + orgID) }
