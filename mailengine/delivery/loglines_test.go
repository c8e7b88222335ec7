package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// TestFailureLinesAreReadable: a failed delivery says why in the words of
// the appliance — no Go error chain ("smtpclient: connect at …: dial tcp …"),
// each reason at most twice (the connection's line and the Delayed: line),
// the source address in New SMTP DCID, and the peer's enhanced code in
// Response.
func TestFailureLinesAreReadable(t *testing.T) {
	cert := selfSigned(t, "peer.test")
	tls12 := startPeer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
	ok := startPeer(t, nil)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := dead.Addr().String()
	require.NoError(t, dead.Close())

	tests := []struct {
		name, domain, addr, level string
		reason                    string // must appear, at most twice
		lines                     []string
	}{
		{name: "connection refused", domain: "refused.test", addr: deadAddr, reason: "connection refused",
			lines: []string{"Connection Error: DCID 1 domain: refused.test IP: 127.0.0.1 port: ", " details: connection failed: connection refused interface: Auto reason: network error",
				"Delayed: MID 1 to RID [0] - " + deadAddr + ": connection failed: connection refused - next attempt in"}},
		{name: "TLS version mismatch", domain: "old.test", addr: tls12.addr, level: config.DestTLSRequired, reason: "TLS version mismatch could be the failure reason",
			lines: []string{"New SMTP DCID 1 interface 127.0.0.1 address 127.0.0.1 port ", "DCID 1 TLS deferring: (336151598, ", "DCID 1 close", "Delayed: MID 1 to RID [0] - " + tls12.addr + ": (336151598"}},
		{name: "delivered", domain: "ok.test", addr: ok.addr,
			lines: []string{"New SMTP DCID 1 interface 127.0.0.1 address 127.0.0.1 port ", "MID 1 RID [0] Response '250 2.0.0 "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *config.Config) {
				route(tc.domain, tc.addr)(c)
				if tc.level != "" {
					c.Destinations.Domains = append(c.Destinations.Domains, config.DestPolicy{Domain: tc.domain, TLS: tc.level})
				}
			})
			h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{MinVersion: tls.VersionTLS13, MaxVersion: tls.VersionTLS13, RootCAs: x509.NewCertPool()}})
			h.run(t)
			h.queue(t, "alice@sender.test", "bob@"+tc.domain)
			h.logContains(t, tc.lines...)
			logs := h.logLines(t)
			assert.NotContains(t, logs, "smtpclient:", "no Go error chain in mail_logs")
			assert.NotContains(t, logs, "dial tcp")
			if tc.reason != "" {
				end := strings.Index(logs, "next attempt in")
				require.Positive(t, end, "a Delayed: line:\n%s", logs)
				first := logs[:end]
				assert.LessOrEqual(t, strings.Count(first, tc.reason), 2, "the reason is said at most twice:\n%s", first)
			}
		})
	}
}
