package mailengine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/queue"
)

// Spool is where accepted messages go; each is durable before Put returns.
type Spool interface {
	Reserve() (queue.MID, error)
	PutReserved(ctx context.Context, mid queue.MID, env queue.Envelope, body io.Reader, maxBytes int64) (queue.MID, int64, error)
	Count() int
}

// MailLog receives mail_logs lines.
type MailLog interface {
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
}

type discardLog struct{}

func (discardLog) Infof(string, ...any)    {}
func (discardLog) Warningf(string, ...any) {}

func (e *Engine) newSMTPServer(p plan, base *tls.Config) *smtp.Server {
	be := &backend{e: e, listener: p.listener, hostname: p.iface.Hostname}
	srv := smtp.NewServer(be)
	srv.Domain = p.iface.Hostname
	// go-smtp's DATA reader fails once MaxMessageBytes bytes are read, before it
	// sees the terminating dot, so a message of exactly the limit would be
	// refused. Give it one byte of slack; Data enforces the exact limit when it
	// spools (EHLO then advertises SIZE one byte higher).
	srv.MaxMessageBytes = p.listener.MaxMessageBytes + 1
	srv.MaxRecipients = 0 // enforced (and logged) by the session
	srv.ReadTimeout = time.Duration(p.listener.IdleTimeout)
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = log.New(e.opts.ErrorLog, "smtp "+p.listener.Name+" ", log.LstdFlags)
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
	return func(c net.Conn) bool { return matchNetwork(prefixes, c.RemoteAddr()) != "" }
}

// matchNetwork returns the network that contains addr, or "".
func matchNetwork(prefixes []netip.Prefix, addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return ""
	}
	ip := ap.Addr().Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return p.String()
		}
	}
	return ""
}

// remoteIP is the client's address without the port.
func remoteIP(c net.Conn) string {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap().String()
	}
	return c.RemoteAddr().String()
}

// backend accepts mail for one listener into the spool.
type backend struct {
	e        *Engine
	listener config.Listener
	hostname string
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	tc := trackedOf(c.Conn())
	if tc == nil {
		return nil, errors.New("internal error: untracked connection")
	}
	if st, ok := c.TLSConnectionState(); ok && tc.tlsDone.CompareAndSwap(false, true) {
		b.e.log.Infof("ICID %d TLS success protocol %s cipher %s", tc.icid, cipherstring.VersionName(st.Version), cipherstring.LogName(st.CipherSuite))
	}
	return &session{b: b, conn: c, tc: tc}, nil
}

type session struct {
	b     *backend
	conn  *smtp.Conn
	tc    *trackedConn
	mid   queue.MID
	from  string
	rcpts []string
}

var (
	errStartTLS    = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	errRelay       = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Recipient address rejected: relaying denied"}
	errTooMany     = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	errTooLarge    = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed maximum message size"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Line too long"}
	errTemporary   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}
)

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	lg := s.b.e.log
	if config.TLSRequiredLevel(s.b.listener.TLS) {
		if _, ok := s.conn.TLSConnectionState(); !ok {
			if s.tc.required.CompareAndSwap(false, true) {
				lg.Infof("ICID %d TLS was required but remote host did not initiate it", s.tc.icid)
			}
			return errStartTLS
		}
	}
	mid, err := s.b.e.spool.Reserve()
	if err != nil {
		lg.Warningf("ICID %d cannot take mail: %v", s.tc.icid, err)
		return errTemporary
	}
	s.mid, s.from, s.rcpts = mid, from, nil
	lg.Infof("Start MID %d ICID %d", mid, s.tc.icid)
	lg.Infof("MID %d ICID %d From: <%s>", mid, s.tc.icid, from)
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	lg := s.b.e.log
	if s.b.listener.Type == config.ListenerPublic && !AcceptsDomain(s.b.listener.Domains, to) {
		lg.Infof("MID %d ICID %d To: <%s> Rejected by Receiving Domain", s.mid, s.tc.icid, to)
		return errRelay
	}
	if max := s.b.listener.MaxRecipients; max > 0 && len(s.rcpts) >= max {
		lg.Infof("MID %d ICID %d To: <%s> Rejected: more than %d recipients", s.mid, s.tc.icid, to, max)
		return errTooMany
	}
	lg.Infof("MID %d ICID %d RID %d To: <%s>", s.mid, s.tc.icid, len(s.rcpts), to)
	s.rcpts = append(s.rcpts, to)
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

// received is the trace header the appliance adds, with the TLS details.
func (s *session) received(now time.Time) string {
	with, tlsInfo := "ESMTP", ""
	if st, ok := s.conn.TLSConnectionState(); ok {
		with = "ESMTPS"
		tlsInfo = fmt.Sprintf(" (%s %s)", cipherstring.VersionName(st.Version), cipherstring.LogName(st.CipherSuite))
	}
	helo := s.conn.Hostname()
	if helo == "" {
		helo = "unknown"
	}
	h := fmt.Sprintf("Received: from %s (unknown [%s])\r\n\tby %s (Relaybox) with %s%s\r\n\tid %d", helo, remoteIP(s.tc), s.b.hostname, with, tlsInfo, s.mid)
	if len(s.rcpts) == 1 {
		h += fmt.Sprintf("\r\n\tfor <%s>", s.rcpts[0])
	}
	return h + "; " + now.Format(time.RFC1123Z) + "\r\n"
}

func (s *session) Data(r io.Reader) error {
	e := s.b.e
	now := time.Now()
	hdr := s.received(now)
	tlsDesc := ""
	if st, ok := s.conn.TLSConnectionState(); ok {
		tlsDesc = cipherstring.VersionName(st.Version) + " " + cipherstring.LogName(st.CipherSuite)
	}
	env := queue.Envelope{From: s.from, To: append([]string(nil), s.rcpts...), ICID: s.tc.icid, Listener: s.b.listener.Name,
		ClientAddr: remoteIP(s.tc), HELO: s.conn.Hostname(), TLS: tlsDesc, Received: now}
	capture := &headerCapture{}
	body := io.TeeReader(r, capture)
	max := s.b.listener.MaxMessageBytes + int64(len(hdr))
	_, size, err := e.spool.PutReserved(context.Background(), s.mid, env, io.MultiReader(strings.NewReader(hdr), body), max)
	var tooBig *smtp.SMTPError
	switch {
	case errors.Is(err, queue.ErrTooLarge), errors.As(err, &tooBig) && tooBig.Code == 552:
		e.log.Infof("MID %d ICID %d rejected: message larger than %d bytes", s.mid, s.tc.icid, s.b.listener.MaxMessageBytes)
		return errTooLarge
	case errors.Is(err, smtp.ErrTooLongLine):
		e.log.Infof("MID %d ICID %d rejected: a line longer than the SMTP limit", s.mid, s.tc.icid)
		return errLineTooLong
	case errors.As(err, &tooBig):
		return tooBig
	case err != nil:
		e.log.Warningf("MID %d ICID %d could not be queued: %v", s.mid, s.tc.icid, err)
		return errTemporary
	}
	if id := capture.header("Message-Id"); id != "" {
		e.log.Infof("MID %d Message-ID '%s'", s.mid, id)
	}
	if subj := capture.header("Subject"); subj != "" {
		e.log.Infof("MID %d Subject %q", s.mid, subj)
	}
	e.log.Infof("MID %d ready %d bytes from <%s>", s.mid, size-int64(len(hdr)), s.from)
	e.log.Infof("MID %d queued for delivery", s.mid)
	if e.opts.Deliverer != nil {
		e.opts.Deliverer.Notify()
	}
	s.mid, s.from, s.rcpts = 0, "", nil
	return nil
}

func (s *session) Reset() { s.mid, s.from, s.rcpts = 0, "", nil }

func (s *session) Logout() error { return nil }

// headerCapture keeps the start of a message, up to the end of its header.
type headerCapture struct {
	buf  bytes.Buffer
	done bool
}

const maxCapturedHeader = 64 << 10

func (h *headerCapture) Write(p []byte) (int, error) {
	if !h.done {
		h.buf.Write(p[:min(len(p), maxCapturedHeader-h.buf.Len())])
		if bytes.Contains(h.buf.Bytes(), []byte("\r\n\r\n")) || bytes.Contains(h.buf.Bytes(), []byte("\n\n")) || h.buf.Len() >= maxCapturedHeader {
			h.done = true
		}
	}
	return len(p), nil
}

// header returns one header field of the captured message, unfolded.
func (h *headerCapture) header(name string) string {
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(h.buf.Bytes(), '\r', '\n', '\r', '\n'))))
	hdr, _ := r.ReadMIMEHeader()
	v := hdr.Get(name)
	if len(v) > 200 {
		v = v[:200]
	}
	return v
}
