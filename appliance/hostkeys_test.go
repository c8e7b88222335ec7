package appliance

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostKeysMadeOnceAndKept: the first call makes an Ed25519 and an RSA
// key, owner-only; later calls load the same keys (clients' known_hosts
// stay valid across restarts).
func TestHostKeysMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	first, err := hostKeys(dir, &log)
	require.NoError(t, err)
	require.Len(t, first, 2)
	assert.Equal(t, "ssh-ed25519", first[0].PublicKey().Type())
	assert.Equal(t, "ssh-rsa", first[1].PublicKey().Type())
	assert.Equal(t, 2, bytes.Count(log.Bytes(), []byte("made the SSH host key")))
	for _, name := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		st, err := os.Stat(filepath.Join(dir, SSHDir, name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), name)
	}
	log.Reset()
	again, err := hostKeys(dir, &log)
	require.NoError(t, err)
	assert.Equal(t, Fingerprints(first), Fingerprints(again))
	assert.Empty(t, log.String(), "nothing is made twice")

	require.NoError(t, os.WriteFile(filepath.Join(dir, SSHDir, "ssh_host_rsa_key"), []byte("junk"), 0o600))
	_, err = hostKeys(dir, &log)
	assert.ErrorContains(t, err, "does not parse")
}
