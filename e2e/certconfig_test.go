package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openssl runs the real openssl and returns its combined output.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, err, "openssl %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// testPKI is a root CA and an intermediate made with openssl in dir.
type testPKI struct{ dir string }

func newPKI(t *testing.T) testPKI {
	t.Helper()
	requireOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "30", "-subj", "/CN=E2E Test Root CA")
	openssl(t, dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=E2E Test Intermediate CA")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.ext"), []byte("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"), 0o600))
	openssl(t, dir, "x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-out", "int.pem", "-days", "30", "-extfile", "ca.ext")
	return testPKI{dir: dir}
}

// sign signs a CSR file with the intermediate and returns leaf + intermediate PEM.
func (p testPKI) sign(t *testing.T, csrPath, host string) string {
	t.Helper()
	ext := filepath.Join(p.dir, "leaf.ext")
	require.NoError(t, os.WriteFile(ext, []byte("subjectAltName=DNS:"+host+"\nextendedKeyUsage=serverAuth\n"), 0o600))
	leaf := filepath.Join(p.dir, "leaf.pem")
	openssl(t, p.dir, "x509", "-req", "-in", csrPath, "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial", "-out", leaf, "-days", "20", "-sha256", "-extfile", ext)
	l, err := os.ReadFile(leaf)
	require.NoError(t, err)
	i, err := os.ReadFile(filepath.Join(p.dir, "int.pem"))
	require.NoError(t, err)
	return string(l) + string(i)
}

func keyFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "keys"))
	require.NoError(t, err)
	return len(entries)
}

// servedChain fetches the chain an endpoint serves, as openssl s_client -showcerts sees it.
func servedChain(t *testing.T, address string, smtp bool) (certs []string, out string) {
	t.Helper()
	args := []string{"s_client", "-showcerts", "-connect", address, "-servername", "mail.e2e.test"}
	if smtp {
		args = append(args, "-starttls", "smtp")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = strings.NewReader("")
	b, _ := cmd.CombinedOutput()
	out = string(b)
	for _, part := range strings.Split(out, "-----BEGIN CERTIFICATE-----")[1:] {
		body, _, ok := strings.Cut(part, "-----END CERTIFICATE-----")
		require.True(t, ok)
		certs = append(certs, "-----BEGIN CERTIFICATE-----"+body+"-----END CERTIFICATE-----\n")
	}
	return certs, out
}

func TestCSRRoundTripServesFullChain(t *testing.T) {
	pki := newPKI(t)
	a := startAppliance(t, startOptions{domains: "e2e.test"})

	// NEW: a self-signed certificate with its CSR written to DATA/configs.
	res := a.mustCommit(t, strings.Join([]string{
		"certconfig", "certificate", "new",
		"Mail", "mail.e2e.test", "Example Corp", "Mail Team", "Tokyo", "Tokyo", "jp", "365", "1",
		"2", "mail.csr",
		"", "",
		"listenerconfig edit IncomingMail certificate Mail",
		"interfaceconfig edit Management certificate Mail",
		"commit certificate Mail, CSR out",
	}, "\n")+"\n")
	assert.Contains(t, res.stdout, "List of Certificates")
	assert.Contains(t, res.stdout, "Not signed", "a fresh CSR is listed as not signed")
	csr := filepath.Join(a.dir, "configs", "mail.csr")
	verify := openssl(t, a.dir, "req", "-in", csr, "-noout", "-verify", "-subject")
	assert.Contains(t, verify, "verify OK")
	assert.Contains(t, verify, "CN = mail.e2e.test")
	assert.Contains(t, verify, "C = JP")

	// A session opened on the self-signed certificate stays open across the switch.
	held := dialSMTP(t, addr(a.smtpPort)) // reads the 220 greeting
	held.cmd("EHLO held.test", 250)
	st, err := held.startTLS(clientTLS(tls.VersionTLS12))
	require.NoError(t, err)
	require.Equal(t, "mail.e2e.test", st.PeerCertificates[0].Subject.CommonName)
	require.Equal(t, "mail.e2e.test", st.PeerCertificates[0].Issuer.CommonName, "self-signed before")
	held.cmd("EHLO held.test", 250)
	held.cmd("MAIL FROM:<a@held.test>", 250)
	held.cmd("RCPT TO:<b@e2e.test>", 250)

	// EDIT: paste the signed certificate and its intermediate.
	signed := pki.sign(t, csr, "mail.e2e.test")
	leafPEM, interPEM, _ := strings.Cut(signed, "-----END CERTIFICATE-----\n")
	res = a.mustCommit(t, strings.Join([]string{
		"certconfig", "certificate", "edit", "2", "n", "y",
		leafPEM + "-----END CERTIFICATE-----", ".", "y", strings.TrimSpace(interPEM), ".", "n",
		"", "", "commit signed certificate",
	}, "\n")+"\n")
	assert.Contains(t, res.stdout, `Certificate "Mail" updated.`)

	held.cmd("DATA", 354)
	held.cmd("Subject: held across the certificate switch\r\n\r\nbody\r\n.", 250)
	held.cmd("QUIT", 221)

	for _, svc := range []struct {
		name string
		port int
		smtp bool
	}{{"smtp", a.smtpPort, true}, {"https", a.httpsPort, false}} {
		t.Run(svc.name, func(t *testing.T) {
			certs, out := servedChain(t, addr(svc.port), svc.smtp)
			require.Lenf(t, certs, 2, "leaf and intermediate are served:\n%s", out)
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "leaf.pem"), []byte(certs[0]), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "int.pem"), []byte(certs[1]), 0o600))
			v := openssl(t, dir, "verify", "-CAfile", filepath.Join(pki.dir, "root.pem"), "-untrusted", "int.pem", "leaf.pem")
			assert.Contains(t, v, "leaf.pem: OK")

			// Go's TLS client verifies the served chain against the lab root only.
			root, err := os.ReadFile(filepath.Join(pki.dir, "root.pem"))
			require.NoError(t, err)
			pool := x509.NewCertPool()
			require.True(t, pool.AppendCertsFromPEM(root))
			cfg := &tls.Config{RootCAs: pool, ServerName: "mail.e2e.test", MinVersion: tls.VersionTLS12}
			var st tls.ConnectionState
			if svc.smtp {
				c := dialSMTP(t, addr(svc.port))
				st, err = c.startTLS(cfg)
			} else {
				var conn *tls.Conn
				if conn, err = tls.Dial("tcp", addr(svc.port), cfg); err == nil {
					st = conn.ConnectionState()
					conn.Close()
				}
			}
			require.NoError(t, err, "Go verifies the chain")
			require.Len(t, st.VerifiedChains, 1)
			assert.Len(t, st.VerifiedChains[0], 3, "leaf, intermediate, root")
		})
	}
	res = a.cli(t, "certconfig list\n")
	assert.Contains(t, res.stdout, "E2E Test Intermedia", "issuer column, cut to 20 characters")
	assert.Contains(t, res.stdout, "Active")
}

func TestPKCS12ImportAndExport(t *testing.T) {
	requireOpenSSL(t)
	a := startAppliance(t, startOptions{})
	configs := filepath.Join(a.dir, "configs")
	require.NoError(t, os.MkdirAll(configs, 0o700))
	work := t.TempDir()
	openssl(t, work, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "10", "-subj", "/CN=imported.e2e.test")
	openssl(t, work, "pkcs12", "-export", "-in", "c.pem", "-inkey", "k.pem", "-out", filepath.Join(configs, "in.p12"), "-passout", "pass:right-pass")

	keysBefore := keyFiles(t, a.dir)
	res := a.cli(t, "certconfig\ncertificate\nimport\nImp\nin.p12\nwrong-pass\n")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "passphrase")
	assert.NotContains(t, res.stdout, "wrong-pass", "a passphrase is never echoed")
	assert.Equal(t, keysBefore, keyFiles(t, a.dir), "a refused import stores no key")

	res = a.mustCommit(t, "certconfig\ncertificate\nimport\nImp\nin.p12\nright-pass\n\n\ncommit imported\n")
	assert.Contains(t, res.stdout, `Certificate "Imp" imported.`)
	assert.NotContains(t, res.stdout, "right-pass")
	res = a.cli(t, "certconfig print Imp\n")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "Common Name:         imported.e2e.test")
	assert.Contains(t, res.stdout, "Used by:             not used")
	assert.NotContains(t, res.stdout, "PRIVATE KEY")

	// EXPORT through the dialog (passphrase twice), read back by openssl.
	res = a.cli(t, "certconfig\ncertificate\nexport\n2\nout.p12\nexport-pass\nexport-pass\n\n\n")
	require.Equal(t, 0, res.code, res.stderr)
	info := openssl(t, configs, "pkcs12", "-in", "out.p12", "-passin", "pass:export-pass", "-info", "-noenc")
	assert.Contains(t, info, "subject=CN = imported.e2e.test")
	assert.Contains(t, info, "BEGIN PRIVATE KEY")
	assert.Contains(t, info, "PBES2", "modern encryption")
	st, err := os.Stat(filepath.Join(configs, "out.p12"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	res = a.cli(t, "certconfig\ncertificate\nexport\n2\nout2.p12\nexport-pass\nother-pass\n")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "The passphrases do not match")
}

func TestCertificateRefusalsChangeNothing(t *testing.T) {
	requireOpenSSL(t)
	a := startAppliance(t, startOptions{})
	work := t.TempDir()
	openssl(t, work, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k1.pem", "-out", "c1.pem", "-days", "10", "-subj", "/CN=one.e2e.test")
	openssl(t, work, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k2.pem", "-out", "c2.pem", "-days", "10", "-subj", "/CN=two.e2e.test")
	read := func(n string) string {
		b, err := os.ReadFile(filepath.Join(work, n))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	version := a.statusVersion(t)
	keys := keyFiles(t, a.dir)
	tests := []struct{ name, script, want string }{
		{"delete in use", "certconfig delete Demo\n", `certificate "Demo" is in use by listener IncomingMail (inbound TLS), listener OutgoingMail (inbound TLS), interface Management (HTTPS)`},
		{"key does not match", "certconfig\ncertificate\npaste\nX\n" + read("c1.pem") + "\n.\n" + read("k2.pem") + "\n.\nn\n", "key does not sign certificate"},
		{"junk certificate", "certconfig\ncertificate\npaste\nX\nnot a certificate\n.\n" + read("k1.pem") + "\n.\nn\n", "Invalid certificate"},
		{"truncated certificate", "certconfig\ncertificate\npaste\nX\n" + read("c1.pem")[:200] + "\n.\n" + read("k1.pem") + "\n.\nn\n", "Invalid certificate"},
		{"junk key", "certconfig\ncertificate\npaste\nX\n" + read("c1.pem") + "\n.\nnot a key\n.\nn\n", "Invalid private key"},
		{"bad country", "certconfig\ncertificate\nnew\nN\nn.e2e.test\n\n\n\n\nJapan\n", "Country should be a ISO two character country code"},
		{"duplicate name batch", "certconfig new Demo cn=x.e2e.test\n", `Certificate profile "Demo" already exists`},
		{"missing file", "certconfig import X nothere.p12 pass\n", `the file "nothere.p12" does not exist`},
		{"bad CA", "certconfig\ncertauthority\ncustom\npaste\nlab\n" + read("c1.pem")[:100] + "\n.\n", "Could not read PEM data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.cli(t, tt.script)
			assert.Equal(t, 1, res.code, res.stdout)
			assert.Contains(t, res.stderr, tt.want)
			assert.Equal(t, version, a.statusVersion(t), "nothing committed")
			assert.Equal(t, keys, keyFiles(t, a.dir), "no key stored")
		})
	}
	res := a.cli(t, "certconfig new Good cn=good.e2e.test c=fr days=30 key=ecdsa256\ncertconfig list\nclearchanges confirm\n")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "good.e2e.test")
}
