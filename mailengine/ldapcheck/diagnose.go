package ldapcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/tlsclient"
)

// ErrNoAnswer is returned by Test when no host of the profile answered.
var ErrNoAnswer = errors.New("no LDAP server of the profile answered the query")

// Test runs the accept query named query for addr on each host of its
// profile in turn, on new connections (neither pool nor cache), until one
// answers, and reports every step with report: the connection, the TLS
// session (version, cipher, the server's chain, whether it verifies and
// carries the host name per PEER_CERT_X509 and PEER_CERT_FQDN, said even
// when not enforced, whether a client certificate was asked for and sent),
// the bind and the answer. Each failure says what to change.
func (c *Checker) Test(ctx context.Context, cfg *config.Config, query, addr string, report func(format string, args ...any)) (bool, error) {
	p, err := cfg.FindAcceptQuery(query)
	if err != nil {
		return false, err
	}
	d, err := c.dialer(cfg, *p)
	if err != nil {
		return false, err
	}
	filter := Filter(p.AcceptQuery, addr)
	report("Query %s: %s under %s", p.QueryName(), p.AcceptQuery, p.BaseDN)
	report("Filter for %s: %s", addr, filter)
	bind := "anonymous"
	if p.BindDN != "" {
		bind = p.BindDN
	}
	report("Connection: %s, bind: %s, timeout %s", config.LDAPConnectionLabel(p.Connection), bind, d.timeout())
	for i, host := range p.Hosts {
		report("")
		report("Server %d of %d: %s port %d", i+1, len(p.Hosts), host, p.Port)
		found, err := c.testHost(ctx, d, host, filter, report)
		if err == nil {
			report("")
			if found {
				report("Result: %s is accepted: the query found it (RCPT gets 250).", addr)
			} else {
				report("Result: %s is not in the directory: a listener using %s refuses it (550 5.1.0 Address rejected).", addr, p.QueryName())
			}
			return found, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
	}
	report("")
	report("Result: no server answered: a listener using %s defers the recipient (451 4.4.3) until one does.", p.QueryName())
	return false, ErrNoAnswer
}

func (c *Checker) testHost(ctx context.Context, d *dialer, host, filter string, report func(format string, args ...any)) (bool, error) {
	res := &tlsclient.Result{}
	conn, err := d.connectHost(ctx, host, res, func(what string, st *tls.ConnectionState, err error) {
		switch {
		case strings.HasPrefix(what, "connect "):
			if err != nil {
				report("  Connect %s: failed: %v", strings.TrimPrefix(what, "connect "), err)
				report("    Check the host and port (ldapconfig EDIT), and that the server is up and reachable.")
			} else {
				report("  Connect %s: ok", strings.TrimPrefix(what, "connect "))
			}
		case what == "tls":
			if err == nil {
				report("  TLS session: %s cipher %s", cipherstring.VersionName(st.Version), cipherstring.LogName(st.CipherSuite))
			}
			reportTLS(report, d, host, res, err)
		case what == "bind":
			if err != nil {
				report("  Bind as %s: failed: %v", d.p.BindDN, err)
				if asked, offered := res.ClientCertificate(); asked && offered && !serverAnswered(err) {
					report("    The server closed the connection after the TLS handshake: it probably refused the client certificate; choose one signed by an authority the server trusts (ldapconfig SETUP).")
				} else {
					report("    %s", bindFix(err))
				}
			} else if d.p.BindDN != "" {
				report("  Bind as %s: ok", d.p.BindDN)
			} else {
				report("  Bind: anonymous")
			}
		}
	})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	found, dn, err := search(conn, d.p, filter)
	switch {
	case err != nil:
		report("  Query: failed: %v", err)
		report("    %s", searchFix(err))
		return false, err
	case found:
		report("  Query: match: %s", dn)
	default:
		report("  Query: no match")
	}
	return found, nil
}

// reportTLS says what the handshake's checks found, enforced or not.
func reportTLS(report func(string, ...any), d *dialer, host string, res *tlsclient.Result, err error) {
	lo, hi := tlsclient.Versions(d.ssl)
	if err != nil {
		report("  TLS (%s): failed: %v", strings.Join([]string{cipherstring.VersionName(lo), cipherstring.VersionName(hi)}, "-"), err)
	}
	if res.Checked() {
		report("  Server certificate chain:")
		for i, cert := range res.Chain() {
			report("    %d. subject %s, issuer %s, expires %s", i, cert.Subject, cert.Issuer, cert.NotAfter.UTC().Format("2006-01-02"))
		}
		if e := res.ChainErr(); e != nil {
			report("  Chain verification: does not verify: %v", e)
			if d.ssl.PeerCertX509 {
				report("    Refused: PEER_CERT_X509 is on. Add the server's authority with certconfig CERTAUTHORITY, or turn PEER_CERT_X509 off in sslconfig.")
			} else {
				report("    Accepted: PEER_CERT_X509 is off (sslconfig); turn it on to refuse such a server.")
			}
		} else {
			report("  Chain verification: verifies against the trust store (PEER_CERT_X509 %s)", onOff(d.ssl.PeerCertX509))
		}
		if e := res.NameErr(); e != nil {
			report("  Host name %s: not in the certificate: %v", host, e)
			if d.ssl.PeerCertFQDN {
				report("    Refused: PEER_CERT_FQDN is on. Enter the host by a name the certificate carries (ldapconfig EDIT), or turn PEER_CERT_FQDN off in sslconfig.")
			} else {
				report("    Accepted: PEER_CERT_FQDN is off (sslconfig); turn it on to refuse such a server.")
			}
		} else {
			report("  Host name %s: in the certificate (PEER_CERT_FQDN %s)", host, onOff(d.ssl.PeerCertFQDN))
		}
	}
	asked, offered := res.ClientCertificate()
	switch {
	case !asked:
		report("  Client certificate: not asked for by the server")
	case offered:
		report("  Client certificate: asked for by the server; sent (ldapconfig SETUP)")
	default:
		report("  Client certificate: asked for by the server; none sent (no certificate chosen in ldapconfig SETUP)")
	}
	if err == nil || errors.Is(err, tlsclient.ErrChain) || errors.Is(err, tlsclient.ErrName) || res.ChainErr() != nil && d.ssl.PeerCertX509 || res.NameErr() != nil && d.ssl.PeerCertFQDN {
		return
	}
	msg := err.Error()
	switch {
	case asked && !offered:
		report("    The server demands a client certificate: choose one it trusts with ldapconfig SETUP.")
	case asked && offered && (strings.Contains(msg, "certificate") || strings.Contains(msg, "unknown ca") || strings.Contains(msg, "bad")):
		report("    The server refused the client certificate: choose one signed by an authority the server trusts (ldapconfig SETUP).")
	case strings.Contains(msg, "protocol version") || strings.Contains(msg, "no supported versions"):
		if d.ssl.OtherClientTLSv10 {
			report("    The server offers no TLS version from 1.0 to 1.2: upgrade the server.")
		} else {
			report("    The server offers no TLS version the box uses (TLS 1.1-1.2): upgrade the server, or enable TLS 1.0 with sslconfig OTHER_CLIENT_TLSV10.")
		}
	case d.p.Connection == config.LDAPStartTLS && !res.Checked():
		report("    The server did not start TLS: check that it offers StartTLS on port %d, or choose SSL (LDAPS) or None in ldapconfig EDIT.", d.p.Port)
	case d.p.Connection == config.LDAPSSL && !res.Checked():
		report("    The server did not speak TLS: check that port %d is its LDAPS port (usually 636), or choose StartTLS or None in ldapconfig EDIT.", d.p.Port)
	default:
		report("    Check the server's TLS setup, and sslconfig OTHER_CLIENT_TLSV10, PEER_CERT_X509 and PEER_CERT_FQDN.")
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func bindFix(err error) string {
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return "The server refused the bind DN or password: check both (ldapconfig EDIT)."
	case ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired) || ldap.IsErrorWithCode(err, ldap.LDAPResultStrongAuthRequired):
		return "The server wants an encrypted connection before the bind: choose SSL (LDAPS) or StartTLS (ldapconfig EDIT)."
	case isTimeout(err):
		return "The server did not answer in time: check it, or raise the profile's timeout (ldapconfig EDIT)."
	}
	return "Check the bind DN and password (ldapconfig EDIT) and the server's log."
}

func searchFix(err error) string {
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return "The base DN does not exist on the server: check it (ldapconfig EDIT)."
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return "The bind DN may not search there: bind with an account that may (ldapconfig EDIT)."
	case ldap.IsErrorWithCode(err, ldap.LDAPResultFilterError):
		return "The server refused the filter: check the accept query (ldapconfig EDIT LDAPACCEPT)."
	case isTimeout(err):
		return "The server did not answer in time: check it, or raise the profile's timeout (ldapconfig EDIT)."
	}
	return "Check the base DN and the accept query (ldapconfig EDIT) and the server's log."
}

// serverAnswered reports whether err is a result the server sent (not a
// connection that broke or timed out).
func serverAnswered(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || ldap.IsErrorWithCode(err, ldap.ErrorNetwork) && strings.Contains(err.Error(), "timed out")
}
