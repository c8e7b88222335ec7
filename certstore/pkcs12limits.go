package certstore

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// The caps ImportPKCS12 applies before it decodes a PKCS#12 file. Decoding
// runs one key derivation per iteration count in the file, and the count is
// whatever the file says: a MAC iteration count of 2^31 kept a core busy for
// about seven minutes. Real files stay far below both caps.
const (
	// maxPKCS12Size is the largest file read: one key and its chain take a
	// few kilobytes, and 1 MiB still holds hundreds of certificates.
	maxPKCS12Size = 1 << 20
	// maxPKCS12Iterations is the largest iteration count of any one key
	// derivation (the MAC, each encrypted part, the private key). OpenSSL 3
	// writes 2048, Windows 2000, Java 10000, and tools following current
	// PBKDF2 advice up to 600000. A file holds a handful of derivations, so the
	// worst accepted file costs a second or two of one core, not minutes.
	maxPKCS12Iterations = 1_000_000
)

// pkcs12Limits are the caps one import applies.
type pkcs12Limits struct {
	size       int // bytes
	iterations int // per key derivation
}

// Object identifiers of the PKCS#12 structures that carry an iteration count.
var (
	oidP12Data           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidP12EncryptedData  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidP12ShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidP12PBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidP12PBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidP12PBMAC1         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
)

// The structures below are the parts of RFC 7292 (PKCS#12), RFC 8018
// (PBES2, PBKDF2) and RFC 9579 (PBMAC1) that lead to an iteration count,
// shaped as go-pkcs12 reads them so that every count it would act on is
// seen here. Trailing fields that the walk does not need are left out
// (encoding/asn1 ignores them).

// p12PFX is PFX ::= SEQUENCE { version, authSafe ContentInfo, macData MacData OPTIONAL }.
type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  p12MacData `asn1:"optional"`
}

// p12ContentInfo is ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY OPTIONAL }.
type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

// p12MacData is MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }.
type p12MacData struct {
	Mac        p12DigestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

// p12DigestInfo is DigestInfo ::= SEQUENCE { digestAlgorithm, digest OCTET STRING }.
type p12DigestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

// p12EncryptedData is EncryptedData ::= SEQUENCE { version, encryptedContentInfo }.
type p12EncryptedData struct {
	Version              int
	EncryptedContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
	}
}

// p12SafeBag is SafeBag ::= SEQUENCE { bagId, bagValue [0] EXPLICIT ANY, bagAttributes SET OPTIONAL }.
type p12SafeBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"tag:0,explicit"`
}

// p12EncryptedPrivateKeyInfo is the pkcs8ShroudedKeyBag's value:
// SEQUENCE { encryptionAlgorithm, encryptedData OCTET STRING }.
type p12EncryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
}

// p12PBEParams is the PKCS#12 (and PKCS#5 PBES1) PBE parameter: SEQUENCE { salt, iterations }.
type p12PBEParams struct {
	Salt       []byte
	Iterations int
}

// p12PBES2Params is PBES2-params ::= SEQUENCE { keyDerivationFunc, encryptionScheme }.
type p12PBES2Params struct {
	KDF pkix.AlgorithmIdentifier
}

// p12PBMAC1Params is PBMAC1-params ::= SEQUENCE { keyDerivationFunc, messageAuthScheme }.
type p12PBMAC1Params struct {
	KDF pkix.AlgorithmIdentifier
}

// p12PBKDF2Params is PBKDF2-params ::= SEQUENCE { salt, iterationCount, keyLength OPTIONAL, prf OPTIONAL }.
type p12PBKDF2Params struct {
	Salt       asn1.RawValue
	Iterations int
}

// checkPKCS12Limits refuses a file for name that is larger than lim.size
// or asks for more than lim.iterations iterations in any key derivation:
// the MAC (or PBMAC1), each encryptedData of the AuthenticatedSafe, and each
// pkcs8ShroudedKeyBag in its plain parts. It only reads the structure, so it
// takes microseconds. Parts it cannot walk are left to the decoder, which
// refuses them with its own messages before deriving anything from them.
func checkPKCS12Limits(name string, data []byte, lim pkcs12Limits) error {
	if len(data) > lim.size {
		return fmt.Errorf("the PKCS#12 file for %q is %d bytes, more than the %s this box reads (a key and its chain take a few kilobytes): export it again holding only the key, its certificate and its chain", name, len(data), sizeText(lim.size))
	}
	where, n := pkcs12MaxIterations(data)
	if n > lim.iterations {
		return fmt.Errorf("the PKCS#12 file for %q asks for %d key-derivation iterations for %s, more than the %d this box allows (real exports use 2048 to 600000): export it again with a normal iteration count, e.g. openssl pkcs12 -export -iter 2048", name, n, where, lim.iterations)
	}
	return nil
}

// sizeText writes a byte count as MiB or KiB when it is a whole number of them.
func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// iterationCount is one key derivation found in a file: where it is, for
// the admin, and its iteration count.
type iterationCount struct {
	where string
	n     int
}

// pkcs12MaxIterations returns the largest iteration count in the PFX data
// and where it is; 0 when it has none, or when its outer structure does not
// decode (the decoder then refuses it before any key derivation).
func pkcs12MaxIterations(data []byte) (where string, n int) {
	for _, c := range pkcs12IterationCounts(data) {
		if c.n > n {
			where, n = c.where, c.n
		}
	}
	return where, n
}

// pkcs12IterationCounts lists every iteration count in the PFX data that a
// decoder would use: the MAC's, then those of the AuthenticatedSafe's parts.
func pkcs12IterationCounts(data []byte) []iterationCount {
	var pfx p12PFX
	if _, err := asn1.Unmarshal(data, &pfx); err != nil {
		return nil
	}
	counts := macIterations(pfx.MacData)
	var authSafe asn1.RawValue // the OCTET STRING inside content [0]
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return counts
	}
	var parts []p12ContentInfo
	if _, err := asn1.Unmarshal(authSafe.Bytes, &parts); err != nil {
		return counts
	}
	for _, ci := range parts {
		counts = append(counts, contentIterations(ci)...)
	}
	return counts
}

// macIterations is the MAC's iteration count: the MacData's own, or for
// PBMAC1 (which ignores that field) the one in its PBKDF2 parameters.
func macIterations(m p12MacData) []iterationCount {
	const where = "its integrity MAC"
	if !m.Mac.Algorithm.Algorithm.Equal(oidP12PBMAC1) {
		return []iterationCount{{where, m.Iterations}}
	}
	var p p12PBMAC1Params
	if _, err := asn1.Unmarshal(m.Mac.Algorithm.Parameters.FullBytes, &p); err != nil {
		return nil
	}
	return pbkdf2Iterations(p.KDF, where+" (PBMAC1)")
}

// contentIterations lists the iteration counts of one part of the
// AuthenticatedSafe: an encryptedData's encryption, or the shrouded keys in
// a plain data part. (Bags inside an encryptedData are out of reach without
// decrypting it.)
func contentIterations(ci p12ContentInfo) []iterationCount {
	switch {
	case ci.ContentType.Equal(oidP12EncryptedData):
		var ed p12EncryptedData
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err != nil {
			return nil
		}
		return pbeIterations(ed.EncryptedContentInfo.Algorithm, "an encrypted part of it (usually its certificates)")
	case ci.ContentType.Equal(oidP12Data):
		var safeContents []byte
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &safeContents); err != nil {
			return nil
		}
		var bags []p12SafeBag
		if _, err := asn1.Unmarshal(safeContents, &bags); err != nil {
			return nil
		}
		var counts []iterationCount
		for _, bag := range bags {
			counts = append(counts, bagIterations(bag)...)
		}
		return counts
	}
	return nil
}

// bagIterations is the iteration count of a pkcs8ShroudedKeyBag's
// encryption; other bags derive no key.
func bagIterations(bag p12SafeBag) []iterationCount {
	if !bag.ID.Equal(oidP12ShroudedKeyBag) {
		return nil
	}
	var info p12EncryptedPrivateKeyInfo
	if _, err := asn1.Unmarshal(bag.Value.Bytes, &info); err != nil {
		return nil
	}
	return pbeIterations(info.Algorithm, "its private key")
}

// pbeIterations reads the iteration count of a password-based encryption:
// PBES2 holds it in its key-derivation function's parameters; the PKCS#12
// PBE schemes (and PKCS#5 PBES1) in SEQUENCE { salt, iterations }.
func pbeIterations(alg pkix.AlgorithmIdentifier, where string) []iterationCount {
	if alg.Algorithm.Equal(oidP12PBES2) {
		var p p12PBES2Params
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
			return nil
		}
		return pbkdf2Iterations(p.KDF, where)
	}
	var p p12PBEParams
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
		return nil
	}
	return []iterationCount{{where, p.Iterations}}
}

// pbkdf2Iterations reads PBKDF2-params' iterationCount; another key
// derivation function is refused by the decoder before it runs.
func pbkdf2Iterations(kdf pkix.AlgorithmIdentifier, where string) []iterationCount {
	if !kdf.Algorithm.Equal(oidP12PBKDF2) {
		return nil
	}
	var p p12PBKDF2Params
	if _, err := asn1.Unmarshal(kdf.Parameters.FullBytes, &p); err != nil {
		return nil
	}
	return []iterationCount{{where, p.Iterations}}
}
