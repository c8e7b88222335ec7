package mailengine

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"

	"relaybox/config"
	"relaybox/mailengine/delivery"
)

// Deliverer is the outbound side the engine configures and wakes.
type Deliverer interface {
	Apply(s *delivery.Settings)
	Notify()
}

// outboundSettings builds what delivery needs from a configuration: the
// OUTBOUND versions and ciphers, the destconfig client certificate, the
// trust store, and the source address of the delivery interface.
func (e *Engine) outboundSettings(c *config.Config) (*delivery.Settings, error) {
	lo, hi := config.VersionRange(c.SSL.Outbound.Methods)
	t := &tls.Config{MinVersion: lo, MaxVersion: hi}
	if lo <= tls.VersionTLS12 {
		res, err := config.Offered(c.SSL.Outbound.Ciphers)
		if err != nil {
			return nil, fmt.Errorf("outbound ciphers: %w", err)
		}
		t.CipherSuites = res.IDs()
	}
	if name := c.Destinations.Certificate; name != "" {
		cc := c.Certificate(name)
		if cc == nil {
			return nil, fmt.Errorf("destconfig client certificate %q does not exist", name)
		}
		cert, err := e.opts.Keys.TLSCertificate(*cc)
		if err != nil {
			return nil, fmt.Errorf("destconfig client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	roots := x509.NewCertPool()
	if e.opts.TrustPool != nil {
		p, err := e.opts.TrustPool(c.Trust)
		if err != nil {
			return nil, fmt.Errorf("building the trust store for outbound verification: %w", err)
		}
		roots = p
	}
	t.RootCAs = roots
	source := ""
	if !strings.EqualFold(c.Delivery.Interface, "Auto") {
		if ifc := c.Interface(c.Delivery.Interface); ifc != nil {
			source = ifc.Address
		}
	}
	return &delivery.Settings{Config: c, TLS: t, Source: source}, nil
}
