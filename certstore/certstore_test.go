package certstore

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelfSignedKeysAndCertificates(t *testing.T) {
	dir := t.TempDir()
	ks, err := NewKeyStore(afero.NewOsFs(), dir)
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dir, KeysDir))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	tests := []struct {
		typ  string
		bits int
		algo x509.SignatureAlgorithm
	}{
		{"rsa", 2048, x509.SHA256WithRSA},
		{"ecdsa", 256, x509.ECDSAWithSHA256},
		{"ecdsa", 384, x509.ECDSAWithSHA384},
	}
	for _, tt := range tests {
		c, err := ks.SelfSigned(Request{Name: "T", CommonName: "t.example.test", Organization: "O", Country: "JP", Days: 10, KeyType: tt.typ, KeyBits: tt.bits, DNSNames: []string{"t.example.test", "127.0.0.1"}})
		require.NoError(t, err, tt)
		tc, err := ks.TLSCertificate(c)
		require.NoError(t, err)
		assert.Equal(t, tt.algo, tc.Leaf.SignatureAlgorithm)
		assert.Equal(t, "t.example.test", tc.Leaf.Subject.CommonName)
		assert.Equal(t, []string{"JP"}, tc.Leaf.Subject.Country)
		assert.Len(t, tc.Leaf.IPAddresses, 1)
		assert.NotContains(t, c.PEM, "PRIVATE KEY", "the configuration never holds the key")
		kst, err := os.Stat(filepath.Join(dir, KeysDir, c.Key+".pem"))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), kst.Mode().Perm())
		_, err = tls.X509KeyPair([]byte(c.PEM), mustRead(t, filepath.Join(dir, KeysDir, c.Key+".pem")))
		require.NoError(t, err, "key file and certificate belong together")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestRefusals(t *testing.T) {
	ks, err := NewKeyStore(afero.NewMemMapFs(), "/data")
	require.NoError(t, err)
	_, err = ks.SelfSigned(Request{Name: "x", CommonName: "x", Days: 1, KeyType: "rsa", KeyBits: 1024})
	require.ErrorContains(t, err, "RSA key size 1024 is not offered")
	_, err = ks.SelfSigned(Request{Name: "x", CommonName: "x", Days: 1, KeyType: "ecdsa", KeyBits: 521})
	require.ErrorContains(t, err, "use 256 (P-256) or 384 (P-384)")
	_, err = ks.SelfSigned(Request{Name: "x", CommonName: "x", Days: 1, KeyType: "dsa", KeyBits: 2048})
	require.ErrorContains(t, err, "rsa or ecdsa")
	_, err = ks.SelfSigned(Request{Name: "x", CommonName: "x", Days: 0, KeyType: "ecdsa", KeyBits: 256})
	require.ErrorContains(t, err, "too short")

	a, err := ks.SelfSigned(Request{Name: "a", CommonName: "a", Days: 1, KeyType: "ecdsa", KeyBits: 256})
	require.NoError(t, err)
	b, err := ks.SelfSigned(Request{Name: "b", CommonName: "b", Days: 1, KeyType: "ecdsa", KeyBits: 256})
	require.NoError(t, err)
	mixed := a
	mixed.Key = b.Key
	_, err = ks.TLSCertificate(mixed)
	require.ErrorContains(t, err, "does not match its private key")
	missing := a
	missing.Key = strings.Repeat("0", 64)
	_, err = ks.TLSCertificate(missing)
	require.ErrorContains(t, err, "private key")
	junk := a
	junk.PEM = "not pem"
	_, err = ks.TLSCertificate(junk)
	require.ErrorContains(t, err, "holds no PEM certificate")
}

func TestDemoCertificate(t *testing.T) {
	ks, err := NewKeyStore(afero.NewMemMapFs(), "/data")
	require.NoError(t, err)
	c, err := ks.Demo("box.example.test")
	require.NoError(t, err)
	tc, err := ks.TLSCertificate(c)
	require.NoError(t, err)
	assert.Equal(t, "Demo", c.Name)
	assert.Equal(t, "Relaybox Demo", tc.Leaf.Subject.CommonName)
	assert.Equal(t, x509.SHA256WithRSA, tc.Leaf.SignatureAlgorithm)
	assert.Contains(t, tc.Leaf.DNSNames, "box.example.test")
}
