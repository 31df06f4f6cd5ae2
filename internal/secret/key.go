package secret

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the name of the generated key file in the data directory.
const KeyFile = "secret.key"

// LoadKey returns the key for a Box. When envValue is not empty it is the key,
// written as base64 (standard or URL alphabet, padded or not) or as 64 hex
// digits. Otherwise the key is read from dataDir/secret.key, which is created
// with a new random key (base64, mode 0600, in a directory created 0700) when
// it does not exist; generated says whether that happened.
//
// Errors never contain key material.
func LoadKey(dataDir, envValue string) (key []byte, generated bool, err error) {
	if envValue != "" {
		key, err := decodeKey(envValue)
		if err != nil {
			return nil, false, fmt.Errorf("secret key from environment: %w", err)
		}
		return key, false, nil
	}
	if dataDir == "" {
		return nil, false, errors.New("secret key: no key given and no data directory")
	}
	path := filepath.Join(dataDir, KeyFile)
	key, err = readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key, err = writeKeyFile(dataDir, path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		key, err = readKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

func readKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	key, err := decodeKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return key, nil
}

// writeKeyFile creates path with a new key, failing with fs.ErrExist if it is
// already there. A crash part way leaves a file LoadKey refuses, rather than
// one it would silently replace, losing every secret sealed with the old key.
func writeKeyFile(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secret key directory: %w", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create secret key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write secret key file: %w", err)
	}
	return key, nil
}

// ParseKey decodes a key written as LoadKey accepts it from the
// environment: base64 (any common form) or 64 hex digits. Errors never
// contain key material.
func ParseKey(s string) ([]byte, error) { return decodeKey(s) }

var keyEncodings = []*base64.Encoding{
	base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
}

// decodeKey accepts 64 hex digits or base64 in any common form, and requires
// KeySize bytes.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range keyEncodings {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("want %d bytes, got %d (base64)", KeySize, len(key))
		}
		return key, nil
	}
	return nil, fmt.Errorf("want %d bytes as base64 or %d hex digits, got %d characters of neither", KeySize, 2*KeySize, len(s))
}
