package certstore

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"net"
	"strings"

	"relaybox/config"
)

// MaxDays is the longest validity NewRequest accepts (100 years).
const MaxDays = 36500

// subjectLimits are the X.520 upper bounds on the subject fields (RFC 5280 appendix A).
var subjectLimits = [...]struct {
	field string
	max   int
	get   func(Request) string
}{
	{"Common Name", 64, func(r Request) string { return r.CommonName }},
	{"Organization", 64, func(r Request) string { return r.Organization }},
	{"Organizational Unit", 64, func(r Request) string { return r.Unit }},
	{"Locality", 128, func(r Request) string { return r.Locality }},
	{"State", 128, func(r Request) string { return r.State }},
}

// oidExtKeyUsage is the extended key usage extension, requested in the CSR.
var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// requestedEKU is serverAuth (1.3.6.1.5.5.7.3.1) and clientAuth (…3.2): the
// box presents the certificate to SMTP/HTTPS clients and to SMTP servers.
var requestedEKU = []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 1}, {1, 3, 6, 1, 5, 5, 7, 3, 2}}

// NewRequest makes a key, a self-signed certificate usable at once, and a CSR
// for the same key (RSA 2048/4096 signed with SHA-256, ECDSA P-256 with
// SHA-256 or P-384 with SHA-384; subject CN, O, OU, L, ST, C; SAN = CN when it
// looks like a host name, plus r.DNSNames; the CSR also asks for the
// serverAuth and clientAuth extended key usages). It validates the request
// first — name (a letter, then letters, digits, '_', '-', '.'), Common Name
// present, Country two ASCII letters (upper-cased), 1 to MaxDays days, subject
// fields within their X.509 lengths, DNS names that are host names or IP
// addresses — and stores the key last, so a refusal writes nothing. The
// returned certificate has CSR set to the PEM request; AttachSigned completes it.
// With r.ECDSATwin (RSA keys only) it also has an ECDSA P-256 twin with the
// same subject, names and validity, self-signed, and the twin's own request
// in ECDSACSR: the authority signs both, and AttachSigned takes either.
func (k *KeyStore) NewRequest(r Request) (config.Certificate, error) {
	r.CommonName = strings.TrimSpace(r.CommonName)
	r.Country = strings.ToUpper(strings.TrimSpace(r.Country))
	if err := validateRequest(r); err != nil {
		return config.Certificate{}, err
	}
	if looksLikeHost(r.CommonName) && !containsFold(r.DNSNames, r.CommonName) {
		r.DNSNames = append([]string{r.CommonName}, r.DNSNames...)
	}
	key, err := newKey(r.KeyType, r.KeyBits)
	if err != nil {
		return config.Certificate{}, err
	}
	tmpl, err := certTemplate(r)
	if err != nil {
		return config.Certificate{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return config.Certificate{}, fmt.Errorf("signing certificate %q: %w", r.Name, err)
	}
	csrTmpl, err := requestTemplate(r.Name, r.subject(), tmpl.DNSNames, tmpl.IPAddresses)
	if err != nil {
		return config.Certificate{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, csrTmpl, key)
	if err != nil {
		return config.Certificate{}, fmt.Errorf("making the signing request of %q: %w", r.Name, err)
	}
	var (
		twinKey crypto.Signer
		twinDER []byte
		twinCSR string
	)
	if r.ECDSATwin {
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			return config.Certificate{}, fmt.Errorf("certificate %q: %w", r.Name, err)
		}
		if twinKey, twinDER, twinCSR, err = makeTwin(r.Name, leaf, true); err != nil {
			return config.Certificate{}, err
		}
	}
	c, err := k.store(r.Name, key, der)
	if err != nil {
		return config.Certificate{}, err
	}
	c.CSR = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}))
	if r.ECDSATwin {
		twin, err := k.store(r.Name, twinKey, twinDER)
		if err != nil {
			return config.Certificate{}, err
		}
		c.ECDSAPEM, c.ECDSAKey, c.ECDSACSR = twin.PEM, twin.Key, twinCSR
	}
	return c, nil
}

// requestTemplate is a signing request for subject and names that also asks
// for the serverAuth and clientAuth extended key usages.
func requestTemplate(name string, subject pkix.Name, dns []string, ips []net.IP) (*x509.CertificateRequest, error) {
	eku, err := asn1.Marshal(requestedEKU)
	if err != nil {
		return nil, fmt.Errorf("encoding the extended key usage of %q: %w", name, err)
	}
	return &x509.CertificateRequest{
		Subject:         subject,
		DNSNames:        dns,
		IPAddresses:     ips,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Value: eku}},
	}, nil
}

// validateRequest checks everything NewRequest is given before any key is made.
func validateRequest(r Request) error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	if r.CommonName == "" {
		return fmt.Errorf("certificate %q needs a Common Name: enter the host name the certificate is for, e.g. mail.example.com", r.Name)
	}
	for _, l := range subjectLimits {
		if v := l.get(r); len(v) > l.max {
			return fmt.Errorf("%s %.20q… is %d characters long: X.509 allows at most %d (put long host names in the DNS names instead)", l.field, v, len(v), l.max)
		}
	}
	if len(r.Country) != 2 || !isASCIILetter(r.Country[0]) || !isASCIILetter(r.Country[1]) {
		return fmt.Errorf("Country should be a ISO two character country code: %q is not two letters (enter e.g. US, DE or JP)", r.Country)
	}
	if r.Days < 1 {
		return fmt.Errorf("validity of %d days is too short: use 1 to %d days", r.Days, MaxDays)
	}
	if r.Days > MaxDays {
		return fmt.Errorf("validity of %d days is too long: use 1 to %d days", r.Days, MaxDays)
	}
	if r.ECDSATwin && r.KeyType != "rsa" {
		return fmt.Errorf("certificate %q: an ECDSA twin is made for an RSA certificate, and this one has an ECDSA key: choose an RSA key (2048 or 4096 bits) for an RSA + ECDSA pair, or no twin", r.Name)
	}
	for _, n := range r.DNSNames {
		if net.ParseIP(n) == nil && !isHostName(n) {
			return fmt.Errorf("DNS name %q is neither a host name nor an IP address: use letters, digits, '-' and '.', e.g. mail.example.com", n)
		}
	}
	return nil
}

// ValidateName checks a certificate profile name: a letter, then letters,
// digits, '_', '-' or '.'.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("a certificate needs a name: start with a letter, e.g. mail_cert")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := isASCIILetter(c) || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.')
		if !ok {
			return fmt.Errorf("certificate name %q is not allowed: start with a letter and use only letters, digits, '_', '-' and '.'", name)
		}
	}
	return nil
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isHostName reports whether s is a DNS name: dot-separated labels of letters,
// digits and '-' (not at either end), optionally with a leading "*." wildcard.
func isHostName(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "*."), ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isASCIILetter(c) && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// looksLikeHost reports whether a Common Name is a host name worth copying
// into the subject alternative names: a dotted DNS name, "localhost", or an
// IP address. "Relaybox Demo" or "mailgw" is not.
func looksLikeHost(cn string) bool {
	if net.ParseIP(cn) != nil {
		return true
	}
	return isHostName(cn) && (strings.Contains(strings.TrimPrefix(cn, "*."), ".") || strings.EqualFold(cn, "localhost"))
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
