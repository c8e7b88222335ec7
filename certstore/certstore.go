// Package certstore makes, imports, checks and exports the appliance's
// certificates (certconfig). Private keys are kept in owner-only files outside
// the configuration document, named by the SHA-256 of their public key so
// every committed version can still find its key; the configuration holds
// only the certificate chain, leaf first, then intermediates in issuing order.
//
// Certificates come from SelfSigned (the first-start Demo), NewRequest (a key,
// a self-signed certificate usable at once and a CSR; AttachSigned completes
// it with the authority's certificate), FromPEM (a pasted certificate, key and
// intermediates) and ImportPKCS12; ExportPKCS12 writes them out again.
// ParseCertificates and ParsePrivateKey read pasted PEM with errors in
// certconfig's wording. Inspect and Warnings describe a certificate for the
// certificate table, and TrustPool and ParseCA build the trust store that
// peers are verified against. Every refusal leaves the key directory as it was.
package certstore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/afero"

	"relaybox/config"
	"relaybox/internal/atomicfile"
)

// KeysDir is the directory under the data directory that holds private keys.
const KeysDir = "keys"

// KeyStore keeps private keys in owner-only files.
type KeyStore struct {
	fs  afero.Fs
	dir string
}

// NewKeyStore returns the key store in dataDir/keys, creating it owner-only.
func NewKeyStore(afs afero.Fs, dataDir string) (*KeyStore, error) {
	dir := filepath.Join(dataDir, KeysDir)
	if err := afs.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating key directory %s: %w", dir, err)
	}
	if err := afs.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restricting key directory %s: %w", dir, err)
	}
	return &KeyStore{fs: afs, dir: dir}, nil
}

// KeyRef names a key by the SHA-256 of its public key (hex).
func KeyRef(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// Put stores a private key (mode 0600) and returns its reference.
func (k *KeyStore) Put(key crypto.Signer) (string, error) {
	ref, err := KeyRef(key.Public())
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encoding private key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := atomicfile.WriteFile(k.fs, k.path(ref), data, 0o600); err != nil {
		return "", err
	}
	return ref, nil
}

func (k *KeyStore) path(ref string) string { return filepath.Join(k.dir, ref+".pem") }

// Get loads the private key with that reference.
func (k *KeyStore) Get(ref string) (crypto.Signer, error) {
	data, err := afero.ReadFile(k.fs, k.path(ref))
	if err != nil {
		return nil, fmt.Errorf("private key %s…: %w", ref[:min(12, len(ref))], err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("private key file %s holds no PEM block", k.path(ref))
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("private key file %s: %w", k.path(ref), err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key file %s holds a key that cannot sign", k.path(ref))
	}
	return signer, nil
}

// TLSCertificate loads a configured certificate with its chain and key.
func (k *KeyStore) TLSCertificate(c config.Certificate) (tls.Certificate, error) {
	return k.load(c.Name, c.PEM, c.Key)
}

// TLSCertificates is what a server offers for a configured certificate:
// its ECDSA twin first when it has one, then the certificate itself.
// crypto/tls takes, per handshake, the first one the client supports, so
// clients that accept ECDSA signatures get the cheaper P-256 handshake and
// the others the RSA certificate.
func (k *KeyStore) TLSCertificates(c config.Certificate) ([]tls.Certificate, error) {
	main, err := k.TLSCertificate(c)
	if err != nil {
		return nil, err
	}
	if c.ECDSAPEM == "" {
		return []tls.Certificate{main}, nil
	}
	twin, err := k.load(twinName(c.Name), c.ECDSAPEM, c.ECDSAKey)
	if err != nil {
		return nil, err
	}
	return []tls.Certificate{twin, main}, nil
}

// load reads a PEM chain and the stored key it was made for.
func (k *KeyStore) load(name, chainPEM, keyRef string) (tls.Certificate, error) {
	key, err := k.Get(keyRef)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %q: %w", name, err)
	}
	var out tls.Certificate
	rest := []byte(chainPEM)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			out.Certificate = append(out.Certificate, block.Bytes)
		}
	}
	if len(out.Certificate) == 0 {
		return tls.Certificate{}, fmt.Errorf("certificate %q holds no PEM certificate", name)
	}
	leaf, err := x509.ParseCertificate(out.Certificate[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate %q: %w", name, err)
	}
	ref, err := KeyRef(leaf.PublicKey)
	if err != nil || ref != keyRef {
		return tls.Certificate{}, fmt.Errorf("certificate %q does not match its private key", name)
	}
	out.PrivateKey = key
	out.Leaf = leaf
	return out, nil
}

// Request describes a self-signed certificate to make.
type Request struct {
	Name         string
	CommonName   string
	Organization string
	Unit         string
	Locality     string
	State        string
	Country      string
	Days         int
	KeyType      string // "rsa" or "ecdsa"
	KeyBits      int    // RSA: 2048 or 4096; ECDSA: 256 or 384
	DNSNames     []string
	// ECDSATwin also makes an ECDSA P-256 twin of an RSA certificate, with
	// its own key and signing request (NewRequest only).
	ECDSATwin bool
}

// SelfSigned makes a key and a self-signed certificate (SHA-256; SHA-384 for
// ECDSA P-384), stores the key and returns the certificate as configured.
func (k *KeyStore) SelfSigned(r Request) (config.Certificate, error) {
	key, err := newKey(r.KeyType, r.KeyBits)
	if err != nil {
		return config.Certificate{}, err
	}
	if r.Days < 1 {
		return config.Certificate{}, fmt.Errorf("validity of %d days is too short: use at least 1", r.Days)
	}
	tmpl, err := certTemplate(r)
	if err != nil {
		return config.Certificate{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return config.Certificate{}, fmt.Errorf("signing certificate %q: %w", r.Name, err)
	}
	return k.store(r.Name, key, der)
}

// store keeps the key (owner-only file) and returns the configured
// certificate for a DER certificate made for it.
func (k *KeyStore) store(name string, key crypto.Signer, der []byte) (config.Certificate, error) {
	ref, err := k.Put(key)
	if err != nil {
		return config.Certificate{}, err
	}
	return config.Certificate{
		Name: name,
		PEM:  string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		Key:  ref,
	}, nil
}

// certTemplate is the self-signed server and client certificate that r describes.
func certTemplate(r Request) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("making a serial number for certificate %q: %w", r.Name, err)
	}
	now := time.Now().Add(-5 * time.Minute)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               r.subject(),
		NotBefore:             now,
		NotAfter:              now.Add(time.Duration(r.Days) * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	tmpl.DNSNames, tmpl.IPAddresses = splitNames(r.DNSNames)
	return tmpl, nil
}

// subject is the distinguished name of the request.
func (r Request) subject() pkix.Name {
	return pkix.Name{
		CommonName: r.CommonName, Organization: nonEmpty(r.Organization), OrganizationalUnit: nonEmpty(r.Unit),
		Locality: nonEmpty(r.Locality), Province: nonEmpty(r.State), Country: nonEmpty(r.Country),
	}
}

// splitNames sorts subject alternative names into DNS names and IP addresses.
func splitNames(names []string) (dns []string, ips []net.IP) {
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

// Demo makes the first-start Demo certificate: RSA 2048, SHA-256, CN
// "Relaybox Demo", with its ECDSA P-256 twin.
func (k *KeyStore) Demo(hostname string) (config.Certificate, error) {
	c, err := k.SelfSigned(Request{
		Name: config.DemoCertificate, CommonName: "Relaybox Demo", Organization: "Relaybox",
		Unit: "Demo certificate - not secure", Days: 3650, KeyType: "rsa", KeyBits: 2048,
		DNSNames: []string{hostname, "localhost", "127.0.0.1", "::1"},
	})
	if err != nil {
		return c, err
	}
	return k.AddECDSATwin(c)
}

func newKey(typ string, bits int) (crypto.Signer, error) {
	switch typ {
	case "rsa":
		if bits != 2048 && bits != 4096 {
			return nil, fmt.Errorf("RSA key size %d is not offered: use 2048 or 4096", bits)
		}
		return rsa.GenerateKey(rand.Reader, bits)
	case "ecdsa":
		switch bits {
		case 256:
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case 384:
			return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		}
		return nil, fmt.Errorf("ECDSA key size %d is not offered: use 256 (P-256) or 384 (P-384)", bits)
	}
	return nil, errors.New("key type must be rsa or ecdsa")
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
