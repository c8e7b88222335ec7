package certstore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
)

// opensslPath is the real openssl the tests use as their oracle.
const opensslPath = "/usr/bin/openssl"

// requireOpenSSL fails the test when the oracle is missing.
func requireOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(opensslPath); err != nil {
		t.Fatalf("openssl is missing at %s (%v): run make test-deps", opensslPath, err)
	}
}

// testPKI is a throwaway authority made with openssl in a temporary
// directory: root → int1 → int2, each a CA, plus leaves made on demand.
type testPKI struct {
	t      testing.TB
	dir    string
	serial *int
}

// with is the same PKI reporting to t, for use inside a subtest.
func (p *testPKI) with(t testing.TB) *testPKI {
	q := *p
	q.t = t
	return &q
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	requireOpenSSL(t)
	p := &testPKI{t: t, dir: t.TempDir(), serial: new(int)}
	p.write("ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
	p.ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem",
		"-subj", "/O=Relaybox Tests/CN=Relaybox Test Root", "-days", "365",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	p.issue("int1", "/O=Relaybox Tests/CN=Relaybox Test Int 1", "root", "ca.ext")
	p.issue("int2", "/O=Relaybox Tests/CN=Relaybox Test Int 2", "int1", "ca.ext")
	return p
}

// ossl runs openssl in the PKI directory and returns its combined output.
func (p *testPKI) ossl(args ...string) string {
	p.t.Helper()
	return runOpenSSL(p.t, p.dir, args...)
}

func runOpenSSL(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(opensslPath, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "openssl %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func (p *testPKI) path(name string) string { return filepath.Join(p.dir, name) }

func (p *testPKI) write(name, text string) string {
	p.t.Helper()
	require.NoError(p.t, os.WriteFile(p.path(name), []byte(text), 0o600))
	return p.path(name)
}

func (p *testPKI) read(name string) string {
	p.t.Helper()
	b, err := os.ReadFile(p.path(name))
	require.NoError(p.t, err)
	return string(b)
}

// issue makes an ECDSA P-256 key name.key and a certificate name.pem for
// subject, signed by issuer with the extensions file ext, passing extra
// arguments (e.g. -sha1) to `openssl x509 -req`.
func (p *testPKI) issue(name, subject, issuer, ext string, extra ...string) {
	p.t.Helper()
	p.ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", name+".key", "-out", name+".csr", "-subj", subject)
	p.sign(name+".csr", name+".pem", issuer, ext, extra...)
}

// sign has issuer sign the request in csr, writing the certificate to out.
func (p *testPKI) sign(csr, out, issuer, ext string, extra ...string) {
	p.t.Helper()
	*p.serial++
	args := []string{"x509", "-req", "-in", csr, "-CA", issuer + ".pem", "-CAkey", issuer + ".key",
		"-set_serial", fmt.Sprint(100 + *p.serial), "-days", "365", "-out", out}
	if ext != "" {
		args = append(args, "-extfile", ext)
	}
	p.ossl(append(args, extra...)...)
}

// leaf makes a server certificate name.pem with key name.key for host, signed by issuer.
func (p *testPKI) leaf(name, host, issuer string, extra ...string) {
	p.t.Helper()
	ext := p.write(name+".ext", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:"+host+"\n")
	p.issue(name, "/O=Relaybox Tests/CN="+host, issuer, ext, extra...)
}

// cat joins the named PEM files in order.
func (p *testPKI) cat(names ...string) string {
	p.t.Helper()
	var b strings.Builder
	for _, n := range names {
		b.WriteString(p.read(n))
	}
	return b.String()
}

// verify runs `openssl verify` on a stored chain: leaf first, the rest untrusted.
func (p *testPKI) verify(chainPEM string) {
	p.t.Helper()
	certs, err := ParseCertificates(chainPEM)
	require.NoError(p.t, err)
	leaf := p.write("verify-leaf.pem", encodeChain(certs[:1]))
	args := []string{"verify", "-CAfile", p.path("root.pem")}
	if len(certs) > 1 {
		args = append(args, "-untrusted", p.write("verify-untrusted.pem", encodeChain(certs[1:])))
	}
	out := p.ossl(append(args, leaf)...)
	require.Contains(p.t, out, "OK")
}

// subjects lists the CNs of a stored chain in order.
func subjects(t testing.TB, chainPEM string) []string {
	t.Helper()
	certs, err := ParseCertificates(chainPEM)
	require.NoError(t, err)
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = c.Subject.CommonName
	}
	return out
}

// newTestKeyStore is a key store in a temporary directory on the real file system.
func newTestKeyStore(t testing.TB) *KeyStore {
	t.Helper()
	ks, err := NewKeyStore(afero.NewOsFs(), t.TempDir())
	require.NoError(t, err)
	return ks
}

// keyFiles lists the files in the key directory, to prove a refusal wrote nothing.
func keyFiles(t testing.TB, ks *KeyStore) []string {
	t.Helper()
	entries, err := afero.ReadDir(ks.fs, ks.dir)
	require.NoError(t, err)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// goCert makes a self-signed ECDSA certificate with the given validity in Go
// (openssl 3.0 cannot back-date), returning certificate and key PEM.
func goCert(t testing.TB, cn string, notBefore, notAfter time.Time) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}
