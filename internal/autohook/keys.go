package autohook

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Principal is who is calling: an API key of an organisation.
type Principal struct {
	OrgID         string
	KeyID         string
	KeyName       string
	InstanceAdmin bool
	Role          Role
}

// KeyPrefix starts every API key, so that a leaked key is easy to spot.
const KeyPrefix = "ahk_"

// NewAPIKey returns a new random API key.
func NewAPIKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashKey is how keys are stored: high-entropy keys need no salt or slow
// hash, and a fixed hash lets a key be found by it.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CreatedKey is a new API key: the key itself is shown only here.
type CreatedKey struct {
	*APIKey
	Key string `json:"key"`
}

// CreatedOrganisation is a new organisation with its first admin key and
// the invitation of its first owner (the adapters turn its token into
// ownerInvitationUrl).
type CreatedOrganisation struct {
	*Organisation
	APIKey          string             `json:"apiKey"`
	OwnerInvitation *CreatedInvitation `json:"-"`
}
