package websecurity

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/tlsclient"
)

// DiagnoseTimeout bounds each step of Diagnose.
const DiagnoseTimeout = 10 * time.Second

// TestURL is the URL a diagnostic lookup asks about.
const TestURL = "http://websecuritydiagnostics.relaybox.invalid/"

// Diagnostics makes the diagnostic connection of websecuritydiagnostics.
type Diagnostics struct {
	Keys  KeyLoader
	Trust TrustFunc
	// Resolver finds the service's addresses (default net.DefaultResolver).
	Resolver interface {
		LookupHost(ctx context.Context, host string) ([]string, error)
	}
}

// Diagnose connects to c's web security service as a lookup would, and
// reports each step: the addresses, the connection, the TLS version and
// cipher, the server's chain and the PEER_CERT_* checks, the client
// certificate, and a test lookup. It returns an error, saying what to
// change, at the first step that fails.
func (d Diagnostics) Diagnose(ctx context.Context, c *config.Config, report func(format string, args ...any)) error {
	w := c.WebSecurity
	report("URL filtering: %s", enableWord(w.Enabled))
	report("Service URL: %s", orNone(w.ServiceURL))
	ep, err := newEndpoint(c, d.Keys, d.Trust)
	if err != nil {
		return err
	}
	if ep.hasCert {
		report("Client certificate: %s", ep.certName)
	} else {
		report("Client certificate: none (websecurityconfig sets one)")
	}
	lo, hi := tlsclient.Versions(c.SSL)
	report("TLS versions allowed: %s to %s (TLS v1.0 %s by sslconfig OTHER_CLIENT_TLSV10)", cipherstring.VersionName(lo), cipherstring.VersionName(hi),
		map[bool]string{true: "allowed", false: "not allowed"}[c.SSL.OtherClientTLSv10])

	// 1. DNS.
	host, port := ep.url.Hostname(), ep.url.Port()
	if port == "" {
		port = "443"
	}
	addrs := []string{host}
	if net.ParseIP(host) == nil {
		var r interface {
			LookupHost(ctx context.Context, host string) ([]string, error)
		} = net.DefaultResolver
		if d.Resolver != nil {
			r = d.Resolver
		}
		lctx, cancel := context.WithTimeout(ctx, DiagnoseTimeout)
		addrs, err = r.LookupHost(lctx, host)
		cancel()
		if err != nil {
			report("DNS: FAILED: %v", err)
			return fmt.Errorf("the service's host %s does not resolve: %v: check the host name of the service URL (websecurityconfig); it is resolved by the system resolver (/etc/hosts, /etc/resolv.conf)", host, err)
		}
		report("DNS: %s is %s", host, strings.Join(addrs, ", "))
	}

	// 2. Connect.
	var conn net.Conn
	var last error
	for _, a := range addrs {
		addr := net.JoinHostPort(a, port)
		conn, last = (&net.Dialer{Timeout: DiagnoseTimeout}).DialContext(ctx, "tcp", addr)
		if last == nil {
			report("Connect: connected to %s", addr)
			break
		}
		report("Connect: %s FAILED: %v", addr, last)
	}
	if conn == nil {
		return fmt.Errorf("cannot connect to the service at %s port %s: %v: check that the service runs and the port of the service URL (websecurityconfig)", host, port, last)
	}
	defer conn.Close()

	// 3. TLS.
	tc := tls.Client(conn, ep.tls)
	hctx, cancel := context.WithTimeout(ctx, DiagnoseTimeout)
	herr := tc.HandshakeContext(hctx)
	cancel()
	st := tc.ConnectionState()
	if herr == nil {
		report("TLS: %s with %s", cipherstring.VersionName(st.Version), cipherstring.LogName(st.CipherSuite))
	}
	d.reportChain(c.SSL, ep, report)
	asked, offered := ep.res.ClientCertificate()
	switch {
	case !asked && herr == nil:
		report("Client certificate: the server did not ask for one")
	case asked && offered:
		report("Client certificate: the server asked for one; we presented %s", ep.certName)
	case asked:
		report("Client certificate: the server asked for one; we have none to present")
	}
	if herr != nil {
		report("TLS: FAILED: %v", herr)
		return d.explainHandshake(c.SSL, ep, herr)
	}
	if asked && offered {
		report("Client certificate: accepted by the server")
	}

	// 4. A test lookup over this connection.
	used := false
	hc := &http.Client{Timeout: DiagnoseTimeout, Transport: &http.Transport{DisableKeepAlives: true,
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) {
			if used {
				return nil, errors.New("the diagnostic connection was used already")
			}
			used = true
			return tc, nil
		}}}
	resp, status, err := lookup(ctx, hc, ep.url, Request{Version: ProtocolVersion, URLs: []string{TestURL}, Track: false, Client: c.Hostname})
	if status != 0 {
		report("Test lookup: HTTP %d %s", status, http.StatusText(status))
	}
	if err != nil {
		report("Test lookup: FAILED: %v", err)
		return d.explainLookup(status, asked, offered, err)
	}
	for _, v := range resp.Results {
		report("Test lookup: %s reputation %.1f category %s", printable(v.URL), v.Score, cleanCategory(v.Category))
	}
	if len(resp.Results) == 0 {
		report("Test lookup: the service gave no verdict")
	}
	report("Result: the web security service can be used.")
	return nil
}

func (d Diagnostics) reportChain(ssl config.SSL, ep *endpoint, report func(string, ...any)) {
	chain := ep.res.Chain()
	for i, cert := range chain {
		report("Server certificate %d: subject %q, issuer %q, valid until %s", i+1, cert.Subject.String(), cert.Issuer.String(), cert.NotAfter.UTC().Format("2006-01-02"))
	}
	if !ep.res.Checked() {
		return
	}
	if err := ep.res.ChainErr(); err != nil {
		if ssl.PeerCertX509 {
			report("Chain: does NOT verify against the trust store (%v): refused, PEER_CERT_X509 is on", err)
		} else {
			report("Chain: does NOT verify against the trust store (%v): not enforced, PEER_CERT_X509 is off", err)
		}
	} else {
		report("Chain: verifies against the trust store")
	}
	if err := ep.res.NameErr(); err != nil {
		if ssl.PeerCertFQDN {
			report("Name: the certificate does NOT carry %s (%v): refused, PEER_CERT_FQDN is on", ep.serverName, err)
		} else {
			report("Name: the certificate does NOT carry %s (%v): not enforced, PEER_CERT_FQDN is off", ep.serverName, err)
		}
	} else {
		report("Name: the certificate carries %s", ep.serverName)
	}
}

// explainHandshake says what to change for a failed handshake.
func (d Diagnostics) explainHandshake(ssl config.SSL, ep *endpoint, err error) error {
	asked, offered := ep.res.ClientCertificate()
	msg := err.Error()
	switch {
	case errors.Is(err, tlsclient.ErrChain) || errors.Is(err, tlsclient.ErrName):
		return err // says what to change
	case strings.Contains(msg, "protocol version") || strings.Contains(msg, "no supported versions"):
		if !ssl.OtherClientTLSv10 {
			return fmt.Errorf("the service and the box share no TLS version (%v): the box allows TLS v1.1 and v1.2; if the service speaks only TLS v1.0, enable OTHER_CLIENT_TLSV10 in sslconfig (or upgrade the service)", err)
		}
		return fmt.Errorf("the service and the box share no TLS version (%v): the box allows TLS v1.0 to v1.2", err)
	case asked && !offered:
		return fmt.Errorf("the service requires a client certificate and none is set (%v): choose the certificate the service trusts in websecurityconfig", err)
	case asked && offered && (strings.Contains(msg, "bad certificate") || strings.Contains(msg, "unknown certificate") || strings.Contains(msg, "certificate required") || strings.Contains(msg, "handshake failure")):
		return fmt.Errorf("the service refused the client certificate %s (%v): choose the certificate the service trusts in websecurityconfig, or have the service trust its authority", ep.certName, err)
	}
	return fmt.Errorf("the TLS handshake with the service failed: %v: check that the service URL points at the service's HTTPS port", err)
}

// explainLookup says what to change for a failed test lookup.
func (d Diagnostics) explainLookup(status int, asked, offered bool, err error) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		if offered {
			return fmt.Errorf("the service refused the lookup (HTTP %d): it does not accept the client certificate; choose another in websecurityconfig", status)
		}
		return fmt.Errorf("the service refused the lookup (HTTP %d): it wants a client certificate; choose one in websecurityconfig", status)
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return fmt.Errorf("the service has no lookup at this URL (HTTP %d): check the path of the service URL (websecurityconfig)", status)
	case status != 0 && status != http.StatusOK:
		return fmt.Errorf("the service failed the lookup (HTTP %d): check the service's own logs", status)
	case asked && offered && isRemoteCertError(err):
		return fmt.Errorf("the service refused the client certificate: %v: choose the certificate the service trusts in websecurityconfig", err)
	}
	return fmt.Errorf("the test lookup failed: %v", err)
}

func isRemoteCertError(err error) bool {
	m := err.Error()
	return strings.Contains(m, "bad certificate") || strings.Contains(m, "certificate required") || strings.Contains(m, "unknown certificate")
}

func enableWord(b bool) string {
	if b {
		return "Enabled"
	}
	return "Disabled"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
