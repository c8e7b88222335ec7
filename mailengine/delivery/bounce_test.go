package delivery

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine/queue"
)

// tenRecipients are five at example.net and five at example.org, every one
// refused by its peer.
func tenRecipients(t *testing.T) (*harness, []string) {
	net1, org := startPeer(t, nil), startPeer(t, nil)
	var to []string
	for i := range 5 {
		for _, dom := range []struct {
			p    *peer
			name string
		}{{net1, "example.net"}, {org, "example.org"}} {
			rcpt := fmt.Sprintf("user%d@%s", i, dom.name)
			dom.p.reject[rcpt] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			to = append(to, rcpt)
		}
	}
	h := newHarness(t, func(c *config.Config) {
		route("example.net", net1.addr)(c)
		route("example.org", org.addr)(c)
	})
	return h, to
}

// Ten recipients that all fail make one bounce naming the ten, not ten.
func TestOneBouncePerMessage(t *testing.T) {
	h, to := tenRecipients(t)
	h.run(t)
	h.queueEnv(t, queue.Envelope{From: "alice@sender.test", To: to}, testBody)
	h.logContains(t, "Message finished MID 1 done")
	dsns := h.bounces(t, "alice@sender.test")
	require.Len(t, dsns, 1, "one DSN for the message")
	dsn := dsns[0]
	assert.Contains(t, dsn, "Content-Type: multipart/report; report-type=delivery-status")
	assert.Contains(t, dsn, "Your message could not be delivered to these 10 recipients:")
	for _, rcpt := range to {
		assert.Contains(t, dsn, "<"+rcpt+">: 550 5.1.1 No such user", "the text part lists it")
		assert.Contains(t, dsn, "Final-Recipient: rfc822; "+rcpt+"\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 No such user\r\n")
	}
	assert.Equal(t, 10, strings.Count(dsn, "Final-Recipient:"))
	assert.Contains(t, dsn, "Subject: test", "the original header")
	logs := h.logLines(t)
	assert.Equal(t, 10, strings.Count(logs, "Bounced: DCID"), logs)
	assert.Equal(t, 1, strings.Count(logs, "MID 1 bounce MID"), logs)
}

// A message from the null sender (a bounce) never bounces: ten Bounced:
// lines, no DSN.
func TestNullSenderFailuresMakeNoBounce(t *testing.T) {
	h, to := tenRecipients(t)
	h.run(t)
	h.queueEnv(t, queue.Envelope{From: "", To: to}, testBody)
	h.logContains(t, "MID 1 RID [0 1 2 3 4 5 6 7 8 9] failed; no bounce for a message from the null sender", "Message finished MID 1 done")
	logs := h.logLines(t)
	assert.Equal(t, 10, strings.Count(logs, "Bounced: DCID"), logs)
	assert.NotContains(t, logs, "bounce MID")
	assert.Zero(t, h.spool.Count(), "no DSN queued")
}

// Expiry bounces follow the same rule: one DSN for the recipients that
// expired.
func TestExpiryBouncesOncePerMessage(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		route("example.net", "127.0.0.1:1")(c) // nothing listens
		c.Delivery.MaxQueueLifetime = config.Duration(time.Hour)
	})
	h.run(t)
	h.queueEnv(t, queue.Envelope{From: "alice@sender.test", To: []string{"a@example.net", "b@example.net", "c@example.net"}}, testBody)
	h.logContains(t, "Delayed: MID 1 to RID [0 1 2]")
	h.mu.Lock()
	h.shift = 2 * time.Hour
	h.mu.Unlock()
	h.d.Notify()
	h.logContains(t, "Bounced: MID 1 to RID 0 - 5.4.7", "Bounced: MID 1 to RID 2 - 5.4.7", "Message finished MID 1 done")
	dsns := h.bounces(t, "alice@sender.test")
	require.Len(t, dsns, 1)
	assert.Equal(t, 3, strings.Count(dsns[0], "Status: 5.4.7"))
	assert.Contains(t, dsns[0], "Diagnostic-Code: X-Relaybox; delivery time expired: ")
}

// A bounce to a UTF-8 sender is an internationalized DSN (RFC 6533).
func TestBounceOfAUTF8Message(t *testing.T) {
	p := startPeer(t, nil, func(s *smtp.Server) { s.EnableSMTPUTF8 = true })
	p.reject["jörg@example.net"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	h.queueEnv(t, queue.Envelope{From: "zoë@sender.test", To: []string{"jörg@example.net"}, UTF8: true}, testBody)
	h.logContains(t, "Message finished MID 1 done")
	msgs, err := h.spool.List()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.True(t, msgs[0].Envelope.UTF8, "the DSN needs SMTPUTF8")
	dsn := h.bounces(t, "zoë@sender.test")[0]
	assert.Contains(t, dsn, "Content-Type: message/global-delivery-status")
	assert.Contains(t, dsn, "Final-Recipient: utf-8; jörg@example.net")
}
