package mailengine_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/queue"
)

type flowFixture struct {
	*fixture
	spool *queue.Spool
	log   *maillog.Logger
}

func newFlowFixture(t *testing.T) *flowFixture {
	t.Helper()
	spool, lg := spoolAndLog(t)
	f := newFixtureWith(t, mailengine.Options{Spool: spool, Log: lg})
	return &flowFixture{fixture: f, spool: spool, log: lg}
}

// logLines waits until the log holds a line matching each pattern, in order.
func (f *flowFixture) logLines(t *testing.T, patterns ...string) []string {
	t.Helper()
	var lines []string
	ok := assert.Eventually(t, func() bool {
		lines, _ = f.log.Tail(1000)
		i := 0
		for _, l := range lines {
			if i < len(patterns) && regexp.MustCompile(patterns[i]).MatchString(l) {
				i++
			}
		}
		return i == len(patterns)
	}, 5*time.Second, 20*time.Millisecond)
	if !ok {
		t.Logf("mail_logs:\n%s", strings.Join(lines, "\n"))
	}
	return lines
}

func TestMessageSpooledWithReceivedHeaderAndLogged(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.SSL.Inbound.Methods = []config.Method{config.TLS12, config.TLS13} }))
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO client.example.test")
	_, err := s.startTLS(clientTLS(tls.VersionTLS13))
	require.NoError(t, err)
	s.cmd("EHLO client.example.test")
	require.True(t, strings.HasPrefix(s.cmd("MAIL FROM:<alice@client.example.test>"), "250"))
	require.True(t, strings.HasPrefix(s.cmd("RCPT TO:<bob@example.test>"), "250"))
	require.True(t, strings.HasPrefix(s.cmd("RCPT TO:<carol@nowhere.test>"), "550"))
	require.True(t, strings.HasPrefix(s.cmd("DATA"), "354"))
	require.True(t, strings.HasPrefix(s.cmd("Message-ID: <m1@client.example.test>\r\nSubject: hello\r\n\r\nbody line\r\n."), "250"))
	s.cmd("QUIT")

	require.Equal(t, 1, f.spool.Count(), "the message is in the spool once 250 is sent")
	msgs, err := f.spool.List()
	require.NoError(t, err)
	m, rc, err := f.spool.Get(msgs[0].MID)
	require.NoError(t, err)
	raw, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	assert.Equal(t, "alice@client.example.test", m.Envelope.From)
	assert.Equal(t, []string{"bob@example.test"}, m.Envelope.To)
	assert.Regexp(t, `^Received: from client\.example\.test \(unknown \[127\.0\.0\.1\]\)\r\n\tby box\.example\.test \(Relaybox\) with ESMTPS \(TLSv1\.3 TLS_[A-Z0-9_]+\)`, string(raw))
	assert.Contains(t, string(raw), "\r\nSubject: hello\r\n\r\nbody line\r\n")

	f.logLines(t,
		`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} Info: New SMTP ICID (\d+) interface Management \(127\.0\.0\.1\) address 127\.0\.0\.1 reverse dns host unknown verified no$`,
		`Info: ICID \d+ ACCEPT SG None match ALL SBRS None$`,
		`Info: ICID \d+ TLS success protocol TLSv1\.3 cipher TLS_(AES_256_GCM_SHA384|AES_128_GCM_SHA256|CHACHA20_POLY1305_SHA256)$`,
		`Info: ICID \d+ To: <carol@nowhere\.test> Rejected by Receiving Domain$`,
		`Info: Start MID \d+ ICID \d+$`,
		`Info: MID \d+ ICID \d+ From: <alice@client\.example\.test>$`,
		`Info: MID \d+ ICID \d+ RID 0 To: <bob@example\.test>$`,
		`Info: MID \d+ Message-ID '<m1@client\.example\.test>'$`,
		`Info: MID \d+ Subject "hello"$`,
		`Info: MID \d+ ready \d+ bytes from <alice@client\.example\.test>$`,
		`Info: MID \d+ queued for delivery$`,
		`Info: ICID \d+ close$`,
	)
}

func TestTLSFailuresAndRequiredAreLogged(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) {
		c.SSL.Inbound.Methods = []config.Method{config.TLS13}
		c.Listeners[0].TLS = config.TLSRequired
	}))
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO old.client.test")
	assert.True(t, strings.HasPrefix(s.cmd("MAIL FROM:<a@old.client.test>"), "530"))
	_, err := s.startTLS(clientTLS(tls.VersionTLS12))
	require.Error(t, err, "TLS 1.2 is not enabled")
	f.logLines(t,
		`ICID \d+ TLS was required but remote host did not initiate it$`,
		`ICID \d+ TLS failed: \(337678594, 'error:14209102:SSL routines:tls_early_post_process_client_hello:unsupported protocol'\)$`,
	)
	require.Equal(t, 0, f.spool.Count())
}

func TestLimitsAreEnforcedAndLogged(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) {
		c.Listeners[0].MaxRecipients = 2
		c.Listeners[0].MaxMessageBytes = 2000
	}))
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	s.cmd("MAIL FROM:<a@c.test>")
	s.cmd("RCPT TO:<1@example.test>")
	s.cmd("RCPT TO:<2@example.test>")
	assert.True(t, strings.HasPrefix(s.cmd("RCPT TO:<3@example.test>"), "452 4.5.3"))
	s.cmd("DATA")
	assert.True(t, strings.HasPrefix(s.cmd("Subject: big\r\n\r\n"+strings.Repeat(strings.Repeat("x", 70)+"\r\n", 40)+"."), "552"))
	s.cmd("QUIT")
	long := dialSMTP(t, f.smtpAddr())
	long.reply()
	long.cmd("EHLO c.test")
	long.cmd("MAIL FROM:<a@c.test>")
	long.cmd("RCPT TO:<1@example.test>")
	long.cmd("DATA")
	// A line over RFC 5321's 1,000 octets is taken as it is (delivery
	// breaks it, see smtpclient); the size limit still holds.
	fmt.Fprintf(long.conn, "Subject: long\r\n\r\n%s\r\n.\r\n", strings.Repeat("y", 1500))
	line, _ := long.r.ReadString('\n')
	assert.True(t, strings.HasPrefix(line, "250 2.0.0 ok:  Message "), "a long line within the size limit is accepted: %q", line)
	require.Equal(t, 1, f.spool.Count(), "only the message within the limits is stored")
	f.logLines(t, `To: <3@example\.test> Rejected: more than 2 recipients$`, `rejected: message larger than 2000 bytes$`)
}

func TestExpiringCertificateInUseIsLoggedOncePerThreshold(t *testing.T) {
	f, lg, now := newClockedFixture(t)
	// The Demo certificate lasts 3650 days: move the clock to 20 days before its end.
	cert, err := f.keys.TLSCertificate(f.cfg.Certificates[0])
	require.NoError(t, err)
	later := cert.Leaf.NotAfter.Add(-20 * 24 * time.Hour)
	now.Store(&later)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Hostname = "a.example.test" }))
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Hostname = "b.example.test" }))
	lines, err := lg.Tail(100)
	require.NoError(t, err)
	joined := strings.Join(lines, "\n")
	assert.Equal(t, 1, strings.Count(joined, "Warning: The certificate \"Demo\""), "reported once per threshold:\n%s", joined)
	assert.Contains(t, joined, "used by interface Management (HTTPS), listener IncomingMail, listener OutgoingMail expires in 20 days")
	lastDay := cert.Leaf.NotAfter.Add(-12 * time.Hour)
	now.Store(&lastDay)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Hostname = "c.example.test" }))
	lines, _ = lg.Tail(100)
	assert.Contains(t, strings.Join(lines, "\n"), "expires in 0 days", "the 1-day threshold is reported too")
}
