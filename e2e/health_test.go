package e2e

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runHealth runs "relaybox health" with args and returns its output and exit status.
func runHealth(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, relayboxBin, append([]string{"health"}, args...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	require.NoErrorf(t, ctx.Err(), "relaybox health did not end within 30 s")
	return out.String(), errOut.String(), exitCode(err)
}

// TestHealthExitStatus: relaybox health exits 0 while the daemon serves every
// configured socket, 1 naming the listener once one stops listening (its
// socket taken out of the listen state from outside the daemon), and 1 when
// no appliance answers, or none in time.
func TestHealthExitStatus(t *testing.T) {
	a := startAppliance(t, startOptions{domains: "example.test"})
	out, errOut, code := runHealth(t, "--data", a.dir)
	require.Equalf(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Regexp(t, `^healthy: configuration version 1, \d+ sockets listening\n$`, out)
	assert.Empty(t, errOut)

	stopListeningIn(t, a.cmd.Process.Pid, addr(a.smtpPort))
	out, errOut, code = runHealth(t, "--data", a.dir)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, "relaybox health: unhealthy: SMTP listener IncomingMail on "+addr(a.smtpPort)+
		" is bound but no longer listening: the kernel closed the listening socket (restart the appliance to bind it again)\n", errOut)

	// Restarting binds it again.
	a.term(t)
	a.start(t)
	_, errOut, code = runHealth(t, "--data", a.dir)
	assert.Equal(t, 0, code, errOut)

	empty := t.TempDir()
	out, errOut, code = runHealth(t, "--data", empty)
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "relaybox health: unhealthy: no appliance is running on "+empty)

	// Something answers on the control socket but never replies (a wedged
	// daemon): the check ends at its timeout, unhealthy.
	wedged := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(wedged, "relaybox.sock"))
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	_, errOut, code = runHealth(t, "--data", wedged, "--timeout", "1s")
	assert.Equal(t, 1, code)
	assert.Equal(t, "relaybox health: unhealthy: the appliance on "+wedged+" did not answer within 1s\n", errOut)
	assert.Less(t, time.Since(start), 10*time.Second)

	_, errOut, code = runHealth(t, "--data", a.dir, "extra")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "health: bad arguments")
}
