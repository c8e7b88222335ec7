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
func serverTLS(svc config.Service, certs []tls.Certificate, alpn []string) (*tls.Config, error) {
	cfg, err := config.ServiceTLS(svc) // versions and ciphers, as delivery builds its own
	if err != nil {
		return nil, err
	}
	cfg.Certificates = certs // the main one last; crypto/tls asks GetCertificate only when the client names a host
	if len(certs) > 1 {
		cfg.GetCertificate = pickCertificate(certs)
	}
	cfg.NextProtos = alpn // Go's default key exchanges: real MTAs and OpenSSL 3.0 do not offer ML-KEM
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	cfg.SetSessionTicketKeys([][32]byte{key})
	return cfg, nil
}

// pickCertificate chooses per handshake among a certificate and its twins
// (an ECDSA twin first): the first the client can use. crypto/tls alone
// would also demand that the name match the client's SNI and, when none
// does (a client asking for an IP address or another name, as many MTAs
// do), take the first certificate even if the client cannot use it; here
// the name is a preference, never a reason to offer an unusable key. When
// nothing fits, the last (the profile's main certificate) is offered.
func pickCertificate(certs []tls.Certificate) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		for i := range certs {
			if hello.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		anyName := *hello
		anyName.ServerName = ""
		for i := range certs {
			if anyName.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		return &certs[len(certs)-1], nil
	}
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
