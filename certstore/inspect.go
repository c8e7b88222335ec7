package certstore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"relaybox/config"
)

// Info describes a certificate for the certconfig table and PRINT.
type Info struct {
	Name, CommonName, IssuedBy string
	NotBefore, NotAfter        time.Time
	SignatureAlgorithm         string // as crypto/x509 names it, e.g. "SHA256-RSA"
	DNSNames                   []string
	IPs                        []string
	SerialHex                  string // upper-case hex, as `openssl x509 -serial` prints it
	SHA256Fingerprint          string // colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256`
	KeyType                    string // "RSA 2048", "ECDSA P-256"
	ChainLength                int    // certificates stored: the leaf plus its intermediates
	Pending                    bool   // has a CSR awaiting its signed certificate
	SelfSigned                 bool
}

// Inspect describes the leaf of a configured certificate.
func Inspect(c config.Certificate) (Info, error) {
	certs, err := ParseCertificates(c.PEM)
	if err != nil {
		return Info{}, fmt.Errorf("certificate %q: %w", c.Name, err)
	}
	leaf := certs[0]
	sum := sha256.Sum256(leaf.Raw)
	fp := make([]string, len(sum))
	for i, b := range sum {
		fp[i] = fmt.Sprintf("%02X", b)
	}
	info := Info{
		Name:               c.Name,
		CommonName:         nameOf(leaf.Subject.CommonName, leaf.Subject.String()),
		IssuedBy:           nameOf(leaf.Issuer.CommonName, leaf.Issuer.String()),
		NotBefore:          leaf.NotBefore,
		NotAfter:           leaf.NotAfter,
		SignatureAlgorithm: leaf.SignatureAlgorithm.String(),
		DNSNames:           leaf.DNSNames,
		SerialHex:          serialHex(leaf),
		SHA256Fingerprint:  strings.Join(fp, ":"),
		KeyType:            keyType(leaf.PublicKey),
		ChainLength:        len(certs),
		Pending:            c.CSR != "",
		SelfSigned:         isSelfSigned(leaf),
	}
	for _, ip := range leaf.IPAddresses {
		info.IPs = append(info.IPs, ip.String())
	}
	return info, nil
}

// RemainingDays counts whole days from now to NotAfter, rounding down, so it
// is negative once the certificate has expired.
func (i Info) RemainingDays(now time.Time) int {
	const day = 24 * 60 * 60
	secs := i.NotAfter.Unix() - now.Unix()
	days := secs / day
	if secs%day < 0 {
		days--
	}
	return int(days)
}

func nameOf(cn, whole string) string {
	if cn != "" {
		return cn
	}
	return whole
}

func serialHex(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	s := fmt.Sprintf("%X", c.SerialNumber.Bytes())
	if s == "" {
		s = "00"
	}
	if c.SerialNumber.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// keyType names a public key as certconfig shows it: "RSA 2048", "ECDSA P-256".
func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// ExpiryWarningDays is how close to its end a certificate is warned about.
const ExpiryWarningDays = 30

// Warnings lists non-fatal problems of a configured certificate: an MD5 or
// SHA-1 signature anywhere in the chain (TLS 1.2 peers reject it; AsyncOS
// seed 002), a certificate that has expired, is not yet valid or expires
// within ExpiryWarningDays, a chain that does not verify against roots (nil
// skips that check), and each host name the CN/SAN does not match; then
// those of its ECDSA twin that differ, each starting with TwinWarningPrefix.
func Warnings(c config.Certificate, roots *x509.CertPool, hostnames []string, now time.Time) []string {
	certs, err := ParseCertificates(c.PEM)
	if err != nil {
		return []string{fmt.Sprintf("certificate %q cannot be read: %v", c.Name, err)}
	}
	leaf := certs[0]
	var out []string
	for i, cert := range certs {
		role := "certificate " + describe(cert)
		if i > 0 {
			role = "intermediate " + describe(cert)
		}
		if weakHash(cert.SignatureAlgorithm) != 0 && (i == 0 || !isSelfSigned(cert)) {
			out = append(out, fmt.Sprintf("%s is signed with %s (%s): TLS 1.2 peers and browsers reject it and the handshake fails; replace it with a SHA-256 certificate (make one with NEW, or have the authority re-issue it with SHA-256)",
				role, weakName(cert.SignatureAlgorithm), cert.SignatureAlgorithm))
		}
		switch days := (Info{NotAfter: cert.NotAfter}).RemainingDays(now); {
		case now.After(cert.NotAfter):
			ago := int(now.Sub(cert.NotAfter) / (24 * time.Hour))
			out = append(out, fmt.Sprintf("%s expired on %s (%d days ago): renew it", role, cert.NotAfter.UTC().Format(time.DateOnly), ago))
		case now.Before(cert.NotBefore):
			out = append(out, fmt.Sprintf("%s is not valid until %s: check the box's clock or wait", role, cert.NotBefore.UTC().Format(time.DateTime+" MST")))
		case days < ExpiryWarningDays:
			out = append(out, fmt.Sprintf("%s expires on %s, in %d days: renew it soon", role, cert.NotAfter.UTC().Format(time.DateOnly), days))
		}
	}
	if roots != nil {
		inter := x509.NewCertPool()
		for _, cert := range certs[1:] {
			inter.AddCert(cert)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			fix := "add the missing intermediates, or trust the issuing authority (certconfig CERTAUTHORITY)"
			if isSelfSigned(leaf) {
				fix = "it is self-signed, so peers that verify certificates will not trust it; have it signed by an authority"
			}
			out = append(out, fmt.Sprintf("certificate %q: the chain does not verify against the trusted authorities (%v): %s", c.Name, err, fix))
		}
	}
	for _, h := range hostnames {
		if !matchesHost(leaf, h) {
			out = append(out, fmt.Sprintf("certificate %q: CN/SAN does not match host name %s (it names %s)", c.Name, h, strings.Join(certNames(leaf), ", ")))
		}
	}
	return append(out, twinWarnings(c, isSelfSigned(leaf), roots, out, now)...)
}

// matchesHost checks a host name against the SANs and, unlike crypto/x509,
// also the CN, as AsyncOS's FQDN check does.
func matchesHost(c *x509.Certificate, host string) bool {
	host = strings.TrimSuffix(host, ".")
	if c.VerifyHostname(host) == nil {
		return true
	}
	cn := c.Subject.CommonName
	if strings.EqualFold(cn, host) {
		return true
	}
	if rest, ok := strings.CutPrefix(cn, "*."); ok {
		if _, domain, ok := strings.Cut(host, "."); ok && strings.EqualFold(rest, domain) {
			return true
		}
	}
	return false
}

// certNames lists the CN and SANs of a certificate for messages.
func certNames(c *x509.Certificate) []string {
	var names []string
	if c.Subject.CommonName != "" {
		names = append(names, "CN "+c.Subject.CommonName)
	}
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return []string{"no host name"}
	}
	return names
}
