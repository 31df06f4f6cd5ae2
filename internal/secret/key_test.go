package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKeyFromEnv(t *testing.T) {
	t.Parallel()
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i*7 + 0xf0) // includes bytes that need + / - _ in base64
	}
	tests := []struct {
		name string
		env  string
	}{
		{"base64 std", base64.StdEncoding.EncodeToString(key)},
		{"base64 std unpadded", base64.RawStdEncoding.EncodeToString(key)},
		{"base64 url", base64.URLEncoding.EncodeToString(key)},
		{"base64 url unpadded", base64.RawURLEncoding.EncodeToString(key)},
		{"hex", hex.EncodeToString(key)},
		{"hex upper case", strings.ToUpper(hex.EncodeToString(key))},
		{"surrounding space", "  " + base64.StdEncoding.EncodeToString(key) + "\n"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		got, generated, err := LoadKey(dir, tc.env)
		if err != nil || generated || !bytes.Equal(got, key) {
			t.Errorf("%s: LoadKey = %x, %v, %v; want the key, false, nil", tc.name, got, generated, err)
		}
		if _, err := os.Stat(filepath.Join(dir, KeyFile)); !os.IsNotExist(err) {
			t.Errorf("%s: a key file was written: %v", tc.name, err)
		}
	}
}

func TestLoadKeyBadEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  string
		want string // in the error
	}{
		{"short base64", base64.StdEncoding.EncodeToString(make([]byte, 16)), "got 16"},
		{"long base64", base64.StdEncoding.EncodeToString(make([]byte, 33)), "got 33"},
		{"short hex", hex.EncodeToString(make([]byte, 31)), "want 32 bytes"},
		{"not encoded", "correct horse battery staple!", "as base64 or 64 hex digits"},
		{"spaces only", "   ", "got 0"},
	}
	for _, tc := range tests {
		_, _, err := LoadKey(t.TempDir(), tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadKey = %v, want an error containing %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), strings.TrimSpace(tc.env)) && strings.TrimSpace(tc.env) != "" {
			t.Errorf("%s: error %q contains the key", tc.name, err)
		}
	}
}

func TestLoadKeyGenerates(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	key, generated, err := LoadKey(dir, "")
	if err != nil || !generated || len(key) != KeySize {
		t.Fatalf("LoadKey = %d bytes, %v, %v; want %d bytes, true, nil", len(key), generated, err, KeySize)
	}
	info, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode %v, want 0600", got)
	}
	dirInfo, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := dirInfo.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("data directory mode %v, want no group or other access", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err != nil || !bytes.Equal(got, key) {
		t.Errorf("key file holds %q, want the key in base64", data)
	}

	again, generated, err := LoadKey(dir, "")
	if err != nil || generated || !bytes.Equal(again, key) {
		t.Errorf("second LoadKey = %x, %v, %v; want the same key, false, nil", again, generated, err)
	}

	// The environment wins over the file.
	other := bytes.Repeat([]byte{9}, KeySize)
	fromEnv, _, err := LoadKey(dir, hex.EncodeToString(other))
	if err != nil || !bytes.Equal(fromEnv, other) {
		t.Errorf("LoadKey with env = %x, %v; want the env key", fromEnv, err)
	}
}

func TestLoadKeyBadFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		contents string
	}{
		{"empty (a crash while writing)", ""},
		{"short", base64.StdEncoding.EncodeToString(make([]byte, 8))},
		{"garbage", "not a key"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		path := filepath.Join(dir, KeyFile)
		if err := os.WriteFile(path, []byte(tc.contents), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadKey(dir, ""); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: LoadKey = %v, want an error naming %s", tc.name, err, path)
		}
		if data, _ := os.ReadFile(path); string(data) != tc.contents {
			t.Errorf("%s: key file was replaced", tc.name)
		}
	}
}

func TestLoadKeyNoDataDir(t *testing.T) {
	t.Parallel()
	if _, _, err := LoadKey("", ""); err == nil {
		t.Errorf("LoadKey with nothing = nil error, want one")
	}
}
