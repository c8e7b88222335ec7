package appliance

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/afero"
	"golang.org/x/crypto/ssh"

	"relaybox/internal/atomicfile"
)

// SSHDir is where the SSH host keys live in the data directory.
const SSHDir = "ssh"

// hostKeyFiles are the host keys the appliance offers, newest kind first.
var hostKeyFiles = []struct {
	name string
	make func() (crypto.Signer, error)
}{
	{"ssh_host_ed25519_key", func() (crypto.Signer, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err }},
	{"ssh_host_rsa_key", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) }},
}

// hostKeys loads the SSH host keys from DATA/ssh, making each that is
// missing (the first start, or a data directory from before SSH) and saying
// so on log. A key is never made again once it exists: clients' known_hosts
// stay valid across restarts. Files are owner-only (0600), the directory 0700.
func hostKeys(dir string, log io.Writer) ([]ssh.Signer, error) {
	kdir := filepath.Join(dir, SSHDir)
	if err := os.MkdirAll(kdir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", kdir, err)
	}
	var out []ssh.Signer
	for _, hk := range hostKeyFiles {
		path := filepath.Join(kdir, hk.name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			data, err = newHostKey(path, hk.make)
			if err == nil {
				fmt.Fprintf(log, "relaybox: made the SSH host key %s\n", path)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("SSH host key %s: %w", path, err)
		}
		signer, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("SSH host key %s does not parse (%v): move it away and restart to make a new one (clients will see a changed host key)", path, err)
		}
		out = append(out, signer)
	}
	return out, nil
}

// newHostKey makes a key and writes it in OpenSSH's format, atomically.
func newHostKey(path string, gen func() (crypto.Signer, error)) ([]byte, error) {
	key, err := gen()
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(key, "relaybox host key")
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(block)
	if err := atomicfile.WriteFile(afero.NewOsFs(), path, data, 0o600); err != nil {
		return nil, err
	}
	return data, nil
}

// Fingerprints are the SHA-256 fingerprints of host keys, as ssh-keygen -l shows them.
func Fingerprints(keys []ssh.Signer) []string {
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %s", k.PublicKey().Type(), ssh.FingerprintSHA256(k.PublicKey())))
	}
	return out
}
