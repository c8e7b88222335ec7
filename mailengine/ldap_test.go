package mailengine_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/internal/testldap"
	"relaybox/mailengine"
	"relaybox/mailengine/ldapcheck"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/queue"
)

// A public listener with an LDAP accept query takes known recipients (250),
// refuses unknown ones at RCPT (550 5.1.0) and defers every recipient while
// the directory is down (451 4.4.3), logging each refusal; once the
// directory is back the same recipient is taken. Only accepted recipients
// reach the spool.
func TestRcptLDAPAccept(t *testing.T) {
	s := testldap.Start(t, testldap.Options{})
	dir := t.TempDir()
	spool, err := queue.Open(filepath.Join(dir, "queue"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = spool.Close() })
	lg, err := maillog.Open(filepath.Join(dir, "logs"), 1<<20, 3)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lg.Close() })
	checker := ldapcheck.New(ldapcheck.Options{TrustPool: certstore.TrustPool})
	t.Cleanup(checker.Close)
	f := &flowFixture{fixture: newFixtureWith(t, mailengine.Options{Spool: spool, Log: lg, Directory: checker}), spool: spool, log: lg}

	require.NoError(t, f.apply(t, func(c *config.Config) {
		p := config.NewLDAPProfile("Corp")
		p.Hosts, p.Port, p.Connection = []string{"localhost"}, s.Port, config.LDAPStartTLS
		p.BindDN, p.BindPassword, p.BaseDN = testldap.BindDN, testldap.BindPass, testldap.Base
		p.CacheSize, p.Timeout = 0, config.Duration(2*time.Second)
		c.LDAP.Profiles = []config.LDAPProfile{p}
		c.Trust.Custom, c.Trust.CustomCAs = true, []config.CA{{Name: "ldapca", PEM: s.CA}}
		c.Listeners[0].Domains = []string{"example.com"}
		c.Listeners[0].LDAPAccept = "Corp.ldapaccept"
		require.NoError(t, config.Validate(c))
	}))
	rcpt := func(addr string) string {
		c := dialSMTP(t, f.smtpAddr())
		defer c.cmd("QUIT")
		c.reply()
		c.cmd("EHLO client.example.test")
		require.True(t, strings.HasPrefix(c.cmd("MAIL FROM:<x@client.example.test>"), "250"))
		return c.cmd("RCPT TO:<" + addr + ">")
	}
	cases := []struct{ addr, want string }{
		{"alice@example.com", "250"},
		{"nobody@example.com", "550 5.1.0 Address rejected"},
		{"*@example.com", "550 5.1.0 Address rejected"},
		{"bob@elsewhere.test", "550 5.7.1"}, // not our domain: no lookup
	}
	for _, tc := range cases {
		assert.True(t, strings.HasPrefix(rcpt(tc.addr), tc.want), "%s: %s", tc.addr, tc.want)
	}
	f.logLines(t, `Info: ICID \d+ To: <nobody@example.com> Rejected by LDAPACCEPT query Corp.ldapaccept`)

	s.Stop()
	assert.True(t, strings.HasPrefix(rcpt("alice@example.com"), "451 4.4.3"), "directory down: deferred, not refused")
	f.logLines(t, `Warning: ICID \d+ To: <alice@example.com> deferred: LDAPACCEPT query Corp.ldapaccept failed: `)
	s.Start()

	c := dialSMTP(t, f.smtpAddr())
	c.reply()
	c.cmd("EHLO client.example.test")
	c.cmd("MAIL FROM:<x@client.example.test>")
	require.True(t, strings.HasPrefix(c.cmd("RCPT TO:<alice@example.com>"), "250"), "taken once the directory is back")
	require.True(t, strings.HasPrefix(c.cmd("RCPT TO:<zed@example.com>"), "550"))
	require.True(t, strings.HasPrefix(c.cmd("DATA"), "354"))
	require.True(t, strings.HasPrefix(c.cmd("Subject: hi\r\n\r\nbody\r\n."), "250"))
	c.cmd("QUIT")
	msgs, err := spool.List()
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, []string{"alice@example.com"}, msgs[0].Envelope.To)
}
