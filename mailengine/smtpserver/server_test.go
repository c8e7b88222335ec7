package smtpserver

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/mailengine/address"
)

// recorder is a Backend that accepts everything and keeps what it got.
type recorder struct {
	mu       sync.Mutex
	from     []string
	rcpts    []string
	messages []string
	dataErrs []error
	tls      []string
	closed   int
	// refuseRcpt refuses recipients with this domain.
	refuseRcpt string
	// dataGate, when set, is waited on before Data returns.
	dataGate chan struct{}
}

func (r *recorder) NewSession(*Conn) (Session, error) { return &recSession{r: r}, nil }

type recSession struct{ r *recorder }

func (s *recSession) Hello(string) error { return nil }
func (s *recSession) Mail(from address.Path, _ MailOptions) error {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.from = append(s.r.from, from.Addr)
	return nil
}
func (s *recSession) Rcpt(to address.Path) error {
	if s.r.refuseRcpt != "" && to.Domain == s.r.refuseRcpt {
		return Replyf(550, "5.7.1", "relaying denied")
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.rcpts = append(s.r.rcpts, to.Addr)
	return nil
}
func (s *recSession) Data(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if s.r.dataGate != nil {
		<-s.r.dataGate
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if err != nil {
		s.r.dataErrs = append(s.r.dataErrs, err)
		return "", err
	}
	s.r.messages = append(s.r.messages, string(b))
	return fmt.Sprintf("ok:  Message %d accepted", len(s.r.messages)), nil
}
func (s *recSession) Reset() {}
func (s *recSession) Close() {
	s.r.mu.Lock()
	s.r.closed++
	s.r.mu.Unlock()
}
func (s *recSession) TLSDone(st *tls.ConnectionState, err error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if err != nil {
		s.r.tls = append(s.r.tls, "failed: "+err.Error())
		return
	}
	s.r.tls = append(s.r.tls, tls.VersionName(st.Version))
}

func (r *recorder) snapshot() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{from: append([]string(nil), r.from...), rcpts: append([]string(nil), r.rcpts...),
		messages: append([]string(nil), r.messages...), dataErrs: append([]error(nil), r.dataErrs...), tls: append([]string(nil), r.tls...), closed: r.closed}
}

// start runs a server on 127.0.0.1 with the recorder; configure adjusts it.
func start(t testing.TB, rec *recorder, configure func(*Server)) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &Server{Hostname: "mx.example.test", MaxMessageBytes: 1000, Backend: rec, UTF8: true}
	if configure != nil {
		configure(s)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(ln); close(done) }()
	t.Cleanup(func() { _ = s.Close(); <-done })
	return s, ln.Addr().String()
}

// client is a raw SMTP client for tests.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, c: c, br: bufio.NewReader(c)}
	cl.expect("220 mx.example.test ESMTP")
	return cl
}

func (c *client) send(s string) {
	c.t.Helper()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(c.c, s)
	require.NoError(c.t, err)
}

// reply reads one (possibly multi-line) reply, lines joined by "\n".
func (c *client) reply() string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var lines []string
	for {
		l, err := c.br.ReadString('\n')
		require.NoError(c.t, err, "reading a reply after %q", lines)
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

func (c *client) expect(want string) {
	c.t.Helper()
	assert.Equal(c.t, want, c.reply())
}

func (c *client) check(line, want string) {
	c.t.Helper()
	c.send(line + "\r\n")
	c.expect(want)
}

// closed asserts the server closed the connection.
func (c *client) closed() {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	assert.ErrorIs(c.t, err, io.EOF)
}

func (c *client) ehlo() {
	c.t.Helper()
	c.send("EHLO client.example.test\r\n")
	require.Contains(c.t, c.reply(), "250 ")
}

func TestTransactionWording(t *testing.T) {
	rec := &recorder{}
	_, addr := start(t, rec, nil)
	c := dial(t, addr)
	c.check("EHLO client.example.test", "250-mx.example.test\n250-PIPELINING\n250-SIZE 1000\n250-8BITMIME\n250-ENHANCEDSTATUSCODES\n250-CHUNKING\n250 SMTPUTF8")
	c.check("MAIL FROM:<alice@example.test> SIZE=20 BODY=8BITMIME", "250 2.1.0 sender <alice@example.test> ok")
	c.check(`RCPT TO:<"john doe"@example.test>`, `250 2.1.5 recipient <"john doe"@example.test> ok`)
	c.check("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: x\r\n\r\nbody\r\n.\r\n")
	c.expect("250 2.0.0 ok:  Message 1 accepted")
	c.check("QUIT", "221 2.0.0 mx.example.test closing connection")
	c.closed()
	got := rec.snapshot()
	assert.Equal(t, []string{"alice@example.test"}, got.from)
	assert.Equal(t, []string{`"john doe"@example.test`}, got.rcpts)
	assert.Equal(t, []string{"Subject: x\r\n\r\nbody\r\n"}, got.messages)
}

func TestEHLOWithoutTLSOrUTF8(t *testing.T) {
	_, addr := start(t, &recorder{}, func(s *Server) { s.UTF8 = false; s.MaxMessageBytes = 0 })
	c := dial(t, addr)
	c.check("EHLO c", "250-mx.example.test\n250-PIPELINING\n250-SIZE\n250-8BITMIME\n250-ENHANCEDSTATUSCODES\n250 CHUNKING")
	c.check("MAIL FROM:<a@b.test> SMTPUTF8", "555 5.5.4 MAIL parameter SMTPUTF8 is not recognized")
	c.check("HELO c", "250 mx.example.test")
	c.check("MAIL FROM:<a@b.test> SIZE=10", "555 5.5.4 MAIL parameters need EHLO")
}

func TestAddressesChecked(t *testing.T) {
	tests := []struct {
		name, mail, rcpt, want string
		kept                   string
	}{
		{name: "quoted local part kept exactly", rcpt: `<"a b"@x.test>`, want: `250 2.1.5 recipient <"a b"@x.test> ok`, kept: `"a b"@x.test`},
		{name: "NUL refused", rcpt: "<a\x00b@x.test>", want: "500 5.5.2 Syntax error: the command contains a control character"},
		{name: "ESC refused", rcpt: "<a\x1b[2J@x.test>", want: "500 5.5.2 Syntax error: the command contains a control character"},
		{name: "C1 control refused", mail: "<a@x.test> SMTPUTF8", rcpt: "<a\u009b@x.test>", want: "501 5.1.3 Bad recipient address syntax: the address contains a control character (U+009B)"},
		{name: "8-bit without SMTPUTF8", rcpt: "<grå@x.test>", want: "553 5.6.7 Bad recipient address: the address contains 8-bit characters but MAIL did not ask for SMTPUTF8"},
		{name: "UTF-8 with SMTPUTF8 kept", mail: "<a@x.test> SMTPUTF8", rcpt: "<grå@bücher.test>", want: "250 2.1.5 recipient <grå@bücher.test> ok", kept: "grå@bücher.test"},
		{name: "invalid UTF-8 with SMTPUTF8", mail: "<a@x.test> SMTPUTF8", rcpt: "<a\xff@x.test>", want: "553 5.6.7 Bad recipient address: the address is not valid UTF-8"},
		{name: "local part over 64", rcpt: "<" + strings.Repeat("l", 65) + "@x.test>", want: "501 5.1.3 Bad recipient address syntax: the local part is longer than 64 octets (RFC 5321 §4.5.3.1.1)"},
		{name: "path over 256", rcpt: "<a@" + strings.Repeat("d.", 126) + "test>", want: "501 5.1.3 Bad recipient address syntax: the path is longer than 256 octets (RFC 5321 §4.5.3.1.3)"},
		{name: "unquoted space", rcpt: "<john doe@x.test>", want: `501 5.1.3 Bad recipient address syntax: the local part contains ' ': quote it ("…"@domain)`},
		{name: "8-bit sender without SMTPUTF8", mail: "<grå@x.test>", want: "553 5.6.7 Bad sender address: the address contains 8-bit characters but MAIL did not ask for SMTPUTF8"},
		{name: "RCPT parameter", rcpt: "<a@x.test> NOTIFY=NEVER", want: "555 5.5.4 RCPT parameter NOTIFY is not recognized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			_, addr := start(t, rec, nil)
			c := dial(t, addr)
			c.ehlo()
			mail := tc.mail
			if mail == "" {
				mail = "<a@x.test>"
			}
			c.send("MAIL FROM:" + mail + "\r\n")
			r := c.reply()
			if tc.rcpt == "" {
				assert.Equal(t, tc.want, r)
				return
			}
			require.True(t, strings.HasPrefix(r, "250 "), r)
			c.check("RCPT TO:"+tc.rcpt, tc.want)
			if tc.kept != "" {
				assert.Equal(t, []string{tc.kept}, rec.snapshot().rcpts)
			} else {
				assert.Empty(t, rec.snapshot().rcpts)
			}
		})
	}
}

func TestHelloNameChecked(t *testing.T) {
	_, addr := start(t, &recorder{}, nil)
	c := dial(t, addr)
	c.check("EHLO bad\rname", "500 5.5.2 Syntax error: the command contains a control character")
	c.check("EHLO", "501 5.5.4 Syntax: EHLO hostname (a host name or an address literal)")
	c.check("EHLO "+strings.Repeat("h", 256), "501 5.5.4 Syntax: EHLO hostname (a host name or an address literal)")
	c.check("MAIL FROM:<a@b.test>", "503 5.5.1 Error: send HELO/EHLO first")
	c.check("HELO [127.0.0.1]", "250 mx.example.test")
}

// TestDataDots feeds DATA bodies byte for byte and checks what the session
// stored, including the cases other readers get wrong.
func TestDataDots(t *testing.T) {
	tests := []struct{ name, wire, stored string }{
		{name: "plain", wire: "a\r\nb\r\n.\r\n", stored: "a\r\nb\r\n"},
		{name: "stuffed dots", wire: "..x\r\n...\r\n..\r\n.\r\n", stored: ".x\r\n..\r\n.\r\n"},
		{name: "dot CR at line start keeps its bytes", wire: ".\rX\r\n.\r\n", stored: "\rX\r\n"},
		{name: "bare LF normalised", wire: "a\nb\r\n.\r\n", stored: "a\r\nb\r\n"},
		{name: "LF dot CRLF is content, not the end", wire: "a\n.\r\nb\r\n.\r\n", stored: "a\r\n.\r\nb\r\n"},
		{name: "dot LF is content", wire: "a\r\n.\nb\r\n.\r\n", stored: "a\r\n.\r\nb\r\n"},
		{name: "bare CR kept for the outbound writer", wire: "a\r.\r\nb\r\n.\r\n", stored: "a\r.\r\nb\r\n"},
		{name: "empty message", wire: ".\r\n", stored: ""},
		{name: "long line unstuffed once", wire: "." + strings.Repeat("y", 70000) + "\r\n.\r\n", stored: strings.Repeat("y", 70000) + "\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			_, addr := start(t, rec, func(s *Server) { s.MaxMessageBytes = 0 })
			c := dial(t, addr)
			c.ehlo()
			c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
			c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
			c.check("DATA", "354 End data with <CR><LF>.<CR><LF>")
			c.send(tc.wire)
			c.expect("250 2.0.0 ok:  Message 1 accepted")
			assert.Equal(t, []string{tc.stored}, rec.snapshot().messages)
		})
	}
}

func TestSizeLimitIsExact(t *testing.T) {
	rec := &recorder{}
	_, addr := start(t, rec, func(s *Server) { s.MaxMessageBytes = 100 })
	c := dial(t, addr)
	c.ehlo()
	c.check("MAIL FROM:<a@x.test> SIZE=101", "552 5.3.4 Message size exceeds fixed maximum message size (100 bytes)")
	for _, size := range []int{100, 101} {
		c.check("MAIL FROM:<a@x.test> SIZE=100", "250 2.1.0 sender <a@x.test> ok")
		c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
		c.check("DATA", "354 End data with <CR><LF>.<CR><LF>")
		c.send(strings.Repeat("z", size-2) + "\r\n.\r\n")
		if size == 100 {
			c.expect("250 2.0.0 ok:  Message 1 accepted")
		} else {
			c.expect("552 5.3.4 Message size exceeds fixed maximum message size (100 bytes)")
		}
	}
	c.check("NOOP", "250 2.0.0 Ok")
	assert.Len(t, rec.snapshot().messages, 1)
}

func TestBDAT(t *testing.T) {
	rec := &recorder{}
	_, addr := start(t, rec, func(s *Server) { s.MaxMessageBytes = 20 })
	c := dial(t, addr)
	c.ehlo()
	c.send("BDAT 3\r\nabcNOOP\r\n") // the chunk is read (and dropped) before the answer
	c.expect("503 5.5.1 Error: need MAIL command")
	c.expect("250 2.0.0 Ok")
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
	c.send("BDAT 7\r\nline 1\n") // binary: no dot-unstuffing, no line-end rewriting
	c.expect("250 2.0.0 7 octets received")
	c.send("BDAT 5 LAST\r\n.\r\n.x")
	c.expect("250 2.0.0 ok:  Message 1 accepted")
	assert.Equal(t, []string{"line 1\n.\r\n.x"}, rec.snapshot().messages)

	// 21 bytes in two chunks: over the limit, refused at LAST, nothing kept.
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
	c.send("BDAT 11\r\n01234567890BDAT 10 LAST\r\n0123456789")
	c.expect("250 2.0.0 11 octets received")
	c.expect("552 5.3.4 Message size exceeds fixed maximum message size (20 bytes)")
	c.check("DATA", "503 5.5.1 Error: need MAIL command")

	// RSET in the middle drops the transfer.
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
	c.send("BDAT 2\r\nab")
	c.expect("250 2.0.0 2 octets received")
	c.check("RSET", "250 2.0.0 Ok")
	c.check("BDAT x", "501 5.5.4 Syntax: BDAT size [LAST]")
	c.closed()
	got := rec.snapshot()
	assert.Len(t, got.messages, 1)
	require.Len(t, got.dataErrs, 2)
	assert.ErrorIs(t, got.dataErrs[0], ErrTooLarge)
	assert.ErrorIs(t, got.dataErrs[1], ErrAborted)
}

func TestErrorLimitTarpitsThenDisconnects(t *testing.T) {
	rec := &recorder{refuseRcpt: "other.test"}
	delay := 30 * time.Millisecond
	_, addr := start(t, rec, func(s *Server) { s.SoftErrorLimit, s.HardErrorLimit, s.ErrorDelay = 3, 6, delay })
	c := dial(t, addr)
	c.ehlo()
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	begin := time.Now()
	for i := 1; i <= 5; i++ {
		c.check("RCPT TO:<harvest"+fmt.Sprint(i)+"@other.test>", "550 5.7.1 relaying denied")
	}
	c.send("RCPT TO:<last@other.test>\r\n")
	c.expect("550 5.7.1 relaying denied")
	c.expect("421 4.7.0 mx.example.test Error: too many errors, closing connection")
	c.closed()
	// Errors 4, 5 and 6 waited ErrorDelay each.
	assert.GreaterOrEqual(t, time.Since(begin), 3*delay)
}

func TestTransactionLoopLimited(t *testing.T) {
	_, addr := start(t, &recorder{}, func(s *Server) { s.MaxTransactions = 3 })
	c := dial(t, addr)
	c.ehlo()
	for range 3 {
		c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
		c.check("RSET", "250 2.0.0 Ok")
	}
	c.check("MAIL FROM:<a@x.test>", "421 4.7.0 mx.example.test Error: too many transactions in this connection, connect again")
	c.closed()
}

func TestLongCommandLine(t *testing.T) {
	_, addr := start(t, &recorder{}, func(s *Server) { s.MaxLineLength = 100 })
	c := dial(t, addr)
	c.check("NOOP "+strings.Repeat("x", 100), "500 5.5.2 Line too long (the limit is 100 characters)")
	c.check("NOOP "+strings.Repeat("x", 200000), "500 5.5.2 Line too long (the limit is 100 characters)")
	c.check("NOOP", "250 2.0.0 Ok")
}

func TestNonSMTPClientsAreDropped(t *testing.T) {
	_, addr := start(t, &recorder{}, nil)
	for _, in := range []string{"\x16\x03\x01\x02\x00\x01\x00", "GET / HTTP/1.1\r\n", "CONNECT mx:25 HTTP/1.0\r\n"} {
		c := dial(t, addr)
		c.send(in) // a ClientHello has no line end: the answer must not wait for one
		c.expect("221 2.7.0 mx.example.test Error: this is not an SMTP command, closing connection")
		c.closed()
	}
}

func TestPipelinedReplies(t *testing.T) {
	rec := &recorder{refuseRcpt: "other.test"}
	_, addr := start(t, rec, nil)
	c := dial(t, addr)
	c.ehlo()
	c.send("MAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@other.test>\r\nDATA\r\n")
	c.expect("250 2.1.0 sender <a@x.test> ok")
	c.expect("250 2.1.5 recipient <b@x.test> ok")
	c.expect("550 5.7.1 relaying denied")
	c.expect("354 End data with <CR><LF>.<CR><LF>")
	c.send("hi\r\n.\r\nQUIT\r\n")
	c.expect("250 2.0.0 ok:  Message 1 accepted")
	c.expect("221 2.0.0 mx.example.test closing connection")
}

func TestAbortedDataKeepsNothing(t *testing.T) {
	rec := &recorder{}
	_, addr := start(t, rec, nil)
	c := dial(t, addr)
	c.ehlo()
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
	c.check("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("Subject: half\r\n")
	require.NoError(t, c.c.Close())
	require.Eventually(t, func() bool { return len(rec.snapshot().dataErrs) == 1 }, 5*time.Second, 5*time.Millisecond)
	got := rec.snapshot()
	assert.ErrorIs(t, got.dataErrs[0], ErrAborted)
	assert.Empty(t, got.messages)
}

func tlsConfig(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.test"},
		DNSNames: []string{"mx.example.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestStartTLSDiscardsPipelinedClearText(t *testing.T) {
	rec := &recorder{}
	_, addr := start(t, rec, func(s *Server) { s.TLS = tlsConfig(t) })
	c := dial(t, addr)
	c.send("EHLO c\r\n")
	assert.Contains(t, c.reply(), "250 STARTTLS")
	// A man in the middle appends a command to the STARTTLS line.
	c.send("STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
	c.expect("220 2.0.0 Ready to start TLS")
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	require.NoError(t, tc.Handshake())
	c.c, c.br = tc, bufio.NewReader(tc)
	c.check("MAIL FROM:<a@x.test>", "503 5.5.1 Error: send HELO/EHLO first")
	c.send("EHLO c\r\n")
	assert.NotContains(t, c.reply(), "STARTTLS")
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	got := rec.snapshot()
	assert.Equal(t, []string{"a@x.test"}, got.from, "the injected MAIL must never reach the session")
	assert.Equal(t, []string{"TLS 1.3"}, got.tls)
}

func TestFailedHandshakeIsReportedAndClosed(t *testing.T) {
	rec := &recorder{}
	_, addr := start(t, rec, func(s *Server) { s.TLS = tlsConfig(t) })
	c := dial(t, addr)
	c.ehlo()
	c.check("STARTTLS", "220 2.0.0 Ready to start TLS")
	c.send("this is not a TLS ClientHello\r\n")
	c.closed()
	require.Eventually(t, func() bool { return len(rec.snapshot().tls) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, rec.snapshot().tls[0], "failed: ")
}

// TestRefusedClientCertificateAlertArrives: in TLS 1.3 the client has
// finished its side before the server refuses its certificate, and writes
// at once. The server must still deliver its alert: it half-closes and
// drains instead of closing over unread data, which resets the connection
// under the client's next write (openssl's "write:errno=104").
func TestRefusedClientCertificateAlertArrives(t *testing.T) {
	rec := &recorder{}
	_, addr := start(t, rec, func(s *Server) {
		s.TLS = tlsConfig(t)
		s.TLS.ClientAuth = tls.RequireAnyClientCert
		s.TLS.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error {
			return errors.New("not a client this server trusts")
		}
	})
	c := dial(t, addr)
	c.ehlo()
	c.check("STARTTLS", "220 2.0.0 Ready to start TLS")
	clientCert := tlsConfig(t).Certificates
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true, Certificates: clientCert, MinVersion: tls.VersionTLS13})
	require.NoError(t, tc.Handshake(), "in TLS 1.3 the client's side completes before the server's verdict")
	_, err := io.WriteString(tc, "EHLO c\r\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(rec.snapshot().tls) == 1 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // the server has answered the EHLO's arrival by now
	_, err = io.WriteString(tc, "QUIT\r\n")
	require.NoError(t, err, "a write after the refusal must not meet a reset")
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = tc.Read(make([]byte, 1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "remote error: tls: bad certificate", "the client must read the server's alert")
	assert.Contains(t, rec.snapshot().tls[0], "failed: ")
}

// TestShutdownAnswersIdleAndFinishesData: an idle session gets 421 at
// once; one in the middle of DATA finishes its message, gets its 250, then
// 421; Shutdown returns when both are done.
func TestShutdownAnswersIdleAndFinishesData(t *testing.T) {
	rec := &recorder{}
	srv, addr := start(t, rec, func(s *Server) { s.ReadTimeout = time.Minute })
	idle := dial(t, addr)
	idle.ehlo()
	busy := dial(t, addr)
	busy.ehlo()
	busy.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	busy.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
	busy.check("DATA", "354 End data with <CR><LF>.<CR><LF>")
	busy.send("Subject: in flight\r\n")

	shut := make(chan error, 1)
	begin := time.Now()
	go func() { shut <- srv.Shutdown(context.Background()) }()
	idle.expect("421 4.3.2 mx.example.test Service shutting down, try again later")
	idle.closed()
	assert.Less(t, time.Since(begin), 5*time.Second, "the idle session must not wait for its timeout")
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a message was being received", err)
	case <-time.After(100 * time.Millisecond):
	}
	busy.send("\r\nthe rest\r\n.\r\n")
	busy.expect("250 2.0.0 ok:  Message 1 accepted")
	busy.expect("421 4.3.2 mx.example.test Service shutting down, try again later")
	require.NoError(t, <-shut)
	assert.Equal(t, []string{"Subject: in flight\r\n\r\nthe rest\r\n"}, rec.snapshot().messages)
	_, err := net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the listener is closed")
}

// TestRetireLetsSessionsFinish: a server replaced by a commit stops
// accepting but its sessions go on until they quit.
func TestRetireLetsSessionsFinish(t *testing.T) {
	rec := &recorder{}
	srv, addr := start(t, rec, nil)
	c := dial(t, addr)
	c.ehlo()
	retired := make(chan error, 1)
	go func() { retired <- srv.Retire(context.Background()) }()
	require.Eventually(t, func() bool {
		_, err := net.DialTimeout("tcp", addr, time.Second)
		return err != nil
	}, 5*time.Second, 10*time.Millisecond, "the listener closes")
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
	c.check("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("x\r\n.\r\n")
	c.expect("250 2.0.0 ok:  Message 1 accepted")
	select {
	case err := <-retired:
		t.Fatalf("Retire returned (%v) with a session open", err)
	default:
	}
	c.check("QUIT", "221 2.0.0 mx.example.test closing connection")
	require.NoError(t, <-retired)
}

func TestShutdownDeadlineClosesEverything(t *testing.T) {
	rec := &recorder{dataGate: make(chan struct{})}
	srv, addr := start(t, rec, nil)
	c := dial(t, addr)
	c.ehlo()
	c.check("MAIL FROM:<a@x.test>", "250 2.1.0 sender <a@x.test> ok")
	c.check("RCPT TO:<b@x.test>", "250 2.1.5 recipient <b@x.test> ok")
	c.check("DATA", "354 End data with <CR><LF>.<CR><LF>")
	c.send("x\r\n") // never finished
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	close(rec.dataGate)
	err := srv.Shutdown(ctx)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	c.closed()
}

// FuzzDataReader: whatever the client sends, the stored message has only
// CRLF line ends, and sending it back dot-stuffed gives the same message.
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", "..x\r\n.\r\n", ".\rX\r\n.\r\n", "a\n.\r\nb\r\n.\r\n", "a\r.\r\n.\r\n", ".\r\n", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		out, done := readData(wire)
		if !done {
			return
		}
		for i := 0; i < len(out); i++ {
			if out[i] == '\n' && (i == 0 || out[i-1] != '\r') {
				t.Fatalf("stored message has a bare LF: %q from %q", out, wire)
			}
		}
		var stuffed []byte
		for _, line := range strings.SplitAfter(string(out), "\r\n") {
			if strings.HasPrefix(line, ".") {
				stuffed = append(stuffed, '.')
			}
			stuffed = append(stuffed, line...)
		}
		again, ok := readData(append(stuffed, ".\r\n"...))
		if !ok || string(again) != string(out) {
			t.Fatalf("not stable: %q → %q → %q", wire, out, again)
		}
	})
}

func readData(wire []byte) ([]byte, bool) {
	r := newDataReader(bufio.NewReaderSize(strings.NewReader(string(wire)), 16), 0, func() {})
	out, err := io.ReadAll(r)
	return out, err == nil && r.done
}

// discarder is a Backend that reads every message and keeps nothing.
type discarder struct{ recSession }

func (d *discarder) NewSession(*Conn) (Session, error)  { return d, nil }
func (*discarder) Mail(address.Path, MailOptions) error { return nil }
func (*discarder) Rcpt(address.Path) error              { return nil }
func (*discarder) Close()                               {}
func (*discarder) Data(r io.Reader) (string, error) {
	_, err := io.Copy(io.Discard, r)
	return "ok", err
}

// BenchmarkSession is one whole session per iteration over loopback, the
// load shape of scripts/bench-e2e.sh: connect, EHLO, MAIL, RCPT, 4 KiB of
// DATA, QUIT. -benchmem shows what the server allocates per session (the
// client's share is small and fixed).
func BenchmarkSession(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	s := &Server{Hostname: "mx.example.test", MaxMessageBytes: 1 << 20, Backend: &discarder{}}
	done := make(chan struct{})
	go func() { _ = s.Serve(ln); close(done) }()
	defer func() { _ = s.Close(); <-done }()
	line := strings.Repeat("x", 78) + "\r\n"
	msg := "Subject: bench\r\n\r\n" + strings.Repeat(line, 4096/len(line)) + ".\r\n"
	br := bufio.NewReader(nil)
	expect := func(c net.Conn, code string) {
		for {
			l, err := br.ReadString('\n')
			require.NoError(b, err)
			require.True(b, strings.HasPrefix(l, code), "want %s, got %q", code, l)
			if len(l) < 4 || l[3] == ' ' {
				return
			}
		}
	}
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(b, err)
		br.Reset(c)
		expect(c, "220")
		for _, step := range []struct{ send, code string }{
			{"EHLO client.test\r\n", "250"}, {"MAIL FROM:<a@client.test>\r\n", "250"},
			{"RCPT TO:<b@example.test>\r\n", "250"}, {"DATA\r\n", "354"}, {msg, "250"}, {"QUIT\r\n", "221"},
		} {
			_, err := io.WriteString(c, step.send)
			require.NoError(b, err)
			expect(c, step.code)
		}
		_ = c.Close()
	}
}
