package certstore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"relaybox/config"
)

// An RSA certificate profile may hold an ECDSA twin (config.Certificate's
// ECDSAPEM, ECDSAKey and ECDSACSR): a certificate with the same subject and
// names under an ECDSA key, which servers offer first (TLSCertificates). The
// twin is made here (AddECDSATwin, NewRequest with ECDSATwin), pasted
// (TwinFromPEM), imported (TwinFromPKCS12) or signed (AttachSigned); its key
// is stored like every other key, owner-only under its public key's hash.

// twinName is how messages name the ECDSA twin of the profile name.
func twinName(name string) string { return name + " (ECDSA twin)" }

// TwinWarningPrefix starts every warning about a profile's ECDSA twin.
const TwinWarningPrefix = "ECDSA twin: "

// Twin returns the ECDSA twin of c as a certificate of its own, named
// "NAME (ECDSA twin)", for Inspect and Warnings; ok is false without one.
func Twin(c config.Certificate) (twin config.Certificate, ok bool) {
	if c.ECDSAPEM == "" {
		return config.Certificate{}, false
	}
	return config.Certificate{Name: twinName(c.Name), PEM: c.ECDSAPEM, Key: c.ECDSAKey, CSR: c.ECDSACSR}, true
}

// WithoutTwin is c with its ECDSA twin removed (its key file stays, as every
// key does, for rollbackconfig).
func WithoutTwin(c config.Certificate) config.Certificate {
	c.ECDSAPEM, c.ECDSAKey, c.ECDSACSR = "", "", ""
	return c
}

// rsaLeaf reads the leaf of c and checks that it can have an ECDSA twin: it
// must be an RSA certificate.
func rsaLeaf(c config.Certificate) (*x509.Certificate, error) {
	certs, err := ParseCertificates(c.PEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", c.Name, err)
	}
	leaf := certs[0]
	if _, ok := leaf.PublicKey.(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("certificate %q has no RSA key (it is %s): only an RSA certificate gets an ECDSA twin; keep the ECDSA certificate as a profile of its own", c.Name, keyType(leaf.PublicKey))
	}
	return leaf, nil
}

// AddECDSATwin gives a self-signed RSA certificate an ECDSA P-256 twin: a
// new key and a self-signed certificate with the same subject, names, key
// usages and validity. When c awaits its signed certificate (it has a CSR),
// the twin gets a signing request too, to be signed with it and pasted with
// AttachSigned. A certificate signed by an authority cannot get a made twin
// (the authority has to sign the twin too: paste or import the one it
// issued), nor an ECDSA one. Nothing is stored on a refusal.
func (k *KeyStore) AddECDSATwin(c config.Certificate) (config.Certificate, error) {
	leaf, err := rsaLeaf(c)
	if err != nil {
		return c, err
	}
	if !bytes.Equal(leaf.RawIssuer, leaf.RawSubject) || leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) != nil {
		return c, fmt.Errorf("certificate %q is signed by %s: only a self-signed certificate gets a made ECDSA twin; have the authority issue an ECDSA certificate for the same names and paste or import it as the twin", c.Name, leaf.Issuer.CommonName)
	}
	key, der, csr, err := makeTwin(c.Name, leaf, c.CSR != "")
	if err != nil {
		return c, err
	}
	twin, err := k.store(c.Name, key, der)
	if err != nil {
		return c, err
	}
	c.ECDSAPEM, c.ECDSAKey, c.ECDSACSR = twin.PEM, twin.Key, csr
	return c, nil
}

// makeTwin makes the P-256 key and self-signed certificate of the twin of
// leaf (same subject, names, extended key usages and validity) and, when
// withCSR, its PEM signing request for the same subject and names.
func makeTwin(name string, leaf *x509.Certificate, withCSR bool) (crypto.Signer, []byte, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, nil, "", fmt.Errorf("making a serial number for the twin of %q: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: leaf.Subject, NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: leaf.ExtKeyUsage, BasicConstraintsValid: true,
		DNSNames: leaf.DNSNames, IPAddresses: leaf.IPAddresses,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, "", fmt.Errorf("signing the ECDSA twin of %q: %w", name, err)
	}
	if !withCSR {
		return key, der, "", nil
	}
	csr, err := twinRequest(name, leaf, key)
	if err != nil {
		return nil, nil, "", err
	}
	return key, der, csr, nil
}

// twinRequest is the PEM signing request of a twin: leaf's subject and
// names, the serverAuth and clientAuth usages, signed by key.
func twinRequest(name string, leaf *x509.Certificate, key crypto.Signer) (string, error) {
	tmpl, err := requestTemplate(name, leaf.Subject, leaf.DNSNames, leaf.IPAddresses)
	if err != nil {
		return "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return "", fmt.Errorf("making the signing request of the ECDSA twin of %q: %w", name, err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// TwinFromPEM gives the RSA certificate c the ECDSA twin pasted as a
// certificate, intermediates and private key (certconfig ECDSA PASTE). The
// key must be an ECDSA key (P-256 or P-384) and one of the certificates its
// own; that certificate must have c's subject and names. Intermediates are
// handled as in FromPEM. The key is stored only when everything else
// succeeded; a twin already there is replaced. The warnings are about the
// twin and start with TwinWarningPrefix.
func (k *KeyStore) TwinFromPEM(c config.Certificate, leafAndChainPEM, keyPEM string) (config.Certificate, []string, error) {
	main, err := rsaLeaf(c)
	if err != nil {
		return c, nil, err
	}
	certs, err := ParseCertificates(leafAndChainPEM)
	if err != nil {
		return c, nil, err
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return c, nil, err
	}
	if err := checkTwinKey(c.Name, key, "pasted"); err != nil {
		return c, nil, err
	}
	ref, err := KeyRef(key.Public())
	if err != nil {
		return c, nil, badKey("%v (use an ECDSA P-256 key)", err)
	}
	leaf, others := pickLeaf(certs, ref)
	if leaf == nil {
		return c, nil, fmt.Errorf("key does not sign certificate: the private key pasted for the ECDSA twin of %q belongs to none of the %d pasted certificates (paste the ECDSA key that was made together with certificate %s)", c.Name, len(certs), describe(certs[0]))
	}
	out, warnings, err := k.fitTwin(c, main, ref, leaf, others, false, "pasted")
	if err != nil {
		return c, nil, err
	}
	if _, err := k.Put(key); err != nil {
		return c, nil, err
	}
	return out, warnings, nil
}

// TwinFromPKCS12 gives the RSA certificate c the ECDSA twin held in a
// PKCS#12 file (certconfig ECDSA IMPORT), under the same caps and with the
// same handling of ctx as ImportPKCS12 and the same checks as TwinFromPEM.
func (k *KeyStore) TwinFromPKCS12(ctx context.Context, c config.Certificate, data []byte, passphrase string) (config.Certificate, []string, error) {
	main, err := rsaLeaf(c)
	if err != nil {
		return c, nil, err
	}
	name := twinName(c.Name)
	if len(data) == 0 {
		return c, nil, fmt.Errorf("the PKCS#12 file for %q is empty: export the ECDSA certificate again with its key", name)
	}
	if err := checkPKCS12Limits(name, data, pkcs12Limits{size: maxPKCS12Size, iterations: maxPKCS12Iterations}); err != nil {
		return c, nil, err
	}
	r, err := parsePKCS12Context(ctx, name, data, passphrase)
	if err != nil {
		return c, nil, importCancelled(name, err)
	}
	if r.err != nil {
		return c, nil, r.err
	}
	if err := checkTwinKey(c.Name, r.signer, "in the PKCS#12 file"); err != nil {
		return c, nil, err
	}
	if ctx.Err() != nil {
		return c, nil, importCancelled(name, context.Cause(ctx))
	}
	certs, err := ParseCertificates(r.cert.PEM)
	if err != nil {
		return c, nil, err
	}
	out, warnings, err := k.fitTwin(c, main, r.cert.Key, certs[0], certs[1:], true, "in the PKCS#12 file")
	if err != nil {
		return c, nil, err
	}
	if _, err := k.Put(r.signer); err != nil {
		return c, nil, err
	}
	return out, warnings, nil
}

// fitTwin checks that leaf (the certificate of the key ref) has the subject
// and names of main, the RSA leaf of c, orders its chain and returns c with
// it as its twin (its signing request done), and the twin's warnings.
func (k *KeyStore) fitTwin(c config.Certificate, main *x509.Certificate, ref string, leaf *x509.Certificate, others []*x509.Certificate, dropUnused bool, where string) (config.Certificate, []string, error) {
	if err := sameNames(c.Name, main, leaf, where); err != nil {
		return c, nil, err
	}
	tw, warnings, err := chainCertificate(twinName(c.Name), ref, leaf, others, dropUnused)
	if err != nil {
		return c, nil, err
	}
	c.ECDSAPEM, c.ECDSAKey, c.ECDSACSR = tw.PEM, ref, ""
	for i, w := range warnings {
		warnings[i] = TwinWarningPrefix + w
	}
	return c, warnings, nil
}

// checkTwinKey refuses a key that cannot be a twin's: only ECDSA P-256 and
// P-384 keys can (where says where the key came from).
func checkTwinKey(name string, key crypto.Signer, where string) error {
	ec, ok := key.Public().(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("the private key %s for the ECDSA twin of %q is an %s key, not ECDSA: give the ECDSA key and certificate (e.g. made with `openssl ecparam -genkey -name prime256v1`); an RSA certificate is replaced with PASTE or IMPORT of the profile itself", where, name, keyType(key.Public()))
	}
	if ec.Curve != elliptic.P256() && ec.Curve != elliptic.P384() {
		return fmt.Errorf("the private key %s for the ECDSA twin of %q is an ECDSA %s key: TLS clients expect P-256 (or P-384); make the twin's key with `openssl ecparam -genkey -name prime256v1`", where, name, ec.Curve.Params().Name)
	}
	return nil
}

// sameNames refuses a twin whose subject or names differ from the RSA
// certificate's: a client must get the same identity whichever it is served.
func sameNames(name string, main, twin *x509.Certificate, where string) error {
	if main.Subject.String() != twin.Subject.String() {
		return fmt.Errorf("the ECDSA certificate %s for %q is for %q, but certificate %q is for %q: a twin must have the same subject and names (have the ECDSA certificate issued for the same subject, or replace the profile)",
			where, name, twin.Subject.String(), name, main.Subject.String())
	}
	a, b := sanList(main), sanList(twin)
	if !slices.Equal(a, b) {
		return fmt.Errorf("the ECDSA certificate %s for %q names %s, but certificate %q names %s: a twin must have the same subject and names (have the ECDSA certificate issued for the same names, or replace the profile)",
			where, name, strings.Join(orNone(b), ", "), name, strings.Join(orNone(a), ", "))
	}
	return nil
}

// sanList is the subject alternative names of c, lower-cased and sorted.
func sanList(c *x509.Certificate) []string {
	var out []string
	for _, n := range c.DNSNames {
		out = append(out, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func orNone(list []string) []string {
	if len(list) == 0 {
		return []string{"no alternative names"}
	}
	return list
}

// twinWarnings are the warnings of c's twin not already said of c itself
// (a made twin shares its validity, so its expiry is the certificate's),
// each starting with TwinWarningPrefix. The twin is verified against roots
// only when c is not self-signed: a self-signed pair is warned about once.
func twinWarnings(c config.Certificate, mainSelfSigned bool, roots *x509.CertPool, already []string, now time.Time) []string {
	twin, ok := Twin(c)
	if !ok {
		return nil
	}
	if mainSelfSigned {
		roots = nil
	}
	var out []string
	for _, w := range Warnings(twin, roots, nil, now) {
		if !containsString(already, w) {
			out = append(out, TwinWarningPrefix+w)
		}
	}
	return out
}

// CanHaveTwin says why c cannot hold an ECDSA twin (it is not an RSA
// certificate, or it does not read), or nil when it can.
func CanHaveTwin(c config.Certificate) error {
	_, err := rsaLeaf(c)
	return err
}
