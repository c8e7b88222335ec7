package certstore

import (
	"crypto/x509"
	"fmt"

	"relaybox/config"
)

// TrustPool builds the pool that peers are verified against from the trust
// settings (certconfig CERTAUTHORITY): the system roots when t.System, plus
// t.CustomCAs when t.Custom. With neither, the pool is empty and trusts no one.
func TrustPool(t config.Trust) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if t.System {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("reading the system certificate authorities: %w (install the ca-certificates package, or disable them with CERTAUTHORITY > SYSTEM > DISABLE)", err)
		}
		pool = sys
	}
	if t.Custom {
		for _, ca := range t.CustomCAs {
			cert, err := ParseCA(ca.PEM)
			if err != nil {
				return nil, fmt.Errorf("custom authority %q: %w (import it again, or remove it)", ca.Name, err)
			}
			pool.AddCert(cert)
		}
	}
	return pool, nil
}

// ParseCA validates a custom certificate authority: the PEM text must hold
// exactly one certificate, and it must be a CA (CA:TRUE basic constraint) or
// a self-signed version 1 root.
func ParseCA(text string) (*x509.Certificate, error) {
	certs, err := ParseCertificates(text)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("Invalid certificate: the text holds %d certificates; import each authority on its own...discarding", len(certs))
	}
	c := certs[0]
	if c.BasicConstraintsValid && c.IsCA || c.Version == 1 && isSelfSigned(c) {
		return c, nil
	}
	return nil, fmt.Errorf("Invalid certificate: %s is not a certificate authority (it has no CA:TRUE basic constraint); import the authority that issued it, not a server certificate...discarding", describe(c))
}
