package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/appliance"
)

// TestExplainDialNotRunning maps real failed connects: no socket file, and
// a socket file nothing listens on.
func TestExplainDialNotRunning(t *testing.T) {
	missing := t.TempDir()
	stale := t.TempDir()
	ln, err := net.Listen("unix", appliance.SocketPath(stale))
	require.NoError(t, err)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, ln.Close())
	for _, data := range []string{missing, stale} {
		_, err := net.Dial("unix", appliance.SocketPath(data))
		require.Error(t, err)
		got := explainDial(data, err)
		assert.ErrorIs(t, got, errNotRunning)
		assert.NotErrorIs(t, got, errPermission)
		assert.Contains(t, got.Error(), `no appliance is running on `+data)
		assert.Contains(t, got.Error(), `start one with "relaybox serve --data `+data+`"`)
	}
}

// TestCLIPermissionDenied runs "relaybox cli" and "relaybox" as a user who
// may not use the control socket of a running daemon: as nobody when the
// test runs as root (root may connect to any socket), else as ourselves on
// a directory we took our own search permission from.
func TestCLIPermissionDenied(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	require.NoError(t, os.Chmod(data, 0o700))
	startDaemon(t, bin, data)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		// nobody needs to reach the binary, not the data directory.
		require.NoError(t, os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o711))
		require.NoError(t, os.Chmod(filepath.Dir(bin), 0o755))
	} else {
		require.NoError(t, os.Chmod(data, 0o000))
		t.Cleanup(func() { _ = os.Chmod(data, 0o700) })
	}
	for _, args := range [][]string{{"cli", "--data", data}, {}} {
		t.Run(strings.Join(append([]string{"relaybox"}, args...), " "), func(t *testing.T) {
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), "RELAYBOX_DATA="+data)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
			cmd.Stdin = strings.NewReader("status\n")
			out, _ := cmd.CombinedOutput()
			assert.Equal(t, 1, cmd.ProcessState.ExitCode(), string(out))
			assert.Contains(t, string(out), "relaybox: permission denied: you cannot connect to the control socket "+appliance.SocketPath(data)+", which only its owner may use")
			assert.Contains(t, string(out), "relaybox cli --data "+data+`"`)
			assert.NotContains(t, string(out), "no appliance is running")
			assert.NotContains(t, string(out), "one-time password", "no console is started instead")
		})
	}
}
