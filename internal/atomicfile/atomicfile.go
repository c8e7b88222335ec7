// Package atomicfile writes files so that a crash at any moment leaves either
// the old or the new content on disk, never a mix: write a temporary file in the
// same directory, fsync it, rename it over the target, then fsync the directory.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/afero"
)

// WriteFile atomically replaces name with data, with permissions perm.
func WriteFile(fs afero.Fs, name string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(name)
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	tmp := filepath.Join(dir, tempName(filepath.Base(name), hex.EncodeToString(suffix[:])))
	f, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = fs.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	// The umask may have narrowed perm at creation; make it exact.
	if err = fs.Chmod(tmp, perm); err != nil {
		return fmt.Errorf("setting permissions of %s: %w", name, err)
	}
	if err = fs.Rename(tmp, name); err != nil {
		return fmt.Errorf("replacing %s: %w", name, err)
	}
	return SyncDir(fs, dir)
}

// SyncDir fsyncs a directory so that a rename or create inside it is durable.
func SyncDir(fs afero.Fs, dir string) error {
	d, err := fs.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
