package e2e

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

const (
	mailFrom = "sender@e2e.test"
	rcptTo   = "user@example.test" // the public listener accepts example.test (--domains)
)

// guiClient is an HTTPS client with one transport pinned to a TLS version,
// so a second request can reuse the first one's keep-alive connection.
type guiClient struct {
	t      *testing.T
	url    string
	client *http.Client
}

func newGUIClient(t *testing.T, a *appliance, version uint16) *guiClient {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: clientTLS(version), MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return &guiClient{t: t, url: "https://" + addr(a.httpsPort) + "/api/v1/status", client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

type guiStatus struct {
	ConfigVersion int    `json:"config_version"`
	Protocol      string `json:"protocol"`
}

// status fetches the JSON status and reports whether the connection was reused.
func (g *guiClient) status() (guiStatus, bool) {
	g.t.Helper()
	var reused, got bool
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused, got = info.Reused, true }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(g.t.Context(), trace), http.MethodGet, g.url, nil)
	require.NoError(g.t, err)
	req.SetBasicAuth(adminUser, adminPassword)
	resp, err := g.client.Do(req)
	require.NoError(g.t, err, "GUI status request")
	defer resp.Body.Close()
	require.Equal(g.t, http.StatusOK, resp.StatusCode)
	var st guiStatus
	require.NoError(g.t, json.NewDecoder(resp.Body).Decode(&st))
	require.True(g.t, got, "httptrace saw no connection")
	return st, reused
}

func TestSessionHeldAcrossCommit(t *testing.T) {
	a := startAppliance(t, startOptions{domains: "example.test"})
	smtp, gui := addr(a.smtpPort), addr(a.httpsPort)
	tls12, tls13 := versionByID(t, tls.VersionTLS12), versionByID(t, tls.VersionTLS13)

	// An SMTP session at TLS 1.2, in the middle of a transaction.
	c := dialSMTP(t, smtp)
	st, err := c.startTLS(clientTLS(tls.VersionTLS12))
	require.NoError(t, err, "TLS 1.2 is enabled on a fresh appliance")
	require.Equal(t, uint16(tls.VersionTLS12), st.Version)
	c.cmd("EHLO probe.test", 250)
	c.cmd("MAIL FROM:<"+mailFrom+">", 250)
	c.cmd("RCPT TO:<"+rcptTo+">", 250)

	// A GUI keep-alive connection at TLS 1.2.
	g := newGUIClient(t, a, tls.VersionTLS12)
	before, reused := g.status()
	require.False(t, reused, "the first request opens the connection")
	require.Equal(t, 1, before.ConfigVersion)
	require.Equal(t, "TLSv1.2", before.Protocol)

	a.mustCommit(t, "sslconfig inbound methods 1\nsslconfig gui methods 1\ncommit TLS 1.3 only\n")

	// The held SMTP session finishes on the settings it started with.
	c.sendMessage(mailFrom, rcptTo)
	c.cmd("QUIT", 221)

	// The held GUI connection still answers, and it is the same connection.
	after, reused := g.status()
	assert.True(t, reused, "the second request must reuse the keep-alive connection from before the commit")
	assert.Equal(t, 2, after.ConfigVersion, "the held connection sees the new configuration")
	assert.Equal(t, "TLSv1.2", after.Protocol)

	// New connections get the new settings.
	checkGo(t, smtp, true, tls12, false)
	checkGo(t, smtp, true, tls13, true)
	checkGo(t, gui, false, tls12, false)
	checkGo(t, gui, false, tls13, true)
}

func TestPortMoveHitless(t *testing.T) {
	a := startAppliance(t, startOptions{domains: "example.test"})
	oldAddr := addr(a.smtpPort)
	newPort := freePorts(t, 1)[0]
	newAddr := addr(newPort)

	held := dialSMTP(t, oldAddr)
	held.cmd("EHLO probe.test", 250)
	held.cmd("MAIL FROM:<"+mailFrom+">", 250)
	held.cmd("RCPT TO:<"+rcptTo+">", 250)

	a.editSavedConfig(t, "f.yaml", func(c *config.Config) { setListenerPort(t, c, config.IncomingListener, newPort) })
	a.mustCommit(t, "loadconfig f.yaml\ncommit move\n")
	assert.Equal(t, 2, a.statusVersion(t))

	// The new port serves.
	n := dialSMTP(t, newAddr)
	n.cmd("EHLO probe.test", 250)
	n.cmd("MAIL FROM:<"+mailFrom+">", 250)
	n.cmd("RCPT TO:<"+rcptTo+">", 250)
	n.sendMessage(mailFrom, rcptTo)
	n.cmd("QUIT", 221)

	// The old port takes no new connections.
	if conn, err := net.DialTimeout("tcp", oldAddr, 2*time.Second); err == nil {
		conn.Close()
		t.Fatalf("the old port %s still accepts connections after the move", oldAddr)
	}

	// The session held on the old port finishes.
	held.sendMessage(mailFrom, rcptTo)
	held.cmd("QUIT", 221)

	res := a.cli(t, "status\n")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, newAddr)
	assert.NotContains(t, res.stdout, oldAddr)
}

func TestCommitApplyFailureKeepsOldConfig(t *testing.T) {
	a := startAppliance(t, startOptions{domains: "example.test"})
	smtp := addr(a.smtpPort)

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	// Move IncomingMail onto the taken port and, in the same commit, enable
	// TLS 1.3: nothing of it may take effect.
	a.editSavedConfig(t, "f.yaml", func(c *config.Config) {
		setListenerPort(t, c, config.IncomingListener, takenPort)
		c.SSL.Inbound.Methods = []config.Method{config.TLS11, config.TLS12, config.TLS13}
	})
	res := a.cli(t, "loadconfig f.yaml\ncommit onto a taken port\n")
	require.NotEqualf(t, 0, res.code, "the commit must fail:\n%s", res.stdout)
	assert.NotContains(t, res.stdout, "Changes committed:")
	assert.Containsf(t, res.stderr, strconv.Itoa(takenPort), "the error must name the port")
	assert.Containsf(t, res.stderr, "keeps version 1", "the error must say which version stays")

	assert.Equal(t, "1", fileVersion(t, a.dir), "config.yaml must keep version 1")
	assert.Equal(t, 1, a.statusVersion(t))
	status := a.cli(t, "status\n")
	assert.Contains(t, status.stdout, smtp)
	assert.NotContains(t, status.stdout, addr(takenPort))

	// The old port still serves, with the old TLS settings.
	c := dialSMTP(t, smtp)
	c.cmd("EHLO probe.test", 250)
	c.cmd("QUIT", 221)
	checkGo(t, smtp, true, versionByID(t, tls.VersionTLS13), false)
	checkGo(t, smtp, true, versionByID(t, tls.VersionTLS12), true)
}
