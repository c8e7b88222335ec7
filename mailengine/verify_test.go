package mailengine_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// clientCert issues a client certificate.
func (ca *testCA) clientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// customPool is the trust-store wiring the appliance does with certstore.TrustPool.
func customPool(tr config.Trust) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, ca := range tr.CustomCAs {
		if !pool.AppendCertsFromPEM([]byte(ca.PEM)) {
			return nil, fmt.Errorf("custom CA %s holds no certificate", ca.Name)
		}
	}
	return pool, nil
}

func TestVerifyLevelsCheckClientCertificates(t *testing.T) {
	f := newFixtureWith(t, mailengine.Options{TrustPool: customPool})
	trusted := newCA(t, "Trusted Lab CA")
	untrusted := newCA(t, "Unknown CA")
	good := trusted.clientCert(t, "client.example.test")
	bad := untrusted.clientCert(t, "rogue.example.test")

	try := func(cert *tls.Certificate) error {
		s := dialSMTP(t, f.smtpAddr())
		s.reply()
		s.cmd("EHLO client.test")
		cfg := clientTLS(tls.VersionTLS13)
		if cert != nil {
			// Present it even when its issuer is not among the CAs the server
			// names (Go's client would otherwise send nothing).
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		_, err := s.startTLS(cfg)
		if err != nil {
			return err
		}
		// TLS 1.3 reports a rejected client certificate on the first read.
		if _, err := fmt.Fprintf(s.conn, "EHLO client.test\r\n"); err != nil {
			return err
		}
		line, err := s.r.ReadString('\n')
		if err == nil && !strings.HasPrefix(line, "250") {
			err = fmt.Errorf("after handshake: %s", line)
		}
		return err
	}
	trustedOnly := func(level string) func(c *config.Config) {
		return func(c *config.Config) {
			c.SSL.Inbound.Methods = []config.Method{config.TLS12, config.TLS13}
			c.Trust.CustomCAs = []config.CA{{Name: "lab", PEM: trusted.pem}}
			c.Listeners[0].TLS = level
		}
	}

	require.NoError(t, f.apply(t, trustedOnly(config.TLSRequiredVerify)))
	assert.NoError(t, try(&good), "a trusted client certificate is accepted")
	assert.Error(t, try(nil), "Required - Verify needs a certificate")
	assert.Error(t, try(&bad), "an untrusted certificate is refused")
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO client.test")
	assert.True(t, strings.HasPrefix(s.cmd("MAIL FROM:<a@client.test>"), "530"), "Required - Verify refuses mail in clear")

	require.NoError(t, f.apply(t, trustedOnly(config.TLSPreferredVerify)))
	assert.NoError(t, try(nil), "Preferred - Verify lets a client without a certificate in")
	assert.NoError(t, try(&good))
	assert.Error(t, try(&bad), "but refuses an invalid one")
}

func TestGlobalInboundConnectionLimit(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Inbound.MaxConnections = 1 }))
	first := dialSMTP(t, f.smtpAddr())
	assert.True(t, strings.HasPrefix(first.reply(), "220"))
	other := dialSMTP(t, fmt.Sprintf("127.0.0.1:%d", f.cfg.Listeners[1].Port))
	assert.True(t, strings.HasPrefix(other.reply(), "421 4.7.0"), "the cap counts every listener")
	first.cmd("QUIT")
	require.Eventually(t, func() bool {
		s := dialSMTP(t, fmt.Sprintf("127.0.0.1:%d", f.cfg.Listeners[1].Port))
		return strings.HasPrefix(s.reply(), "220")
	}, 5*time.Second, 50*time.Millisecond, "a slot frees when a session ends")
}
