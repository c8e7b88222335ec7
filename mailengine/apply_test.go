package mailengine_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// TestListenerRenameTakesEffect: a listener renamed by a commit shows its
// new name in status at once, and the mail a new session queues carries it.
func TestListenerRenameTakesEffect(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].Name = "PartnerIn" }))
	var names []string
	for _, ep := range f.eng.Status().Endpoints {
		names = append(names, ep.Name)
	}
	assert.Contains(t, names, "PartnerIn")
	assert.NotContains(t, names, "IncomingMail")

	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO c.test")
	s.cmd("MAIL FROM:<a@c.test>")
	s.cmd("RCPT TO:<b@example.test>")
	s.cmd("DATA")
	require.True(t, strings.HasPrefix(s.cmd("x\r\n."), "250 "))
	msgs, err := f.spool.List()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "PartnerIn", msgs[0].Envelope.Listener)
}

// TestStatusShowsOneTLSVersionOnce: a single enabled version reads TLSv1.3,
// not TLSv1.3-TLSv1.3.
func TestStatusShowsOneTLSVersionOnce(t *testing.T) {
	f := newFlowFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.SSL.Inbound.Methods = []config.Method{config.TLS13} }))
	for _, ep := range f.eng.Status().Endpoints {
		if ep.Kind == "smtp" {
			assert.Equal(t, "TLSv1.3", ep.TLS)
		} else {
			assert.Equal(t, "TLSv1.1-TLSv1.2", ep.TLS)
		}
	}
}
