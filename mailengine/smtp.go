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

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/address"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/queue"
	"relaybox/mailengine/smtpserver"
)

// Spool is where accepted messages go; each is durable before PutReserved returns.
type Spool interface {
	Reserve() (queue.MID, error)
	PutReserved(ctx context.Context, mid queue.MID, env queue.Envelope, body io.Reader, maxBytes int64) (queue.MID, int64, error)
	Count() int
	// FreeBytes is the space left in the spool's file system.
	FreeBytes() (int64, error)
}

// MailLog receives mail_logs lines.
type MailLog interface {
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
	// WriteLines writes the lines of one event with one write (and empties b).
	WriteLines(b *maillog.Lines)
}

type discardLog struct{}

func (discardLog) Infof(string, ...any)        {}
func (discardLog) Warningf(string, ...any)     {}
func (discardLog) WriteLines(b *maillog.Lines) { *b = maillog.Lines{} }

// Directory answers LDAP accept queries: whether a recipient is in the
// directory, under the settings of c. An error means the directory could
// not answer; the recipient is then deferred, never refused nor accepted.
type Directory interface {
	Accepts(ctx context.Context, c *config.Config, query, addr string) (bool, error)
}

// directoryLimit bounds one RCPT's directory lookup, whatever the
// profile's timeout and number of hosts.
const directoryLimit = 45 * time.Second

// Session limits that are not settings (docs/listeners.md).
const (
	// maxTransactions is how many MAIL commands one connection may give.
	maxTransactions = 100
	// freeSpaceReserve is kept free in the spool's file system beyond what
	// a message may need, for logs and delivery state.
	freeSpaceReserve = 16 << 20
)

func (e *Engine) newSMTPServer(p plan, base *tls.Config) *smtpserver.Server {
	srv := &smtpserver.Server{
		Hostname:        p.iface.Hostname,
		MaxMessageBytes: p.listener.MaxMessageBytes,
		ReadTimeout:     time.Duration(p.listener.IdleTimeout),
		WriteTimeout:    time.Minute,
		MaxTransactions: maxTransactions,
		UTF8:            true,
		Backend:         &backend{e: e, listener: p.listener, hostname: p.iface.Hostname},
		ErrorLog:        log.New(e.opts.ErrorLog, "smtp "+p.listener.Name+" ", log.LstdFlags),
	}
	if p.tls != nil {
		srv.TLS = base
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

func (b *backend) NewSession(c *smtpserver.Conn) (smtpserver.Session, error) {
	tc := trackedOf(c.NetConn())
	if tc == nil {
		return nil, errors.New("internal error: untracked connection")
	}
	return &session{b: b, conn: c, tc: tc}, nil
}

// session is one connection's policy and logging. The message gets its MID
// only when DATA starts (a MAIL/RSET loop burns none and logs nothing); the
// transaction's AsyncOS lines are written then, in their usual order.
type session struct {
	b    *backend
	conn *smtpserver.Conn
	tc   *trackedConn
	// The transaction.
	from  string
	utf8  bool
	rcpts []string
	keys  map[string]int // address.Key → RID, to merge duplicates
}

var (
	errStartTLS = smtpserver.Replyf(530, "5.7.0", "Must issue a STARTTLS command first")
	errRelay    = smtpserver.Replyf(550, "5.7.1", "Recipient address rejected: relaying denied")
	errTooMany  = smtpserver.Replyf(452, "4.5.3", "Too many recipients")
	errStorage  = smtpserver.Replyf(452, "4.3.1", "Insufficient system storage, try again later")
	// The LDAP accept query's answers (AsyncOS writes "550 #5.1.0 Address
	// rejected"; the enhanced code is written as RFC 3463 has it).
	errAddrRejected = smtpserver.Replyf(550, "5.1.0", "Address rejected")
	errDirectory    = smtpserver.Replyf(451, "4.4.3", "Directory lookup failed, try again later")
)

func errTooLarge(limit int64) *smtpserver.Reply {
	return smtpserver.Replyf(552, "5.3.4", "Message size exceeds fixed maximum message size (%d bytes)", limit)
}

func (s *session) Hello(string) error { return nil }

func (s *session) TLSDone(st *tls.ConnectionState, err error) {
	if !s.tc.tlsDone.CompareAndSwap(false, true) {
		return // the reason was logged when the ClientHello was refused
	}
	if err != nil {
		s.b.e.log.Infof("ICID %d TLS failed: %v", s.tc.icid, err)
		return
	}
	s.b.e.log.Infof("ICID %d TLS success protocol %s cipher %s", s.tc.icid, cipherstring.VersionName(st.Version), cipherstring.LogName(st.CipherSuite))
}

func (s *session) Mail(from address.Path, opts smtpserver.MailOptions) error {
	lg := s.b.e.log
	if config.TLSRequiredLevel(s.b.listener.TLS) && s.conn.TLS() == nil {
		if s.tc.required.CompareAndSwap(false, true) {
			lg.Infof("ICID %d TLS was required but remote host did not initiate it", s.tc.icid)
		}
		return errStartTLS
	}
	if err := s.checkSpace(opts.Size); err != nil {
		return err
	}
	s.from, s.utf8, s.rcpts, s.keys = from.Addr, opts.UTF8, nil, map[string]int{}
	return nil
}

// checkSpace refuses a transaction the spool's disk cannot hold: the
// message's announced SIZE (else the listener's limit) half again, plus a
// reserve.
func (s *session) checkSpace(size int64) error {
	if size <= 0 {
		size = s.b.listener.MaxMessageBytes
	}
	need := size + size/2 + freeSpaceReserve
	free, err := s.b.e.spool.FreeBytes()
	if err != nil {
		s.b.e.log.Warningf("ICID %d cannot take mail: %v", s.tc.icid, err)
		return errStorage
	}
	if free < need {
		s.b.e.log.Warningf("ICID %d mail deferred: %d bytes free in the queue's file system, %d needed; free disk space", s.tc.icid, free, need)
		return errStorage
	}
	return nil
}

func (s *session) Rcpt(to address.Path) error {
	lg := s.b.e.log
	if s.b.listener.Type == config.ListenerPublic && !AcceptsDomain(s.b.listener.Domains, to.Addr) {
		lg.Infof("ICID %d To: <%s> Rejected by Receiving Domain", s.tc.icid, to.Addr)
		return errRelay
	}
	key := address.Key(to.Addr)
	if rid, dup := s.keys[key]; dup {
		lg.Infof("ICID %d To: <%s> is recipient RID %d again: merged", s.tc.icid, to.Addr, rid)
		return nil
	}
	if max := s.b.listener.MaxRecipients; max > 0 && len(s.rcpts) >= max {
		lg.Infof("ICID %d To: <%s> Rejected: more than %d recipients", s.tc.icid, to.Addr, max)
		return errTooMany
	}
	if err := s.checkDirectory(to.Addr); err != nil {
		return err
	}
	s.keys[key] = len(s.rcpts)
	s.rcpts = append(s.rcpts, to.Addr)
	return nil
}

// checkDirectory asks the listener's LDAP accept query, if it has one,
// whether the recipient exists: unknown ones are refused (550), and when
// the directory cannot answer the recipient is deferred (451), so that no
// mail is accepted that would have to bounce and none is lost.
func (s *session) checkDirectory(addr string) error {
	query := s.b.listener.LDAPAccept
	if query == "" {
		return nil
	}
	e := s.b.e
	dir, cfg := e.opts.Directory, e.cfg.Load()
	if dir == nil || cfg == nil {
		e.log.Warningf("ICID %d To: <%s> deferred: LDAPACCEPT query %s: no directory client", s.tc.icid, addr, query)
		return errDirectory
	}
	ctx, cancel := context.WithTimeout(context.Background(), directoryLimit)
	defer cancel()
	found, err := dir.Accepts(ctx, cfg, query, addr)
	switch {
	case err != nil:
		e.log.Warningf("ICID %d To: <%s> deferred: LDAPACCEPT query %s failed: %v", s.tc.icid, addr, query, err)
		return errDirectory
	case !found:
		e.log.Infof("ICID %d To: <%s> Rejected by LDAPACCEPT query %s", s.tc.icid, addr, query)
		return errAddrRejected
	}
	return nil
}

// AcceptsDomain reports whether a recipient's domain is in a public
// listener's recipient access table: "example.com" matches exactly,
// ".example.com" matches its subdomains.
func AcceptsDomain(domains []string, rcpt string) bool {
	d := address.DomainOf(rcpt)
	if d == "" {
		return false
	}
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
func (s *session) received(mid queue.MID, now time.Time) string {
	with, tlsInfo := "ESMTP", ""
	if st := s.conn.TLS(); st != nil {
		with = "ESMTPS"
		tlsInfo = fmt.Sprintf(" (%s %s)", cipherstring.VersionName(st.Version), cipherstring.LogName(st.CipherSuite))
	}
	if s.utf8 {
		with = "UTF8" + with // RFC 6531 §3.7.3
	}
	helo := s.conn.Hello() // printable ASCII: checked by the server
	if helo == "" {
		helo = "unknown"
	}
	h := fmt.Sprintf("Received: from %s (unknown [%s])\r\n\tby %s (Relaybox) with %s%s\r\n\tid %d", helo, remoteIP(s.tc), s.b.hostname, with, tlsInfo, mid)
	if len(s.rcpts) == 1 {
		h += fmt.Sprintf("\r\n\tfor <%s>", s.rcpts[0])
	}
	return h + "; " + now.Format(time.RFC1123Z) + "\r\n"
}

// Data gives the message its MID, logs the transaction and spools it; the
// 250 comes only after the message is on disk.
func (s *session) Data(r io.Reader) (string, error) {
	e := s.b.e
	mid, err := e.spool.Reserve()
	if err != nil {
		e.log.Warningf("ICID %d cannot take mail: %v", s.tc.icid, err)
		return "", smtpserver.ErrLocal
	}
	var lines maillog.Lines // each group of lines is one write
	lines.Infof("Start MID %d ICID %d", mid, s.tc.icid)
	lines.Infof("MID %d ICID %d From: <%s>", mid, s.tc.icid, s.from)
	for rid, to := range s.rcpts {
		lines.Infof("MID %d ICID %d RID %d To: <%s>", mid, s.tc.icid, rid, to)
	}
	e.log.WriteLines(&lines)
	now := time.Now()
	hdr := s.received(mid, now)
	tlsDesc := ""
	if st := s.conn.TLS(); st != nil {
		tlsDesc = cipherstring.VersionName(st.Version) + " " + cipherstring.LogName(st.CipherSuite)
	}
	env := queue.Envelope{From: s.from, To: append([]string(nil), s.rcpts...), ICID: s.tc.icid, Listener: s.b.listener.Name,
		ClientAddr: remoteIP(s.tc), HELO: s.conn.Hello(), TLS: tlsDesc, Received: now, UTF8: s.utf8}
	capture := &headerCapture{}
	body := io.TeeReader(r, capture)
	_, size, err := e.spool.PutReserved(context.Background(), mid, env, io.MultiReader(strings.NewReader(hdr), body), 0)
	switch {
	case errors.Is(err, smtpserver.ErrTooLarge):
		e.log.Infof("MID %d ICID %d rejected: message larger than %d bytes", mid, s.tc.icid, s.b.listener.MaxMessageBytes)
		return "", errTooLarge(s.b.listener.MaxMessageBytes)
	case errors.Is(err, smtpserver.ErrAborted):
		e.log.Infof("MID %d ICID %d aborted: the client ended the connection before the end of the data", mid, s.tc.icid)
		return "", err
	case err != nil:
		e.log.Warningf("MID %d ICID %d could not be queued: %v", mid, s.tc.icid, err)
		return "", smtpserver.ErrLocal
	}
	fields := capture.fields()
	if id := logField(fields, "Message-Id"); id != "" {
		lines.Infof("MID %d Message-ID '%s'", mid, id)
	}
	if subj := logField(fields, "Subject"); subj != "" {
		lines.Infof("MID %d Subject %q", mid, subj)
	}
	lines.Infof("MID %d ready %d bytes from <%s>", mid, size-int64(len(hdr)), s.from)
	lines.Infof("MID %d queued for delivery", mid)
	e.log.WriteLines(&lines)
	if e.opts.Deliverer != nil {
		e.opts.Deliverer.Queued(mid)
	}
	return fmt.Sprintf("ok:  Message %d accepted", mid), nil
}

func (s *session) Reset() { s.from, s.utf8, s.rcpts, s.keys = "", false, nil, nil }

func (s *session) Close() {}

// headerCapture keeps the start of a message, up to the end of its header
// (its first empty line) or maxCapturedHeader octets.
type headerCapture struct {
	buf     []byte
	lineLen int // octets of the current line so far, CRs not counted
	done    bool
}

const maxCapturedHeader = 64 << 10

func (h *headerCapture) Write(p []byte) (int, error) {
	if h.done {
		return len(p), nil
	}
	take := p[:min(len(p), maxCapturedHeader-len(h.buf))]
	for i, c := range take {
		switch {
		case c == '\n' && h.lineLen == 0:
			h.buf, h.done = append(h.buf, take[:i+1]...), true
			return len(p), nil
		case c == '\n':
			h.lineLen = 0
		case c != '\r':
			h.lineLen++
		}
	}
	h.buf = append(h.buf, take...)
	h.done = len(h.buf) >= maxCapturedHeader
	return len(p), nil
}

// fields returns the captured header, parsed once for every field asked.
func (h *headerCapture) fields() textproto.MIMEHeader {
	src := io.MultiReader(bytes.NewReader(h.buf), strings.NewReader("\r\n\r\n"))
	hdr, _ := textproto.NewReader(bufio.NewReaderSize(src, 512)).ReadMIMEHeader()
	return hdr
}

// logField is one header field for mail_logs, unfolded and cut to 200 octets.
func logField(hdr textproto.MIMEHeader, name string) string {
	v := hdr.Get(name)
	if len(v) > 200 {
		v = v[:200]
	}
	return v
}
