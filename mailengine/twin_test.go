package mailengine_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/certstore"
	"relaybox/config"
)

// ecdsaCert is a self-signed ECDSA P-256 certificate for cn, valid until
// notAfter, as PEM with its key.
func ecdsaCert(t *testing.T, cn string, notAfter time.Time) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// TestTwinOfAProfileOnTheWire: a profile other than Demo with an ECDSA twin
// serves the twin to Go clients that can take ECDSA (TLS 1.3, or TLS 1.2
// offering only ECDHE-ECDSA suites) and its RSA certificate to those that
// cannot (TLS 1.2 offering only ECDHE-RSA suites); without the twin every
// client gets the RSA certificate.
func TestTwinOfAProfileOnTheWire(t *testing.T) {
	f := newFixture(t)
	mail, err := f.keys.NewRequest(certstore.Request{Name: "Mail", CommonName: "box.example.test", Country: "US", Days: 30, KeyType: "rsa", KeyBits: 2048, ECDSATwin: true})
	require.NoError(t, err)
	twinLeaf := func(c config.Certificate) []byte {
		certs, err := certstore.ParseCertificates(c.ECDSAPEM)
		require.NoError(t, err)
		return certs[0].Raw
	}
	serve := func(c config.Certificate) {
		require.NoError(t, f.apply(t, func(cfg *config.Config) {
			require.NoError(t, cfg.PutCertificate(c))
			cfg.Listeners[0].Certificate = "Mail"
			cfg.SSL.Inbound.Methods = []config.Method{config.TLS12, config.TLS13}
			cfg.SSL.Inbound.Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
		}))
	}
	serve(mail)
	tests := []struct {
		name   string
		cfg    *tls.Config
		twin   bool
		noTwin string // what a profile without a twin gives: always RSA
	}{
		{"TLS 1.3", clientTLS(tls.VersionTLS13), true, "RSA"},
		{"TLS 1.2, ECDHE-ECDSA only", withSuites(clientTLS(tls.VersionTLS12), tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), true, "refused"},
		{"TLS 1.2, ECDHE-RSA only", withSuites(clientTLS(tls.VersionTLS12), tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), false, "RSA"},
	}
	handshake := func(cfg *tls.Config) (*x509.Certificate, error) {
		s := dialSMTP(t, f.smtpAddr())
		s.reply()
		s.cmd("EHLO client.test")
		tc, err := s.startTLS(cfg)
		if err != nil {
			return nil, err
		}
		return tc.ConnectionState().PeerCertificates[0], nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := handshake(tt.cfg)
			require.NoError(t, err)
			if tt.twin {
				assert.Equal(t, twinLeaf(mail), leaf.Raw, "Mail's own twin, not Demo's")
			} else {
				assert.IsType(t, &rsa.PublicKey{}, leaf.PublicKey)
				assert.Equal(t, "box.example.test", leaf.Subject.CommonName)
			}
		})
	}
	serve(certstore.WithoutTwin(mail))
	for _, tt := range tests {
		t.Run(tt.name+", twin removed", func(t *testing.T) {
			leaf, err := handshake(tt.cfg)
			if tt.noTwin == "refused" {
				require.Error(t, err, "no certificate fits a client that takes only ECDSA")
				return
			}
			require.NoError(t, err)
			assert.IsType(t, &rsa.PublicKey{}, leaf.PublicKey)
		})
	}
}

func withSuites(c *tls.Config, suites ...uint16) *tls.Config {
	c.CipherSuites = suites
	return c
}

// TestExpiringTwinIsLogged: a twin that ends before its certificate is
// reported in mail_logs as the twin; the certificate itself is not.
func TestExpiringTwinIsLogged(t *testing.T) {
	f, lg, now := newClockedFixture(t)
	clock := *now.Load()
	mail, err := f.keys.SelfSigned(certstore.Request{Name: "Mail", CommonName: "mail.example.test", DNSNames: []string{"mail.example.test"}, Days: 365, KeyType: "rsa", KeyBits: 2048})
	require.NoError(t, err)
	end := clock.Add(20*24*time.Hour + time.Hour)
	cert, key := ecdsaCert(t, "mail.example.test", end)
	mail, _, err = f.keys.TwinFromPEM(mail, cert, key)
	require.NoError(t, err)
	require.NoError(t, f.apply(t, func(c *config.Config) {
		require.NoError(t, c.PutCertificate(mail))
		c.Listeners[0].Certificate = "Mail"
	}))
	lines, err := lg.Tail(100)
	require.NoError(t, err)
	joined := strings.Join(lines, "\n")
	assert.Contains(t, joined, `Warning: The ECDSA twin of the certificate "Mail" (CN mail.example.test) used by listener IncomingMail expires in 20 days, on `+end.UTC().Format("2006-01-02"))
	assert.NotContains(t, joined, `Warning: The certificate "Mail"`, "the RSA certificate has a year left")
}
