package testldap

import (
	"crypto/tls"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The server answers over StartTLS and LDAPS with the CA made for it,
// holds the users, refuses a client without a certificate when it demands
// one, and is gone after Stop and back after Start.
func TestServer(t *testing.T) {
	for _, verify := range []bool{false, true} {
		t.Run(map[bool]string{false: "no client certificate", true: "client certificate demanded"}[verify], func(t *testing.T) {
			s := Start(t, Options{VerifyClient: verify})
			cfg := &tls.Config{RootCAs: s.CAPool, ServerName: "localhost"}
			if verify {
				cfg.Certificates = []tls.Certificate{s.Client}
			}
			search := func(c *ldap.Conn) []string {
				require.NoError(t, c.Bind(BindDN, BindPass))
				res, err := c.Search(ldap.NewSearchRequest(Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 5, false,
					"(mail=*)", []string{"mail"}, nil))
				require.NoError(t, err)
				var out []string
				for _, e := range res.Entries {
					out = append(out, e.GetAttributeValue("mail"))
				}
				return out
			}
			c, err := ldap.DialURL("ldaps://"+s.TLSAddr(), ldap.DialWithTLSConfig(cfg))
			require.NoError(t, err)
			assert.ElementsMatch(t, Users, search(c))
			c.Close()

			c, err = ldap.DialURL("ldap://" + s.Addr())
			require.NoError(t, err)
			require.NoError(t, c.StartTLS(cfg))
			assert.ElementsMatch(t, Users, search(c))
			c.Close()

			if verify {
				c, err = ldap.DialURL("ldaps://"+s.TLSAddr(), ldap.DialWithTLSConfig(&tls.Config{RootCAs: s.CAPool, ServerName: "localhost"}))
				if err == nil {
					err = c.Bind(BindDN, BindPass)
					c.Close()
				}
				assert.Error(t, err, "slapd demands a client certificate")
			}

			s.Stop()
			_, err = ldap.DialURL("ldap://" + s.Addr())
			assert.Error(t, err, "stopped")
			s.Start()
			c, err = ldap.DialURL("ldap://" + s.Addr())
			require.NoError(t, err)
			require.NoError(t, c.Bind(BindDN, BindPass))
			c.Close()
		})
	}
}
