package commands_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testldap"
)

// TestLDAPConfigRefusals: each bad batch line is refused with a message
// naming the input and what to do, and changes nothing.
func TestLDAPConfigRefusals(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "ldapconfig new Corp host=ldap.example.test base=dc=example,dc=test\ncommit corp\n")
	require.Equal(t, 0, r.code, r.err)
	before := a.Store.Current()
	tests := []struct{ line, want string }{
		{"ldapconfig new X host=ldap.example.test", "base= is missing"},
		{"ldapconfig new X base=dc=a,dc=b", "host= is missing"},
		{"ldapconfig new X host=ldap.example.test base=notadn", `"notadn" is not a valid base DN`},
		{"ldapconfig new X host=ldap.example.test:389 base=dc=a,dc=b", "carries a port"},
		{"ldapconfig new X host=bad_host! base=dc=a,dc=b", "is not a valid LDAP host"},
		{"ldapconfig new X host=a.test,A.test base=dc=a,dc=b", "is listed twice"},
		{"ldapconfig new X host=a.test base=dc=a query=(uid=x)", "does not name the recipient: put {a}"},
		{"ldapconfig new X host=a.test base=dc=a query=(mail={a}", "is not an LDAP filter"},
		{"ldapconfig new X host=a.test base=dc=a query=(&(mail={a})(o={x}))", "unknown token"},
		{"ldapconfig new X host=a.test base=dc=a connection=tls", `"tls" is not an LDAP connection: use none, ssl or starttls`},
		{"ldapconfig new X host=a.test base=dc=a port=0", "port"},
		{"ldapconfig new X host=a.test base=dc=a timeout=0", "timeout: Value must be a number from 1 to 60"},
		{"ldapconfig new X host=a.test base=dc=a bind_password=Pw-1", "a bind password without a bind DN"},
		{"ldapconfig new Corp host=a.test base=dc=a", `already exists`},
		{"ldapconfig new 9x host=a.test base=dc=a", "is not a valid LDAP server profile name"},
		{"ldapconfig new X host=a.test base=dc=a colour=blue", "is not KEY=VALUE with a key among"},
		{"ldapconfig edit Nope port=1", `LDAP server profile "Nope" does not exist`},
		{"ldapconfig setup certificate=Nope", `certificate "Nope" does not exist`},
		{"ldapconfig delete Nope", "does not exist"},
		{"listenerconfig edit OutgoingMail ldapaccept Corp.ldapaccept", "only a public listener validates recipients"},
		{"listenerconfig edit IncomingMail ldapaccept Nope.ldapaccept", `LDAP accept query "Nope.ldapaccept" does not exist`},
		{"ldaptest Nope.ldapaccept a@example.test", "does not exist"},
		{"ldaptest Corp.ldapaccept not-an-address", "not-an-address"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r := script(a, tt.line+"\n")
			assert.Equal(t, 1, r.code, r.out)
			assert.Contains(t, r.err, "line 1: ")
			assert.Contains(t, r.err, tt.want)
			assert.True(t, config.SameSettings(before, a.Store.Current()))
		})
	}
}

// TestLDAPInUse: a profile a listener uses cannot be deleted, renamed or
// lose its query, and the LDAP client certificate cannot be deleted
// (certconfig says where it is used).
func TestLDAPInUse(t *testing.T) {
	a := startAppliance(t)
	r := script(a, strings.Join([]string{
		"certconfig new LdapClient cn=client.example.test c=US",
		"ldapconfig new Corp host=ldap.example.test base=dc=example,dc=test",
		"ldapconfig setup certificate=ldapclient",
		"listenerconfig edit IncomingMail ldapaccept corp.LDAPACCEPT",
		"commit in use",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.err)
	c := a.Store.Current()
	assert.Equal(t, "Corp.ldapaccept", c.Listener("IncomingMail").LDAPAccept, "stored as the query is named")
	assert.Equal(t, "LdapClient", c.LDAP.Certificate)
	tests := []struct{ line, want string }{
		{"ldapconfig delete Corp", `LDAP server profile "Corp" is used by listener IncomingMail`},
		{"ldapconfig edit Corp name=Other", "before renaming it"},
		{"ldapconfig edit Corp query=none", "before removing it"},
		{"certconfig delete LdapClient", `certificate "LdapClient" is in use by the LDAP global settings (client certificate)`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r := script(a, tt.line+"\n")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.err, tt.want)
			assert.True(t, config.SameSettings(c, a.Store.Current()))
		})
	}
	r = script(a, "listenerconfig edit IncomingMail ldapaccept none\nldapconfig setup certificate=none\nldapconfig delete Corp\ncertconfig delete LdapClient\ncommit freed\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Empty(t, a.Store.Current().LDAP.Profiles)
}

// TestLDAPBindPasswordNeverShown: the bind password is masked in the echoed
// batch line, showchanges, showconfig and saveconfig, and the committed
// configuration holds the real one; a masked file cannot be loaded back.
func TestLDAPBindPasswordNeverShown(t *testing.T) {
	a := startAppliance(t)
	const secret = "Bind-Secret-77"
	r := script(a, "ldapconfig new Corp host=ldap.example.test base=dc=example,dc=test bind_dn=cn=bind,dc=example,dc=test bind_password="+secret+
		"\nshowchanges\ncommit bind\nshowconfig mask\nsaveconfig mask saved.yaml\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "box.example.test> ldapconfig new Corp host=ldap.example.test base=dc=example,dc=test bind_dn=cn=bind,dc=example,dc=test ****\n")
	assert.NotContains(t, r.out+r.err, secret)
	assert.GreaterOrEqual(t, strings.Count(r.out, "bind_password: '********'"), 2, "showchanges and showconfig")
	saved, err := os.ReadFile(filepath.Join(a.Store.Dir(), "configs", "saved.yaml"))
	require.NoError(t, err)
	assert.NotContains(t, string(saved), secret)
	assert.Contains(t, string(saved), "bind_password: '********'")
	assert.Equal(t, secret, a.Store.Current().LDAP.Profiles[0].BindPassword)
	r = script(a, "loadconfig saved.yaml\n")
	assert.Equal(t, 1, r.code, "a file with masked secrets is refused")

	r = script(a, "ldapconfig edit Corp bind_password=****\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "**** is what the shell shows in place of a bind password", "a recalled masked line is no password")
	assert.Equal(t, secret, a.Store.Current().LDAP.Profiles[0].BindPassword)
}

// TestLDAPTestAgainstSlapd: ldaptest and ldapconfig TEST run the pending
// profile against a real slapd and show the TLS session and the answer.
func TestLDAPTestAgainstSlapd(t *testing.T) {
	s := testldap.Start(t, testldap.Options{})
	a := startAppliance(t)
	caFile := filepath.Join(a.Store.Dir(), "configs", "ldap-ca.pem")
	require.NoError(t, os.WriteFile(caFile, []byte(s.CA), 0o600))
	r := script(a, strings.Join([]string{
		"certconfig ca import LdapCA ldap-ca.pem",
		fmt.Sprintf("ldapconfig new Corp host=localhost port=%d connection=starttls base=%s bind_dn=%s bind_password=%s", s.Port, testldap.Base, testldap.BindDN, testldap.BindPass),
		"sslconfig peer_cert_x509 enable",
		"ldaptest Corp.ldapaccept alice@example.com",
		"ldapconfig test Corp nobody@example.com",
		"ldapconfig\ntest\n1\ncarol@example.org\n",
		"clearchanges confirm",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.err)
	for _, want := range []string{
		"TLS session: TLSv1.2 cipher ",
		"Chain verification: verifies against the trust store (PEER_CERT_X509 on)",
		"Host name localhost: in the certificate (PEER_CERT_FQDN off)",
		"Client certificate: not asked for by the server",
		"Query: match: uid=alice,ou=people,dc=example,dc=com",
		"Result: alice@example.com is accepted",
		"Result: nobody@example.com is not in the directory",
		"Query: match: uid=carol,ou=people,dc=example,dc=com",
	} {
		assert.Contains(t, r.out, want)
	}
	assert.NotContains(t, r.out, testldap.BindPass)
}
