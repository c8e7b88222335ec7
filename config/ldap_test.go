package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ldapConfig(t *testing.T) *Config {
	c := testDefaults()
	p := NewLDAPProfile("Corp")
	p.Hosts, p.BaseDN = []string{"ldap.example.com"}, "dc=example,dc=com"
	require.NoError(t, c.PutLDAPProfile("", p))
	return c
}

func TestPutLDAPProfileRefusesBadSettings(t *testing.T) {
	cases := []struct {
		name string
		edit func(p *LDAPProfile)
		want string
	}{
		{"no host", func(p *LDAPProfile) { p.Hosts = nil }, "no LDAP server host"},
		{"host with port", func(p *LDAPProfile) { p.Hosts = []string{"ldap.example.com:389"} }, "carries a port"},
		{"bad host", func(p *LDAPProfile) { p.Hosts = []string{"a..b"} }, "is not a valid LDAP host"},
		{"port", func(p *LDAPProfile) { p.Port = 0 }, "port"},
		{"connection", func(p *LDAPProfile) { p.Connection = "tls" }, "is not an LDAP connection"},
		{"base", func(p *LDAPProfile) { p.BaseDN = "example.com" }, "is not a valid base DN"},
		{"empty base", func(p *LDAPProfile) { p.BaseDN = "" }, "the base DN is empty"},
		{"bind DN", func(p *LDAPProfile) { p.BindDN = "admin" }, "is not a valid bind DN"},
		{"password alone", func(p *LDAPProfile) { p.BindPassword = "x" }, "a bind password without a bind DN"},
		{"query without recipient", func(p *LDAPProfile) { p.AcceptQuery = "(objectClass=*)" }, "does not name the recipient"},
		{"query syntax", func(p *LDAPProfile) { p.AcceptQuery = "mail={a}" }, "is not an LDAP filter"},
		{"query token", func(p *LDAPProfile) { p.AcceptQuery = "(&(mail={a})(o={org}))" }, "unknown token"},
		{"timeout", func(p *LDAPProfile) { p.Timeout = Duration(2 * time.Minute) }, "timeout: Value must be a number from 1 to 60"},
		{"cache size", func(p *LDAPProfile) { p.CacheSize = -1 }, "cache_size"},
		{"connections", func(p *LDAPProfile) { p.MaxConnections = 0 }, "max_connections"},
		{"name", func(p *LDAPProfile) { p.Name = "1x" }, "is not a valid LDAP server profile name"},
		{"name clash", func(p *LDAPProfile) { p.Name = "CORP" }, "already exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ldapConfig(t)
			before := c.Clone()
			p := NewLDAPProfile("Other")
			p.Hosts, p.BaseDN = []string{"ldap.example.com"}, "dc=example,dc=com"
			tc.edit(&p)
			err := c.PutLDAPProfile("", p)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, SameSettings(before, c), "a refusal changes nothing")
		})
	}
}

func TestAcceptQueries(t *testing.T) {
	for _, q := range []string{"(mail={a})", "(|(mail={a})(proxyAddresses=smtp:{a}))", "(&(uid={u})(mailDomain={d}))"} {
		assert.NoError(t, CheckAcceptQuery(q), q)
	}
	c := ldapConfig(t)
	for _, name := range []string{"Corp.ldapaccept", "corp.LDAPACCEPT", "Corp"} {
		p, err := c.FindAcceptQuery(name)
		require.NoError(t, err, name)
		assert.Equal(t, "Corp.ldapaccept", p.QueryName())
	}
	_, err := c.FindAcceptQuery("Nope.ldapaccept")
	assert.ErrorContains(t, err, "does not exist")
	c.LDAP.Profiles[0].AcceptQuery = ""
	_, err = c.FindAcceptQuery("Corp.ldapaccept")
	assert.ErrorContains(t, err, "has no accept query")
}

// Validate checks the section and the listeners' queries, each problem at its path.
func TestValidateLDAP(t *testing.T) {
	c := ldapConfig(t)
	require.NoError(t, c.SetLDAPAccept("IncomingMail", "Corp.ldapaccept"))
	require.NoError(t, Validate(c))
	bad := c.Clone()
	bad.LDAP.Profiles[0].BaseDN = "nope"
	bad.LDAP.Certificate = "Missing"
	bad.Listener("OutgoingMail").LDAPAccept = "Corp.ldapaccept"
	bad.Listener("IncomingMail").LDAPAccept = "Gone.ldapaccept"
	err := Validate(bad)
	require.Error(t, err)
	for _, want := range []string{"ldap.profiles[0].base_dn: ", "ldap.certificate: ", "listeners[1].ldap_accept: listener OutgoingMail is private", "listeners[0].ldap_accept: LDAP accept query \"Gone.ldapaccept\" does not exist"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Error(t, c.SetLDAPAccept("OutgoingMail", "Corp"), "a private listener takes none")
}

// The bind password is a secret: Masked hides it, HasMaskedSecrets spots
// it, and the original keeps it.
func TestLDAPPasswordMasked(t *testing.T) {
	c := ldapConfig(t)
	c.LDAP.Profiles[0].BindDN, c.LDAP.Profiles[0].BindPassword = "cn=bind,dc=example,dc=com", "Sekrit-1"
	m := Masked(c)
	assert.Equal(t, MaskedSecret, m.LDAP.Profiles[0].BindPassword)
	assert.Equal(t, "Sekrit-1", c.LDAP.Profiles[0].BindPassword)
	enc, err := m.Encode()
	require.NoError(t, err)
	assert.False(t, strings.Contains(string(enc), "Sekrit-1"))
	assert.True(t, HasMaskedSecrets(m))
	assert.False(t, HasMaskedSecrets(c))
}

func TestLDAPSectionRoundTrips(t *testing.T) {
	c := ldapConfig(t)
	enc, err := c.Encode()
	require.NoError(t, err)
	d, err := Decode(enc)
	require.NoError(t, err)
	assert.Equal(t, c.LDAP, d.LDAP)
	empty := testDefaults()
	enc, err = empty.Encode()
	require.NoError(t, err)
	assert.NotContains(t, string(enc), "ldap", "no section until a profile or certificate is set")
}
