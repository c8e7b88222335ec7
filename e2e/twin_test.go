package e2e

import (
	"crypto/rsa"
	"crypto/tls"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDemoECDSATwinPerClient: the Demo certificate is served as its ECDSA
// P-256 twin to a TLS 1.3 client that accepts ECDSA signatures, and as the
// RSA 2048 certificate to one that accepts only RSA signatures and to TLS
// 1.2 under the default ciphers (which exclude ECDSA suites), on the SMTP
// and GUI ports alike; certconfig shows the twin.
func TestDemoECDSATwinPerClient(t *testing.T) {
	requireOpenSSL(t)
	a := startAppliance(t, startOptions{})
	a.mustCommit(t, "sslconfig inbound methods 1-2\nsslconfig gui methods 1-2\ncommit both with TLS 1.3\n")
	signature := func(res opensslResult) string {
		for line := range strings.Lines(res.output) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Signature type:"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	for _, port := range []struct {
		name string
		addr string
		smtp bool
	}{{"smtp", addr(a.smtpPort), true}, {"gui", addr(a.httpsPort), false}} {
		t.Run(port.name, func(t *testing.T) {
			for _, c := range []struct {
				name, want string
				args       []string
			}{
				{"TLS 1.3, any signature", "ECDSA", []string{"-tls1_3"}},
				{"TLS 1.3, RSA signatures only", "RSA-PSS", []string{"-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256:rsa_pss_pss_sha256"}},
				{"TLS 1.2, default ciphers", "RSA-PSS", []string{"-tls1_2"}},
			} {
				args := []string{"s_client", "-brief", "-connect", port.addr}
				if port.smtp {
					args = append(args, "-starttls", "smtp")
				}
				res := runOpenSSL(t, append(args, c.args...), "")
				require.Equal(t, 0, res.exit, "%s: %s", c.name, res.output)
				assert.Equal(t, c.want, signature(res), "%s:\n%s", c.name, res.output)
			}
		})
	}
	// Go's client names a host the certificate does not list (SNI): the name
	// is no reason to offer it the twin it cannot use under TLS 1.2.
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		st, err := goSMTPHandshake(t, addr(a.smtpPort), v)
		require.NoError(t, err, tls.VersionName(v))
		_, rsaKey := st.PeerCertificates[0].PublicKey.(*rsa.PublicKey)
		assert.Equal(t, v == tls.VersionTLS12, rsaKey, "%s: RSA for TLS 1.2, the ECDSA twin for TLS 1.3", tls.VersionName(v))
	}
	out := a.cli(t, "certconfig print Demo\n").stdout
	assert.Contains(t, out, "Key:                 RSA 2048")
	assert.Contains(t, out, "ECDSA twin:          ECDSA P-256, SHA-256 fingerprint ")
}
