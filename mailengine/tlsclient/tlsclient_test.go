package tlsclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// authority is a test CA that issues server and client certificates.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newAuthority(t *testing.T) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &authority{cert: cert, key: key, pool: pool}
}

func (a *authority) issue(t *testing.T, name string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serve runs a TLS server on 127.0.0.1 that completes handshakes and
// answers "ok"; it returns the address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	var handlers sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		handlers.Wait() // no handler logs after the test has ended
	})
	handlers.Add(1) // the accept loop, so that Wait never sees zero while it may still Add
	go func() {
		defer handlers.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := c.(*tls.Conn).Handshake(); err != nil {
					t.Logf("server handshake: %v", err)
				} else {
					_, _ = c.Write([]byte("ok"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dial makes one handshake and reads the server's "ok".
func dial(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
		return c.ConnectionState(), err
	}
	return c.ConnectionState(), nil
}

func TestVersions(t *testing.T) {
	ca := newAuthority(t)
	srv := ca.issue(t, "svc.example.test", x509.ExtKeyUsageServerAuth)
	tls10 := serve(t, &tls.Config{Certificates: []tls.Certificate{srv}, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10})
	tls13 := serve(t, &tls.Config{Certificates: []tls.Certificate{srv}, MinVersion: tls.VersionTLS13})
	tls12 := serve(t, &tls.Config{Certificates: []tls.Certificate{srv}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
	p := Params{ServerName: "svc.example.test", Roots: ca.pool}

	_, err := dial(tls10, New(config.SSL{}, p, nil))
	assert.Error(t, err, "TLS 1.0 is refused by default")
	st, err := dial(tls10, New(config.SSL{OtherClientTLSv10: true}, p, nil))
	require.NoError(t, err, "OTHER_CLIENT_TLSV10 allows it")
	assert.Equal(t, uint16(tls.VersionTLS10), st.Version)

	_, err = dial(tls13, New(config.SSL{}, p, nil))
	assert.Error(t, err, "the other TLS client services stop at TLS 1.2")
	st, err = dial(tls12, New(config.SSL{}, p, nil))
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS12), st.Version)
}

func TestPeerCertificateChecks(t *testing.T) {
	ca := newAuthority(t)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "svc.example.test", x509.ExtKeyUsageServerAuth)}})
	other := newAuthority(t)
	for _, tt := range []struct {
		name    string
		ssl     config.SSL
		p       Params
		refused error
		chainOK bool
		nameOK  bool
	}{
		{"nothing enforced, all good", config.SSL{}, Params{ServerName: "svc.example.test", Roots: ca.pool}, nil, true, true},
		{"X.509 on, trusted", config.SSL{PeerCertX509: true}, Params{ServerName: "svc.example.test", Roots: ca.pool}, nil, true, true},
		{"X.509 on, unknown authority", config.SSL{PeerCertX509: true}, Params{ServerName: "svc.example.test", Roots: other.pool}, ErrChain, false, true},
		{"X.509 off, unknown authority", config.SSL{}, Params{ServerName: "svc.example.test", Roots: other.pool}, nil, false, true},
		{"FQDN on, wrong name", config.SSL{PeerCertFQDN: true}, Params{ServerName: "127.0.0.1", Roots: ca.pool}, ErrName, true, false},
		{"FQDN off, wrong name", config.SSL{}, Params{ServerName: "other.example.test", Roots: ca.pool}, nil, true, false},
		{"FQDN on, right name, X.509 off, untrusted", config.SSL{PeerCertFQDN: true}, Params{ServerName: "svc.example.test", Roots: other.pool}, nil, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := &Result{}
			_, err := dial(addr, New(tt.ssl, tt.p, res))
			if tt.refused != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.refused)
			} else {
				require.NoError(t, err)
			}
			require.True(t, res.Checked())
			assert.Equal(t, tt.chainOK, res.ChainErr() == nil, "chain: %v", res.ChainErr())
			assert.Equal(t, tt.nameOK, res.NameErr() == nil, "name: %v", res.NameErr())
			assert.Len(t, res.Chain(), 1)
		})
	}
}

func TestClientCertificate(t *testing.T) {
	ca := newAuthority(t)
	addr := serve(t, &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "svc.example.test", x509.ExtKeyUsageServerAuth)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool, MaxVersion: tls.VersionTLS12})
	client := ca.issue(t, "box.example.test", x509.ExtKeyUsageClientAuth)
	stranger := newAuthority(t).issue(t, "box.example.test", x509.ExtKeyUsageClientAuth)
	p := Params{ServerName: "svc.example.test", Roots: ca.pool}

	res := &Result{}
	withCert := p
	withCert.Certificate = &client
	_, err := dial(addr, New(config.SSL{PeerCertX509: true}, withCert, res))
	require.NoError(t, err, "the right client certificate is accepted")
	asked, offered := res.ClientCertificate()
	assert.True(t, asked)
	assert.True(t, offered)

	res = &Result{}
	_, err = dial(addr, New(config.SSL{}, p, res))
	assert.Error(t, err, "no client certificate: refused by the server")
	asked, offered = res.ClientCertificate()
	assert.True(t, asked)
	assert.False(t, offered)

	wrong := p
	wrong.Certificate = &stranger
	_, err = dial(addr, New(config.SSL{}, wrong, nil))
	assert.Error(t, err, "a certificate the server does not trust is refused")
}
