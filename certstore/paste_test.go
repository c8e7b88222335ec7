package certstore

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFromPEM(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	p.leaf("other", "other.example.test", "int2")
	p.leaf("stranger", "stranger.example.test", "root")
	p.issue("fake2", "/O=Relaybox Tests/CN=Relaybox Test Int 2", "root", p.path("ca.ext"))
	key := p.read("leaf.key")
	full := []string{"leaf.example.test", "Relaybox Test Int 2", "Relaybox Test Int 1"}

	ok := []struct {
		name     string
		pem      string
		want     []string
		warnings []string
	}{
		{"in order", p.cat("leaf.pem", "int2.pem", "int1.pem"), full, nil},
		{"intermediates out of order", p.cat("leaf.pem", "int1.pem", "int2.pem"), full, []string{"out of order"}},
		{"leaf pasted last", p.cat("int1.pem", "int2.pem", "leaf.pem"), full, []string{"out of order"}},
		{"leaf alone", p.cat("leaf.pem"), full[:1], nil},
		{"duplicates dropped", p.cat("leaf.pem", "int2.pem", "int2.pem", "leaf.pem", "int1.pem"), full, nil},
		{"root included", p.cat("leaf.pem", "root.pem", "int2.pem", "int1.pem"), append(full, "Relaybox Test Root"), []string{"self-signed root", "out of order"}},
		{"text around the blocks", "subject=CN=leaf\r\n" + strings.ReplaceAll(p.cat("leaf.pem", "int2.pem"), "\n", "\r\n") + "trailing words\n", full[:2], nil},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			p := p.with(t)
			ks := newTestKeyStore(t)
			c, warnings, err := ks.FromPEM("pasted", tt.pem, key)
			require.NoError(t, err)
			assert.Equal(t, tt.want, subjects(t, c.PEM))
			require.Len(t, warnings, len(tt.warnings), "%q", warnings)
			for i, w := range tt.warnings {
				assert.Contains(t, warnings[i], w)
			}
			assert.Len(t, keyFiles(t, ks), 1)
			_, err = ks.TLSCertificate(c)
			require.NoError(t, err)
			if len(tt.want) >= 3 {
				p.verify(c.PEM)
			}
		})
	}

	bad := []struct {
		name, pem, key, want string
	}{
		{"mismatched key", p.cat("leaf.pem", "int2.pem"), p.read("other.key"), "key does not sign certificate"},
		{"key of an intermediate", p.cat("leaf.pem"), p.read("int2.key"), "key does not sign certificate"},
		{"unrelated certificate", p.cat("leaf.pem", "int2.pem", "int1.pem", "stranger.pem"), key, `"stranger.example.test" (issued by "Relaybox Test Root") is not in the chain of "leaf.example.test"`},
		{"missing intermediate", p.cat("leaf.pem", "int1.pem"), key, "is not in the chain"},
		{"impostor intermediate", p.cat("leaf.pem", "fake2.pem"), key, `intermediate "Relaybox Test Int 2" has the issuer name of "leaf.example.test" but did not sign it`},
		{"impostor beside the real intermediate", p.cat("leaf.pem", "fake2.pem", "int2.pem", "int1.pem"), key, `"Relaybox Test Int 2" (issued by "Relaybox Test Root") is not in the chain`},
		{"junk certificate", "this is not a certificate", key, "Invalid certificate: the text holds no complete PEM CERTIFICATE block (paste from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----)...discarding"},
		{"truncated certificate", p.read("leaf.pem")[:200], key, "damaged or truncated"},
		{"key pasted as certificate", key, key, "that is the private key"},
		{"junk key", p.read("leaf.pem"), "not a key", "Invalid private key: the text holds no complete PEM private key block"},
		{"certificate pasted as key", p.read("leaf.pem"), p.read("leaf.pem"), "is a CERTIFICATE, not a private key"},
		{"bad name", p.read("leaf.pem"), key, "is not allowed"},
		{"too many certificates", p.read("leaf.pem") + strings.Repeat(p.read("fake2.pem"), 17), key, "17 certificates came with \"leaf.example.test\"; a chain has at most 16"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			ks := newTestKeyStore(t)
			name := "pasted"
			if tt.name == "bad name" {
				name = "_x"
			}
			_, _, err := ks.FromPEM(name, tt.pem, tt.key)
			require.ErrorContains(t, err, tt.want)
			assert.Empty(t, keyFiles(t, ks), "a refusal stores no key")
		})
	}
}

func TestParseCertificates(t *testing.T) {
	p := newPKI(t)
	leaf := p.read("int1.pem")
	body := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(leaf), "-----BEGIN CERTIFICATE-----"), "-----END CERTIFICATE-----"))
	tests := []struct {
		name, text, want string
		n                int
	}{
		{"one", leaf, "", 1},
		{"openssl -text output", p.ossl("x509", "-in", "int1.pem", "-text"), "", 1},
		{"CRLF", strings.ReplaceAll(leaf, "\n", "\r\n"), "", 1},
		{"two", p.cat("int1.pem", "int2.pem"), "", 2},
		{"empty", " \n", "the text is empty", 0},
		{"junk", "hello world", "no complete PEM CERTIFICATE block", 0},
		{"base64 without armour", body, "no complete PEM CERTIFICATE block", 0},
		{"no END line", "-----BEGIN CERTIFICATE-----\n" + body, "PEM block 1 (\"CERTIFICATE\") is damaged or truncated", 0},
		{"damaged base64", strings.Replace(leaf, "M", "!", 3), "damaged or truncated", 0},
		{"damaged block before a good one", strings.Replace(leaf, "M", "!", 3) + leaf, "PEM block 1", 0},
		{"good block then truncated one", leaf + leaf[:100], "PEM block 2", 0},
		{"private key", p.read("int1.key"), "is a \"PRIVATE KEY\" block, not a CERTIFICATE (that is the private key", 0},
		{"request", p.read("int1.csr"), "that is the signing request", 0},
		{"DER bytes in a CERTIFICATE block", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "is not an X.509 certificate", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCertificates(tt.text)
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				assert.True(t, strings.HasPrefix(err.Error(), "Invalid certificate: "), err.Error())
				assert.True(t, strings.HasSuffix(err.Error(), "...discarding"), err.Error())
				return
			}
			require.NoError(t, err)
			assert.Len(t, certs, tt.n)
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	p := newPKI(t)
	p.ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key")
	tests := []struct {
		name, args, want string
		keyType          string
	}{
		{"PKCS#8 RSA", "pkey -in rsa.key", "", "RSA 2048"},
		{"PKCS#1 RSA", "rsa -in rsa.key -traditional", "", "RSA 2048"},
		{"PKCS#8 EC", "pkey -in int1.key", "", "ECDSA P-256"},
		{"SEC1 EC", "ec -in int1.key", "", "ECDSA P-256"},
		{"SEC1 EC with parameters", "ecparam -name secp384r1 -genkey", "", "ECDSA P-384"},
		{"Ed25519", "genpkey -algorithm ed25519", "", "Ed25519"},
		{"encrypted PKCS#8", "pkey -in rsa.key -aes256 -passout pass:secret", "the key is encrypted; paste the unencrypted key", ""},
		{"encrypted PKCS#1", "rsa -in rsa.key -traditional -aes256 -passout pass:secret", "the key is encrypted; paste the unencrypted key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := p.with(t)
			text := p.ossl(strings.Fields(tt.args)...)
			key, err := ParsePrivateKey(text)
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				assert.True(t, strings.HasPrefix(err.Error(), "Invalid private key: "), err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.keyType, keyType(key.Public()))
		})
	}
	for text, want := range map[string]string{
		"":                            "the text is empty",
		"junk":                        "no complete PEM private key block",
		p.read("int1.pem"):            "is a CERTIFICATE, not a private key",
		p.cat("int1.key", "int2.key"): "holds 2 PEM blocks",
		p.read("int1.key")[:120]:      "damaged or truncated",
		p.read("int1.csr"):            `"CERTIFICATE REQUEST" block, not a private key`,
		strings.Replace(p.read("int1.key"), "M", "A", 5): "does not decode",
	} {
		_, err := ParsePrivateKey(text)
		require.ErrorContains(t, err, want)
	}
}

func TestWeakSignaturesAndExpiry(t *testing.T) {
	p := newPKI(t)
	// A SHA-1 self-signed certificate, like the old appliance demo certificates.
	p.ossl("req", "-x509", "-sha1", "-newkey", "rsa:2048", "-nodes", "-keyout", "sha1self.key", "-out", "sha1self.pem",
		"-subj", "/CN=sha1.example.test", "-days", "365")
	// A SHA-1 leaf under a SHA-256 intermediate: the link is checked by hand.
	p.leaf("sha1leaf", "sha1leaf.example.test", "int2", "-sha1")
	now := time.Now()
	expired, expiredKey := goCert(t, "old.example.test", now.Add(-60*24*time.Hour), now.Add(-2*24*time.Hour))
	soon, soonKey := goCert(t, "soon.example.test", now.Add(-time.Hour), now.Add(10*24*time.Hour+time.Hour))
	future, futureKey := goCert(t, "future.example.test", now.Add(48*time.Hour), now.Add(480*time.Hour))

	tests := []struct {
		name, pem, key string
		want           []string
	}{
		{"SHA-1 self-signed", p.read("sha1self.pem"), p.read("sha1self.key"), []string{`certificate "sha1.example.test" is signed with SHA-1 (SHA1-RSA): TLS 1.2 peers`, "replace it with a SHA-256 certificate"}},
		{"SHA-1 leaf under an intermediate", p.cat("sha1leaf.pem", "int2.pem", "int1.pem"), p.read("sha1leaf.key"), []string{`certificate "sha1leaf.example.test" is signed with SHA-1 (ECDSA-SHA1)`}},
		{"expired", expired, expiredKey, []string{`certificate "old.example.test" expired on`, "(2 days ago): renew it"}},
		{"expiring soon", soon, soonKey, []string{"expires on", "in 10 days: renew it soon"}},
		{"not yet valid", future, futureKey, []string{"is not valid until"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := newTestKeyStore(t)
			c, warnings, err := ks.FromPEM("weak", tt.pem, tt.key)
			require.NoError(t, err, "weak or expired certificates are accepted with a warning")
			require.Len(t, warnings, 1, "%q", warnings)
			for _, w := range tt.want {
				assert.Contains(t, warnings[0], w)
			}
			assert.Equal(t, warnings, Warnings(c, nil, nil, now))
			_, err = ks.TLSCertificate(c)
			require.NoError(t, err)
		})
	}
}

func TestWarningsRootsAndHosts(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	ks := newTestKeyStore(t)
	c, warnings, err := ks.FromPEM("leaf", p.cat("leaf.pem", "int2.pem", "int1.pem"), p.read("leaf.key"))
	require.NoError(t, err)
	require.Empty(t, warnings)
	roots, err := TrustPool(trustRoot(t, p, true))
	require.NoError(t, err)
	now := time.Now()
	assert.Empty(t, Warnings(c, roots, []string{"leaf.example.test", "LEAF.example.test."}, now))

	w := Warnings(c, roots, []string{"mail.example.test"}, now)
	assert.Equal(t, []string{`certificate "leaf": CN/SAN does not match host name mail.example.test (it names CN leaf.example.test, leaf.example.test)`}, w)

	empty, err := TrustPool(trustRoot(t, p, false))
	require.NoError(t, err)
	w = Warnings(c, empty, nil, now)
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "the chain does not verify against the trusted authorities")

	short := c
	short.PEM = p.read("leaf.pem")
	w = Warnings(short, roots, nil, now)
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "add the missing intermediates")

	w = Warnings(c, roots, nil, now.Add(400*24*time.Hour))
	assert.Len(t, w, 4, "leaf and both intermediates expired, so the chain does not verify: %q", w)

	// The CN counts as well as the SANs, as in the AsyncOS FQDN check.
	demo, err := ks.Demo("box.example.test")
	require.NoError(t, err)
	assert.Empty(t, Warnings(demo, nil, []string{"box.example.test", "localhost"}, now))

	broken := c
	broken.PEM = "junk"
	assert.Contains(t, Warnings(broken, nil, nil, now)[0], `certificate "leaf" cannot be read`)
}

// TestWeakLinks checks MD5/SHA-1 links by hand, which crypto/x509 refuses.
func TestWeakLinks(t *testing.T) {
	p := newPKI(t)
	p.leaf("rsasha1", "rsasha1.example.test", "root", "-sha1") // RSA root, SHA-1 signature
	p.leaf("ecsha1", "ecsha1.example.test", "int2", "-sha1")   // ECDSA intermediate, SHA-1 signature
	p.leaf("rsamd5", "rsamd5.example.test", "root", "-md5")    // RSA root, MD5 signature
	certs := map[string]*x509.Certificate{}
	for _, n := range []string{"root", "int1", "int2", "rsasha1", "ecsha1", "rsamd5"} {
		cs, err := ParseCertificates(p.read(n + ".pem"))
		require.NoError(t, err)
		certs[n] = cs[0]
	}
	require.Equal(t, x509.MD5WithRSA, certs["rsamd5"].SignatureAlgorithm)
	tests := []struct {
		child, parent string
		weak, ok      bool
	}{
		{"rsasha1", "root", true, true},
		{"ecsha1", "int2", true, true},
		{"rsamd5", "root", true, true},
		{"rsasha1", "int1", true, false},
		{"ecsha1", "int1", true, false},
		{"rsamd5", "int2", true, false},
		{"int2", "int1", false, true},
		{"int2", "root", false, false},
	}
	for _, tt := range tests {
		weak, err := checkSignature(certs[tt.child], certs[tt.parent])
		assert.Equal(t, tt.weak, weak, "%s by %s", tt.child, tt.parent)
		assert.Equal(t, tt.ok, err == nil, "%s by %s: %v", tt.child, tt.parent, err)
	}
	// The leaf is not a CA, so nothing it "signed" is accepted.
	_, err := checkSignature(certs["ecsha1"], certs["rsasha1"])
	require.ErrorContains(t, err, "not a certificate authority")

	ks := newTestKeyStore(t)
	c, warnings, err := ks.FromPEM("md5", p.cat("rsamd5.pem", "root.pem"), p.read("rsamd5.key"))
	require.NoError(t, err)
	assert.Equal(t, []string{"Relaybox Test Root"}, subjects(t, c.PEM)[1:])
	require.Len(t, warnings, 2, "%q", warnings)
	assert.Contains(t, warnings[0], "self-signed root")
	assert.Contains(t, warnings[1], "is signed with MD5 (MD5-RSA)")
}
