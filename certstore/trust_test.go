package certstore

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// trustRoot is a trust setting holding the test root as a custom authority,
// switched on or off.
func trustRoot(t testing.TB, p *testPKI, custom bool) config.Trust {
	t.Helper()
	return config.Trust{Custom: custom, CustomCAs: []config.CA{{Name: "test root", PEM: p.read("root.pem")}}}
}

func TestTrustPool(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	leafCerts, err := ParseCertificates(p.read("leaf.pem"))
	require.NoError(t, err)
	inter := x509.NewCertPool()
	for _, n := range []string{"int1.pem", "int2.pem"} {
		cs, err := ParseCertificates(p.read(n))
		require.NoError(t, err)
		inter.AddCert(cs[0])
	}
	verify := func(pool *x509.CertPool) error {
		_, err := leafCerts[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: "leaf.example.test"})
		return err
	}

	pool, err := TrustPool(trustRoot(t, p, true))
	require.NoError(t, err)
	require.NoError(t, verify(pool), "the custom authority verifies a leaf it issued")

	pool, err = TrustPool(trustRoot(t, p, false))
	require.NoError(t, err)
	require.Error(t, verify(pool), "a disabled custom authority is not trusted")

	bad := config.Trust{Custom: true, CustomCAs: []config.CA{{Name: "leaf as CA", PEM: p.read("leaf.pem")}}}
	_, err = TrustPool(bad)
	require.ErrorContains(t, err, `custom authority "leaf as CA": Invalid certificate: "leaf.example.test" is not a certificate authority`)
	bad.Custom = false
	_, err = TrustPool(bad)
	require.NoError(t, err, "a disabled list is not read")

	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		pool, err = TrustPool(config.Trust{System: true, Custom: true, CustomCAs: trustRoot(t, p, true).CustomCAs})
		require.NoError(t, err)
		require.NoError(t, verify(pool), "system roots plus the custom authority")
		pool, err = TrustPool(config.Trust{System: true})
		require.NoError(t, err)
		require.Error(t, verify(pool), "the test root is not a system root")
	}
}

func TestParseCA(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	// A version 1 self-signed root, as old private authorities made them.
	p.ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "v1.key", "-out", "v1.csr", "-subj", "/CN=Old V1 Root")
	p.ossl("x509", "-req", "-in", "v1.csr", "-signkey", "v1.key", "-days", "365", "-out", "v1.pem")
	// A version 1 certificate that is not self-signed is no authority.
	p.ossl("x509", "-req", "-in", "v1.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "99", "-days", "365", "-out", "v1leaf.pem")

	tests := []struct {
		name, text, want, cn string
	}{
		{"root", p.read("root.pem"), "", "Relaybox Test Root"},
		{"intermediate", p.read("int1.pem"), "", "Relaybox Test Int 1"},
		{"v1 self-signed root", p.read("v1.pem"), "", "Old V1 Root"},
		{"leaf", p.read("leaf.pem"), `"leaf.example.test" is not a certificate authority`, ""},
		{"v1 issued certificate", p.read("v1leaf.pem"), "is not a certificate authority", ""},
		{"two certificates", p.cat("root.pem", "int1.pem"), "holds 2 certificates; import each authority on its own", ""},
		{"junk", "junk", "no complete PEM CERTIFICATE block", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCA(tt.text)
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.cn, c.Subject.CommonName)
		})
	}
}
