package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeRefusesLooseDataDir starts the real daemon on a data directory
// that everyone may write to: another user could have replaced its control
// socket. It must refuse, say why and how to fix it, and create nothing.
func TestServeRefusesLooseDataDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	p := freePorts(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, relayboxBin, "serve", "--data", dir, "--resolver", "127.0.0.1:1",
		"--smtp-port", strconv.Itoa(p[0]), "--submission-port", strconv.Itoa(p[1]),
		"--https-port", strconv.Itoa(p[2]), "--ssh-port", strconv.Itoa(p[3]))
	cmd.Env = append(os.Environ(), "RELAYBOX_ADMIN_PASSWORD="+adminPassword)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	require.Truef(t, errors.As(err, &ee) && ctx.Err() == nil, "relaybox serve must exit by itself, got %v\nstdout:\n%s", err, stdout.String())
	assert.Equal(t, 1, ee.ExitCode())
	assert.Equal(t, "relaybox: the data directory "+dir+" is writable by group or others (mode 0777): another user could replace its control socket and keys; "+
		`make it owner-only with "chmod 700 `+dir+`", or choose another directory with --data`+"\n", stderr.String())
	assert.NotContains(t, stdout.String(), "serving")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is created in a refused directory")
	_, err = os.Stat(filepath.Join(dir, "relaybox.sock"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// After the fix it starts.
	require.NoError(t, os.Chmod(dir, 0o700))
	a := startAppliance(t, startOptions{dir: dir})
	assert.Equal(t, 1, a.statusVersion(t))
}
