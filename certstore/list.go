package certstore

import (
	"fmt"
	"regexp"

	"github.com/spf13/afero"

	"relaybox/internal/atomicfile"
)

// keyFileRE matches the name of a key file: the hex SHA-256 of its public key and ".pem".
var keyFileRE = regexp.MustCompile(`^([0-9a-f]{64})\.pem$`)

// Refs lists the references of the stored keys, sorted. Files in the key
// directory that are not named like a key are not listed.
func (k *KeyStore) Refs() ([]string, error) {
	entries, err := afero.ReadDir(k.fs, k.dir)
	if err != nil {
		return nil, fmt.Errorf("listing the key directory %s: %w", k.dir, err)
	}
	var refs []string
	for _, e := range entries {
		if m := keyFileRE.FindStringSubmatch(e.Name()); m != nil && e.Mode().IsRegular() {
			refs = append(refs, m[1])
		}
	}
	return refs, nil
}

// Path is the file that holds the key with that reference.
func (k *KeyStore) Path(ref string) string { return k.path(ref) }

// Remove deletes the key with that reference for good.
func (k *KeyStore) Remove(ref string) error {
	if !keyFileRE.MatchString(ref + ".pem") {
		return fmt.Errorf("%q is not a key reference (64 hex digits)", ref)
	}
	if err := k.fs.Remove(k.path(ref)); err != nil {
		return fmt.Errorf("removing private key %s: %w", k.path(ref), err)
	}
	return atomicfile.SyncDir(k.fs, k.dir)
}
