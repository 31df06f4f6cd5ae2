package secret

import (
	"encoding/base64"
	"slices"
)

// OpenSecrets opens an organisation's secrets as stored (by name, the
// standard base64 of what Seal returned, bound with SecretAAD). It returns
// those that open, by name, and the names of those that do not open with
// the Box's keys (sealed with another key, for another organisation or
// name, damaged), sorted.
func (b *Box) OpenSecrets(orgID string, sealed map[string]string) (opened map[string]string, broken []string) {
	opened = make(map[string]string, len(sealed))
	for name, s := range sealed {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err == nil {
			var plain []byte
			if plain, err = b.Open(raw, SecretAAD(orgID, name)); err == nil {
				opened[name] = string(plain)
				continue
			}
		}
		broken = append(broken, name)
	}
	slices.Sort(broken)
	return opened, broken
}
