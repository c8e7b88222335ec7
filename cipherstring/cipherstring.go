// Package cipherstring evaluates OpenSSL cipher-list strings into the TLS 1.0–1.2 cipher suites crypto/tls implements.
//
// The language is that of `openssl ciphers` and SSL_CTX_set_cipher_list in
// OpenSSL 3.0 (ssl/ssl_ciph.c): words separated by ':', ',', ';' or spaces;
// a word may be prefixed by '!' (delete for good), '-' (delete, may be added
// again) or '+' (move to the end); "A+B" selects suites matching both A and
// B; "@STRENGTH" sorts by strength bits; "@SECLEVEL=n" is recorded; a string
// starting with "DEFAULT" is evaluated after OpenSSL's default list; a string
// starting with SUITEB128, SUITEB128ONLY, SUITEB128C2 or SUITEB192 is
// replaced by the Suite B list, as OpenSSL does.
//
// OpenSSL's algorithm is reproduced on the 22 TLS ≤1.2 suites crypto/tls
// implements: its initial ordering, its rule semantics and its strength
// sort. Every operation of that algorithm moves suites according to their
// own attributes only, so the relative order it gives the suites OpenSSL
// and Go share does not depend on the suites only OpenSSL has, and the result
// equals `openssl ciphers` output restricted to Go's suites (for 3DES and RC4
// as OpenSSL built with enable-weak-ssl-ciphers orders them).
//
// Unlike OpenSSL, which silently skips words it does not know, Parse rejects
// them; words OpenSSL knows that select nothing Go implements produce
// warnings.
//
// The appliance's (AsyncOS 15.5) default strings evaluate as follows:
//
// GUI and inbound, "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:
// !PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:
// -aNULL:-EXPORT:-IDEA:!DHE-RSA-AES128-CCM:!DHE-RSA-AES256-CCM:
// !DHE-RSA-AES256-SHA", selects seven TLS 1.2-only suites:
// ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305,
// AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-SHA256,
// AES128-GCM-SHA256, AES128-SHA256. !SSLv3 and !TLSv1 remove every CBC-SHA1
// suite, so nothing is left for TLS 1.0 or 1.1.
//
// Outbound, "ECDH+aRSA:ECDH+ECDSA:DHE+DSS+AES:AES128:AES256:!3DES:!IDEA:!SRP:
// !AESGCM+DH+aRSA:!AESGCM+RSA:!aNULL:!eNULL:!kRSA:@STRENGTH:-aNULL:-EXPORT:
// -IDEA:!DHE-RSA-AES128-CCM:!DHE-RSA-AES256-CCM:
// !ECDHE-ECDSA-CAMELLIA128-SHA256:!ECDHE-RSA-CAMELLIA128-SHA256:
// !ECDHE-ECDSA-CAMELLIA256-SHA384:!ECDHE-RSA-CAMELLIA256-SHA384:
// !ECDHE-ECDSA-AES128-CCM:!ECDHE-ECDSA-AES256-CCM:!DHE-RSA-AES256-SHA",
// selects the twelve ECDHE AES and ChaCha20 suites and the two ECDHE RC4
// suites, RSA before ECDSA within each strength (@STRENGTH is stable):
// ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-CHACHA20-POLY1305,
// ECDHE-RSA-AES256-SHA, ECDHE-ECDSA-AES256-GCM-SHA384,
// ECDHE-ECDSA-CHACHA20-POLY1305, ECDHE-ECDSA-AES256-SHA,
// ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-SHA256, ECDHE-RSA-AES128-SHA,
// ECDHE-RSA-RC4-SHA, ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-ECDSA-AES128-SHA256,
// ECDHE-ECDSA-AES128-SHA, ECDHE-ECDSA-RC4-SHA. Nothing in it removes RC4 (an
// OpenSSL built without weak ciphers simply has none); a caller that must
// not offer RC4 has to filter it. TLS 1.0 and 1.1 get the four CBC-SHA1 and
// the two RC4 suites.
package cipherstring

import (
	"crypto/tls"
	"fmt"
	"slices"
)

// Suite is one TLS ≤1.2 cipher suite crypto/tls implements.
type Suite struct {
	ID               uint16 // crypto/tls ID
	Name             string // OpenSSL name, e.g. "ECDHE-RSA-AES128-GCM-SHA256"
	GoName           string // tls.CipherSuiteName(ID)
	Kx, Au, Enc, Mac string // OpenSSL's keywords: kRSA/kECDHE, aRSA/aECDSA, AES128/AES256/AESGCM/CHACHA20/3DES/RC4, SHA1/SHA256/SHA384/AEAD
	Bits             int    // OpenSSL's strength bits (what @STRENGTH sorts on)
	MinTLS, MaxTLS   uint16 // versions in which crypto/tls can negotiate it (tls.VersionTLS10..tls.VersionTLS12)
}

// Result is what a cipher string selects.
type Result struct {
	Suites   []Suite  // in OpenSSL order
	Warnings []string // e.g. `"DHE-RSA-AES256-SHA" matches no cipher suite this appliance supports (Go has no DHE); ignored`
	SecLevel int      // n of the last "@SECLEVEL=n"; -1 when there is none
}

// IDs returns the crypto/tls IDs of r.Suites, in order, ready for
// tls.Config.CipherSuites.
func (r Result) IDs() []uint16 {
	ids := make([]uint16, len(r.Suites))
	for i, s := range r.Suites {
		ids[i] = s.ID
	}
	return ids
}

// UsableAt returns the suites of r that crypto/tls can negotiate at the
// given protocol version (tls.VersionTLS10 … tls.VersionTLS12), in order.
func (r Result) UsableAt(version uint16) []Suite {
	var out []Suite
	for _, s := range r.Suites {
		if s.MinTLS <= version && version <= s.MaxTLS {
			out = append(out, s)
		}
	}
	return out
}

// All returns the 22 TLS ≤1.2 suites crypto/tls implements, in the order
// OpenSSL's "ALL" gives them.
func All() []Suite {
	out := make([]Suite, len(goSuites))
	for i := range goSuites {
		out[i] = goSuites[i].public()
	}
	return out
}

// LogName names a negotiated suite for logs: the OpenSSL name for TLS ≤1.2
// suites, the IANA name (e.g. TLS_AES_256_GCM_SHA384) for TLS 1.3 suites,
// and tls.CipherSuiteName otherwise.
func LogName(id uint16) string {
	if i := goSuiteIndex(id); i >= 0 {
		return goSuites[i].name
	}
	return tls.CipherSuiteName(id)
}

func (g *goSuite) public() Suite {
	return Suite{
		ID: g.id, Name: g.name, GoName: tls.CipherSuiteName(g.id),
		Kx: g.kx, Au: g.au, Enc: g.encName, Mac: g.macN,
		Bits: g.bits, MinTLS: g.goMin, MaxTLS: g.goMax,
	}
}

func goSuiteIndex(id uint16) int {
	return slices.IndexFunc(goSuites, func(g goSuite) bool { return g.id == id })
}

func goSuiteByName(name string) int {
	return slices.IndexFunc(goSuites, func(g goSuite) bool { return g.name == name })
}

// VersionName is the log spelling of a TLS version: "TLSv1.2", "TLSv1.3".
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
