package certstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// The Demo certificate is RSA 2048 with an ECDSA P-256 twin of the same
// subject, names and validity, and servers are offered the twin first.
func TestDemoHasAnECDSATwin(t *testing.T) {
	ks, err := NewKeyStore(afero.NewMemMapFs(), "/data")
	require.NoError(t, err)
	demo, err := ks.Demo("box.example.test")
	require.NoError(t, err)
	require.NotEmpty(t, demo.ECDSAPEM)
	require.NotEqual(t, demo.Key, demo.ECDSAKey)

	main, err := ks.TLSCertificate(demo)
	require.NoError(t, err)
	assert.IsType(t, &rsa.PublicKey{}, main.Leaf.PublicKey, "clients of the box present the RSA certificate")

	offered, err := ks.TLSCertificates(demo)
	require.NoError(t, err)
	require.Len(t, offered, 2)
	twin := offered[0].Leaf
	pub, ok := twin.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok, "the twin comes first")
	assert.Equal(t, elliptic.P256(), pub.Curve)
	assert.Equal(t, main.Leaf, offered[1].Leaf)
	assert.Equal(t, main.Leaf.Subject.String(), twin.Subject.String())
	assert.Equal(t, main.Leaf.DNSNames, twin.DNSNames)
	assert.Equal(t, len(main.Leaf.IPAddresses), len(twin.IPAddresses))
	assert.Equal(t, main.Leaf.NotBefore, twin.NotBefore)
	assert.Equal(t, main.Leaf.NotAfter, twin.NotAfter)
	assert.Equal(t, main.Leaf.ExtKeyUsage, twin.ExtKeyUsage)

	// A certificate without a twin is offered alone.
	demo.ECDSAPEM, demo.ECDSAKey = "", ""
	offered, err = ks.TLSCertificates(demo)
	require.NoError(t, err)
	assert.Len(t, offered, 1)
}

func TestECDSATwinRefused(t *testing.T) {
	ks, err := NewKeyStore(afero.NewMemMapFs(), "/data")
	require.NoError(t, err)
	ec, err := ks.SelfSigned(Request{Name: "EC", CommonName: "ec.example.test", Days: 1, KeyType: "ecdsa", KeyBits: 256})
	require.NoError(t, err)
	_, err = ks.AddECDSATwin(ec)
	assert.ErrorContains(t, err, `certificate "EC" has no RSA key`)

	_, err = ks.AddECDSATwin(caSignedRSA(t, ks, "Signed"))
	assert.ErrorContains(t, err, `certificate "Signed" is signed by`)

	// A twin whose key does not match is refused when loaded.
	demo, err := ks.Demo("box.example.test")
	require.NoError(t, err)
	demo.ECDSAKey = demo.Key
	_, err = ks.TLSCertificates(demo)
	assert.ErrorContains(t, err, `certificate "Demo (ECDSA twin)" does not match its private key`)
}

// caSignedRSA is an RSA certificate profile signed by a throwaway authority.
func caSignedRSA(t *testing.T, ks *KeyStore, name string) config.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Twin Test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ref, err := ks.Put(key)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "signed.example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	return config.Certificate{Name: name, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Key: ref}
}
