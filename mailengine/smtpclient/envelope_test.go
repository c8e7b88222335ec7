package smtpclient

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One recipient that cannot be sent is refused alone; the others go, each
// address exactly as it is stored (a quoted local part in its quotes).
func TestOddRecipientIsRefusedAlone(t *testing.T) {
	for _, pipelining := range []bool{false, true} {
		p := startPeer(t, peerOpts{pipelining: pipelining})
		to := []string{`"john doe"@example.test`, "a@example.test", "bad address@example.test", "crlf@example.test\r\nRSET", ""}
		res, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
			Message{From: "", To: to, Body: strings.NewReader("x\n")})
		require.NoError(t, err)
		assert.Equal(t, []string{`"john doe"@example.test`, "a@example.test"}, rcpts(res.Delivered))
		require.Equal(t, []string{"bad address@example.test", "crlf@example.test\r\nRSET", ""}, rcpts(res.Rejected))
		for _, r := range res.Rejected {
			assert.Equal(t, 553, r.Code)
			assert.Equal(t, "5.1.3", r.Enhanced)
			assert.Contains(t, r.Text, "bad destination mailbox address syntax")
			assert.NotContains(t, r.Text, "\r", "the text is fit for a log line")
		}
		cmds := p.sessions()[0].cmds
		assert.Equal(t, []string{"EHLO localhost", "MAIL FROM:<>", `RCPT TO:<"john doe"@example.test>`, "RCPT TO:<a@example.test>", "DATA", "QUIT"}, cmds)
	}
}

func TestNoSendableRecipientNoConnection(t *testing.T) {
	p := startPeer(t, peerOpts{})
	res, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
		Message{From: "s@relaybox.test", To: []string{"a b@example.test"}, Body: strings.NewReader("x\n")})
	require.NoError(t, err)
	assert.Equal(t, []string{"a b@example.test"}, rcpts(res.Rejected))
	assert.Empty(t, p.sessions(), "nothing to send: no connection")

	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	defer c.Close()
	res, err = c.Send(context.Background(), Message{From: "s@relaybox.test", To: []string{"a b@example.test"}, Body: strings.NewReader("x\n")})
	require.NoError(t, err)
	assert.Len(t, res.Rejected, 1)
	assert.True(t, c.Usable())
	_, err = c.Send(context.Background(), Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n")})
	require.NoError(t, err)
	assert.Equal(t, []string{"EHLO localhost", "MAIL FROM:<s@relaybox.test>", "RCPT TO:<user@example.test>", "DATA"}, p.sessions()[0].cmds,
		"no MAIL for the message without a sendable recipient, and no RSET after it")
}

func TestUnusableSenderFailsTheMessage(t *testing.T) {
	for _, from := range []string{"a b@relaybox.test", "a@b>\r\nRSET", "no-domain"} {
		p := startPeer(t, peerOpts{})
		_, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
			Message{From: from, To: one, Body: strings.NewReader("x\n")})
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.False(t, e.Temporary)
		assert.Equal(t, "5.1.7", e.Enhanced)
		assert.Contains(t, e.Text, "bad sender mailbox address syntax")
		assert.Empty(t, p.sessions(), "nothing sent")
	}
}

func TestSMTPUTF8(t *testing.T) {
	const utf8Rcpt = "jörg@example.test"
	tests := []struct {
		name      string
		peerUTF8  bool
		m         Message
		mail      string   // the MAIL line the peer saw ("" = none)
		delivered []string // recipients
		rejected  []string // refused alone, 5.6.7
		failed    bool     // the whole message fails with 5.6.7
	}{
		{name: "ASCII message, peer with SMTPUTF8", peerUTF8: true, m: Message{From: "s@relaybox.test", To: one},
			mail: "MAIL FROM:<s@relaybox.test>", delivered: one},
		{name: "UTF8 envelope, peer with SMTPUTF8", peerUTF8: true, m: Message{From: "s@relaybox.test", To: one, UTF8: true},
			mail: "MAIL FROM:<s@relaybox.test> SMTPUTF8", delivered: one},
		{name: "non-ASCII recipient, peer with SMTPUTF8", peerUTF8: true, m: Message{From: "s@relaybox.test", To: []string{utf8Rcpt, "a@example.test"}, UTF8: true},
			mail: "MAIL FROM:<s@relaybox.test> SMTPUTF8", delivered: []string{utf8Rcpt, "a@example.test"}},
		{name: "non-ASCII recipient, peer without", m: Message{From: "s@relaybox.test", To: []string{utf8Rcpt, "a@example.test"}, UTF8: true, HeaderASCII: true},
			mail: "MAIL FROM:<s@relaybox.test>", delivered: []string{"a@example.test"}, rejected: []string{utf8Rcpt}},
		{name: "only non-ASCII recipients, peer without", m: Message{From: "s@relaybox.test", To: []string{utf8Rcpt}, UTF8: true, HeaderASCII: true},
			rejected: []string{utf8Rcpt}},
		{name: "non-ASCII sender, peer without", m: Message{From: "jörg@relaybox.test", To: one, UTF8: true, HeaderASCII: true}, failed: true},
		{name: "UTF-8 header, peer without", m: Message{From: "s@relaybox.test", To: one, UTF8: true}, failed: true},
		{name: "UTF8 envelope, ASCII header and addresses, peer without", m: Message{From: "s@relaybox.test", To: one, UTF8: true, HeaderASCII: true},
			mail: "MAIL FROM:<s@relaybox.test>", delivered: one},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, peerOpts{smtputf8: tc.peerUTF8})
			tc.m.Body = strings.NewReader("Subject: Grüße\n\nx\n")
			res, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast}, tc.m)
			cmds := p.sessions()[0].cmds
			if tc.failed {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.False(t, e.Temporary)
				assert.Equal(t, "5.6.7", e.Enhanced)
				assert.Contains(t, e.Text, "does not offer SMTPUTF8")
				assert.False(t, hasCmd(cmds, "MAIL"), "nothing sent: %q", cmds)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.delivered, rcpts(res.Delivered))
			assert.Equal(t, tc.rejected, rcpts(res.Rejected))
			for _, r := range res.Rejected {
				assert.Equal(t, "5.6.7", r.Enhanced)
				assert.Contains(t, r.Text, "non-ASCII addresses not permitted")
			}
			if tc.mail == "" {
				assert.False(t, hasCmd(cmds, "MAIL"), "%q", cmds)
			} else {
				assert.Contains(t, cmds, tc.mail)
			}
			for _, c := range cmds {
				if strings.HasPrefix(c, "RCPT") && !tc.peerUTF8 {
					assert.True(t, isASCII(c), "no 8-bit address to a server without SMTPUTF8: %q", c)
				}
			}
		})
	}
}
