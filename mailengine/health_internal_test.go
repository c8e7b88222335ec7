package mailengine

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/internal/testnet"
	"relaybox/mailengine/queue"
)

// fakeSSH accepts and drops connections: enough for a socket of kind ssh.
type fakeSSH struct{}

func (fakeSSH) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		_ = c.Close()
	}
}
func (fakeSSH) Shutdown(context.Context) error { return nil }

// healthEngine starts an engine on the embedded defaults, on free ports.
func healthEngine(t *testing.T, ssh SSHServer) (*Engine, *config.Config) {
	t.Helper()
	keys, err := certstore.NewKeyStore(afero.NewMemMapFs(), "/data")
	require.NoError(t, err)
	demo, err := keys.Demo("box.example.test")
	require.NoError(t, err)
	f := config.DefaultPorts
	f.Hostname = "box.example.test"
	f.SMTPPort, f.SubmissionPort, f.HTTPSPort, f.SSHPort = testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)
	f.Demo = demo
	f.AdminHash = "x"
	c := config.Defaults(f)
	spool, err := queue.Open(filepath.Join(t.TempDir(), "queue"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = spool.Close() })
	e := New(Options{Keys: keys, Grace: time.Second, Spool: spool, SSH: ssh})
	require.NoError(t, e.Apply(context.Background(), c))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e, c
}

// stopListening shuts down, from outside the engine, the listening socket
// of this process bound to addr: the kernel then takes it out of the listen
// state (as ss -K does), while the descriptor stays open.
func stopListening(t *testing.T, addr string) {
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
		if err != nil {
			continue
		}
		in4, ok := sa.(*syscall.SockaddrInet4)
		if !ok || in4.Port != want.Port || !net.IP(in4.Addr[:]).Equal(want.IP) {
			continue
		}
		if v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || v != 1 {
			continue
		}
		require.NoError(t, syscall.Shutdown(fd, syscall.SHUT_RD))
		return
	}
	t.Fatalf("no listening socket on %s in this process", addr)
}

func TestHealthOKOnRunningConfiguration(t *testing.T) {
	e, _ := healthEngine(t, fakeSSH{})
	assert.NoError(t, e.Health())
}

// TestHealthReportsSocketTheKernelClosed: the engine still holds the socket,
// but it no longer listens; Health names the listener and the others stay
// healthy.
func TestHealthReportsSocketTheKernelClosed(t *testing.T) {
	e, c := healthEngine(t, nil)
	addr := net.JoinHostPort(c.Interfaces[0].Address, strconv.Itoa(c.Listeners[0].Port))
	stopListening(t, addr)
	err := e.Health()
	require.Error(t, err)
	assert.Equal(t, "SMTP listener IncomingMail on "+addr+" is bound but no longer listening: the kernel closed the listening socket (restart the appliance to bind it again)", err.Error())
}

func TestHealthReportsMissingSocket(t *testing.T) {
	e, c := healthEngine(t, fakeSSH{})
	https := net.JoinHostPort(c.Interfaces[0].Address, strconv.Itoa(c.Interfaces[0].HTTPSPort))
	ssh := net.JoinHostPort(c.Interfaces[0].Address, strconv.Itoa(c.Interfaces[0].SSHPort))
	e.mu.Lock()
	for _, a := range []string{https, ssh} {
		e.sockets[a].sock.close()
		delete(e.sockets, a)
	}
	e.mu.Unlock()
	err := e.Health()
	require.Error(t, err)
	assert.Equal(t, "SSH of interface Management on "+ssh+" is not bound\nHTTPS of interface Management on "+https+" is not bound", err.Error())
}

func TestHealthBeforeApplyAndAfterClose(t *testing.T) {
	spool, err := queue.Open(filepath.Join(t.TempDir(), "queue"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = spool.Close() })
	e := New(Options{Spool: spool})
	assert.EqualError(t, e.Health(), "the engine has no configuration applied yet")

	e, _ = healthEngine(t, nil)
	require.NoError(t, e.Close(context.Background()))
	assert.EqualError(t, e.Health(), "the engine has stopped")
}

// TestHealthWantsWhatPlanBinds: Health checks exactly the sockets Apply binds,
// for the defaults, with and without an SSH server, with HTTPS off and with a
// listener added, so a new kind of socket in plan cannot be forgotten here.
func TestHealthWantsWhatPlanBinds(t *testing.T) {
	for _, ssh := range []SSHServer{nil, fakeSSH{}} {
		e, c := healthEngine(t, ssh)
		more := c.Clone()
		more.Interfaces[0].HTTPSPort = 0
		l := config.NewListener("PartnerIn", config.ListenerPublic, config.ManagementIface, testnet.FreePort(t))
		more.Listeners = append(more.Listeners, l)
		for _, cfg := range []*config.Config{c, more} {
			plans, err := e.plan(cfg)
			require.NoError(t, err)
			var planned, wanted []string
			for _, p := range plans {
				planned = append(planned, p.kind+" "+p.name+" "+p.addr)
			}
			for _, w := range e.wanted(cfg) {
				wanted = append(wanted, w.kind+" "+w.name+" "+w.addr)
			}
			sort.Strings(planned)
			sort.Strings(wanted)
			assert.Equal(t, planned, wanted)
		}
	}
}
