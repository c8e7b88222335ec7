package commands_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/appliance"
	"relaybox/certstore"
	"relaybox/config"
)

// keyCount is how many private keys the appliance has stored.
func keyCount(t *testing.T, a *appliance.Appliance) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(a.Store.Dir(), certstore.KeysDir))
	require.NoError(t, err)
	return len(entries)
}

// configsFile writes a file into DATA/configs, where batch forms read.
func configsFile(t *testing.T, a *appliance.Appliance, name, text string) {
	t.Helper()
	dir := filepath.Join(a.Store.Dir(), "configs")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
}

// selfSignedPEM is a self-signed certificate for subject and names under
// key, and the key, as PEM.
func selfSignedPEM(t *testing.T, key crypto.Signer, subject pkix.Name, names ...string) (string, string) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func newECKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

// TestCertconfigNewWithTwin: NEW's twin question and "new … twin=yes" make
// the same RSA + ECDSA P-256 pair; the list and PRINT show the twin and
// never a private key; the default makes no twin.
func TestCertconfigNewWithTwin(t *testing.T) {
	a := startAppliance(t)
	tests := []struct {
		name, script, cert string
		twin               bool
	}{
		{"dialog, RSA 2048 with a twin", "certconfig\ncertificate\nnew\nDlgPair\nmail.example.test\n\n\n\n\nUS\n365\n5\n3\n\n\n", "DlgPair", true},
		// The answers of a script written before the pairs existed still work.
		{"dialog, RSA 2048", "certconfig\ncertificate\nnew\nDlgOne\nmail.example.test\n\n\n\n\nUS\n365\n1\n3\n\n\n", "DlgOne", false},
		{"dialog, Enter is RSA 2048", "certconfig\ncertificate\nnew\nDlgDef\nmail.example.test\n\n\n\n\nUS\n365\n\n3\n\n\n", "DlgDef", false},
		{"batch, twin=yes", "certconfig new BatchPair cn=mail.example.test c=US days=365 twin=yes csr=pair.csr\n", "BatchPair", true},
		{"batch, key=rsa2048+ecdsa256", "certconfig new BatchKey cn=mail.example.test c=US days=365 key=rsa2048+ecdsa256\n", "BatchKey", true},
		{"batch, no twin", "certconfig new BatchOne cn=mail.example.test c=US days=365\n", "BatchOne", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := script(a, tt.script+"commit "+tt.cert+"\n")
			require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
			cert := a.Store.Current().Certificate(tt.cert)
			require.NotNil(t, cert)
			assert.Equal(t, tt.twin, cert.ECDSAPEM != "")
			assert.Equal(t, tt.twin, cert.ECDSACSR != "")
			if strings.Contains(tt.script, "new\n") {
				assert.Contains(t, r.out, "4. ECDSA P-384\n5. RSA 2048 bits and an ECDSA P-256 twin (same subject and validity)\n6. RSA 4096 bits and an ECDSA P-256 twin (same subject and validity)\n[1]> ")
			}
			out := script(a, "certconfig print "+tt.cert+"\ncertconfig list\n").out
			assert.NotContains(t, out, "PRIVATE KEY")
			if !tt.twin {
				assert.NotContains(t, out, "ECDSA twin")
				return
			}
			twin, err := certstore.Inspect(config.Certificate{Name: "t", PEM: cert.ECDSAPEM})
			require.NoError(t, err)
			main, err := certstore.Inspect(*cert)
			require.NoError(t, err)
			assert.Equal(t, main.NotAfter, twin.NotAfter)
			assert.Equal(t, main.CommonName, twin.CommonName)
			assert.Contains(t, out, "ECDSA twin:          ECDSA P-256, SHA-256 fingerprint "+twin.SHA256Fingerprint)
			assert.Contains(t, out, "ECDSA twin valid:    ")
			assert.Contains(t, out, "ECDSA twin request:  pending (paste its signed certificate with EDIT)")
			assert.Regexp(t, "(?m)^"+tt.cert+` +mail\.example\.test +mail\.example\.test +Not signed \d+ days\n \+ECDSA +mail\.example\.test +mail\.example\.test +Not signed \d+ days$`, out)
			for _, ref := range []string{cert.Key, cert.ECDSAKey} {
				st, err := os.Stat(filepath.Join(a.Store.Dir(), certstore.KeysDir, ref+".pem"))
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
			}
		})
	}
	data, err := os.ReadFile(filepath.Join(a.Store.Dir(), "configs", "pair-ecdsa.csr"))
	require.NoError(t, err, "csr=FILE writes the twin's request beside the certificate's")
	assert.Equal(t, a.Store.Current().Certificate("BatchPair").ECDSACSR, string(data))

	// An ECDSA certificate cannot have a twin: refused, nothing stored.
	keys := keyCount(t, a)
	r := script(a, "certconfig new EC cn=ec.example.test c=US key=ecdsa256 twin=yes\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, `line 1: certificate "EC": an ECDSA twin is made for an RSA certificate`)
	r = script(a, "certconfig new EC cn=ec.example.test c=US twin=perhaps\n")
	assert.Contains(t, r.err, `line 1: twin="perhaps" is neither yes nor no`)
	assert.Equal(t, keys, keyCount(t, a))
	assert.Nil(t, a.Store.Current().Certificate("EC"))
}

// TestCertconfigTwinAddAndRemove: ECDSA PASTE (dialog), the batch paste and
// import, NEW and DELETE give and take a twin; a wrong key, an RSA key, junk
// and other names are refused, dialog and batch alike, and change nothing.
func TestCertconfigTwinAddAndRemove(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "certconfig new Web cn=web.example.test c=US\ncertconfig new Other cn=other.example.test c=US\ncommit two\n")
	require.Equal(t, 0, r.code, r.err)
	subject := pkix.Name{CommonName: "web.example.test", Country: []string{"US"}}
	twinPEM, twinKey := selfSignedPEM(t, newECKey(t), subject, "web.example.test")
	_, strayKey := selfSignedPEM(t, newECKey(t), subject, "web.example.test")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rsaPEM, rsaKeyPEM := selfSignedPEM(t, rsaKey, subject, "web.example.test")
	otherPEM, otherKey := func() (string, string) {
		k := newECKey(t)
		return selfSignedPEM(t, k, pkix.Name{CommonName: "web.example.test", Country: []string{"US"}}, "web.example.test", "extra.example.test")
	}()
	for name, text := range map[string]string{"twin.pem": twinPEM, "twin.key": twinKey, "stray.key": strayKey, "rsa.pem": rsaPEM,
		"rsa.key": rsaKeyPEM, "other.pem": otherPEM, "other.key": otherKey, "junk.pem": "not a certificate\n"} {
		configsFile(t, a, name, text)
	}
	before := a.Store.Current()
	keys := keyCount(t, a)
	paste := func(cert, key string) string {
		return "certconfig\ncertificate\necdsa\nWeb\npaste\ny\n" + cert + ".\n" + key + ".\nn\n"
	}
	bad := []struct {
		name, script, want string
	}{
		{"dialog: key of another certificate", paste(twinPEM, strayKey), `key does not sign certificate: the private key pasted for the ECDSA twin of "Web"`},
		{"batch: key of another certificate", "certconfig ecdsa Web paste twin.pem stray.key\n", `line 1: key does not sign certificate`},
		{"dialog: RSA key as the twin", paste(rsaPEM, rsaKeyPEM), `the private key pasted for the ECDSA twin of "Web" is an RSA 2048 key, not ECDSA`},
		{"batch: RSA key as the twin", "certconfig ecdsa Web paste rsa.pem rsa.key\n", `line 1: the private key pasted for the ECDSA twin of "Web" is an RSA 2048 key, not ECDSA`},
		{"dialog: junk", paste("not a certificate\n", twinKey), "line 7: Invalid certificate: the text holds no complete PEM CERTIFICATE block"},
		{"batch: junk", "certconfig ecdsa Web paste junk.pem twin.key\n", "line 1: Invalid certificate: the text holds no complete PEM CERTIFICATE block"},
		{"batch: other names", "certconfig ecdsa Web paste other.pem other.key\n", `names extra.example.test, web.example.test, but certificate "Web" names web.example.test: a twin must have the same subject and names`},
		{"batch: missing file", "certconfig ecdsa Web paste twin.pem nothere.key\n", `line 1: Error: the file "nothere.key" does not exist`},
		{"batch: no such profile", "certconfig ecdsa Nope new\n", "line 1: "},
		{"batch: usage", "certconfig ecdsa Web paste twin.pem\n", "line 1: Invalid arguments when processing: certconfig"},
		{"batch: no twin to remove", "certconfig ecdsa Web delete\n", `line 1: certificate "Web" has no ECDSA twin to remove`},
		{"batch: no twin request", "certconfig ecdsa Web csr twin.csr\n", `line 1: certificate "Web" has no ECDSA twin with a pending signing request`},
		{"batch: wrong passphrase", "certconfig ecdsa Web import twin.p12 Wrong-Twin-Pass\n", `wrong passphrase for the PKCS#12 file for "Web (ECDSA twin)"`},
	}
	// A PKCS#12 file of an RSA certificate for the same names.
	r = script(a, "certconfig new Tmp cn=web.example.test c=US\ncertconfig export Tmp twin-rsa.p12 Twin-Pass-1\nclearchanges\ny\n")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
	// A PKCS#12 file of the twin itself, made with openssl.
	cfgs := filepath.Join(a.Store.Dir(), "configs")
	out, err := exec.Command("openssl", "pkcs12", "-export", "-inkey", filepath.Join(cfgs, "twin.key"), "-in", filepath.Join(cfgs, "twin.pem"),
		"-passout", "pass:Twin-Pass-1", "-out", filepath.Join(cfgs, "twin.p12")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	bad = append(bad, struct{ name, script, want string }{"batch: an RSA PKCS#12 file", "certconfig ecdsa Web import twin-rsa.p12 Twin-Pass-1\n",
		`the private key in the PKCS#12 file for the ECDSA twin of "Web" is an RSA 2048 key, not ECDSA`})
	keys = keyCount(t, a)
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := script(a, tt.script)
			assert.Equal(t, 1, r.code, "stdout:\n%s", r.out)
			assert.Contains(t, r.err, tt.want)
			assert.True(t, config.SameSettings(before, a.Store.Current()))
			assert.Equal(t, keys, keyCount(t, a), "no key stored")
		})
	}

	// The dialog adds the twin, PRINT shows it, DELETE removes it.
	r = script(a, paste(twinPEM, twinKey)+"\n\n\ncommit twin for Web\n")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
	assert.Contains(t, r.out, `Certificate "Web" has no ECDSA twin: every client gets its RSA certificate.`)
	assert.Contains(t, r.out, `The ECDSA twin of certificate "Web" was added.`)
	assert.Contains(t, r.out, `Certificate "Web" has the ECDSA twin ECDSA P-256 issued by web.example.test`)
	web := a.Store.Current().Certificate("Web")
	require.Equal(t, twinPEM, web.ECDSAPEM)
	require.Equal(t, keys+1, keyCount(t, a))
	r = script(a, "certconfig\ncertificate\necdsa\nWeb\ndelete\ny\n\n\n\ncommit no twin\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `The ECDSA twin of certificate "Web" was removed.`)
	assert.Empty(t, a.Store.Current().Certificate("Web").ECDSAPEM)
	assert.Equal(t, web.PEM, a.Store.Current().Certificate("Web").PEM, "the RSA certificate stays")

	// The batch forms: import from PKCS#12, delete, new; the passphrase is masked.
	r = script(a, "certconfig ecdsa Web import twin.p12 Twin-Pass-1\ncommit imported twin\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "certconfig ecdsa Web import twin.p12 ****\n")
	assert.NotContains(t, r.out+r.err, "Twin-Pass-1")
	assert.Equal(t, twinPEM, a.Store.Current().Certificate("Web").ECDSAPEM)
	r = script(a, "certconfig ecdsa Web delete\ncertconfig ecdsa Web new\ncertconfig ecdsa Web csr web-ecdsa.csr\ncommit made twin\n")
	require.Equal(t, 0, r.code, r.err)
	made := a.Store.Current().Certificate("Web")
	assert.NotEqual(t, twinPEM, made.ECDSAPEM)
	assert.NotEmpty(t, made.ECDSACSR, "Web awaits signing, so its made twin has a request too")
	data, err := os.ReadFile(filepath.Join(cfgs, "web-ecdsa.csr"))
	require.NoError(t, err)
	assert.Equal(t, made.ECDSACSR, string(data))

	// A twin of an ECDSA profile, or the twin of a profile in use, said so.
	r = script(a, "certconfig new EC cn=ec.example.test c=US key=ecdsa256\ncertconfig ecdsa EC new\n")
	assert.Contains(t, r.err, `line 2: certificate "EC" has no RSA key (it is ECDSA P-256): only an RSA certificate gets an ECDSA twin`)
	r = script(a, "certconfig ecdsa Demo delete\nclearchanges\ny\n")
	assert.Contains(t, r.out, `Certificate "Demo" is in use by listener IncomingMail (inbound TLS), listener OutgoingMail (inbound TLS), interface Management (HTTPS): after commit they offer only its RSA certificate.`)
}

// startTLSConn dials the SMTP port and runs EHLO and STARTTLS with cfg.
func startTLSConn(t *testing.T, addr string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	read := func(want string) {
		var got []byte
		for !bytes.Contains(got, []byte(want)) {
			n, err := conn.Read(buf)
			require.NoError(t, err, "waiting for %q, got %q", want, got)
			got = append(got, buf[:n]...)
		}
	}
	read("220 ")
	fmt.Fprintf(conn, "EHLO client.example.test\r\n")
	read("250 ")
	fmt.Fprintf(conn, "STARTTLS\r\n")
	read("220 ")
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(context.Background()); err != nil {
		return nil, err
	}
	return tc.ConnectionState().PeerCertificates[0], nil
}

// TestCertconfigTwinOnTheWire: a profile made with "certconfig new …
// twin=yes" and committed on the SMTP listener is served as its ECDSA twin
// to Go's client when it can take ECDSA (TLS 1.3; TLS 1.2 offering only
// ECDHE-ECDSA suites) and to "openssl s_client -sigalgs ECDSA+SHA256", and
// as its RSA certificate when only RSA signatures are offered; once the twin
// is removed every client gets the RSA certificate.
func TestCertconfigTwinOnTheWire(t *testing.T) {
	a := startAppliance(t)
	r := script(a, strings.Join([]string{
		"sslconfig inbound methods 1-2",
		"sslconfig inbound ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
		"certconfig new MailCert cn=box.example.test c=US twin=yes",
		"listenerconfig edit IncomingMail certificate MailCert",
		"commit twin on the wire",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
	c := a.Store.Current()
	mail := c.Certificate("MailCert")
	leafOf := func(pemText string) []byte {
		certs, err := certstore.ParseCertificates(pemText)
		require.NoError(t, err)
		return certs[0].Raw
	}
	twin, rsaLeaf := leafOf(mail.ECDSAPEM), leafOf(mail.PEM)
	addr := fmt.Sprintf("127.0.0.1:%d", c.Listeners[0].Port)
	goClient := func(version uint16, suites ...uint16) *tls.Config {
		return &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version, ServerName: "box.example.test", CipherSuites: suites}
	}
	openssl := func(sigalgs string) []byte {
		out, _ := exec.Command("openssl", "s_client", "-connect", addr, "-starttls", "smtp", "-tls1_3", "-sigalgs", sigalgs).CombinedOutput()
		block, _ := pem.Decode(out)
		if block == nil {
			return nil
		}
		return block.Bytes
	}
	type probe struct {
		name   string
		served func(t *testing.T) []byte
	}
	goProbe := func(cfg *tls.Config) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			leaf, err := startTLSConn(t, addr, cfg)
			if err != nil {
				return nil
			}
			return leaf.Raw
		}
	}
	probes := []struct {
		probe
		withTwin, without string // "twin", "rsa" or "none" (the handshake fails)
	}{
		{probe{"Go, TLS 1.3", goProbe(goClient(tls.VersionTLS13))}, "twin", "rsa"},
		{probe{"Go, TLS 1.2, ECDHE-ECDSA suites only", goProbe(goClient(tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256))}, "twin", "none"},
		{probe{"Go, TLS 1.2, ECDHE-RSA suites only", goProbe(goClient(tls.VersionTLS12, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256))}, "rsa", "rsa"},
		{probe{"openssl -sigalgs ECDSA+SHA256", func(*testing.T) []byte { return openssl("ECDSA+SHA256") }}, "twin", "none"},
		{probe{"openssl -sigalgs rsa_pss_rsae_sha256", func(*testing.T) []byte { return openssl("rsa_pss_rsae_sha256") }}, "rsa", "rsa"},
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is missing (%v): run make test-deps", err)
	}
	want := map[string][]byte{"twin": twin, "rsa": rsaLeaf, "none": nil}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			assert.Equal(t, want[p.withTwin], p.served(t), "served with the twin")
		})
	}
	r = script(a, "certconfig ecdsa MailCert delete\ncommit no twin\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `Certificate "MailCert" is in use by listener IncomingMail (inbound TLS): after commit they offer only its RSA certificate.`)
	for _, p := range probes {
		t.Run(p.name+", twin removed", func(t *testing.T) {
			assert.Equal(t, want[p.without], p.served(t), "served without the twin")
		})
	}
}
