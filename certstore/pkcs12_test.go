package certstore

import (
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"
)

func TestImportPKCS12(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	p.leaf("stranger", "stranger.example.test", "root")
	full := []string{"leaf.example.test", "Relaybox Test Int 2", "Relaybox Test Int 1"}
	export := func(out string, extra ...string) []byte {
		args := append([]string{"pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-passout", "pass:s3cret", "-out", out}, extra...)
		p.ossl(args...)
		b, err := os.ReadFile(p.path(out))
		require.NoError(t, err)
		return b
	}
	// go-pkcs12 writes the certificate it is given first, so this file's
	// first certificate bag is an intermediate, not the key's certificate.
	key, err := ParsePrivateKey(p.read("leaf.key"))
	require.NoError(t, err)
	chain, err := ParseCertificates(p.cat("int1.pem", "leaf.pem", "int2.pem"))
	require.NoError(t, err)
	leafNotFirst, err := pkcs12.Modern2023.Encode(key, chain[0], chain[1:], "s3cret")
	require.NoError(t, err)

	tests := []struct {
		name     string
		data     []byte
		want     []string
		warnings []string
	}{
		{"OpenSSL default (AES), chain root first", export("aes.p12", "-certfile", p.write("chain-rev.pem", p.cat("root.pem", "int1.pem", "int2.pem"))),
			append(full, "Relaybox Test Root"), []string{"self-signed root"}},
		{"OpenSSL default, intermediates only", export("int.p12", "-certfile", p.write("chain.pem", p.cat("int1.pem", "int2.pem"))), full, nil},
		{"leaf is not the first bag", leafNotFirst, full, nil},
		{"unrelated certificate dropped", export("extra.p12", "-certfile", p.write("chain-x.pem", p.cat("int2.pem", "stranger.pem", "int1.pem"))), full,
			[]string{`"stranger.example.test" (issued by "Relaybox Test Root") is not in the chain of "leaf.example.test" and was left out`}},
		// Debian's OpenSSL 3.0 ships the legacy provider (ossl-modules/legacy.so), so -legacy (RC2/3DES) files can be made.
		{"OpenSSL -legacy", export("legacy.p12", "-legacy", "-certfile", p.path("chain.pem")), full, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := p.with(t)
			ks := newTestKeyStore(t)
			c, warnings, err := ks.ImportPKCS12(t.Context(), "imported", tt.data, "s3cret")
			require.NoError(t, err)
			assert.Equal(t, tt.want, subjects(t, c.PEM))
			require.Len(t, warnings, len(tt.warnings), "%q", warnings)
			for i, w := range tt.warnings {
				assert.Contains(t, warnings[i], w)
			}
			assert.Len(t, keyFiles(t, ks), 1)
			_, err = ks.TLSCertificate(c)
			require.NoError(t, err)
			p.verify(c.PEM)
		})
	}

	good := tests[1].data
	bad := []struct {
		name       string
		data       []byte
		passphrase string
		want       string
	}{
		{"wrong passphrase", good, "wrong", `wrong passphrase for the PKCS#12 file for "imported"`},
		{"empty passphrase", good, "", "wrong passphrase"},
		{"empty file", nil, "s3cret", "is empty"},
		{"junk", []byte("this is not a PKCS#12 file"), "s3cret", "is not a PKCS#12 file, or it is damaged"},
		{"PEM instead of PKCS#12", []byte(p.read("leaf.pem")), "s3cret", "is PEM text, not a PKCS#12 file: paste the certificate and key with PASTE"},
		{"truncated", good[:len(good)/2], "s3cret", "is not a PKCS#12 file, or it is damaged"},
		{"certificates only", p12NoKey(t, p), "s3cret", "holds certificates but no private key"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			ks := newTestKeyStore(t)
			_, _, err := ks.ImportPKCS12(t.Context(), "imported", tt.data, tt.passphrase)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, keyFiles(t, ks), "a refused import stores no key")
		})
	}
	_, _, err = newTestKeyStore(t).ImportPKCS12(t.Context(), "1bad", good, "s3cret")
	require.ErrorContains(t, err, "is not allowed")
}

// p12NoKey is a PKCS#12 file with certificates but no key (openssl -nokeys).
func p12NoKey(t *testing.T, p *testPKI) []byte {
	t.Helper()
	p.ossl("pkcs12", "-export", "-nokeys", "-in", "leaf.pem", "-passout", "pass:s3cret", "-out", "nokey.p12")
	b, err := os.ReadFile(p.path("nokey.p12"))
	require.NoError(t, err)
	return b
}

func TestExportPKCS12(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	ks := newTestKeyStore(t)
	c, _, err := ks.FromPEM("exported", p.cat("leaf.pem", "int2.pem", "int1.pem"), p.read("leaf.key"))
	require.NoError(t, err)
	rsa, err := ks.NewRequest(Request{Name: "rsa", CommonName: "rsa.example.test", Country: "US", Days: 30, KeyType: "rsa", KeyBits: 2048})
	require.NoError(t, err)

	for _, cert := range []struct {
		name  string
		n     int
		wants string
	}{
		{name: "ECDSA with chain", n: 3, wants: "leaf.example.test"},
		{name: "RSA self-signed", n: 1, wants: "rsa.example.test"},
	} {
		t.Run(cert.name, func(t *testing.T) {
			p := p.with(t)
			src := c
			if cert.n == 1 {
				src = rsa
			}
			data, err := ks.ExportPKCS12(src, "pa55 word")
			require.NoError(t, err)
			file := p.write(strings.ReplaceAll(cert.name, " ", "_")+".p12", string(data))

			out := p.ossl("pkcs12", "-in", file, "-info", "-nokeys", "-passin", "pass:pa55 word")
			assert.Contains(t, out, "PBES2, PBKDF2, AES-256-CBC")
			assert.Contains(t, out, "MAC: sha256")
			assert.Equal(t, cert.n, strings.Count(out, "-----BEGIN CERTIFICATE-----"))
			assert.Contains(t, out, cert.wants)

			out = p.ossl("pkcs12", "-in", file, "-nocerts", "-noenc", "-passin", "pass:pa55 word")
			key, err := ParsePrivateKey(out[strings.Index(out, "-----BEGIN"):])
			require.NoError(t, err)
			ref, err := KeyRef(key.Public())
			require.NoError(t, err)
			assert.Equal(t, src.Key, ref, "openssl reads back the stored key")

			// And it imports again, chain in the same order.
			again, _, err := newTestKeyStore(t).ImportPKCS12(t.Context(), "again", data, "pa55 word")
			require.NoError(t, err)
			assert.Equal(t, src.PEM, again.PEM)
			assert.Equal(t, src.Key, again.Key)
		})
	}

	_, err = ks.ExportPKCS12(c, "")
	require.ErrorContains(t, err, "an empty passphrase is refused")
	mixed := c
	mixed.Key = rsa.Key
	_, err = ks.ExportPKCS12(mixed, "x")
	require.ErrorContains(t, err, "does not match its private key")
	broken := c
	broken.PEM = "junk"
	_, err = ks.ExportPKCS12(broken, "x")
	require.ErrorContains(t, err, `exporting "exported": Invalid certificate`)
}

func TestInspect(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	ks := newTestKeyStore(t)
	c, _, err := ks.FromPEM("leaf", p.cat("leaf.pem", "int2.pem", "int1.pem"), p.read("leaf.key"))
	require.NoError(t, err)
	info, err := Inspect(c)
	require.NoError(t, err)
	assert.Equal(t, "leaf", info.Name)
	assert.Equal(t, "leaf.example.test", info.CommonName)
	assert.Equal(t, "Relaybox Test Int 2", info.IssuedBy)
	assert.Equal(t, []string{"leaf.example.test"}, info.DNSNames)
	assert.Equal(t, x509.ECDSAWithSHA256.String(), info.SignatureAlgorithm)
	assert.Equal(t, "ECDSA P-256", info.KeyType)
	assert.Equal(t, 3, info.ChainLength)
	assert.False(t, info.Pending)
	assert.False(t, info.SelfSigned)
	fp := p.ossl("x509", "-in", "leaf.pem", "-noout", "-fingerprint", "-sha256")
	assert.Equal(t, "sha256 Fingerprint="+info.SHA256Fingerprint, strings.TrimSpace(fp))
	serial := p.ossl("x509", "-in", "leaf.pem", "-noout", "-serial")
	assert.Equal(t, "serial="+info.SerialHex, strings.TrimSpace(serial))

	demo, err := ks.Demo("box.example.test")
	require.NoError(t, err)
	info, err = Inspect(demo)
	require.NoError(t, err)
	assert.True(t, info.SelfSigned)
	assert.Equal(t, "RSA 2048", info.KeyType)
	assert.Equal(t, []string{"127.0.0.1", "::1"}, info.IPs)

	c.PEM = "junk"
	_, err = Inspect(c)
	require.ErrorContains(t, err, `certificate "leaf": Invalid certificate`)
}

func TestRemainingDays(t *testing.T) {
	end := time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)
	info := Info{NotAfter: end}
	tests := []struct {
		now  time.Time
		want int
	}{
		{end, 0},
		{end.Add(-time.Second), 0},
		{end.Add(-24 * time.Hour), 1},
		{end.Add(-36 * time.Hour), 1},
		{end.Add(-303*24*time.Hour - time.Minute), 303},
		{end.Add(time.Second), -1},
		{end.Add(24 * time.Hour), -1},
		{end.Add(25 * time.Hour), -2},
		{end.AddDate(-300, 0, 0), 109573},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, info.RemainingDays(tt.now), "now %s", tt.now)
	}
}
