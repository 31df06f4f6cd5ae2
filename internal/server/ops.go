package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/autohook/autohook/internal/keyring"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
)

// The operations beside serve: backup and rotate-key. Both work on a data
// dir (or database) that nodes may be serving: they take no data dir lock.

// databaseURL is the database of a data dir: url, or SQLite in the dir.
func databaseURL(dataDir, url string) string {
	if url != "" {
		return url
	}
	return "sqlite:" + filepath.Join(dataDir, "autohook.db")
}

// Backup writes a consistent copy of the SQLite database of dataDir (or of
// url, a sqlite: URL) into the new file to, also while `serve` runs on it
// (see store.Backup).
func Backup(ctx context.Context, dataDir, url, to string) (store.BackupInfo, error) {
	url = databaseURL(dataDir, url)
	path, ok := strings.CutPrefix(url, "sqlite:")
	if !ok {
		return store.BackupInfo{}, errors.New("backup copies a SQLite database; for PostgreSQL use pg_dump (docs/OPERATIONS.md, \"Backup\")")
	}
	if to == "" {
		return store.BackupInfo{}, errors.New("backup: --to FILE is required")
	}
	return store.Backup(ctx, path, to)
}

// RotateConfig configures RotateKey.
type RotateConfig struct {
	DataDir, DatabaseURL string
	// SecretKey and SecretKeyPrevious are the keys values may be sealed
	// with now (AUTOHOOK_SECRET_KEY, else the data dir's secret.key; and
	// AUTOHOOK_SECRET_KEY_PREVIOUS); NewKey the key to seal them with.
	SecretKey, SecretKeyPrevious, NewKey string
	// UpdateKeyFile replaces the data dir's secret.key with the new key
	// once every value is sealed with it.
	UpdateKeyFile bool
	Progress      func(keyring.RotateStats)
}

// RotateKey seals every secret and signing secret of the database again
// with cfg.NewKey (keyring.Rotate), while nodes serve.
func RotateKey(ctx context.Context, cfg RotateConfig) (keyring.RotateStats, error) {
	var stats keyring.RotateStats
	newKey, err := secret.ParseKey(cfg.NewKey)
	if err != nil {
		return stats, fmt.Errorf("--new-key: %w", err)
	}
	keyFile := filepath.Join(cfg.DataDir, secret.KeyFile)
	var keys [][]byte
	if cfg.SecretKey != "" || fileExists(keyFile) {
		// LoadKey generates no key: there is one in the environment or the file.
		key, _, err := secret.LoadKey(cfg.DataDir, cfg.SecretKey)
		if err != nil {
			return stats, err
		}
		keys = append(keys, key)
	}
	if cfg.SecretKeyPrevious != "" {
		prev, err := secret.ParseKey(cfg.SecretKeyPrevious)
		if err != nil {
			return stats, fmt.Errorf("AUTOHOOK_SECRET_KEY_PREVIOUS: %w", err)
		}
		keys = append(keys, prev)
	}
	if len(keys) == 0 {
		return stats, fmt.Errorf("no current key: set AUTOHOOK_SECRET_KEY (or AUTOHOOK_SECRET_KEY_PREVIOUS) to the key the values are sealed with now, or give the --data-dir whose %s it is", secret.KeyFile)
	}
	if cfg.UpdateKeyFile && cfg.SecretKey != "" {
		return stats, fmt.Errorf("--update-key-file: the key comes from AUTOHOOK_SECRET_KEY, not from %s; change the variable instead", keyFile)
	}
	box, err := secret.NewBox(newKey, keys...)
	if err != nil {
		return stats, err
	}
	st, err := store.Open(ctx, store.Config{URL: databaseURL(cfg.DataDir, cfg.DatabaseURL), MaxConns: 2})
	if err != nil {
		return stats, err
	}
	defer st.Close(context.WithoutCancel(ctx))
	stats, err = keyring.Rotate(ctx, st, box, keyring.RotateConfig{Progress: cfg.Progress})
	if err != nil {
		return stats, err
	}
	if cfg.UpdateKeyFile {
		if err := replaceKeyFile(keyFile, newKey); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// replaceKeyFile writes key into path (mode 0600) through a temporary file
// and a rename, so that path always holds a whole key.
func replaceKeyFile(path string, key []byte) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if f, err := os.Open(tmp); err == nil {
		_ = f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
