package mailengine

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"relaybox/config"
)

func newSMTPServer(p plan, base *tls.Config, errorLog io.Writer) *smtp.Server {
	be := &backend{listener: p.listener}
	srv := smtp.NewServer(be)
	srv.Domain = p.iface.Hostname
	srv.MaxMessageBytes = p.listener.MaxMessageBytes
	srv.MaxRecipients = p.listener.MaxRecipients
	srv.ReadTimeout = time.Duration(p.listener.IdleTimeout)
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(errorLog, "smtp "+p.listener.Name+" ", log.LstdFlags)
	if p.tls != nil {
		srv.TLSConfig = base
	}
	return srv
}

// relayAdmitter admits clients whose address is in one of the networks.
func relayAdmitter(networks []string) func(net.Conn) bool {
	var prefixes []netip.Prefix
	for _, n := range networks {
		if p, err := netip.ParsePrefix(n); err == nil {
			prefixes = append(prefixes, p)
		}
	}
	return func(c net.Conn) bool {
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return false
		}
		ip := ap.Addr().Unmap()
		for _, p := range prefixes {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
}

// backend accepts mail for one listener. In this release accepted messages
// are read in full and discarded; the durable queue comes next.
type backend struct {
	listener config.Listener
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, conn: c}, nil
}

type session struct {
	b    *backend
	conn *smtp.Conn
}

var (
	errStartTLS = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errRelay    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Recipient address rejected: relaying denied"}
)

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if config.TLSRequiredLevel(s.b.listener.TLS) {
		if _, ok := s.conn.TLSConnectionState(); !ok {
			return errStartTLS
		}
	}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.listener.Type == config.ListenerPrivate {
		return nil
	}
	if !AcceptsDomain(s.b.listener.Domains, to) {
		return errRelay
	}
	return nil
}

// AcceptsDomain reports whether a recipient's domain is in a public
// listener's recipient access table: "example.com" matches exactly,
// ".example.com" matches its subdomains.
func AcceptsDomain(domains []string, rcpt string) bool {
	at := strings.LastIndexByte(rcpt, '@')
	if at < 0 {
		return false
	}
	d := strings.ToLower(strings.TrimSuffix(rcpt[at+1:], "."))
	for _, entry := range domains {
		e := strings.ToLower(entry)
		if strings.HasPrefix(e, ".") {
			if strings.HasSuffix(d, e) && len(d) > len(e) {
				return true
			}
		} else if d == e {
			return true
		}
	}
	return false
}

func (s *session) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	var tooBig *smtp.SMTPError
	if errors.As(err, &tooBig) {
		return tooBig
	}
	return err
}

func (s *session) Reset() {}

func (s *session) Logout() error { return nil }
