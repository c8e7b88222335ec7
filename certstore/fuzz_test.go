package certstore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"
)

// FuzzParseCertificates: any pasted text gives certificates or an error in
// certconfig's wording, never a panic. Seeds: testdata/fuzz/FuzzParseCertificates.
func FuzzParseCertificates(f *testing.F) {
	f.Add("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
	f.Fuzz(func(t *testing.T, text string) {
		certs, err := ParseCertificates(text)
		if err != nil {
			require.Nil(t, certs)
			require.True(t, strings.HasPrefix(err.Error(), "Invalid certificate: "), err.Error())
			require.True(t, strings.HasSuffix(err.Error(), "...discarding"), err.Error())
			return
		}
		require.NotEmpty(t, certs)
		for _, c := range certs {
			require.NotNil(t, c)
		}
	})
}

// fuzzMaxIterations is the iteration cap of FuzzImportPKCS12: the seeds use
// 2048, and a mutated count up to the real cap (maxPKCS12Iterations) would
// cost up to a second per input and leave the fuzzer nearly idle.
const fuzzMaxIterations = 4096

// FuzzImportPKCS12: any file and passphrase gives a certificate or an error,
// never a panic, and an error leaves the key directory as it was. A file is
// refused for its iteration counts exactly when one is over the cap.
// Seeds: testdata/fuzz/FuzzImportPKCS12 (OpenSSL AES and -legacy files,
// go-pkcs12 files including PBMAC1, files with a 2^31 count in the MAC, the
// key bag or the encrypted part, damaged and foreign data).
func FuzzImportPKCS12(f *testing.F) {
	f.Add([]byte("0\x82\x01\x00"), "")
	lim := pkcs12Limits{size: maxPKCS12Size, iterations: fuzzMaxIterations}
	f.Fuzz(func(t *testing.T, data []byte, passphrase string) {
		ks, err := NewKeyStore(afero.NewMemMapFs(), "/data")
		require.NoError(t, err)
		c, _, err := ks.importPKCS12(t.Context(), "fuzz", data, passphrase, lim)
		files := keyFiles(t, ks)
		where, n := pkcs12MaxIterations(data)
		refused := len(data) > 0 && len(data) <= lim.size && n > lim.iterations
		if err != nil {
			require.Empty(t, files, "a refused import writes no key file")
			require.Equal(t, refused, strings.Contains(err.Error(), "key-derivation iterations"), "%d iterations at %s: %v", n, where, err)
			return
		}
		require.False(t, refused, "imported with %d iterations at %s", n, where)
		require.Equal(t, []string{c.Key + ".pem"}, files)
		_, err = ks.TLSCertificate(c)
		require.NoError(t, err)
	})
}

// TestWriteFuzzCorpus regenerates the committed seed corpora from a fresh
// openssl test PKI when RELAYBOX_WRITE_FUZZ_CORPUS=1; otherwise it is skipped.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RELAYBOX_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set RELAYBOX_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz")
	}
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	leaf := p.read("leaf.pem")
	texts := map[string]string{
		"one":       leaf,
		"chain":     p.cat("leaf.pem", "int2.pem", "int1.pem"),
		"text":      p.ossl("x509", "-in", "leaf.pem", "-text"),
		"crlf":      strings.ReplaceAll(leaf, "\n", "\r\n"),
		"truncated": leaf[:len(leaf)/2],
		"damaged":   strings.Replace(leaf, "M", "!", 2),
		"key":       p.read("leaf.key"),
		"csr":       p.read("leaf.csr"),
		"headers":   strings.Replace(leaf, "-----\n", "-----\nProc-Type: 4,ENCRYPTED\n\n", 1),
		"armour":    "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
		"junk":      "hello, world",
		"empty":     "",
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseCertificates")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, text := range texts {
		writeSeed(t, filepath.Join(dir, name), fmt.Sprintf("string(%q)\n", text))
	}

	p.write("chain.pem", p.cat("int1.pem", "int2.pem"))
	export := func(out string, extra ...string) []byte {
		p.ossl(append([]string{"pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "chain.pem", "-passout", "pass:s3cret", "-out", out}, extra...)...)
		b, err := os.ReadFile(p.path(out))
		require.NoError(t, err)
		return b
	}
	key, err := ParsePrivateKey(p.read("leaf.key"))
	require.NoError(t, err)
	certs, err := ParseCertificates(p.cat("int2.pem", "leaf.pem", "int1.pem"))
	require.NoError(t, err)
	goP12, err := pkcs12.Modern2023.Encode(key, certs[0], certs[1:], "")
	require.NoError(t, err)
	desP12, err := pkcs12.LegacyDES.Encode(key, certs[1], certs[:1], "s3cret")
	require.NoError(t, err)
	aes := export("aes.p12")
	legacy := export("legacy.p12", "-legacy")
	pbmac1, err := pkcs12.Modern2026.Encode(key, certs[1], certs[:1], "s3cret")
	require.NoError(t, err)
	noMAC := export("nomac.p12", "-nomac", "-passout", "pass:")
	p.ossl("pkcs12", "-export", "-nokeys", "-in", "leaf.pem", "-passout", "pass:s3cret", "-out", "nokey.p12")
	nokey, err := os.ReadFile(p.path("nokey.p12"))
	require.NoError(t, err)
	files := []struct {
		name string
		data []byte
		pass string
	}{
		{"openssl-aes", aes, "s3cret"},
		{"openssl-aes-wrong-passphrase", aes, "wrong"},
		{"openssl-legacy", legacy, "s3cret"},
		{"openssl-nomac-empty-passphrase", noMAC, ""},
		{"go-pbmac1", pbmac1, "s3cret"},
		{"openssl-aes-mac-huge-iterations", setIterations(t, aes, "s3cret", partMAC, hugeIterations), "s3cret"},
		{"openssl-aes-key-huge-iterations", setIterations(t, aes, "s3cret", partKey, hugeIterations), "s3cret"},
		{"openssl-legacy-encrypted-huge-iterations", setIterations(t, legacy, "s3cret", partEncrypted, hugeIterations), "s3cret"},
		{"go-pbmac1-huge-iterations", setIterations(t, pbmac1, "s3cret", partMAC, hugeIterations), "s3cret"},
		{"go-modern-leaf-not-first-empty-passphrase", goP12, ""},
		{"go-legacy-des", desP12, "s3cret"},
		{"no-key", nokey, "s3cret"},
		{"truncated", aes[:len(aes)/2], "s3cret"},
		{"pem", []byte(leaf), "s3cret"},
		{"junk", []byte("not a pkcs12 file"), "x"},
	}
	dir = filepath.Join("testdata", "fuzz", "FuzzImportPKCS12")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range files {
		writeSeed(t, filepath.Join(dir, f.name), fmt.Sprintf("[]byte(%q)\nstring(%q)\n", f.data, f.pass))
	}
}

// writeSeed writes one file of Go's fuzz corpus format.
func writeSeed(t *testing.T, path, values string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte("go test fuzz v1\n"+values), 0o644))
}
