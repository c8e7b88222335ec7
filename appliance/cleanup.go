package appliance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/afero"

	"relaybox/certstore"
	"relaybox/commands"
	"relaybox/config"
	"relaybox/internal/atomicfile"
)

// removeLeftovers removes what a process killed in the middle of a write or
// of a certificate dialog leaves in the data directory dir: the temporary
// files of atomic writes, and private keys that no configuration uses. It
// runs at start, before any shell session exists (a session's pending
// configuration may use a key nothing else does), and tells log about each
// file it removes, and about what it had to leave.
func removeLeftovers(dir string, keys *certstore.KeyStore, log io.Writer) {
	removeTempFiles(dir, log)
	if err := removeUnusedKeys(dir, keys, log); err != nil {
		fmt.Fprintf(log, "relaybox: every private key was kept: %v\n", err)
	}
}

// removeTempFiles removes atomicfile's temporary files from the directories
// the appliance writes with it.
func removeTempFiles(dir string, log io.Writer) {
	afs := afero.NewOsFs()
	for _, d := range []string{dir, filepath.Join(dir, config.HistoryDir), filepath.Join(dir, certstore.KeysDir), filepath.Join(dir, SSHDir),
		filepath.Join(dir, commands.ConfigsDir), filepath.Join(dir, "delivery")} {
		removed, err := atomicfile.RemoveTemps(afs, d)
		for _, p := range removed {
			fmt.Fprintf(log, "relaybox: removed %s, a temporary file left by an interrupted write\n", p)
		}
		if err != nil {
			fmt.Fprintf(log, "relaybox: %v\n", err)
		}
	}
}

// removeUnusedKeys removes every stored key that no configuration uses: not
// the committed one, no version kept in history/ (rollbackconfig needs their
// keys) and no file in configs/ (loadconfig may load a saved one again).
func removeUnusedKeys(dir string, keys *certstore.KeyStore, log io.Writer) error {
	refs, err := keys.Refs()
	if err != nil {
		return err
	}
	used, err := usedKeys(dir, refs)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		if used[ref] {
			continue
		}
		if err := keys.Remove(ref); err != nil {
			fmt.Fprintf(log, "relaybox: %v\n", err)
			continue
		}
		fmt.Fprintf(log, "relaybox: removed the private key %s: no configuration uses it (neither %s, nor a version in %s, nor a file in %s); "+
			"a certconfig import or new that was never committed left it\n",
			keys.Path(ref), config.ConfigFile, config.HistoryDir+"/", commands.ConfigsDir+"/")
	}
	return nil
}

// usedKeys returns which of refs are named in the committed configuration,
// in a history version or in a file of the configuration directory. It looks
// for the reference as text, so anything that names a key keeps it; a file
// it cannot read is an error, since it might name any key.
func usedKeys(dir string, refs []string) (map[string]bool, error) {
	files, err := keyUsers(dir)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading %s to see which private keys it uses: %w", f, err)
		}
		data = bytes.ToLower(data)
		for _, ref := range refs {
			if bytes.Contains(data, []byte(ref)) {
				used[ref] = true
			}
		}
	}
	return used, nil
}

// keyUsers lists the files that may name keys: config.yaml and everything
// but directories in history/ and configs/.
func keyUsers(dir string) ([]string, error) {
	files := []string{filepath.Join(dir, config.ConfigFile)}
	for _, sub := range []string{config.HistoryDir, commands.ConfigsDir} {
		d := filepath.Join(dir, sub)
		entries, err := os.ReadDir(d)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("listing %s to see which private keys its files use: %w", d, err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(d, e.Name()))
			}
		}
	}
	return files, nil
}

// logWriter is where start-up notices go: w, or nowhere when it is nil.
func logWriter(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
