package smtpclient

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"relaybox/mailengine/address"
)

// Level is an outbound TLS level of destconfig.
type Level string

// The five levels (destconfig's "No", "Preferred", "Required",
// "Preferred (Verify)", "Required (Verify)").
const (
	None            Level = "none"
	Preferred       Level = "preferred"
	Required        Level = "required"
	PreferredVerify Level = "preferred-verify"
	RequiredVerify  Level = "required-verify"
)

// Valid reports whether l is one of the five levels.
func (l Level) Valid() bool {
	switch l {
	case None, Preferred, Required, PreferredVerify, RequiredVerify:
		return true
	}
	return false
}

func (l Level) tries() bool    { return l != None }
func (l Level) requires() bool { return l == Required || l == RequiredVerify }
func (l Level) verifies() bool { return l == PreferredVerify || l == RequiredVerify }

// Options say where and how to deliver.
type Options struct {
	Addr           string      // host:port to connect to
	ServerName     string      // the host name expected in the certificate (MX or route host); also sent as SNI
	LocalAddr      string      // source IP, or IP:port ("" = chosen by the system)
	HELO           string      // name for EHLO/HELO ("" = "localhost")
	Level          Level       // "" = None
	TLS            *tls.Config // versions, cipher suites, client certificate; RootCAs for verification (nil = system roots)
	VerifyHostname bool        // PEER_CERT_FQDN: also check ServerName against the certificate (verify levels)
	Timeouts       Timeouts
	Events         func(Event) // optional: each step, for mail_logs
}

// Timeouts bound each phase; a zero field takes its default.
type Timeouts struct {
	Connect  time.Duration // TCP connect (30s)
	Greeting time.Duration // the 220 greeting (5m)
	Command  time.Duration // each command's reply, and the TLS handshake (5m)
	Data     time.Duration // each write of the body, and the reply to the final dot (10m)
	// Stop bounds the wait for the reply to a final dot already sent when
	// the context ends, and the QUIT after it (30s); see Conn.Send.
	Stop time.Duration
}

// Default timeouts (RFC 5321 §4.5.3.2 suggests at least the first four).
// DefaultStop is the appliance's shutdown grace for inbound sessions too.
const (
	DefaultConnect  = 30 * time.Second
	DefaultGreeting = 5 * time.Minute
	DefaultCommand  = 5 * time.Minute
	DefaultData     = 10 * time.Minute
	DefaultStop     = 30 * time.Second
)

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Connect, DefaultConnect)
	def(&t.Greeting, DefaultGreeting)
	def(&t.Command, DefaultCommand)
	def(&t.Data, DefaultData)
	def(&t.Stop, DefaultStop)
	return t
}

// Message is one message for one or more recipients at this server.
type Message struct {
	// From is the reverse path without brackets ("" = null sender), and To
	// the forward paths, each exactly as it goes on the wire (a quoted
	// local part in its quotes: "john doe"@example.com). A sender
	// address.Valid refuses fails the message (5.1.7); such a recipient is
	// refused alone (553 5.1.3, in Result.Rejected) and never sent.
	From string
	To   []string
	Body io.Reader // the message, headers included; CRLF, LF or CR line ends (DotWriter)
	// Size is SIZE= (RFC 1870): what DotWriter.Size gives for Body (0 =
	// unknown, not sent). A message over the server's SIZE fails (5.3.4).
	Size int64
	// UTF8 says the message asked for SMTPUTF8 (RFC 6531) when it was
	// received. MAIL carries SMTPUTF8 when the server offers it and UTF8 is
	// set or an address is not ASCII. A server that does not offer it gets
	// no non-ASCII address: a non-ASCII recipient is refused alone (553
	// 5.6.7), a non-ASCII sender fails the message (5.6.7), and so does a
	// UTF8 message unless HeaderASCII says its header is ASCII (a message
	// that needs nothing of SMTPUTF8 goes as it is, as Postfix does).
	UTF8        bool
	HeaderASCII bool
	// Delivered, when set, is called with the recipients the peer accepted,
	// right after its 250 to the final dot and before anything else is
	// sent, so the caller can record them before anything else can fail.
	Delivered func(rcpts []string)
}

// RcptResult is the outcome for one recipient: its RCPT reply, or, for a
// recipient RCPT accepted, the reply to DATA or to the final dot.
type RcptResult struct {
	Rcpt     string
	Code     int
	Enhanced string
	Text     string
}

// Result is what one attempt achieved. With a nil error every recipient is
// in exactly one of Delivered, Rejected and Deferred. With an *Error the
// lists hold the final outcomes known before the failure (typically RCPT
// rejections); the recipients not listed follow Error.Temporary.
type Result struct {
	Delivered []RcptResult         // accepted by the final DATA reply
	Rejected  []RcptResult         // permanent 5xx per recipient
	Deferred  []RcptResult         // temporary 4xx per recipient
	TLS       *tls.ConnectionState // nil in clear
	Verified  bool                 // verify levels: the certificate verified
	VerifyErr error                // verify levels: why it did not
	// FallbackClear is set at the preferred levels when the TLS handshake
	// failed after the server's 220: the caller may retry once in clear on
	// a new connection (Level None).
	FallbackClear bool
}

// Deliver connects to o.Addr and delivers m with the TLS level o.Level. See
// the package documentation for the levels and Result for the outcome.
func Deliver(ctx context.Context, o Options, m Message) (Result, error) {
	if err := checkMessage(&m, o.Addr); err != nil {
		return Result{}, err
	}
	if ok, refused := sendable(m.To); len(ok) == 0 {
		return Result{Rejected: refused}, nil // nothing to connect for
	}
	c, res, err := Dial(ctx, o)
	if err != nil {
		return res, err
	}
	defer c.Close()
	return c.Send(ctx, m)
}

// Probe connects, greets and negotiates TLS at o.Level exactly as Deliver
// would, then quits without sending mail: what tlsverify shows. The result
// carries the TLS state and the verification outcome.
func Probe(ctx context.Context, o Options) (Result, error) {
	c, res, err := Dial(ctx, o)
	if err != nil {
		return res, err
	}
	c.Close()
	return res, nil
}

// Conn is an open session with a server, past the greeting, EHLO and the
// TLS level, ready for mail transactions: Send delivers one message, and
// can be called again for the next one while Usable. Close ends the
// session with QUIT. A Conn is not safe for concurrent use.
type Conn struct {
	s      *session
	closed bool
	sent   int
}

// Dial connects to o.Addr, reads the greeting, says EHLO (or HELO) and
// applies the TLS level o.Level. The Result carries the TLS state and the
// verification outcome; on failure it says whether a retry in clear may
// follow (FallbackClear), and the connection is already closed. ctx bounds
// the dialing and the handshakes only: cancelling it later does not touch
// the connection.
func Dial(ctx context.Context, o Options) (*Conn, Result, error) {
	if o.Level == "" {
		o.Level = None
	}
	o.Timeouts = o.Timeouts.withDefaults()
	if o.HELO == "" {
		o.HELO = "localhost"
	}
	if err := validateOptions(&o); err != nil {
		// Our settings are wrong, not the message: temporary, so a fix and
		// a commit deliver it instead of a bounce.
		return nil, Result{}, &Error{Phase: "config", Addr: o.Addr, Temporary: true, Text: err.Error(), Err: err}
	}
	s := &session{o: &o, ctx: ctx}
	if err := s.dial(); err != nil {
		return nil, s.res, withText(err)
	}
	c := &Conn{s: s}
	err := s.guard(ctx, s.open)
	if err != nil {
		c.Close()
		return nil, s.res, withText(err)
	}
	return c, s.connResult(), nil
}

// guard runs op with ctx as the session's context. When ctx ends, the
// connection is closed (op fails, the session is broken), unless the final
// dot is on its way: then the reply is still read, until Timeouts.Stop
// from now at the latest (interrupt). Either way the session takes no
// further transaction.
func (s *session) guard(ctx context.Context, op func() error) error {
	s.ctx = ctx
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { s.interrupt(); close(fired) })
	err := op()
	if !stop() {
		<-fired
		if s.cut {
			s.broken = true
		}
	}
	return err
}

// interrupt is what the end of the context does to the operation running.
// Before the final dot, nothing of the message can have been accepted, so
// the connection is cut. After it, the server may have the message and
// its reply says so: it is awaited, bounded by Timeouts.Stop.
func (s *session) interrupt() {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	s.stopping = true
	s.stopAt = time.Now().Add(s.o.Timeouts.Stop)
	if s.afterDot {
		_ = s.raw.SetDeadline(s.stopAt)
		return
	}
	s.cut = true
	_ = s.raw.Close()
}

// setDeadline sets the read and/or write deadline timeout from now, or at
// the stop's bound when that comes first. Under stopMu, so that a stop
// cannot be overridden by a later, longer deadline.
func (s *session) setDeadline(read, write bool, timeout time.Duration) {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	t := time.Now().Add(timeout)
	if s.stopping && s.stopAt.Before(t) {
		t = s.stopAt
	}
	if read {
		_ = s.conn.SetReadDeadline(t)
	}
	if write {
		_ = s.conn.SetWriteDeadline(t)
	}
}

// setAfterDot marks whether the final dot is on its way and its reply not read yet.
func (s *session) setAfterDot(v bool) {
	s.stopMu.Lock()
	s.afterDot = v
	s.stopMu.Unlock()
}

// stopState reports whether the context of the operation ended, and
// whether the final dot is on its way.
func (s *session) stopState() (stopping, afterDot bool) {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	return s.stopping, s.afterDot
}

// Send delivers m over the connection: MAIL, RCPT and DATA (after an RSET
// when the previous transaction did not end with the final dot). See Result
// for the outcome. A temporary *Error in phase "rset" or "mail" means
// nothing of m was accepted (on a connection that already carried a
// message: typically the server closed it meanwhile).
//
// When ctx ends before the final dot is sent, the connection is closed at
// once: the server cannot have accepted anything, and the error is
// temporary. When it ends after, the server's reply is still awaited, for
// Timeouts.Stop at most, and counts as usual (a 250 is a delivery); without
// a reply in time the *Error has AfterDot set. Either way the Conn is no
// longer Usable; Close then says QUIT within the same bound.
func (c *Conn) Send(ctx context.Context, m Message) (Result, error) {
	s := c.s
	if c.closed || s.broken {
		return s.connResult(), &Error{Phase: "mail", Addr: s.o.Addr, Temporary: true, Err: errors.New("the connection is closed")}
	}
	if stopping, _ := s.stopState(); stopping {
		return s.connResult(), &Error{Phase: "mail", Addr: s.o.Addr, Temporary: true, Err: errors.New("the connection's context ended during its previous message")}
	}
	if err := checkMessage(&m, s.o.Addr); err != nil {
		return s.connResult(), err
	}
	if err := ctx.Err(); err != nil {
		return s.connResult(), &Error{Phase: "mail", Addr: s.o.Addr, Temporary: true, Err: err}
	}
	s.res = s.connResult()
	ok, refused := sendable(m.To)
	s.res.Rejected = refused
	if len(ok) == 0 {
		return s.res, nil // no MAIL: the session stays as it was
	}
	m.To = ok
	c.sent++
	err := s.guard(ctx, func() error {
		if err := s.reset(); err != nil {
			return err
		}
		return s.transaction(m)
	})
	return s.res, withText(err)
}

// Usable reports whether another Send may follow: the session is open, in
// a known state, and no Send's context ended during it.
func (c *Conn) Usable() bool {
	stopping, _ := c.s.stopState()
	return !c.closed && !c.s.broken && !stopping
}

// Sent is the number of Send calls made on the connection.
func (c *Conn) Sent() int { return c.sent }

// Close sends QUIT (unless the session is broken) and closes the
// connection. It is safe to call more than once.
func (c *Conn) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.s.quit()
	c.s.raw.Close()
	c.s.emit(Closed, "", nil)
}

// withText fills an *Error's Text from its cause when there was no reply,
// so Text always says what failed, for logs and bounces.
func withText(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code == 0 && e.Text == "" && e.Err != nil {
		e.Text = e.Err.Error()
	}
	return err
}

func validateOptions(o *Options) error {
	if !o.Level.Valid() {
		return fmt.Errorf("unknown TLS level %q", o.Level)
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("server address %q: %w", o.Addr, err)
	}
	if bad(o.HELO) || o.HELO == "" {
		return fmt.Errorf("HELO name %q is not usable", o.HELO)
	}
	return nil
}

// checkMessage returns why m cannot be sent at all, as a permanent *Error:
// no recipients or no body (phase "config"), or a sender that cannot go on
// the wire as it is (phase "mail", 5.1.7; RFC 3463 "bad sender's mailbox
// address syntax").
func checkMessage(m *Message, addr string) *Error {
	if len(m.To) == 0 {
		return &Error{Phase: "config", Addr: addr, Text: "no recipients", Err: errors.New("no recipients")}
	}
	if m.Body == nil {
		return &Error{Phase: "config", Addr: addr, Text: "no message body", Err: errors.New("no message body")}
	}
	if m.From == "" {
		return nil
	}
	if err := address.Valid(m.From); err != nil {
		text := fmt.Sprintf("bad sender mailbox address syntax: <%s>: %v", printable(m.From), err)
		return &Error{Phase: "mail", Addr: addr, Enhanced: "5.1.7", Text: text, Err: errors.New(text)}
	}
	return nil
}

// sendable splits recipients into those that can go on the wire exactly as
// they are and the results of those that cannot: 553 5.1.3 (RFC 3463 "bad
// destination mailbox address syntax"), made here, not by the server.
func sendable(to []string) (ok []string, refused []RcptResult) {
	ok = make([]string, 0, len(to))
	for _, r := range to {
		if err := address.Valid(r); err != nil {
			refused = append(refused, RcptResult{Rcpt: r, Code: 553, Enhanced: "5.1.3",
				Text: fmt.Sprintf("bad destination mailbox address syntax: <%s>: %v (not sent)", printable(r), err)})
			continue
		}
		ok = append(ok, r)
	}
	return ok, refused
}

// printable replaces the control characters of s, for logs and error texts.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// bad reports whether s cannot be put on a command line as it is.
func bad(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '<' || r == '>' })
}

// session is one connection's state.
type session struct {
	o   *Options
	ctx context.Context
	res Result
	// broken: the connection failed or the server is closing it; no QUIT,
	// no further transaction.
	broken bool
	// dirty: the last transaction did not end with the final dot's reply,
	// so the next one starts with RSET.
	dirty bool

	raw   net.Conn // the TCP connection
	conn  net.Conn // raw or the *tls.Conn over it
	br    *bufio.Reader
	tw    *textproto.Writer
	phase string

	esmtp bool
	ext   map[string]string // EHLO keywords (upper case) → parameters

	// The end of an operation's context (guard, interrupt), under stopMu.
	stopMu   sync.Mutex
	afterDot bool      // the final dot is on its way; its reply is not read yet
	stopping bool      // the context ended: no further transaction
	stopAt   time.Time // then: the latest time to wait for the reply and the QUIT
	cut      bool      // the context's end closed the connection
}

func (s *session) emit(k EventKind, detail string, st *tls.ConnectionState) {
	if s.o.Events != nil {
		s.o.Events(Event{Kind: k, Detail: detail, State: st})
	}
}

// open reads the greeting, says hello and applies the TLS level.
func (s *session) open() error {
	s.phase = "greeting"
	r, err := s.read(s.o.Timeouts.Greeting)
	if err != nil {
		return err
	}
	if r.Code != 220 {
		// A refusing greeting (554) is a reason to try another host, not to
		// bounce: temporary whatever its class, as Postfix's
		// smtp_skip_5xx_greeting does.
		return s.replyErr(r, nil, true)
	}
	if err := s.hello(); err != nil {
		return err
	}
	return s.startTLS()
}

// connResult is a Result with only the connection's part: TLS and verification.
func (s *session) connResult() Result {
	return Result{TLS: s.res.TLS, Verified: s.res.Verified, VerifyErr: s.res.VerifyErr, FallbackClear: s.res.FallbackClear}
}

// reset sends RSET when the previous transaction left the session dirty.
func (s *session) reset() error {
	if !s.dirty {
		return nil
	}
	s.phase = "rset"
	r, err := s.cmd(s.o.Timeouts.Command, "RSET")
	if err != nil {
		return err
	}
	if r.Code != 250 {
		s.broken = true // unknown state: the connection is not reused
		return s.replyErr(r, errors.New("RSET was refused"), true)
	}
	s.dirty = false
	return nil
}

func (s *session) dial() error {
	d := net.Dialer{Timeout: s.o.Timeouts.Connect}
	if la := s.o.LocalAddr; la != "" {
		host, port := la, "0"
		if h, p, err := net.SplitHostPort(la); err == nil {
			host, port = h, p
		}
		ip := net.ParseIP(host)
		pn, err := strconv.Atoi(port)
		if ip == nil || err != nil {
			return &Error{Phase: "config", Addr: s.o.Addr, Temporary: true, Err: fmt.Errorf("source address %q is not an IP address", la)}
		}
		d.LocalAddr = &net.TCPAddr{IP: ip, Port: pn}
	}
	c, err := d.DialContext(s.ctx, "tcp", s.o.Addr)
	if err != nil {
		if s.ctx.Err() != nil {
			err = s.ctx.Err()
		}
		return &Error{Phase: "connect", Addr: s.o.Addr, Temporary: true, Err: err}
	}
	s.raw, s.conn = c, c
	s.br = bufio.NewReaderSize(c, maxReplyLine)
	s.tw = textproto.NewWriter(bufio.NewWriter(c))
	local, _, _ := net.SplitHostPort(c.LocalAddr().String())
	rip, rport, _ := net.SplitHostPort(c.RemoteAddr().String())
	s.emit(Connected, fmt.Sprintf("interface %s address %s port %s", local, rip, rport), nil)
	return nil
}

// ioErr wraps a failure to talk to the server in the current phase.
func (s *session) ioErr(err error, timeout time.Duration, what string) *Error {
	s.broken = true
	var ne net.Error
	stopping, afterDot := s.stopState()
	switch {
	case stopping && afterDot && errors.As(err, &ne) && ne.Timeout():
		err = &ioError{what: fmt.Sprintf("stopping: no %s within %v of the stop", what, s.o.Timeouts.Stop), err: err}
	case s.ctx.Err() != nil && !afterDot:
		err = s.ctx.Err()
	case errors.As(err, &ne) && ne.Timeout():
		err = &ioError{what: fmt.Sprintf("no %s within %v", what, timeout), err: err, timeout: true}
	default:
		err = &ioError{what: what, err: err}
	}
	return &Error{Phase: s.phase, Addr: s.o.Addr, Temporary: true, AfterDot: afterDot, Err: err}
}

// replyErr turns an unwanted reply into an *Error of the current phase:
// temporary for 4xx (and when forced), permanent for 5xx.
func (s *session) replyErr(r reply, cause error, temporary bool) *Error {
	return &Error{Phase: s.phase, Addr: s.o.Addr, Code: r.Code, Enhanced: r.Enhanced, Text: r.Text(),
		Temporary: temporary || r.Code < 500, Err: cause}
}

// read reads one reply within timeout. A 421 ends the attempt: it is
// returned as a temporary *Error.
func (s *session) read(timeout time.Duration) (reply, error) {
	s.setDeadline(true, false, timeout)
	r, err := readReply(s.br)
	if err != nil {
		if errors.Is(err, errMalformed) {
			s.broken = true
			_, afterDot := s.stopState()
			return reply{}, &Error{Phase: s.phase, Addr: s.o.Addr, Temporary: true, AfterDot: afterDot, Err: err}
		}
		return reply{}, s.ioErr(err, timeout, s.phase+" reply")
	}
	if r.Code == 421 {
		s.broken = true
		return r, s.replyErr(r, errors.New("the server is closing the connection"), true)
	}
	return r, nil
}

// cmd sends one command line and reads its reply.
func (s *session) cmd(timeout time.Duration, format string, args ...any) (reply, error) {
	if err := s.send(timeout, fmt.Sprintf(format, args...)); err != nil {
		return reply{}, err
	}
	return s.read(timeout)
}

// hello sends EHLO, and HELO when EHLO gets a 5xx reply.
func (s *session) hello() error {
	s.phase = "ehlo"
	r, err := s.cmd(s.o.Timeouts.Command, "EHLO %s", s.o.HELO)
	if err != nil {
		return err
	}
	if r.Code == 250 {
		s.esmtp = true
		s.ext = map[string]string{}
		for _, l := range r.Lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			s.ext[strings.ToUpper(k)] = v
		}
		return nil
	}
	if r.Code < 500 {
		return s.replyErr(r, nil, false)
	}
	s.phase = "helo"
	s.esmtp, s.ext = false, nil
	r, err = s.cmd(s.o.Timeouts.Command, "HELO %s", s.o.HELO)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return s.replyErr(r, nil, false)
	}
	return nil
}

func (s *session) has(ext string) bool {
	_, ok := s.ext[ext]
	return ok
}

// startTLS applies the TLS level; see the package documentation.
func (s *session) startTLS() error {
	lvl := s.o.Level
	if !lvl.tries() {
		return nil
	}
	s.phase = "starttls"
	if !s.has("STARTTLS") {
		if !lvl.requires() {
			return nil
		}
		err := ErrNoSTARTTLS
		if !s.esmtp {
			err = fmt.Errorf("%w (the server does not support ESMTP)", ErrNoSTARTTLS)
		}
		s.emit(TLSDeferred, err.Error(), nil)
		return &Error{Phase: s.phase, Addr: s.o.Addr, Temporary: true, Err: err}
	}
	r, err := s.cmd(s.o.Timeouts.Command, "STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		s.emit(TLSFailed, "STARTTLS unexpected response: "+r.String(), nil)
		if !lvl.requires() {
			return nil // still in clear, same session: no new EHLO needed
		}
		s.emit(TLSDeferred, ErrSTARTTLSRefused.Error(), nil)
		return s.replyErr(r, ErrSTARTTLSRefused, true)
	}

	s.phase = "tls"
	cfg := clientConfig(s.o)
	var tc *tls.Conn
	if n := s.br.Buffered(); n > 0 {
		// Anything sent after the 220 before the handshake would be
		// read as if it came over TLS (CVE-2011-0411-style injection).
		err = fmt.Errorf("the server sent %d bytes after its 220 reply to STARTTLS", n)
	} else {
		tc, err = handshake(s.ctx, s.raw, cfg, s.o.Timeouts.Command)
	}
	if err != nil {
		if s.ctx.Err() != nil {
			return &Error{Phase: s.phase, Addr: s.o.Addr, Temporary: true, Err: s.ctx.Err()}
		}
		s.broken = true // no QUIT in clear over a failed handshake
		te := tlsFailure(err, s.o.Timeouts.Command)
		s.emit(TLSDeferred, te.Reason, nil)
		s.res.FallbackClear = !lvl.requires()
		return &Error{Phase: s.phase, Addr: s.o.Addr, Temporary: true, Err: te}
	}
	st := tc.ConnectionState()
	s.res.TLS = &st
	s.conn = tc
	s.br = bufio.NewReaderSize(tc, maxReplyLine)
	s.tw = textproto.NewWriter(bufio.NewWriter(tc))
	s.emit(TLSSuccess, successDetail(&st), &st)

	if lvl.verifies() {
		s.phase = "verify"
		if err := verifyPeer(&st, cfg, s.o.ServerName, s.o.VerifyHostname); err != nil {
			s.res.VerifyErr = err
			s.emit(CertUnverified, err.Error(), nil)
			if lvl == RequiredVerify {
				s.emit(TLSDeferred, err.Error(), nil)
				return &Error{Phase: s.phase, Addr: s.o.Addr, Temporary: true, Err: err}
			}
		} else {
			s.res.Verified = true
			s.emit(CertVerified, st.PeerCertificates[0].Subject.String(), nil)
		}
	}
	return s.hello()
}

// transaction sends MAIL, RCPT and DATA and sorts the recipients.
func (s *session) transaction(m Message) error {
	s.phase = "mail"
	utf8Param, err := s.applyUTF8(&m)
	if err != nil || len(m.To) == 0 {
		return err // nothing sent: the session stays clean
	}
	mail := "MAIL FROM:<" + m.From + ">"
	if v, ok := s.ext["SIZE"]; ok {
		if limit, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && limit > 0 && m.Size > limit {
			return &Error{Phase: s.phase, Addr: s.o.Addr, Enhanced: "5.3.4",
				Err: fmt.Errorf("message size %d exceeds the server's limit of %d (SIZE)", m.Size, limit)}
		}
		if m.Size > 0 {
			mail += " SIZE=" + strconv.FormatInt(m.Size, 10)
		}
	}
	if utf8Param {
		mail += " SMTPUTF8"
	}
	to := s.o.Timeouts.Command
	pipelining := s.has("PIPELINING")
	accepted := make([]string, 0, len(m.To))

	if pipelining {
		// MAIL, the RCPTs and DATA go as one group (RFC 2920 §3.1: DATA
		// may end a group), as Postfix's client sends them: one write and
		// one round trip fewer per message.
		var buf bytes.Buffer
		buf.WriteString(mail + "\r\n")
		for _, rcpt := range m.To {
			buf.WriteString("RCPT TO:<" + rcpt + ">\r\n")
		}
		buf.WriteString("DATA\r\n")
		s.setDeadline(false, true, to)
		if _, err := s.conn.Write(buf.Bytes()); err != nil { // one write: the whole group
			return s.ioErr(err, to, "sending MAIL, RCPT and DATA")
		}
	} else if err := s.send(to, mail); err != nil {
		return err
	}
	r, err := s.read(to)
	if err != nil {
		return err
	}
	s.emit(MailReply, "<"+m.From+"> "+r.String(), nil)
	if !r.positive() {
		if pipelining { // drain the RCPT and DATA replies (503 …) before QUIT
			var last reply
			for range len(m.To) + 1 {
				if last, err = s.read(to); err != nil {
					break
				}
			}
			if err == nil && last.Code == 354 {
				s.emptyData(to)
			}
		}
		s.dirty = true
		return s.replyErr(r, nil, false)
	}

	s.phase = "rcpt"
	for _, rcpt := range m.To {
		if !pipelining {
			if err := s.send(to, "RCPT TO:<"+rcpt+">"); err != nil {
				return err
			}
		}
		r, err := s.read(to)
		if err != nil {
			return err
		}
		s.emit(RcptReply, "<"+rcpt+"> "+r.String(), nil)
		switch rr := rcptResult(rcpt, r); {
		case r.positive():
			accepted = append(accepted, rcpt)
		case r.transient():
			s.res.Deferred = append(s.res.Deferred, rr)
		default:
			s.res.Rejected = append(s.res.Rejected, rr)
		}
	}
	if len(accepted) == 0 && !pipelining {
		s.dirty = true
		return nil
	}

	s.phase = "data"
	if pipelining {
		r, err = s.read(to)
	} else {
		r, err = s.cmd(to, "DATA")
	}
	if err != nil {
		return err
	}
	if len(accepted) == 0 { // the pipelined DATA had no recipient to go with
		if r.Code == 354 {
			s.emptyData(to)
		}
		s.dirty = true
		return nil
	}
	if r.Code != 354 {
		s.dirty = true
		s.emit(DataReply, r.String(), nil)
		s.sortAccepted(accepted, r)
		return nil
	}
	dt := s.o.Timeouts.Data
	w := NewDotWriter(s.tw.W)
	if _, err := io.Copy(w, &deadlineReader{r: m.Body, s: s, d: dt}); err != nil {
		var rerr *bodyReadError
		if errors.As(err, &rerr) {
			// Our side failed: the server must not get a partial message,
			// so the connection is dropped without the final dot.
			s.broken = true
			return &Error{Phase: s.phase, Addr: s.o.Addr, Temporary: true, Err: fmt.Errorf("reading the message: %w", rerr.err)}
		}
		return s.ioErr(err, dt, "sending the message")
	}
	// From here on the server may take the message: the end of the context
	// no longer cuts the connection, it bounds the wait for the reply (and
	// for the QUIT after it).
	s.setAfterDot(true)
	defer s.setAfterDot(false)
	s.setDeadline(false, true, dt)
	if err := w.Close(); err != nil {
		return s.ioErr(err, dt, "sending the message")
	}
	if err := s.tw.W.Flush(); err != nil {
		return s.ioErr(err, dt, "sending the message")
	}
	r, err = s.read(dt)
	if err != nil {
		return err
	}
	s.emit(DataReply, r.String(), nil)
	s.sortAccepted(accepted, r)
	if r.positive() && m.Delivered != nil {
		m.Delivered(accepted)
	}
	return nil
}

// emptyData ends a pipelined DATA that a server accepted although no
// recipient was (RFC 2920 §3.1): a lone "." and its reply, so that the
// session is back in command mode for RSET. A failure marks the session
// broken.
func (s *session) emptyData(timeout time.Duration) {
	if err := s.send(timeout, "."); err != nil {
		s.broken = true
		return
	}
	if _, err := s.read(timeout); err != nil {
		s.broken = true
	}
}

// applyUTF8 decides SMTPUTF8 for m on this session (RFC 6531 §3.4) and
// reports whether MAIL carries the parameter. When the server does not
// offer it, a non-ASCII recipient is refused alone (553 5.6.7, into
// s.res.Rejected, and taken out of m.To), and a non-ASCII sender or a
// UTF8 message whose header is not ASCII fails the message (5.6.7).
func (s *session) applyUTF8(m *Message) (bool, error) {
	nonASCII := func(a string) bool { return !isASCII(a) }
	if !m.UTF8 && isASCII(m.From) && !slices.ContainsFunc(m.To, nonASCII) {
		return false, nil
	}
	if s.has("SMTPUTF8") {
		return true, nil
	}
	why := s.o.Addr + " does not offer SMTPUTF8 (RFC 6531)"
	switch {
	case nonASCII(m.From):
		return false, s.utf8Err("non-ASCII sender address not permitted: " + why)
	case m.UTF8 && !m.HeaderASCII:
		return false, s.utf8Err("the message header is UTF-8 (RFC 6532) but " + why)
	}
	kept := make([]string, 0, len(m.To))
	for _, r := range m.To {
		if nonASCII(r) {
			s.res.Rejected = append(s.res.Rejected, RcptResult{Rcpt: r, Code: 553, Enhanced: "5.6.7",
				Text: "non-ASCII addresses not permitted: " + why + " (not sent)"})
			continue
		}
		kept = append(kept, r)
	}
	m.To = kept
	return false, nil
}

// utf8Err is the permanent failure of a message that needs SMTPUTF8 from a
// server without it; nothing was sent.
func (s *session) utf8Err(text string) *Error {
	return &Error{Phase: s.phase, Addr: s.o.Addr, Enhanced: "5.6.7", Text: text, Err: errors.New(text)}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// sortAccepted files the recipients RCPT accepted by the DATA outcome r.
func (s *session) sortAccepted(accepted []string, r reply) {
	for _, rcpt := range accepted {
		rr := rcptResult(rcpt, r)
		switch {
		case r.positive():
			s.res.Delivered = append(s.res.Delivered, rr)
		case r.transient():
			s.res.Deferred = append(s.res.Deferred, rr)
		default:
			s.res.Rejected = append(s.res.Rejected, rr)
		}
	}
}

func rcptResult(rcpt string, r reply) RcptResult {
	return RcptResult{Rcpt: rcpt, Code: r.Code, Enhanced: r.Enhanced, Text: r.Text()}
}

// send writes one command line.
func (s *session) send(timeout time.Duration, line string) error {
	s.setDeadline(false, true, timeout)
	if err := s.tw.PrintfLine("%s", line); err != nil {
		return s.ioErr(err, timeout, "sending "+strings.ToUpper(s.phase))
	}
	return nil
}

// quit sends QUIT and waits briefly for its reply; errors are ignored.
func (s *session) quit() {
	if s.broken {
		return
	}
	s.setDeadline(true, true, min(s.o.Timeouts.Command, 10*time.Second))
	if s.tw.PrintfLine("QUIT") == nil {
		_, _ = readReply(s.br)
	}
}

// deadlineReader renews the write deadline before each chunk of the body,
// so Timeouts.Data bounds every block rather than the whole transfer, and
// marks errors of the body itself.
type deadlineReader struct {
	r io.Reader
	s *session
	d time.Duration
}

type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return e.err.Error() }

func (d *deadlineReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = &bodyReadError{err}
	}
	d.s.setDeadline(false, true, d.d)
	return n, err
}
