package certstore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// weakHash is the hash of a legacy signature algorithm that crypto/x509 no
// longer verifies (MD5, SHA-1), or 0.
func weakHash(a x509.SignatureAlgorithm) crypto.Hash {
	switch a {
	case x509.MD5WithRSA:
		return crypto.MD5
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		return crypto.SHA1
	}
	return 0
}

// weakName names the hash of a legacy signature algorithm for warnings.
func weakName(a x509.SignatureAlgorithm) string {
	if weakHash(a) == crypto.MD5 {
		return "MD5"
	}
	return "SHA-1"
}

// checkSignature reports whether parent signed child. crypto/x509 refuses MD5
// and SHA-1 signatures outright, so those are checked here by hand over the
// TBS bytes (RSA PKCS #1 v1.5 and ECDSA); weak is then true and the caller
// warns. A v3 parent must be a CA.
func checkSignature(child, parent *x509.Certificate) (weak bool, err error) {
	h := weakHash(child.SignatureAlgorithm)
	if h == 0 {
		return false, child.CheckSignatureFrom(parent)
	}
	if parent.Version == 3 && (!parent.BasicConstraintsValid || !parent.IsCA) {
		return true, errors.New("the issuer is not a certificate authority (no CA:TRUE basic constraint)")
	}
	var digest []byte
	if h == crypto.MD5 {
		sum := md5.Sum(child.RawTBSCertificate)
		digest = sum[:]
	} else {
		sum := sha1.Sum(child.RawTBSCertificate)
		digest = sum[:]
	}
	switch pub := parent.PublicKey.(type) {
	case *rsa.PublicKey:
		if child.SignatureAlgorithm == x509.ECDSAWithSHA1 || child.SignatureAlgorithm == x509.DSAWithSHA1 {
			break
		}
		return true, rsa.VerifyPKCS1v15(pub, h, digest, child.Signature)
	case *ecdsa.PublicKey:
		if child.SignatureAlgorithm != x509.ECDSAWithSHA1 {
			break
		}
		if !ecdsa.VerifyASN1(pub, digest, child.Signature) {
			return true, errors.New("ECDSA verification failure")
		}
		return true, nil
	}
	return true, fmt.Errorf("a %s signature cannot come from a %s key", child.SignatureAlgorithm, keyType(parent.PublicKey))
}

// isSelfSigned reports whether c names itself as issuer and its signature
// verifies with its own key.
func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	if weakHash(c.SignatureAlgorithm) == 0 {
		return c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
	}
	// A v1 self-signed root has no basic constraints; check the signature only.
	probe := *c
	probe.Version, probe.BasicConstraintsValid, probe.IsCA = 3, true, true
	_, err := checkSignature(c, &probe)
	return err == nil
}

// describe names a certificate in messages by its subject CN (or whole subject).
func describe(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("%q", c.Subject.String())
}

// orderedChain is a leaf with its intermediates in issuing order.
type orderedChain struct {
	certs    []*x509.Certificate // leaf first, then each issuer
	warnings []string
	unused   []*x509.Certificate // pasted certificates that are not in the leaf's chain
	// reordered is set when the intermediates were not given in issuing order.
	reordered bool
}

// reorderWarning says how out-of-order intermediates were stored.
func (o orderedChain) reorderWarning() string {
	names := make([]string, 0, len(o.certs)-1)
	for _, c := range o.certs[1:] {
		names = append(names, describe(c))
	}
	return "the intermediates were out of order; they are stored in issuing order: " + strings.Join(names, ", ")
}

// maxChainCerts is the most certificates accepted beside a leaf (real
// chains have one to four intermediates).
const maxChainCerts = 16

// orderChain builds the chain from leaf through the other certificates: each
// certificate's issuer is the next one's subject and its signature verifies
// (MD5/SHA-1 links by hand; Warnings reports them). Duplicates and a copy of the
// leaf are dropped; a self-signed root is kept with a warning. Certificates
// that do not fit are returned in unused for the caller to refuse or drop.
// A link whose issuer name matches but whose signature does not verify is
// an error.
func orderChain(leaf *x509.Certificate, others []*x509.Certificate) (orderedChain, error) {
	if len(others) > maxChainCerts {
		// Ordering costs a signature check per candidate and link: a file
		// of thousands of look-alike certificates would pin a core.
		return orderedChain{}, badCert("%d certificates came with %s; a chain has at most %d (keep the leaf and its intermediates only)", len(others), describe(leaf), maxChainCerts)
	}
	var rest []*x509.Certificate
	for _, c := range others {
		if c.Equal(leaf) || slices.ContainsFunc(rest, c.Equal) {
			continue
		}
		rest = append(rest, c)
	}
	given := slices.Clone(rest)
	out := orderedChain{certs: []*x509.Certificate{leaf}}
	cur := leaf
	for len(rest) > 0 && !isSelfSigned(cur) {
		// The issuer is the first certificate with the issuer's name whose
		// signature verifies; a weak (MD5/SHA-1) link is warned about by Warnings.
		i, named := -1, -1
		var sigErr error
		for j, c := range rest {
			if !bytes.Equal(c.RawSubject, cur.RawIssuer) {
				continue
			}
			if _, err := checkSignature(cur, c); err != nil {
				if named < 0 {
					named, sigErr = j, err
				}
				continue
			}
			i = j
			break
		}
		if i < 0 && named >= 0 {
			return orderedChain{}, badCert("intermediate %s has the issuer name of %s but did not sign it (%v) (paste the intermediate that issued this certificate)", describe(rest[named]), describe(cur), sigErr)
		}
		if i < 0 {
			break
		}
		issuer := rest[i]
		out.certs = append(out.certs, issuer)
		rest = slices.Delete(rest, i, i+1)
		cur = issuer
	}
	out.unused = rest
	if top := out.certs[len(out.certs)-1]; len(out.certs) > 1 && isSelfSigned(top) {
		out.warnings = append(out.warnings, fmt.Sprintf("the chain includes the self-signed root %s; it is kept, but peers use their own copy of the root, so it can be left out", describe(top)))
	}
	used := out.certs[1:]
	pasted := slices.DeleteFunc(given, func(c *x509.Certificate) bool { return slices.ContainsFunc(out.unused, c.Equal) })
	out.reordered = !slices.EqualFunc(used, pasted, (*x509.Certificate).Equal)
	return out, nil
}

// refuseUnused turns intermediates that are not part of the chain into an error.
func refuseUnused(leaf *x509.Certificate, unused []*x509.Certificate) error {
	if len(unused) == 0 {
		return nil
	}
	names := make([]string, len(unused))
	for i, c := range unused {
		names[i] = describe(c) + " (issued by " + issuerName(c) + ")"
	}
	verb := "are"
	if len(unused) == 1 {
		verb = "is"
	}
	return badCert("%s %s not in the chain of %s, issued by %s (remove it, or paste the intermediate that issued the certificate)",
		strings.Join(names, ", "), verb, describe(leaf), issuerName(leaf))
}

// issuerName names a certificate's issuer by CN (or whole name), quoted.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return fmt.Sprintf("%q", c.Issuer.CommonName)
	}
	return fmt.Sprintf("%q", c.Issuer.String())
}
