// Package secret keeps secrets safe: it encrypts them at rest (Box, LoadKey),
// redacts them from history (Redactor, AlwaysRedactedHeader) and holds them in
// memory in a Value that will not print, marshal or log its plaintext.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
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
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box using key, which must be KeySize bytes.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key: want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext, binding it to additionalData (say, the
// organisation and secret name, so a sealed value cannot be moved to another
// row); the same additionalData must be given to Open.
func (b *Box) Seal(plaintext, additionalData []byte) []byte {
	out := make([]byte, 1, 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version1
	return b.aead.Seal(out, nil, plaintext, additionalData)
}

// Open decrypts what Seal returned. The error wraps ErrOpen when the value is
// malformed, of an unknown version, tampered with, sealed with another key or
// with other additional data.
func (b *Box) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrOpen)
	}
	if sealed[0] != version1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrOpen, sealed[0])
	}
	if len(sealed)-1 < b.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrOpen)
	}
	plaintext, err := b.aead.Open(nil, nil, sealed[1:], additionalData)
	if err != nil {
		// crypto/cipher's error says no more than this.
		return nil, fmt.Errorf("%w: wrong key, wrong additional data or tampered", ErrOpen)
	}
	return plaintext, nil
}
