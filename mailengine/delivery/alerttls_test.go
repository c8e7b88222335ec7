package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine/queue"
)

// TestAlertsFollowPeerCertX509: an alert sent over TLS goes only to a peer
// whose certificate verifies once sslconfig PEER_CERT_X509 is on (and whose
// name matches with PEER_CERT_FQDN on); other mail keeps its destination's
// level, and an alert to a "No TLS" destination stays in clear.
func TestAlertsFollowPeerCertX509(t *testing.T) {
	cert := selfSigned(t, "peer.test")
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	trusted := x509.NewCertPool()
	trusted.AddCert(leaf)
	peerTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	tests := []struct {
		name       string
		listener   string
		level      string
		x509, fqdn bool
		roots      *x509.CertPool
		delivered  bool
	}{
		{"alert, X509 off: unverified TLS is fine", AlertListener, config.DestTLSPreferred, false, false, x509.NewCertPool(), true},
		{"alert, X509 on: untrusted peer refused", AlertListener, config.DestTLSPreferred, true, false, x509.NewCertPool(), false},
		{"alert, X509 on: trusted peer", AlertListener, config.DestTLSPreferred, true, false, trusted, true},
		{"alert, X509 and FQDN on: trusted peer, wrong name", AlertListener, config.DestTLSPreferred, true, true, trusted, false},
		{"alert, X509 on: no-TLS destination stays clear", AlertListener, config.DestTLSNone, true, false, x509.NewCertPool(), true},
		{"regular mail, X509 on: destination level", "IncomingMail", config.DestTLSPreferred, true, false, x509.NewCertPool(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPeer(t, peerTLS)
			h := newHarness(t, func(c *config.Config) {
				route("alerts.test", p.addr)(c)
				c.Destinations.Domains = []config.DestPolicy{{Domain: "alerts.test", TLS: tt.level}}
				c.SSL.PeerCertX509, c.SSL.PeerCertFQDN = tt.x509, tt.fqdn
			})
			h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: tt.roots}})
			h.run(t)
			h.queueEnv(t, queue.Envelope{From: "", To: []string{"ops@alerts.test"}, Listener: tt.listener}, "Subject: alert\r\n\r\nTLS failed\r\n")
			if tt.delivered {
				require.Eventually(t, func() bool { return len(p.received()) == 1 && h.spool.Count() == 0 }, 10*time.Second, 20*time.Millisecond)
				return
			}
			h.logContains(t, "Delayed: MID")
			assert.Empty(t, p.received(), "nothing may be delivered")
			assert.Equal(t, 1, h.spool.Count(), "the alert stays queued for retry")
		})
	}
}
