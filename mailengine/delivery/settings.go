package delivery

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"

	"relaybox/config"
)

// KeyLoader turns a configured certificate into a usable TLS certificate.
type KeyLoader interface {
	TLSCertificate(c config.Certificate) (tls.Certificate, error)
}

// NewSettings builds what delivery needs from a configuration: the TLS
// base of sslconfig OUTBOUND (config.ServiceTLS, as the listeners build
// theirs), the destconfig client certificate (loaded with keys), the trust
// store as roots (trust builds it; nil verifies against no roots), and the
// source address of the deliveryconfig interface.
func NewSettings(c *config.Config, keys KeyLoader, trust func(config.Trust) (*x509.CertPool, error)) (*Settings, error) {
	t, err := config.ServiceTLS(c.SSL.Outbound)
	if err != nil {
		return nil, fmt.Errorf("outbound TLS: %w", err)
	}
	if name := c.Destinations.Certificate; name != "" {
		cc := c.Certificate(name)
		if cc == nil {
			return nil, fmt.Errorf("destconfig client certificate %q does not exist", name)
		}
		cert, err := keys.TLSCertificate(*cc)
		if err != nil {
			return nil, fmt.Errorf("destconfig client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	t.RootCAs = x509.NewCertPool()
	if trust != nil {
		p, err := trust(c.Trust)
		if err != nil {
			return nil, fmt.Errorf("building the trust store for outbound verification: %w", err)
		}
		t.RootCAs = p
	}
	source := ""
	if !strings.EqualFold(c.Delivery.Interface, "Auto") {
		if ifc := c.Interface(c.Delivery.Interface); ifc != nil {
			source = ifc.Address
		}
	}
	return &Settings{Config: c, TLS: t, Source: source}, nil
}
