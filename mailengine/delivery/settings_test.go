package delivery

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// TestNewSettings: delivery's TLS base is sslconfig OUTBOUND as the
// listeners read theirs (config.ServiceTLS), the source follows
// deliveryconfig, and a missing client certificate is refused by name.
func TestNewSettings(t *testing.T) {
	c := config.Defaults(config.FirstStart{Hostname: "relay.example.test", Address: "127.0.0.2"})
	c.SSL.Outbound.Methods = []config.Method{config.TLS12, config.TLS13}
	c.Delivery.Interface = config.ManagementIface
	s, err := NewSettings(c, nil, nil)
	require.NoError(t, err)
	base, err := config.ServiceTLS(c.SSL.Outbound)
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS12), s.TLS.MinVersion)
	assert.Equal(t, uint16(tls.VersionTLS13), s.TLS.MaxVersion)
	assert.Equal(t, base.CipherSuites, s.TLS.CipherSuites)
	assert.NotEmpty(t, s.TLS.CipherSuites)
	assert.NotNil(t, s.TLS.RootCAs, "no trust function: verify against no roots, never the system's by accident")
	assert.Equal(t, "127.0.0.2", s.Source)

	c.Delivery.Interface = "Auto"
	c.Destinations.Certificate = "Gone"
	_, err = NewSettings(c, nil, nil)
	require.EqualError(t, err, `destconfig client certificate "Gone" does not exist`)
}
