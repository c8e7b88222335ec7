package certstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"hash"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"software.sslmate.com/src/go-pkcs12"
)

// hugeIterations is the MAC iteration count of the file that pinned a core
// for about seven minutes per import.
const hugeIterations = 1 << 31

// p12Files are real PKCS#12 files made from one test PKI, as the cap tests use them.
type p12Files struct {
	pki *testPKI
	// aes is `openssl pkcs12 -export` (PBES2/AES, MAC SHA-256), passphrase s3cret.
	aes []byte
	// pbmac1 is go-pkcs12's Modern2026 (PBES2/AES, PBMAC1), passphrase s3cret.
	pbmac1 []byte
	// legacy is `openssl pkcs12 -export -legacy` (3DES key, RC2 certificates, MAC SHA-1), passphrase s3cret.
	legacy []byte
	// noMAC is `openssl pkcs12 -export -nomac` with an empty passphrase: no
	// MAC, and the certificates are not encrypted.
	noMAC []byte
}

func newP12Files(t *testing.T) *p12Files {
	t.Helper()
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	p.write("chain.pem", p.cat("int1.pem", "int2.pem"))
	key, err := ParsePrivateKey(p.read("leaf.key"))
	require.NoError(t, err)
	chain, err := ParseCertificates(p.cat("leaf.pem", "int2.pem", "int1.pem"))
	require.NoError(t, err)
	pbmac1, err := pkcs12.Modern2026.Encode(key, chain[0], chain[1:], "s3cret")
	require.NoError(t, err)
	return &p12Files{
		pki:    p,
		aes:    opensslP12(t, p, "aes.p12", "-passout", "pass:s3cret"),
		pbmac1: pbmac1,
		legacy: opensslP12(t, p, "legacy.p12", "-passout", "pass:s3cret", "-legacy"),
		noMAC:  opensslP12(t, p, "nomac.p12", "-passout", "pass:", "-nomac"),
	}
}

// opensslP12 exports leaf.key, leaf.pem and chain.pem with `openssl pkcs12
// -export` and the extra arguments, and returns the file.
func opensslP12(t *testing.T, p *testPKI, out string, extra ...string) []byte {
	t.Helper()
	p.ossl(append([]string{"pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "chain.pem", "-out", out}, extra...)...)
	b, err := os.ReadFile(p.path(out))
	require.NoError(t, err)
	return b
}

// TestImportPKCS12IterationCaps: a real file with one count raised past the
// cap (MAC, PBMAC1, key bag, encrypted part; PBES2 and PKCS#12 PBE) is
// refused in milliseconds, naming the place and the fix, and stores no key.
func TestImportPKCS12IterationCaps(t *testing.T) {
	files := newP12Files(t)
	tests := []struct {
		name       string
		file       []byte
		passphrase string
		part       p12Part
		n          int
		want       string
	}{
		{"MAC iterations 2^31 (the incident)", files.aes, "s3cret", partMAC, hugeIterations,
			"asks for 2147483648 key-derivation iterations for its integrity MAC, more than the 1000000 this box allows"},
		{"MAC (SHA-1, -legacy) iterations 2^31", files.legacy, "s3cret", partMAC, hugeIterations, "iterations for its integrity MAC,"},
		{"PBMAC1 PBKDF2 iterations 2^31", files.pbmac1, "s3cret", partMAC, hugeIterations, "iterations for its integrity MAC (PBMAC1)"},
		{"PBKDF2 iterations 2^31 in the shrouded key bag", files.aes, "s3cret", partKey, hugeIterations, "iterations for its private key"},
		{"PKCS#12 PBE (3DES) iterations 2^31 in the shrouded key bag", files.legacy, "s3cret", partKey, hugeIterations, "iterations for its private key"},
		{"PBKDF2 iterations 2^31 in the key bag of a file without MAC", files.noMAC, "", partKey, hugeIterations, "iterations for its private key"},
		{"PBKDF2 iterations 2^31 in the encryptedData", files.aes, "s3cret", partEncrypted, hugeIterations, "iterations for an encrypted part of it (usually its certificates)"},
		{"PKCS#12 PBE (RC2) iterations 2^31 in the encryptedData", files.legacy, "s3cret", partEncrypted, hugeIterations, "iterations for an encrypted part of it"},
		{"one over the cap", files.aes, "s3cret", partKey, maxPKCS12Iterations + 1, "asks for 1000001 key-derivation iterations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The file as made imports: only the changed count is refused.
			c, _, err := newTestKeyStore(t).ImportPKCS12(t.Context(), "control", tt.file, tt.passphrase)
			require.NoError(t, err)
			require.NotEmpty(t, c.Key)

			// Except for the MAC's own count, the file stays valid (its MAC is
			// computed again): without the cap, the decoder would run the
			// 2^31 iterations (minutes), then import it.
			data := setIterations(t, tt.file, tt.passphrase, tt.part, tt.n)
			ks := newTestKeyStore(t)
			elapsed, err := importWithin(t, t.Context(), ks, data, tt.passphrase, 5*time.Second)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `the PKCS#12 file for "imported" asks for `)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "export it again with a normal iteration count, e.g. openssl pkcs12 -export -iter 2048")
			assert.Less(t, elapsed, time.Second, "refused before any key derivation")
			assert.Empty(t, keyFiles(t, ks), "a refused import stores no key")
		})
	}
}

// TestCheckPKCS12Limits: the walk finds each count of OpenSSL's AES and
// -legacy files, allows the cap itself, and leaves what it cannot read alone.
func TestCheckPKCS12Limits(t *testing.T) {
	files := newP12Files(t)
	lim := pkcs12Limits{size: maxPKCS12Size, iterations: maxPKCS12Iterations}
	for _, file := range []struct {
		name string
		data []byte
	}{{"aes", files.aes}, {"legacy", files.legacy}} {
		for _, part := range []p12Part{partMAC, partKey, partEncrypted} {
			t.Run(file.name+" "+string(part), func(t *testing.T) {
				// Rewriting with the count OpenSSL wrote gives the same bytes (MAC
				// included), so the files the other tests use differ from real
				// ones only in the count.
				require.Equal(t, file.data, setIterations(t, file.data, "s3cret", part, 2048))
				at := setIterations(t, file.data, "s3cret", part, maxPKCS12Iterations)
				require.NoError(t, checkPKCS12Limits("x", at, lim), "the cap itself is allowed")
				over := setIterations(t, file.data, "s3cret", part, maxPKCS12Iterations+1)
				require.ErrorContains(t, checkPKCS12Limits("x", over, lim), "1000001 key-derivation iterations")
			})
		}
	}
	where, n := pkcs12MaxIterations(files.aes)
	assert.Equal(t, 2048, n, "OpenSSL 3's default, found at %s", where)
	// Structures the walk cannot read are left to the decoder's own messages.
	for _, data := range [][]byte{nil, []byte("junk"), files.aes[:len(files.aes)/2], []byte(files.pki.read("leaf.pem"))} {
		require.NoError(t, checkPKCS12Limits("x", data, lim))
	}
	require.ErrorContains(t, checkPKCS12Limits("x", make([]byte, 2048), pkcs12Limits{size: 1024, iterations: 1}), "is 2048 bytes, more than the 1 KiB this box reads")
}

// TestImportPKCS12Oversized: a real export over 1 MiB is refused unread.
func TestImportPKCS12Oversized(t *testing.T) {
	p := newPKI(t)
	p.leaf("leaf", "leaf.example.test", "int2")
	// A real export that only grows big: the chain plus one intermediate
	// repeated until the file passes 1 MiB (go-pkcs12 would read it).
	n := 2 * maxPKCS12Size / len(p.read("int1.pem"))
	p.write("chain.pem", p.cat("int1.pem", "int2.pem")+strings.Repeat(p.read("int1.pem"), n))
	data := opensslP12(t, p, "big.p12", "-passout", "pass:s3cret")
	require.Greater(t, len(data), maxPKCS12Size)

	ks := newTestKeyStore(t)
	elapsed, err := importWithin(t, t.Context(), ks, data, "s3cret", 5*time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `the PKCS#12 file for "imported" is `)
	assert.Contains(t, err.Error(), "bytes, more than the 1 MiB this box reads")
	assert.Contains(t, err.Error(), "export it again holding only the key, its certificate and its chain")
	assert.Less(t, elapsed, time.Second)
	assert.Empty(t, keyFiles(t, ks))
}

// TestImportPKCS12Cancelled: a cancelled session's import returns at once,
// before or during the decode, and stores no key.
func TestImportPKCS12Cancelled(t *testing.T) {
	files := newP12Files(t)
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ks := newTestKeyStore(t)
		elapsed, err := importWithin(t, ctx, ks, files.aes, "s3cret", 5*time.Second)
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), `the import of the PKCS#12 file for "imported" was cancelled (context canceled): nothing was stored, import it again`)
		assert.Less(t, elapsed, 100*time.Millisecond)
		assert.Empty(t, keyFiles(t, ks))
	})

	// A real file with a high count under the cap: its decode takes long
	// enough (three derivations of 300000 iterations) to be cancelled midway.
	slow := opensslP12(t, files.pki, "slow.p12", "-passout", "pass:s3cret", "-iter", "300000")
	ks := newTestKeyStore(t)
	full, err := importWithin(t, t.Context(), ks, slow, "s3cret", 30*time.Second)
	require.NoError(t, err, "a high count under the cap imports")
	require.Len(t, keyFiles(t, ks), 1)
	t.Logf("importing a file with 300000 iterations took %s", full)

	t.Run("cancelled while decoding", func(t *testing.T) {
		const after = 10 * time.Millisecond
		require.Greater(t, full, 10*after, "the decode must outlast the cancellation by far")
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(after, cancel)
		ks := newTestKeyStore(t)
		elapsed, err := importWithin(t, ctx, ks, slow, "s3cret", 30*time.Second)
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "was cancelled (context canceled): nothing was stored")
		assert.Less(t, elapsed, min(full/2, after+300*time.Millisecond), "returns when cancelled, not when the decode ends")
		assert.Empty(t, keyFiles(t, ks))
	})
}

// importWithin imports data as "imported" into ks and returns the error and
// how long it took. It fails the test after limit instead of waiting for a
// decode that could take minutes (that decode is left running).
func importWithin(t *testing.T, ctx context.Context, ks *KeyStore, data []byte, passphrase string, limit time.Duration) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, _, err := ks.ImportPKCS12(ctx, "imported", data, passphrase)
		done <- err
	}()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(limit):
		t.Fatalf("ImportPKCS12 still running after %s", limit)
		return 0, nil
	}
}

// p12Part names the key derivation setIterations changes.
type p12Part string

const (
	partMAC       p12Part = "mac"       // the MacData's count, or PBMAC1's PBKDF2 count
	partKey       p12Part = "key"       // each pkcs8ShroudedKeyBag in a plain data part
	partEncrypted p12Part = "encrypted" // each encryptedData of the AuthenticatedSafe
)

// The full shapes of the structures setIterations re-encodes (the walk's
// own types leave out what it does not need).
type (
	testSafeBag struct {
		ID         asn1.ObjectIdentifier
		Value      asn1.RawValue `asn1:"tag:0,explicit"`
		Attributes asn1.RawValue `asn1:"optional"`
	}
	testEncryptedPrivateKeyInfo struct {
		Algorithm     pkix.AlgorithmIdentifier
		EncryptedData []byte
	}
	testEncryptedData struct {
		Version              int
		EncryptedContentInfo struct {
			ContentType      asn1.ObjectIdentifier
			Algorithm        pkix.AlgorithmIdentifier
			EncryptedContent asn1.RawValue
		}
	}
	testTwoAlgorithms struct { // PBES2-params and PBMAC1-params
		KDF    pkix.AlgorithmIdentifier
		Scheme pkix.AlgorithmIdentifier
	}
	testPBKDF2Params struct {
		Salt       asn1.RawValue
		Iterations int
		KeyLength  int                      `asn1:"optional"`
		PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
	}
)

// setIterations re-encodes a real PKCS#12 file with the iteration count of
// part set to n and everything else as it was. When part is not the MAC, a
// classic MAC is computed again with passphrase, so the file stays valid.
func setIterations(t *testing.T, data []byte, passphrase string, part p12Part, n int) []byte {
	t.Helper()
	var pfx p12PFX
	derUnmarshal(t, data, &pfx)
	if part == partMAC {
		if pfx.MacData.Mac.Algorithm.Algorithm.Equal(oidP12PBMAC1) {
			pfx.MacData.Mac.Algorithm.Parameters = setTwoAlgorithmsIterations(t, pfx.MacData.Mac.Algorithm.Parameters, n)
		} else {
			pfx.MacData.Iterations = n
		}
		return derMarshal(t, pfx)
	}
	var authSafe []byte
	derUnmarshal(t, pfx.AuthSafe.Content.Bytes, &authSafe)
	var parts []p12ContentInfo
	derUnmarshal(t, authSafe, &parts)
	for i, ci := range parts {
		switch {
		case part == partEncrypted && ci.ContentType.Equal(oidP12EncryptedData):
			var ed testEncryptedData
			derUnmarshal(t, ci.Content.Bytes, &ed)
			ed.EncryptedContentInfo.Algorithm = setPBEIterations(t, ed.EncryptedContentInfo.Algorithm, n)
			parts[i].Content = derExplicit0(derMarshal(t, ed))
		case part == partKey && ci.ContentType.Equal(oidP12Data):
			var contents []byte
			derUnmarshal(t, ci.Content.Bytes, &contents)
			var bags []testSafeBag
			derUnmarshal(t, contents, &bags)
			for j, bag := range bags {
				if bag.ID.Equal(oidP12ShroudedKeyBag) {
					var info testEncryptedPrivateKeyInfo
					derUnmarshal(t, bag.Value.Bytes, &info)
					info.Algorithm = setPBEIterations(t, info.Algorithm, n)
					bags[j].Value = derExplicit0(derMarshal(t, info))
				}
			}
			parts[i].Content = derExplicit0(derMarshal(t, derMarshal(t, bags)))
		}
	}
	authSafe = derMarshal(t, parts)
	pfx.AuthSafe.Content = derExplicit0(derMarshal(t, authSafe))
	if len(pfx.MacData.Mac.Algorithm.Algorithm) > 0 {
		pfx.MacData.Mac.Digest = p12MAC(t, pfx.MacData, authSafe, passphrase)
	}
	return derMarshal(t, pfx)
}

// p12MAC is the classic PKCS#12 MAC (RFC 7292 appendix B) of content: HMAC
// keyed by the PKCS#12 KDF of the passphrase (as a BMPString), SHA-1 or SHA-256.
func p12MAC(t *testing.T, m p12MacData, content []byte, passphrase string) []byte {
	t.Helper()
	var h func() hash.Hash
	switch alg := m.Mac.Algorithm.Algorithm; {
	case alg.Equal(asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}):
		h = sha1.New
	case alg.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}):
		h = sha256.New
	default:
		t.Fatalf("no MAC %s in this test", alg)
	}
	var password []byte
	for _, r := range utf16.Encode([]rune(passphrase + "\x00")) {
		password = append(password, byte(r>>8), byte(r))
	}
	mac := hmac.New(h, p12KDF(h, m.MacSalt, password, m.Iterations, 3, h().Size()))
	mac.Write(content)
	return mac.Sum(nil)
}

// p12KDF is the PKCS#12 key derivation (RFC 7292 appendix B.2) with hash h,
// diversifier id, giving size bytes.
func p12KDF(h func() hash.Hash, salt, password []byte, iterations int, id byte, size int) []byte {
	v := h().BlockSize()
	d := bytes.Repeat([]byte{id}, v)
	i := append(p12RepeatTo(salt, (len(salt)+v-1)/v*v), p12RepeatTo(password, (len(password)+v-1)/v*v)...)
	var key []byte
	for len(key) < size {
		a := append(append([]byte{}, d...), i...)
		for range iterations {
			s := h()
			s.Write(a)
			a = s.Sum(nil)
		}
		key = append(key, a...)
		b := p12RepeatTo(a, v)
		for j := 0; j < len(i); j += v { // I_j = (I_j + B + 1) mod 2^(8v)
			carry := 1
			for k := v - 1; k >= 0; k-- {
				sum := int(i[j+k]) + int(b[k]) + carry
				i[j+k], carry = byte(sum), sum>>8
			}
		}
	}
	return key[:size]
}

// p12RepeatTo repeats b up to n bytes (nothing when b is empty).
func p12RepeatTo(b []byte, n int) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Repeat(b, n/len(b)+1)[:n]
}

// setPBEIterations sets the count of a PBES2 or PKCS#12 PBE algorithm.
func setPBEIterations(t *testing.T, alg pkix.AlgorithmIdentifier, n int) pkix.AlgorithmIdentifier {
	t.Helper()
	if alg.Algorithm.Equal(oidP12PBES2) {
		alg.Parameters = setTwoAlgorithmsIterations(t, alg.Parameters, n)
		return alg
	}
	var p p12PBEParams
	derUnmarshal(t, alg.Parameters.FullBytes, &p)
	p.Iterations = n
	alg.Parameters = asn1.RawValue{FullBytes: derMarshal(t, p)}
	return alg
}

// setTwoAlgorithmsIterations sets the PBKDF2 count in PBES2 or PBMAC1 parameters.
func setTwoAlgorithmsIterations(t *testing.T, params asn1.RawValue, n int) asn1.RawValue {
	t.Helper()
	var p testTwoAlgorithms
	derUnmarshal(t, params.FullBytes, &p)
	require.True(t, p.KDF.Algorithm.Equal(oidP12PBKDF2))
	var kdf testPBKDF2Params
	derUnmarshal(t, p.KDF.Parameters.FullBytes, &kdf)
	kdf.Iterations = n
	p.KDF.Parameters = asn1.RawValue{FullBytes: derMarshal(t, kdf)}
	return asn1.RawValue{FullBytes: derMarshal(t, p)}
}

// derExplicit0 wraps DER in a [0] EXPLICIT tag.
func derExplicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

func derUnmarshal(t *testing.T, der []byte, v any) {
	t.Helper()
	rest, err := asn1.Unmarshal(der, v)
	require.NoError(t, err)
	require.Empty(t, rest)
}

func derMarshal(t *testing.T, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	require.NoError(t, err)
	return der
}
