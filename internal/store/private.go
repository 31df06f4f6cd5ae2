package store

import (
	"errors"
	"os"
)

// privateFiles makes the database file readable and writable by its owner
// only (creating it empty if need be), and its -wal, -shm and -journal
// files where they exist: SQLite creates those with the database file's
// mode. The data dir is made 0700 only when created; one that existed
// (0755, say) would otherwise leave the database 0644 under the usual
// umask, readable by every user of the machine.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
