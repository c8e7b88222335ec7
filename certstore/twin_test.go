package certstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
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

// twinPKI is a test PKI with an RSA profile "Mail" for mail.example.test
// (signed by int2, pasted with its chain) and ECDSA certificates for it and
// for others: twin (the right one), other (another name), extra (the same
// subject with one more name), p521 (a curve the box refuses), rsatwin (an
// RSA certificate for the same names).
func twinPKI(t *testing.T) (*testPKI, *KeyStore, config.Certificate) {
	t.Helper()
	p := newPKI(t)
	ks := newTestKeyStore(t)
	ext := func(name, sans string) string {
		return p.write(name+".ext", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName="+sans+"\n")
	}
	const subject = "/O=Relaybox Tests/CN=mail.example.test"
	rsaLeaf := func(name string) {
		p.ossl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", name+".key", "-out", name+".csr", "-subj", subject)
		p.sign(name+".csr", name+".pem", "int2", ext(name, "DNS:mail.example.test"))
	}
	rsaLeaf("rsa")
	rsaLeaf("rsatwin")
	p.issue("twin", subject, "int2", ext("twin", "DNS:mail.example.test"))
	p.leaf("other", "other.example.test", "int2")
	p.issue("extra", subject, "int2", ext("extra", "DNS:mail.example.test,DNS:extra.example.test"))
	p.ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521", "-nodes", "-keyout", "p521.key", "-out", "p521.csr", "-subj", subject)
	p.sign("p521.csr", "p521.pem", "int2", ext("p521", "DNS:mail.example.test"))
	main, _, err := ks.FromPEM("Mail", p.cat("rsa.pem", "int2.pem", "int1.pem"), p.read("rsa.key"))
	require.NoError(t, err)
	return p, ks, main
}

// TestNewRequestWithECDSATwin: NEW with a twin makes an RSA certificate and
// an ECDSA P-256 twin with the same subject, names and validity, each with
// its own owner-only key and signing request; the authority signs both and
// AttachSigned takes each for its own key, keeping the other.
func TestNewRequestWithECDSATwin(t *testing.T) {
	p := newPKI(t)
	ks := newTestKeyStore(t)
	c, err := ks.NewRequest(Request{Name: "Pair", CommonName: "mail.example.test", Organization: "Example Corp", Country: "jp",
		Days: 365, KeyType: "rsa", KeyBits: 2048, DNSNames: []string{"192.0.2.25"}, ECDSATwin: true})
	require.NoError(t, err)
	require.NotEmpty(t, c.ECDSAPEM)
	require.NotEmpty(t, c.ECDSACSR)
	require.NotEqual(t, c.Key, c.ECDSAKey)
	assert.ElementsMatch(t, []string{c.Key + ".pem", c.ECDSAKey + ".pem"}, keyFiles(t, ks))
	for _, ref := range []string{c.Key, c.ECDSAKey} {
		st, err := os.Stat(ks.Path(ref))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the twin's key is as private as the certificate's")
	}

	offered, err := ks.TLSCertificates(c)
	require.NoError(t, err)
	require.Len(t, offered, 2)
	twin, main := offered[0].Leaf, offered[1].Leaf
	require.IsType(t, &ecdsa.PublicKey{}, twin.PublicKey)
	assert.Equal(t, elliptic.P256(), twin.PublicKey.(*ecdsa.PublicKey).Curve)
	assert.IsType(t, &rsa.PublicKey{}, main.PublicKey)
	assert.Equal(t, main.Subject.String(), twin.Subject.String())
	assert.Equal(t, main.DNSNames, twin.DNSNames)
	assert.Equal(t, []string{"192.0.2.25"}, []string{twin.IPAddresses[0].String()})
	assert.Equal(t, main.NotBefore, twin.NotBefore)
	assert.Equal(t, main.NotAfter, twin.NotAfter)

	// Both requests verify and name the same subject and names.
	for _, csr := range []struct{ file, text string }{{"rsa.csr", c.CSR}, {"twin.csr", c.ECDSACSR}} {
		f := p.write(csr.file, csr.text)
		assert.Contains(t, p.ossl("req", "-in", f, "-verify", "-noout"), "verify OK")
		assert.Equal(t, "subject=CN=mail.example.test,O=Example Corp,C=JP", strings.TrimSpace(p.ossl("req", "-in", f, "-noout", "-subject", "-nameopt", "RFC2253")))
		assert.Contains(t, p.ossl("req", "-in", f, "-noout", "-text"), "DNS:mail.example.test, IP Address:192.0.2.25")
	}
	info, err := Inspect(mustTwin(t, c))
	require.NoError(t, err)
	assert.True(t, info.Pending)
	assert.Equal(t, "ECDSA P-256", info.KeyType)

	// The authority signs both; each signed certificate finds its own key.
	p.sign(p.path("twin.csr"), "twin-signed.pem", "int2", "", "-copy_extensions", "copy")
	p.sign(p.path("rsa.csr"), "rsa-signed.pem", "int2", "", "-copy_extensions", "copy")
	before := keyFiles(t, ks)
	signedTwin, warnings, err := ks.AttachSigned(c, p.cat("twin-signed.pem", "int2.pem", "int1.pem"))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, before, keyFiles(t, ks), "attaching writes no key")
	assert.Empty(t, signedTwin.ECDSACSR)
	assert.Equal(t, c.PEM, signedTwin.PEM, "the RSA certificate is untouched")
	assert.Equal(t, c.CSR, signedTwin.CSR)
	assert.Equal(t, []string{"mail.example.test", "Relaybox Test Int 2", "Relaybox Test Int 1"}, subjects(t, signedTwin.ECDSAPEM))
	p.verify(signedTwin.ECDSAPEM)

	signed, _, err := ks.AttachSigned(signedTwin, p.cat("rsa-signed.pem", "int2.pem", "int1.pem"))
	require.NoError(t, err)
	assert.Empty(t, signed.CSR)
	assert.Equal(t, signedTwin.ECDSAPEM, signed.ECDSAPEM, "signing the RSA certificate keeps the twin")
	assert.Equal(t, c.ECDSAKey, signed.ECDSAKey)
	offered, err = ks.TLSCertificates(signed)
	require.NoError(t, err)
	require.Len(t, offered, 2)
	assert.Len(t, offered[0].Certificate, 3)
	assert.Len(t, offered[1].Certificate, 3)

	// Both verify against the authority: no warning about either.
	root, err := ParseCertificates(p.read("root.pem"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(root[0])
	assert.Empty(t, Warnings(signed, roots, []string{"mail.example.test"}, time.Now()))
	// The RSA certificate signed, the twin still self-signed: said once, about the twin.
	half, _, err := ks.AttachSigned(c, p.cat("rsa-signed.pem", "int2.pem", "int1.pem"))
	require.NoError(t, err)
	w := Warnings(half, roots, nil, time.Now())
	require.Len(t, w, 1)
	assert.Contains(t, w[0], `ECDSA twin: certificate "Pair (ECDSA twin)": the chain does not verify`)
}

func mustTwin(t *testing.T, c config.Certificate) config.Certificate {
	t.Helper()
	twin, ok := Twin(c)
	require.True(t, ok)
	return twin
}

func TestNewRequestTwinRefusedForECDSA(t *testing.T) {
	ks := newTestKeyStore(t)
	_, err := ks.NewRequest(Request{Name: "EC", CommonName: "ec.example.test", Country: "US", Days: 1, KeyType: "ecdsa", KeyBits: 256, ECDSATwin: true})
	require.ErrorContains(t, err, `certificate "EC": an ECDSA twin is made for an RSA certificate`)
	assert.Empty(t, keyFiles(t, ks), "nothing stored")
}

// TestTwinFromPEM: an RSA profile takes a pasted ECDSA certificate, key and
// intermediates as its twin when the key is ECDSA and the certificate's, and
// the subject and names are the profile's; any other paste changes nothing.
func TestTwinFromPEM(t *testing.T) {
	p, ks, main := twinPKI(t)
	ecProfile, _, err := ks.FromPEM("EC", p.cat("twin.pem"), p.read("twin.key"))
	require.NoError(t, err)
	tests := []struct {
		name      string
		profile   config.Certificate
		cert, key string
		want      string
	}{
		{"RSA key offered as the twin", main, p.cat("rsatwin.pem", "int2.pem"), p.read("rsatwin.key"),
			`the private key pasted for the ECDSA twin of "Mail" is an RSA 2048 key, not ECDSA`},
		{"key of another certificate", main, p.cat("twin.pem", "int2.pem"), p.read("other.key"),
			`key does not sign certificate: the private key pasted for the ECDSA twin of "Mail" belongs to none of the 2 pasted certificates`},
		{"garbage certificate", main, "hello\nworld\n", p.read("twin.key"), "Invalid certificate: the text holds no complete PEM CERTIFICATE block"},
		{"truncated certificate", main, p.read("twin.pem")[:200], p.read("twin.key"), "is damaged or truncated"},
		{"garbage key", main, p.cat("twin.pem"), "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", "Invalid private key"},
		{"another subject", main, p.cat("other.pem", "int2.pem"), p.read("other.key"),
			`is for "CN=other.example.test,O=Relaybox Tests", but certificate "Mail" is for "CN=mail.example.test,O=Relaybox Tests": a twin must have the same subject and names`},
		{"one more name", main, p.cat("extra.pem", "int2.pem"), p.read("extra.key"),
			`names extra.example.test, mail.example.test, but certificate "Mail" names mail.example.test: a twin must have the same subject and names`},
		{"P-521 key", main, p.cat("p521.pem", "int2.pem"), p.read("p521.key"), "is an ECDSA P-521 key: TLS clients expect P-256"},
		{"unrelated intermediate", main, p.cat("twin.pem", "int2.pem", "other.pem"), p.read("twin.key"), "not in the chain of"},
		{"profile that is ECDSA itself", ecProfile, p.cat("twin.pem"), p.read("twin.key"), `certificate "EC" has no RSA key (it is ECDSA P-256): only an RSA certificate gets an ECDSA twin`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := keyFiles(t, ks)
			got, _, err := ks.TwinFromPEM(tt.profile, tt.cert, tt.key)
			require.ErrorContains(t, err, tt.want)
			assert.Equal(t, tt.profile, got, "the profile is unchanged")
			assert.Equal(t, before, keyFiles(t, ks), "no key stored")
		})
	}

	// The right one, its intermediates out of order.
	paired, warnings, err := ks.TwinFromPEM(main, p.cat("twin.pem", "int1.pem", "int2.pem"), p.read("twin.key"))
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0], "ECDSA twin: the intermediates were out of order")
	assert.Equal(t, main.PEM, paired.PEM)
	assert.Equal(t, main.Key, paired.Key)
	assert.Equal(t, []string{"mail.example.test", "Relaybox Test Int 2", "Relaybox Test Int 1"}, subjects(t, paired.ECDSAPEM))
	p.verify(paired.ECDSAPEM)
	st, err := os.Stat(ks.Path(paired.ECDSAKey))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	offered, err := ks.TLSCertificates(paired)
	require.NoError(t, err)
	require.Len(t, offered, 2)
	assert.IsType(t, &ecdsa.PublicKey{}, offered[0].Leaf.PublicKey)
	assert.False(t, strings.Contains(paired.ECDSAPEM, "PRIVATE KEY"), "the configuration holds no key")

	// Removing it leaves the RSA certificate alone.
	assert.Equal(t, main, WithoutTwin(paired))
}

func TestTwinFromPKCS12(t *testing.T) {
	p, ks, main := twinPKI(t)
	export := func(name string) []byte {
		p.ossl("pkcs12", "-export", "-inkey", name+".key", "-in", name+".pem", "-certfile", "int2.pem", "-passout", "pass:secret", "-out", name+".p12")
		b, err := os.ReadFile(p.path(name + ".p12"))
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name, pass, want string
		data             []byte
	}{
		{"wrong passphrase", "guess", `wrong passphrase for the PKCS#12 file for "Mail (ECDSA twin)"`, export("twin")},
		{"RSA certificate and key", "secret", `the private key in the PKCS#12 file for the ECDSA twin of "Mail" is an RSA 2048 key, not ECDSA`, export("rsatwin")},
		{"another name", "secret", "a twin must have the same subject and names", export("other")},
		{"not PKCS#12", "secret", "is PEM text, not a PKCS#12 file", []byte(p.read("twin.pem"))},
		{"empty", "secret", "is empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := keyFiles(t, ks)
			got, _, err := ks.TwinFromPKCS12(context.Background(), main, tt.data, tt.pass)
			require.ErrorContains(t, err, tt.want)
			assert.Equal(t, main, got)
			assert.Equal(t, before, keyFiles(t, ks))
		})
	}
	paired, _, err := ks.TwinFromPKCS12(context.Background(), main, export("twin"), "secret")
	require.NoError(t, err)
	assert.Equal(t, []string{"mail.example.test", "Relaybox Test Int 2"}, subjects(t, paired.ECDSAPEM))
	_, err = ks.TLSCertificates(paired)
	require.NoError(t, err)
	assert.Contains(t, keyFiles(t, ks), paired.ECDSAKey+".pem")
}

// TestTwinWarnings: a twin that expires before its certificate is warned
// about on its own; one that shares its certificate's dates is not said twice.
func TestTwinWarnings(t *testing.T) {
	ks := newTestKeyStore(t)
	now := time.Now()
	main, err := ks.SelfSigned(Request{Name: "Mail", CommonName: "soon.example.test", DNSNames: []string{"soon.example.test"}, Days: 365, KeyType: "rsa", KeyBits: 2048})
	require.NoError(t, err)
	cert, key := goCert(t, "soon.example.test", now.Add(-time.Hour), now.Add(10*24*time.Hour+time.Hour))
	paired, warnings, err := ks.TwinFromPEM(main, cert, key)
	require.NoError(t, err)
	assert.Contains(t, warnings, `ECDSA twin: certificate "soon.example.test" expires on `+now.Add(10*24*time.Hour+time.Hour).UTC().Format(time.DateOnly)+", in 10 days: renew it soon")
	assert.Equal(t, warnings, Warnings(paired, nil, nil, now))

	demo, err := ks.Demo("box.example.test")
	require.NoError(t, err)
	late := now.Add(3640 * 24 * time.Hour)
	w := Warnings(demo, x509.NewCertPool(), nil, late)
	require.Len(t, w, 2, "%q", w)
	assert.Contains(t, w[0], "expires on")
	assert.Contains(t, w[1], "the chain does not verify")
	for _, l := range w {
		assert.NotContains(t, l, TwinWarningPrefix, "a twin made with its certificate is not warned about twice")
	}
}
