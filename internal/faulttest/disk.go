package faulttest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Disk is a small file system of the test's own (tmpfs with a size limit),
// to fill up under a running server. (It cannot be made read-only under
// one: Linux refuses to remount a file system read-only while files are
// open on it for writing.)
type Disk struct {
	Dir    string // where it is mounted
	filler string
}

// MountDisk mounts a tmpfs of size bytes for t, unmounted when t ends.
func MountDisk(t testing.TB, size int64) *Disk {
	t.Helper()
	requireRoot(t, "mounting a small file system")
	dir, err := os.MkdirTemp("", "autohook-disk-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10)+",mode=0755", "tmpfs", dir); err != nil {
		os.Remove(dir)
		unavailable(t, "cannot mount a tmpfs (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if _, err := run("umount", "-l", dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			return
		}
		os.Remove(dir)
	})
	return &Disk{Dir: dir, filler: filepath.Join(dir, "filler")}
}

// Fill writes a file until the disk is full and returns its size.
func (d *Disk) Fill(t testing.TB) int64 {
	t.Helper()
	f, err := os.OpenFile(d.filler, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			// Small writes fill the last blocks.
			for {
				if _, err := f.Write(buf[:512]); err != nil {
					break
				}
				n += 512
			}
			return n
		}
		if err != nil {
			t.Fatalf("fill %s: %v", d.Dir, err)
		}
	}
}

// Free removes what Fill wrote.
func (d *Disk) Free(t testing.TB) {
	t.Helper()
	if err := os.Remove(d.filler); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}

// FreeBytes is the space left on the disk.
func (d *Disk) FreeBytes(t testing.TB) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.Dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}
