// Package tlsclient builds the TLS configuration of the box's own TLS
// clients other than SMTP delivery: what AsyncOS calls "Other TLS client
// services" (LDAP, the web security service, …). One place applies the
// sslconfig settings that govern them, so that each client does on the wire
// what the configuration says:
//
//   - versions TLS 1.1 and 1.2, and TLS 1.0 too only with
//     OTHER_CLIENT_TLSV10 enabled (config.SSL.OtherClientTLSv10);
//   - the server's chain is checked against the trust store (certconfig
//     CERTAUTHORITY): refused when it does not verify only with
//     PEER_CERT_X509 enabled;
//   - the server's certificate must name the host connected to only with
//     PEER_CERT_FQDN enabled;
//   - the client certificate the service is configured with, if any.
//
// Whatever is not enforced is still checked and reported (Result), so
// diagnostics can say "the chain does not verify (accepted: PEER_CERT_X509
// is off)".
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"

	"relaybox/config"
)

// Params are one client's own settings.
type Params struct {
	// ServerName is the host name the server's certificate must carry (the
	// host of the service's URL or profile), sent as SNI.
	ServerName string
	// Certificate is the client certificate to present; nil presents none.
	Certificate *tls.Certificate
	// Roots is the trust store the chain is checked against; nil is the
	// system's.
	Roots *x509.CertPool
}

// Result is what the checks found in the last handshake made with a
// configuration from New. It is safe to read while other handshakes run.
type Result struct {
	mu          sync.Mutex
	checked     bool
	chainErr    error
	nameErr     error
	chain       []*x509.Certificate
	certAsked   bool
	certOffered bool
}

// Checked reports whether a server certificate was checked at all.
func (r *Result) Checked() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.checked }

// ChainErr is why the server's chain did not verify against the trust store, or nil.
func (r *Result) ChainErr() error { r.mu.Lock(); defer r.mu.Unlock(); return r.chainErr }

// NameErr is why the server's certificate does not carry the host name, or nil.
func (r *Result) NameErr() error { r.mu.Lock(); defer r.mu.Unlock(); return r.nameErr }

// Chain is the chain the server sent, leaf first.
func (r *Result) Chain() []*x509.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*x509.Certificate(nil), r.chain...)
}

// ClientCertificate reports whether the server asked for a client
// certificate, and whether we had one to give.
func (r *Result) ClientCertificate() (asked, offered bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.certAsked, r.certOffered
}

// Versions are the TLS versions the other TLS client services may use.
func Versions(ssl config.SSL) (lo, hi uint16) {
	if ssl.OtherClientTLSv10 {
		return tls.VersionTLS10, tls.VersionTLS12
	}
	return tls.VersionTLS11, tls.VersionTLS12
}

// ErrChain and ErrName wrap the refusals of PEER_CERT_X509 and PEER_CERT_FQDN.
var (
	ErrChain = errors.New("the server's certificate does not verify against the trust store")
	ErrName  = errors.New("the server's certificate does not carry the host name")
)

// New returns the client configuration for one service under the sslconfig
// settings ssl. res, when not nil, receives what each handshake's checks found.
func New(ssl config.SSL, p Params, res *Result) *tls.Config {
	if res == nil {
		res = &Result{}
	}
	lo, hi := Versions(ssl)
	cfg := &tls.Config{
		MinVersion: lo,
		MaxVersion: hi,
		ServerName: p.ServerName,
		// The checks are ours (VerifyConnection): each is enforced only when
		// its sslconfig setting says so, and reported either way.
		InsecureSkipVerify: true,
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		res.mu.Lock()
		res.certAsked, res.certOffered = true, p.Certificate != nil
		res.mu.Unlock()
		if p.Certificate == nil {
			return &tls.Certificate{}, nil // none: the server decides
		}
		return p.Certificate, nil
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		chainErr, nameErr := check(cs, p)
		res.mu.Lock()
		res.checked, res.chainErr, res.nameErr = true, chainErr, nameErr
		res.chain = cs.PeerCertificates
		res.mu.Unlock()
		if ssl.PeerCertX509 && chainErr != nil {
			return fmt.Errorf("%w (%v): add its authority with certconfig CERTAUTHORITY, or turn PEER_CERT_X509 off in sslconfig", ErrChain, chainErr)
		}
		if ssl.PeerCertFQDN && nameErr != nil {
			return fmt.Errorf("%w %q (%v): connect by the name in the certificate, or turn PEER_CERT_FQDN off in sslconfig", ErrName, p.ServerName, nameErr)
		}
		return nil
	}
	return cfg
}

// check verifies the server's chain and name, enforcing neither.
func check(cs tls.ConnectionState, p Params) (chainErr, nameErr error) {
	if len(cs.PeerCertificates) == 0 {
		err := errors.New("the server sent no certificate")
		return err, err
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, chainErr = leaf.Verify(x509.VerifyOptions{Roots: p.Roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	nameErr = leaf.VerifyHostname(p.ServerName)
	return chainErr, nameErr
}
