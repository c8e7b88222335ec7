package delivery

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine/queue"
)

const testBody = "Subject: test\r\nMessage-ID: <m@x>\r\n\r\nhello\r\n"

// One odd address must not lose the message: a quoted local part goes on
// the wire as it is, and an address that cannot be sent fails alone, with
// its Bounced: line, whoever the sender is.
func TestOddRecipientDoesNotLoseTheMessage(t *testing.T) {
	for _, from := range []string{"alice@sender.test", ""} {
		t.Run("from <"+from+">", func(t *testing.T) {
			var conversation debugLog
			p := startPeer(t, nil, func(s *smtp.Server) { s.Debug = &conversation })
			h := newHarness(t, route("example.net", p.addr))
			h.run(t)
			mid := h.queueEnv(t, queue.Envelope{From: from, To: []string{`"john doe"@example.net`, "bad address@example.net", "bob@example.net"}}, testBody)
			require.Eventually(t, func() bool { return len(p.received()) == 2 && h.spool.Count() <= 1 }, 10*time.Second, 20*time.Millisecond,
				"mail_logs:\n%s", h.logLines(t))
			assert.Contains(t, conversation.String(), `RCPT TO:<"john doe"@example.net>`, "the address goes out exactly as it was accepted")
			assert.NotContains(t, conversation.String(), "bad address")
			h.logContains(t, "Message done DCID 1 MID 1 to RID [0 2]",
				`Bounced: MID 1 to RID 1 - 5.1.3 - bad destination mailbox address syntax: <bad address@example.net>:`,
				"Message finished MID 1 done")
			logs := h.logLines(t)
			assert.Less(t, strings.Index(logs, "Bounced: MID 1 to RID 1"), strings.Index(logs, "Message finished MID 1 done"), "the bounce is logged before the message is finished")
			if from == "" {
				assert.Contains(t, logs, "MID 1 RID [1] failed; no bounce for a message from the null sender")
				assert.Zero(t, h.spool.Count())
				return
			}
			dsns := h.bounces(t, from)
			require.Len(t, dsns, 1)
			assert.Contains(t, dsns[0], "Final-Recipient: rfc822; bad address@example.net")
			assert.Contains(t, dsns[0], "Status: 5.1.3")
			_ = mid
		})
	}
}

// A sender that cannot be put on the wire fails the message (5.1.7), and
// gets no bounce: there is nowhere to send it.
func TestUnusableSenderFailsTheMessage(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	h.queueEnv(t, queue.Envelope{From: "alice smith@sender.test", To: []string{"bob@example.net", "carol@example.net"}}, testBody)
	h.logContains(t, "Bounced: MID 1 to RID 0 - 5.1.7 - bad sender mailbox address syntax", "Bounced: MID 1 to RID 1 - 5.1.7",
		"MID 1 RID [0 1] failed; no bounce: the sender <alice smith@sender.test> is not a usable address", "Message finished MID 1 done")
	assert.Empty(t, p.received())
	assert.Zero(t, h.spool.Count())
}

// SMTPUTF8: asked for on MAIL when the message needs it and the peer offers
// it; a peer without it gets what needs nothing of it, and the rest fails
// with 5.6.7.
func TestSMTPUTF8Peers(t *testing.T) {
	tests := []struct {
		name       string
		peerUTF8   bool
		to         []string
		body       string
		delivered  []string // as the peer saw them
		bounced    []int
		mailUTF8   bool
		mailOnPeer bool
	}{
		{name: "UTF-8 recipient, peer with SMTPUTF8", peerUTF8: true, to: []string{"jörg@example.net", "bob@example.net"}, body: testBody,
			delivered: []string{"jörg@example.net", "bob@example.net"}, mailUTF8: true, mailOnPeer: true},
		{name: "UTF-8 recipient, peer without", to: []string{"jörg@example.net", "bob@example.net"}, body: testBody,
			delivered: []string{"bob@example.net"}, bounced: []int{0}, mailOnPeer: true},
		{name: "UTF-8 header, peer with SMTPUTF8", peerUTF8: true, to: []string{"bob@example.net"}, body: "Subject: Grüße\r\n\r\nhello\r\n",
			delivered: []string{"bob@example.net"}, mailUTF8: true, mailOnPeer: true},
		{name: "UTF-8 header, peer without", to: []string{"bob@example.net", "carol@example.net"}, body: "Subject: Grüße\r\n\r\nhello\r\n",
			bounced: []int{0, 1}},
		{name: "SMTPUTF8 asked, nothing needs it, peer without", to: []string{"bob@example.net"}, body: "Subject: plain\r\n\r\nGrüße\r\n",
			delivered: []string{"bob@example.net"}, mailOnPeer: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, nil, func(s *smtp.Server) { s.EnableSMTPUTF8 = tc.peerUTF8 })
			h := newHarness(t, func(c *config.Config) { route("example.net", p.addr)(c) })
			h.run(t)
			h.queueEnv(t, queue.Envelope{From: "", To: tc.to, UTF8: true}, tc.body)
			h.logContains(t, "Message finished MID 1 done")
			var got []string
			for _, r := range p.received() {
				rcpt, _, _ := strings.Cut(r, "|")
				got = append(got, rcpt)
			}
			assert.Equal(t, tc.delivered, got)
			logs := h.logLines(t)
			for _, rid := range tc.bounced {
				assert.Regexp(t, `Bounced: DCID \d+ MID 1 to RID `+strconv.Itoa(rid)+` - 5\.6\.7 - `, logs)
			}
			assert.Equal(t, len(tc.bounced), strings.Count(logs, "Bounced:"), logs)
			p.mu.Lock()
			defer p.mu.Unlock()
			if !tc.mailOnPeer {
				assert.Empty(t, p.mails, "nothing sent")
				return
			}
			require.Len(t, p.mails, 1)
			assert.Equal(t, tc.mailUTF8, p.mails[0].UTF8, "SMTPUTF8 on MAIL")
		})
	}
}

// Recipients that are the same mailbox (address.Key) in a message queued
// before inbound merged them get one RCPT and one copy; both are done.
func TestSameMailboxTwiceGetsOneCopy(t *testing.T) {
	var conversation debugLog
	p := startPeer(t, nil, func(s *smtp.Server) { s.Debug = &conversation })
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	h.queueEnv(t, queue.Envelope{From: "", To: []string{"bob@example.net", "carol@example.net", `"BOB"@Example.NET`}}, testBody)
	h.logContains(t, "Message done DCID 1 MID 1 to RID [0 1 2]", "Message finished MID 1 done")
	assert.Len(t, p.received(), 2, "bob once, carol once")
	assert.Equal(t, 2, strings.Count(conversation.String(), "RCPT TO:"), conversation.String())
	assert.Zero(t, h.spool.Count())
}
