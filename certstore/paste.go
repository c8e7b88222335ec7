package certstore

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"relaybox/config"
)

// FromPEM builds a certificate from a pasted leaf, key and intermediates
// (certconfig PASTE). The leaf is the pasted certificate whose public key is
// the key's (normally the first); otherwise the error is "key does not sign
// certificate". The other certificates must chain from the leaf — each one's
// issuer is the next one's subject and its signature verifies (MD5/SHA-1
// links are checked by hand and warned about) — and are stored leaf first
// then in issuing order, whatever order they were pasted in; an included
// self-signed root is kept with a warning; a certificate outside the chain is
// refused. The key is stored only when everything else succeeded. The
// warnings include those of Warnings without roots or host names.
func (k *KeyStore) FromPEM(name, leafAndChainPEM, keyPEM string) (config.Certificate, []string, error) {
	if err := ValidateName(name); err != nil {
		return config.Certificate{}, nil, err
	}
	certs, err := ParseCertificates(leafAndChainPEM)
	if err != nil {
		return config.Certificate{}, nil, err
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return config.Certificate{}, nil, err
	}
	ref, err := KeyRef(key.Public())
	if err != nil {
		return config.Certificate{}, nil, badKey("%v (use an RSA, ECDSA or Ed25519 key)", err)
	}
	leaf, others := pickLeaf(certs, ref)
	if leaf == nil {
		return config.Certificate{}, nil, fmt.Errorf("key does not sign certificate: the private key pasted for %q belongs to none of the %d pasted certificates (paste the key that was made together with certificate %s)", name, len(certs), describe(certs[0]))
	}
	c, warnings, err := chainCertificate(name, ref, leaf, others, false)
	if err != nil {
		return config.Certificate{}, nil, err
	}
	if _, err := k.Put(key); err != nil {
		return config.Certificate{}, nil, err
	}
	return c, warnings, nil
}

// AttachSigned completes a pending request (certconfig PASTE of the signed
// certificate): the leaf is the pasted certificate whose public key is the
// key of c; if none is, the certificate was not signed for this request.
// Intermediates are handled as in FromPEM. The result keeps c's name, key
// and ECDSA twin and has CSR cleared. A certificate re-signed for the same
// key (a renewal) is accepted the same way when c has no pending request.
// When c has an ECDSA twin, a certificate for the twin's key is taken as the
// twin's (its subject and names checked as TwinFromPEM does, ECDSACSR
// cleared, its warnings prefixed with TwinWarningPrefix). Nothing is written.
func (k *KeyStore) AttachSigned(c config.Certificate, leafAndChainPEM string) (config.Certificate, []string, error) {
	if _, err := k.Get(c.Key); err != nil {
		return config.Certificate{}, nil, fmt.Errorf("certificate %q: %w (make a new request with NEW)", c.Name, err)
	}
	certs, err := ParseCertificates(leafAndChainPEM)
	if err != nil {
		return config.Certificate{}, nil, err
	}
	leaf, others := pickLeaf(certs, c.Key)
	if leaf == nil && c.ECDSAKey != "" {
		if twin, rest := pickLeaf(certs, c.ECDSAKey); twin != nil {
			if _, err := k.Get(c.ECDSAKey); err != nil {
				return config.Certificate{}, nil, fmt.Errorf("the ECDSA twin of %q: %w (make it again with ECDSA NEW)", c.Name, err)
			}
			main, err := rsaLeaf(c)
			if err != nil {
				return config.Certificate{}, nil, err
			}
			return k.fitTwin(c, main, c.ECDSAKey, twin, rest, false, "pasted")
		}
	}
	if leaf == nil {
		also := ""
		if c.ECDSAKey != "" {
			also = " or its ECDSA twin's"
		}
		return config.Certificate{}, nil, fmt.Errorf("the certificate does not match the request's key%s: it was not signed for this request of %q (paste the certificate the authority issued for this profile's CSR, or submit the CSR again)", also, c.Name)
	}
	out, warnings, err := chainCertificate(c.Name, c.Key, leaf, others, false)
	if err != nil {
		return config.Certificate{}, nil, err
	}
	out.ECDSAPEM, out.ECDSAKey, out.ECDSACSR = c.ECDSAPEM, c.ECDSAKey, c.ECDSACSR
	return out, warnings, nil
}

// pickLeaf finds the certificate for the key ref and returns it with the others.
func pickLeaf(certs []*x509.Certificate, ref string) (*x509.Certificate, []*x509.Certificate) {
	for i, c := range certs {
		if r, err := KeyRef(c.PublicKey); err == nil && r == ref {
			others := append(append([]*x509.Certificate{}, certs[:i]...), certs[i+1:]...)
			return c, others
		}
	}
	return nil, nil
}

// chainCertificate orders the chain of leaf and makes the configured
// certificate. Certificates outside the chain are refused, and a reordering
// is warned about; when dropUnused (a PKCS#12 file, which cannot be edited at
// the prompt and whose order is the exporter's) they are dropped with a
// warning instead, and the reordering is silent.
func chainCertificate(name, ref string, leaf *x509.Certificate, others []*x509.Certificate, dropUnused bool) (config.Certificate, []string, error) {
	ch, err := orderChain(leaf, others)
	if err != nil {
		return config.Certificate{}, nil, err
	}
	warnings := ch.warnings
	if ch.reordered && !dropUnused {
		warnings = append(warnings, ch.reorderWarning())
	}
	if dropUnused {
		for _, u := range ch.unused {
			warnings = append(warnings, fmt.Sprintf("%s (issued by %s) is not in the chain of %s and was left out", describe(u), issuerName(u), describe(leaf)))
		}
	} else if err := refuseUnused(leaf, ch.unused); err != nil {
		return config.Certificate{}, nil, err
	}
	c := config.Certificate{Name: name, PEM: encodeChain(ch.certs), Key: ref}
	for _, w := range Warnings(c, nil, nil, time.Now()) {
		if !containsString(warnings, w) {
			warnings = append(warnings, w)
		}
	}
	return c, warnings, nil
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// keyMatches reports whether key is the private key of cert.
func keyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	a, err1 := KeyRef(key.Public())
	b, err2 := KeyRef(cert.PublicKey)
	return err1 == nil && err2 == nil && a == b
}
