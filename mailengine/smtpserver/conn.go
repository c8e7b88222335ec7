package smtpserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"relaybox/mailengine/address"
)

const readBufferSize = 64 << 10

// Conn is one client connection.
type Conn struct {
	srv *Server
	raw net.Conn // as accepted; deadlines are set here (they apply under TLS too)
	nc  net.Conn // raw, or the TLS connection over it
	br  *bufio.Reader
	bw  *bufio.Writer

	tlsState *tls.ConnectionState
	helo     string
	esmtp    bool
	sess     Session

	tx     bool // MAIL was accepted
	txUTF8 bool
	rcpts  int
	errors int
	mails  int
	chunks *chunking // a BDAT transfer in progress

	mu       sync.Mutex
	idle     bool // waiting for the client's next command
	draining bool
	killed   bool
	dead     chan struct{} // closed by kill
}

// readers and writers recycle the connections' buffers: one message per
// connection is the common case, and 68 KiB of fresh memory per connection
// was most of what the collector had to handle.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}
)

func newConn(s *Server, nc net.Conn) *Conn {
	br, bw := readers.Get().(*bufio.Reader), writers.Get().(*bufio.Writer)
	br.Reset(nc)
	bw.Reset(nc)
	return &Conn{srv: s, raw: nc, nc: nc, br: br, bw: bw, dead: make(chan struct{})}
}

// release gives the buffers back once serve has returned: nothing reads or
// writes c after that.
func (c *Conn) release() {
	c.br.Reset(nil)
	c.bw.Reset(nil)
	readers.Put(c.br)
	writers.Put(c.bw)
	c.br, c.bw = nil, nil
}

// NetConn is the accepted connection (under TLS, the TCP connection).
func (c *Conn) NetConn() net.Conn { return c.raw }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// TLS is the state of the TLS session, nil in clear.
func (c *Conn) TLS() *tls.ConnectionState { return c.tlsState }

// Hello is the name the client gave in HELO or EHLO ("" before it did).
func (c *Conn) Hello() string { return c.helo }

// errDraining: the server is shutting down and the session is idle.
var errDraining = errors.New("smtpserver: shutting down")

// errLineTooLong: a command line over MaxLineLength (its rest was discarded).
var errLineTooLong = errors.New("smtpserver: command line too long")

// errNotSMTP: the client sent something that cannot start a command, such
// as a TLS ClientHello in clear or an HTTP request.
var errNotSMTP = errors.New("smtpserver: not an SMTP command")

func (c *Conn) serve() {
	defer func() {
		_ = c.flush() // the last reply (221, 421, 501 …) goes out before the close
		if tc, ok := c.nc.(*tls.Conn); ok {
			// close_notify first: OpenSSL 3 takes a bare EOF for a truncation.
			_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
			_ = tc.Close()
		}
		c.kill()
	}()
	sess, err := c.srv.Backend.NewSession(c)
	if err != nil {
		c.refuse(asReply(err))
		return
	}
	c.sess = sess
	defer sess.Close()
	defer c.abortChunks()
	if !c.reply(&Reply{Code: 220, Text: c.srv.Hostname + " ESMTP"}) {
		return
	}
	for {
		line, err := c.readCommand()
		var ne net.Error
		switch {
		case err == nil:
			if !c.handle(line) {
				return
			}
			continue
		case errors.Is(err, errNotSMTP):
			c.reply(Replyf(221, "2.7.0", "%s Error: this is not an SMTP command, closing connection", c.srv.Hostname))
		case errors.Is(err, errLineTooLong):
			if !c.reply(Replyf(500, "5.5.2", "Line too long (the limit is %d characters)", c.srv.MaxLineLength)) {
				return
			}
			continue
		case errors.Is(err, errDraining) || c.isDraining():
			c.reply(shuttingDown(c.srv.Hostname))
		case errors.As(err, &ne) && ne.Timeout():
			c.reply(Replyf(421, "4.4.2", "%s Error: timeout exceeded, closing connection", c.srv.Hostname))
		}
		return
	}
}

func (c *Conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// drain is Shutdown's part: an idle session is woken to answer 421; a busy
// one answers it after its current command.
func (c *Conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if c.idle {
		_ = c.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// kill closes the connection at once.
func (c *Conn) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.killed {
		c.killed = true
		close(c.dead)
		_ = c.raw.Close()
	}
}

// refuse answers r and closes the connection.
func (c *Conn) refuse(r *Reply) {
	c.reply(r)
	c.kill()
}

// readCommand reads one command line without its line end.
func (c *Conn) readCommand() (string, error) {
	if c.br.Buffered() == 0 {
		if err := c.flush(); err != nil {
			return "", err
		}
		c.mu.Lock()
		if c.draining {
			c.mu.Unlock()
			return "", errDraining
		}
		c.idle = true
		_ = c.raw.SetReadDeadline(time.Now().Add(c.srv.ReadTimeout))
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.idle = false
			c.mu.Unlock()
		}()
	} else if c.isDraining() {
		return "", errDraining
	}
	// A command starts with a letter: anything else (a TLS handshake after a
	// refused STARTTLS, an HTTP client, binary junk) is answered at once
	// instead of waiting for a line end that may never come, as Postfix's
	// smtpd_forbidden_commands does.
	first, err := c.br.Peek(1)
	if err != nil {
		return "", err
	}
	if b := first[0]; !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b == '\r' || b == '\n') {
		return "", errNotSMTP
	}
	long := false
	for {
		line, err := c.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = true // read on to the end of the line, discarding
			continue
		}
		if err != nil {
			return "", err
		}
		line = trimEOL(line)
		if long || len(line) > c.srv.MaxLineLength {
			return "", errLineTooLong
		}
		return string(line), nil
	}
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// reply writes r (flushed before the next read that may block) and counts
// errors; it reports whether the session goes on.
func (c *Conn) reply(r *Reply) bool {
	failure := r.Code >= 400 && r.Code != 421
	if failure {
		c.errors++
		if c.errors > c.srv.SoftErrorLimit && !c.tarpit() {
			return false
		}
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.srv.WriteTimeout))
	if _, err := c.bw.WriteString(r.lines()); err != nil {
		return false
	}
	if r.Code == 421 {
		_ = c.flush()
		return false
	}
	if failure && c.errors >= c.srv.HardErrorLimit {
		c.bw.WriteString(Replyf(421, "4.7.0", "%s Error: too many errors, closing connection", c.srv.Hostname).lines())
		_ = c.flush()
		return false
	}
	return true
}

// tarpit waits ErrorDelay before an error reply past the soft limit; false
// when the connection was closed meanwhile.
func (c *Conn) tarpit() bool {
	if err := c.flush(); err != nil {
		return false
	}
	t := time.NewTimer(c.srv.ErrorDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.dead:
		return false
	}
}

func (c *Conn) flush() error {
	if c.bw.Buffered() == 0 {
		return nil
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.srv.WriteTimeout))
	return c.bw.Flush()
}

func asReply(err error) *Reply {
	var r *Reply
	if errors.As(err, &r) {
		return r
	}
	return ErrLocal
}

// handle runs one command; false ends the session.
func (c *Conn) handle(line string) bool {
	if hasControl(line) {
		return c.reply(Replyf(500, "5.5.2", "Syntax error: the command contains a control character"))
	}
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "CONNECT", "GET", "POST", "PUT", "HEAD":
		c.reply(Replyf(221, "2.7.0", "%s Error: this is not an SMTP command, closing connection", c.srv.Hostname))
		return false
	case "EHLO":
		return c.hello(true, arg)
	case "HELO":
		return c.hello(false, arg)
	case "MAIL":
		return c.mail(arg)
	case "RCPT":
		return c.rcpt(arg)
	case "DATA":
		return c.data(arg)
	case "RSET":
		c.resetTx()
		return c.reply(Replyf(250, "2.0.0", "Ok"))
	case "NOOP":
		return c.reply(Replyf(250, "2.0.0", "Ok"))
	case "QUIT":
		c.reply(Replyf(221, "2.0.0", "%s closing connection", c.srv.Hostname))
		_ = c.flush()
		return false
	case "VRFY":
		return c.reply(Replyf(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"))
	case "HELP":
		return c.reply(Replyf(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS"))
	case "STARTTLS":
		return c.startTLS(arg)
	case "BDAT":
		return c.bdat(arg)
	case "EXPN", "AUTH", "ETRN", "TURN", "SEND", "SOML", "SAML":
		return c.reply(Replyf(502, "5.5.1", "Error: command not implemented"))
	case "":
		return c.reply(Replyf(500, "5.5.2", "Error: bad syntax"))
	}
	return c.reply(Replyf(500, "5.5.2", "Error: command not recognized"))
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// validHello accepts a HELO name of printable ASCII without spaces (a host
// name or an address literal), as it goes into the Received header.
func validHello(name string) bool {
	if name == "" || len(name) > address.MaxDomain {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (c *Conn) hello(ehlo bool, arg string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(arg), " ")
	if !validHello(name) {
		return c.reply(Replyf(501, "5.5.4", "Syntax: EHLO hostname (a host name or an address literal)"))
	}
	c.resetTx()
	if err := c.sess.Hello(name); err != nil {
		return c.reply(asReply(err))
	}
	c.helo, c.esmtp = name, ehlo
	if !ehlo {
		return c.reply(&Reply{Code: 250, Text: c.srv.Hostname})
	}
	lines := []string{c.srv.Hostname, "PIPELINING"}
	if c.srv.MaxMessageBytes > 0 {
		lines = append(lines, "SIZE "+strconv.FormatInt(c.srv.MaxMessageBytes, 10))
	} else {
		lines = append(lines, "SIZE")
	}
	lines = append(lines, "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING")
	if c.srv.UTF8 {
		lines = append(lines, "SMTPUTF8")
	}
	if c.srv.TLS != nil && c.tlsState == nil {
		lines = append(lines, "STARTTLS")
	}
	return c.reply(&Reply{Code: 250, Text: strings.Join(lines, "\n")})
}

func (c *Conn) resetTx() {
	c.abortChunks()
	if c.tx {
		c.sess.Reset()
	}
	c.tx, c.txUTF8, c.rcpts = false, false, 0
}

// cutPrefixFold is strings.CutPrefix ignoring case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// addressReply answers a refused address; what is 5.1.7 for a sender is
// 5.1.3 for a recipient (RFC 3463).
func addressReply(err error, sender bool) *Reply {
	var ae *address.Error
	if !errors.As(err, &ae) {
		return ErrLocal
	}
	who, code := "recipient", "5.1.3"
	if sender {
		who, code = "sender", "5.1.7"
	}
	if ae.Kind == address.NonASCII {
		return Replyf(553, "5.6.7", "Bad %s address: %s", who, ae.Text)
	}
	return Replyf(501, code, "Bad %s address syntax: %s", who, ae.Text)
}

func (c *Conn) mail(arg string) bool {
	switch {
	case c.helo == "":
		return c.reply(Replyf(503, "5.5.1", "Error: send HELO/EHLO first"))
	case c.tx:
		return c.reply(Replyf(503, "5.5.1", "Error: nested MAIL command"))
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return c.reply(Replyf(501, "5.5.4", "Syntax: MAIL FROM:<address>"))
	}
	c.mails++
	if c.mails > c.srv.MaxTransactions {
		return c.reply(Replyf(421, "4.7.0", "%s Error: too many transactions in this connection, connect again", c.srv.Hostname))
	}
	from, params, err := address.ParsePath(rest, true, true)
	if err != nil {
		return c.reply(addressReply(err, true))
	}
	opts, rerr := c.mailParams(params)
	if rerr != nil {
		return c.reply(rerr)
	}
	if from.UTF8() && !opts.UTF8 {
		// Parsed again without UTF-8: the refusal and its words are the address package's.
		_, _, err := address.ParsePath(rest, false, true)
		return c.reply(addressReply(err, true))
	}
	if max := c.srv.MaxMessageBytes; max > 0 && opts.Size > max {
		return c.reply(Replyf(552, "5.3.4", "Message size exceeds fixed maximum message size (%d bytes)", max))
	}
	if err := c.sess.Mail(from, opts); err != nil {
		return c.reply(asReply(err))
	}
	c.tx, c.txUTF8, c.rcpts = true, opts.UTF8, 0
	return c.reply(Replyf(250, "2.1.0", "sender <%s> ok", from.Addr))
}

// mailParams reads MAIL's ESMTP parameters (RFC 5321 §4.1.2 esmtp-param).
func (c *Conn) mailParams(s string) (MailOptions, *Reply) {
	var o MailOptions
	seen := map[string]bool{}
	for _, p := range strings.Fields(s) {
		if !c.esmtp {
			return o, Replyf(555, "5.5.4", "MAIL parameters need EHLO")
		}
		k, v, hasV := strings.Cut(p, "=")
		k = strings.ToUpper(k)
		if seen[k] {
			return o, Replyf(501, "5.5.4", "Parameter %s given twice", k)
		}
		seen[k] = true
		switch {
		case k == "SIZE" && hasV:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return o, Replyf(501, "5.5.4", "Bad SIZE parameter: a number of bytes is expected")
			}
			o.Size = n
		case k == "BODY" && hasV:
			switch b := strings.ToUpper(v); b {
			case "7BIT", "8BITMIME":
				o.Body = b
			default:
				return o, Replyf(501, "5.5.4", "Bad BODY parameter: 7BIT or 8BITMIME")
			}
		case k == "SMTPUTF8" && !hasV && c.srv.UTF8:
			o.UTF8 = true
		default:
			return o, Replyf(555, "5.5.4", "MAIL parameter %s is not recognized", k)
		}
	}
	return o, nil
}

func (c *Conn) rcpt(arg string) bool {
	switch {
	case !c.tx:
		return c.reply(Replyf(503, "5.5.1", "Error: need MAIL command"))
	case c.chunks != nil:
		return c.reply(Replyf(503, "5.5.1", "Error: RCPT during a BDAT transfer"))
	}
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return c.reply(Replyf(501, "5.5.4", "Syntax: RCPT TO:<address>"))
	}
	to, params, err := address.ParsePath(rest, c.txUTF8, false)
	if err != nil {
		return c.reply(addressReply(err, false))
	}
	if p := strings.Fields(params); len(p) > 0 {
		k, _, _ := strings.Cut(p[0], "=")
		return c.reply(Replyf(555, "5.5.4", "RCPT parameter %s is not recognized", strings.ToUpper(k)))
	}
	if err := c.sess.Rcpt(to); err != nil {
		return c.reply(asReply(err))
	}
	c.rcpts++
	return c.reply(Replyf(250, "2.1.5", "recipient <%s> ok", to.Addr))
}

func (c *Conn) data(arg string) bool {
	switch {
	case arg != "":
		return c.reply(Replyf(501, "5.5.4", "Syntax: DATA"))
	case !c.tx:
		return c.reply(Replyf(503, "5.5.1", "Error: need MAIL command"))
	case c.rcpts == 0:
		return c.reply(Replyf(554, "5.5.1", "Error: no valid recipients"))
	case c.chunks != nil:
		return c.reply(Replyf(503, "5.5.1", "Error: DATA during a BDAT transfer"))
	}
	if !c.reply(&Reply{Code: 354, Text: "End data with <CR><LF>.<CR><LF>"}) || c.flush() != nil {
		return false
	}
	r := newDataReader(c.br, c.srv.MaxMessageBytes, func() { _ = c.raw.SetReadDeadline(time.Now().Add(c.srv.ReadTimeout)) })
	text, err := c.sess.Data(r)
	if errors.Is(r.err, ErrAborted) || !r.drain() {
		return false // the client is gone: no reply, nothing kept
	}
	c.resetTx()
	switch {
	case r.tooLarge:
		return c.reply(Replyf(552, "5.3.4", "Message size exceeds fixed maximum message size (%d bytes)", c.srv.MaxMessageBytes))
	case err != nil:
		return c.reply(asReply(err))
	case !r.done:
		return c.reply(ErrLocal) // the session did not read the whole message: never 250
	}
	return c.reply(&Reply{Code: 250, Enhanced: "2.0.0", Text: text})
}

func (c *Conn) startTLS(arg string) bool {
	switch {
	case c.srv.TLS == nil:
		return c.reply(Replyf(502, "5.5.1", "Error: command not implemented"))
	case c.tlsState != nil:
		return c.reply(Replyf(503, "5.5.1", "Error: TLS already active"))
	case arg != "":
		return c.reply(Replyf(501, "5.5.4", "Syntax: STARTTLS"))
	}
	// Whatever the client pipelined after STARTTLS came in clear: it must
	// not be taken as if it came over TLS (RFC 3207 §4.2, CVE-2011-0411).
	_, _ = c.br.Discard(c.br.Buffered())
	if !c.reply(Replyf(220, "2.0.0", "Ready to start TLS")) || c.flush() != nil {
		return false
	}
	tc := tls.Server(c.raw, c.srv.TLS)
	_ = c.raw.SetDeadline(time.Now().Add(c.srv.ReadTimeout))
	err := tc.Handshake() // kill closes the connection under it
	obs, _ := c.sess.(TLSObserver)
	if err != nil {
		if obs != nil {
			obs.TLSDone(nil, err)
		}
		c.lingerClose()
		return false // the connection is unusable after a failed handshake
	}
	_ = c.raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tlsState, c.nc = &st, tc
	c.br.Reset(tc)
	c.bw.Reset(tc)
	c.helo, c.esmtp = "", false
	c.resetTx()
	if obs != nil {
		obs.TLSDone(&st, nil)
	}
	return true
}

// After a failed handshake the peer may already be sending: in TLS 1.3 a
// client whose certificate is refused has finished its side of the
// handshake and writes its first command at once. Closing with that command
// unread makes the kernel answer with a reset, and the client can lose the
// alert that says why (openssl then reports only "write:errno=104").
// lingerClose sends FIN after the alert and drops what still comes, for a
// bounded time and size, so the alert reaches the peer; kill still ends it.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 64 << 10
)

func (c *Conn) lingerClose() {
	cw, ok := c.raw.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	_ = cw.CloseWrite()
	_ = c.raw.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c.raw, lingerBytes)
}

// String describes the connection for error logs.
func (c *Conn) String() string { return fmt.Sprintf("smtp connection from %s", c.raw.RemoteAddr()) }
