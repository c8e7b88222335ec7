package mailengine

import (
	"crypto/rand"
	"crypto/tls"
	"fmt"

	"relaybox/config"
)

// serverTLS builds the TLS configuration of one service generation. Each
// generation gets fresh session-ticket keys, so a client resuming a session
// from before a commit cannot keep the old certificate or versions.
func serverTLS(svc config.Service, cert tls.Certificate, alpn []string) (*tls.Config, error) {
	cfg, err := config.ServiceTLS(svc) // versions and ciphers, as delivery builds its own
	if err != nil {
		return nil, err
	}
	cfg.Certificates = []tls.Certificate{cert}
	cfg.NextProtos = alpn // Go's default key exchanges: real MTAs and OpenSSL 3.0 do not offer ML-KEM
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	cfg.SetSessionTicketKeys([][32]byte{key})
	return cfg, nil
}

// dynamicTLS is the fixed base configuration a listener is built with: every
// handshake takes the current generation from get.
func dynamicTLS(get func() *tls.Config) *tls.Config {
	return &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			c := get()
			if c == nil {
				return nil, fmt.Errorf("TLS is off on this service")
			}
			return c, nil
		},
	}
}
