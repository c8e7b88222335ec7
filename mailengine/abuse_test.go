package mailengine_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// dialFrom connects from a chosen loopback source address.
func dialFrom(t *testing.T, src, addr string) *smtpConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &smtpConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// TestPerAddressConnectionLimit: one client address cannot hold every slot
// of a listener; another address still gets in.
func TestPerAddressConnectionLimit(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) {
		c.Listeners[0].MaxConnections = 10
		c.Listeners[0].MaxConnectionsPerIP = 3
	}))
	for range 3 {
		s := dialFrom(t, "127.0.0.1", f.smtpAddr())
		require.True(t, strings.HasPrefix(s.reply(), "220 "))
	}
	greedy := dialFrom(t, "127.0.0.1", f.smtpAddr())
	assert.Equal(t, "421 4.7.0 box.example.test Too many concurrent connections from your address, try again later\r\n", greedy.reply())
	other := dialFrom(t, "127.0.0.2", f.smtpAddr())
	assert.True(t, strings.HasPrefix(other.reply(), "220 "), "another address is not held back")
	f.logLines(t, `ICID \d+ refused: too many concurrent connections from 127\.0\.0\.1 \(limit 3\)$`)
}

// TestHTTPSConnectionsAreCapped: a flood of raw TCP connections to the GUI
// port stops at the per-address cap, and SMTP still answers.
func TestHTTPSConnectionsAreCapped(t *testing.T) {
	f := newFlowFixture(t)
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for range 40 {
		c, err := net.DialTimeout("tcp", f.httpsAddr(), 5*time.Second)
		require.NoError(t, err)
		held = append(held, c)
	}
	open := 0
	for _, c := range held {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && isTimeout(err) {
			open++ // still open, waiting for our ClientHello
		}
	}
	assert.Equal(t, 32, open, "one address gets 32 HTTPS connections; the rest are closed at once")
	s := dialSMTP(t, f.smtpAddr())
	assert.True(t, strings.HasPrefix(s.reply(), "220 "))
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestMIDOnlyForMessagesThatReachData: MAIL/RSET loops burn no MID and
// write nothing to mail_logs; the first message gets MID 1.
func TestMIDOnlyForMessagesThatReachData(t *testing.T) {
	f := newFlowFixture(t)
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	for range 50 {
		require.True(t, strings.HasPrefix(s.cmd("MAIL FROM:<loop@c.test>"), "250 "))
		require.True(t, strings.HasPrefix(s.cmd("RCPT TO:<x@example.test>"), "250 "))
		require.True(t, strings.HasPrefix(s.cmd("RSET"), "250 "))
	}
	s.cmd("MAIL FROM:<a@c.test>")
	s.cmd("RCPT TO:<b@example.test>")
	s.cmd("DATA")
	assert.Equal(t, "250 2.0.0 ok:  Message 1 accepted\r\n", s.cmd("Subject: one\r\n\r\nx\r\n."))
	lines := f.logLines(t, `Start MID 1 ICID \d+$`, `MID 1 queued for delivery$`)
	assert.Equal(t, 0, strings.Count(strings.Join(lines, "\n"), "loop@c.test"), "a transaction that never reached DATA is not logged")
}

// TestTransactionLoopsAreCut: a session cannot loop MAIL/RSET forever.
func TestTransactionLoopsAreCut(t *testing.T) {
	f := newFlowFixture(t)
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	var last string
	for i := 0; i < 200 && !strings.HasPrefix(last, "421"); i++ {
		last = s.cmd("MAIL FROM:<loop@c.test>")
		if strings.HasPrefix(last, "250") {
			s.cmd("RSET")
		}
	}
	assert.Equal(t, "421 4.7.0 box.example.test Error: too many transactions in this connection, connect again\r\n", last)
}

// TestHarvestingIsCut: denied recipients count as errors; past the hard
// limit the session ends.
func TestHarvestingIsCut(t *testing.T) {
	f := newFlowFixture(t)
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	s.cmd("MAIL FROM:<a@c.test>")
	begin := time.Now()
	denied := 0
	for i := 0; i < 3000; i++ {
		r := s.cmd(fmt.Sprintf("RCPT TO:<guess%d@elsewhere.test>", i))
		if !strings.HasPrefix(r, "550 ") {
			break
		}
		denied++
	}
	assert.Equal(t, 20, denied, "the 20th error ends the session (Postfix's smtpd_hard_error_limit)")
	assert.GreaterOrEqual(t, time.Since(begin), 9*time.Second, "errors 11 to 20 are each delayed a second")
	_, err := s.r.ReadString('\n')
	assert.Error(t, err, "the connection is closed")
}

// TestFreeSpaceCheckedAtMAIL: a transaction the spool's disk cannot hold
// is deferred with 452 4.3.1 before any data is sent.
func TestFreeSpaceCheckedAtMAIL(t *testing.T) {
	f := newFlowFixture(t)
	free, err := f.spool.FreeBytes()
	require.NoError(t, err)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].MaxMessageBytes = free }))
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	assert.Equal(t, "452 4.3.1 Insufficient system storage, try again later\r\n", s.cmd("MAIL FROM:<a@c.test>"))
	assert.Equal(t, "250 2.1.0 sender <a@c.test> ok\r\n", s.cmd("MAIL FROM:<a@c.test> SIZE=1000"), "a small announced size fits")
	f.logLines(t, `Warning: ICID \d+ mail deferred: \d+ bytes free in the queue's file system, \d+ needed; free disk space$`)
}

// TestSizeIsExactAndCheckedAtMAIL: EHLO advertises the limit itself; SIZE
// over it is refused at MAIL.
func TestSizeIsExactAndCheckedAtMAIL(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].MaxMessageBytes = 5000 }))
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	assert.Contains(t, s.cmd("EHLO c.test"), "250-SIZE 5000\r\n")
	assert.Equal(t, "552 5.3.4 Message size exceeds fixed maximum message size (5000 bytes)\r\n", s.cmd("MAIL FROM:<a@c.test> SIZE=5001"))
}

// TestDuplicateRecipientsMerged: <dup@x> and <DUP@x> are one recipient.
func TestDuplicateRecipientsMerged(t *testing.T) {
	f := newFlowFixture(t)
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	s.cmd("MAIL FROM:<a@c.test>")
	for _, r := range []string{"<dup@example.test>", "<DUP@Example.Test>", `<"dup"@example.test>`, "<other@example.test>"} {
		require.True(t, strings.HasPrefix(s.cmd("RCPT TO:"+r), "250 "), r)
	}
	s.cmd("DATA")
	require.True(t, strings.HasPrefix(s.cmd("x\r\n."), "250 "))
	msgs, err := f.spool.List()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, []string{"dup@example.test", "other@example.test"}, msgs[0].Envelope.To)
	f.logLines(t, `ICID \d+ To: <DUP@Example\.Test> is recipient RID 0 again: merged$`)
}

// TestQuotedAndUTF8AddressesSpooledExactly: the queue holds the addresses
// byte for byte as the client wrote them.
func TestQuotedAndUTF8AddressesSpooledExactly(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].Domains = append(c.Listeners[0].Domains, "bücher.test") }))
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	assert.Contains(t, s.cmd("EHLO c.test"), "250-SMTPUTF8\r\n")
	s.cmd(`MAIL FROM:<"john doe"@c.test> SMTPUTF8`)
	require.Equal(t, "250 2.1.5 recipient <\"a b\"@example.test> ok\r\n", s.cmd(`RCPT TO:<"a b"@example.test>`))
	require.Equal(t, "250 2.1.5 recipient <grå@bücher.test> ok\r\n", s.cmd("RCPT TO:<grå@bücher.test>"))
	s.cmd("DATA")
	require.True(t, strings.HasPrefix(s.cmd("x\r\n."), "250 "))
	msgs, err := f.spool.List()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, `"john doe"@c.test`, msgs[0].Envelope.From)
	assert.Equal(t, []string{`"a b"@example.test`, "grå@bücher.test"}, msgs[0].Envelope.To)
	assert.True(t, msgs[0].Envelope.UTF8)
}

// TestTLSSuccessLoggedAtHandshake: a client that completes STARTTLS and
// leaves (openssl s_client </dev/null) is logged as a success, not a failure.
func TestTLSSuccessLoggedAtHandshake(t *testing.T) {
	f := newFlowFixture(t)
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	tc, err := s.startTLS(clientTLS(tls.VersionTLS12))
	require.NoError(t, err)
	tc.Close()
	lines := f.logLines(t, `ICID \d+ TLS success protocol TLSv1\.2 cipher ECDHE-RSA-AES128-GCM-SHA256$`, `ICID \d+ close$`)
	assert.NotContains(t, strings.Join(lines, "\n"), "TLS failed")
}

// TestClientAbortDuringDataIsInfo: a client that goes away in the middle of
// DATA is an everyday event, logged at Info, and nothing is stored.
func TestClientAbortDuringDataIsInfo(t *testing.T) {
	f := newFlowFixture(t)
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	s.cmd("MAIL FROM:<a@c.test>")
	s.cmd("RCPT TO:<b@example.test>")
	s.cmd("DATA")
	fmt.Fprint(s.conn, "Subject: half a message\r\n\r\nand then")
	s.conn.Close()
	lines := f.logLines(t, `Info: MID 1 ICID \d+ aborted: the client ended the connection before the end of the data$`, `ICID \d+ close$`)
	assert.NotContains(t, strings.Join(lines, "\n"), "Warning")
	assert.Equal(t, 0, f.spool.Count())
}
