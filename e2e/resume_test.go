package e2e

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// resumeHandshake dials the GUI at TLS 1.2 with a session cache and reports
// whether the session was resumed.
func resumeHandshake(t *testing.T, address string, cache tls.ClientSessionCache) bool {
	t.Helper()
	cfg := clientTLS(tls.VersionTLS12)
	cfg.ClientSessionCache = cache
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", address, cfg)
	require.NoError(t, err)
	defer conn.Close()
	st := conn.ConnectionState()
	require.Equal(t, uint16(tls.VersionTLS12), st.Version)
	return st.DidResume
}

// TestSessionResumptionAfterCommit checks the engine's promise that every
// commit gets fresh session-ticket keys: a session from before a commit is
// not resumed after it.
func TestSessionResumptionAfterCommit(t *testing.T) {
	a := startAppliance(t, startOptions{})
	gui := addr(a.httpsPort)
	cache := tls.NewLRUClientSessionCache(4)
	require.False(t, resumeHandshake(t, gui, cache), "the first handshake is a full one")
	require.True(t, resumeHandshake(t, gui, cache), "control: without a commit the session resumes")
	a.mustCommit(t, "sslconfig gui ciphers "+permissiveCiphers+"\ncommit new GUI ciphers\n")
	require.False(t, resumeHandshake(t, gui, cache), "after a commit the old session ticket must not be accepted")
}
