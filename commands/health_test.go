package commands_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/appliance"
	"relaybox/commands"
	"relaybox/shell"
)

// healthScript runs text in a session whose commands are built on app.
func healthScript(a *appliance.Appliance, app *commands.App, text string) run {
	var out, errOut bytes.Buffer
	opts := a.Session("admin")
	opts.Commands = commands.All(app)
	opts.In, opts.Out, opts.Err = strings.NewReader(text), &out, &errOut
	code := shell.Run(context.Background(), opts)
	return run{code, out.String(), errOut.String()}
}

// shutdownListener takes the listening socket of this process on addr out
// of the listen state, from outside the engine (what ss -K does).
func shutdownListener(t *testing.T, addr string) {
	t.Helper()
	want, err := net.ResolveTCPAddr("tcp", addr)
	require.NoError(t, err)
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, d := range fds {
		fd, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		sa, err := syscall.Getsockname(fd)
		in4, ok := sa.(*syscall.SockaddrInet4)
		if err != nil || !ok || in4.Port != want.Port || !net.IP(in4.Addr[:]).Equal(want.IP) {
			continue
		}
		if v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err == nil && v == 1 {
			require.NoError(t, syscall.Shutdown(fd, syscall.SHUT_RD))
			return
		}
	}
	t.Fatalf("no listening socket on %s", addr)
}

func TestHealthCommand(t *testing.T) {
	a := startAppliance(t)
	r := healthScript(a, a.App, "health\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `(?m)^healthy: configuration version 1, \d+ sockets listening\n`, r.out)
	assert.Empty(t, r.err)

	r = healthScript(a, a.App, "health now\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "line 1: Invalid arguments when processing: health; usage: health")

	c := a.Store.Current()
	addr := net.JoinHostPort(c.Interfaces[0].Address, strconv.Itoa(c.Listeners[1].Port))
	shutdownListener(t, addr)
	r = healthScript(a, a.App, "health\n")
	assert.Equal(t, 1, r.code, r.out)
	assert.Equal(t, "line 1: unhealthy: SMTP listener OutgoingMail on "+addr+
		" is bound but no longer listening: the kernel closed the listening socket (restart the appliance to bind it again)\n", r.err)
	assert.NotContains(t, r.out, "healthy")
}

// noHealth is an engine that cannot report its health.
type noHealth struct{ commands.Engine }

func TestHealthCommandWithoutHealthReport(t *testing.T) {
	a := startAppliance(t)
	app := *a.App
	app.Engine = noHealth{a.App.Engine}
	r := healthScript(a, &app, "health\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "line 1: health: this engine cannot report its health")
}
