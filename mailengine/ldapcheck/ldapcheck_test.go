package ldapcheck

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/internal/testldap"
)

// fixture is a configuration with one profile, "Dir", pointing at s.
type fixture struct {
	s    *testldap.Server
	keys *certstore.KeyStore
	cfg  *config.Config
}

func newFixture(t testing.TB, s *testldap.Server, conn string) *fixture {
	keys, err := certstore.NewKeyStore(afero.NewMemMapFs(), "/data")
	require.NoError(t, err)
	f := &fixture{s: s, keys: keys, cfg: &config.Config{}}
	p := config.NewLDAPProfile("Dir")
	p.Hosts, p.Connection = []string{"localhost"}, conn
	p.Port = s.Port
	if conn == config.LDAPSSL {
		p.Port = s.TLSPort
	}
	p.BindDN, p.BindPassword, p.BaseDN = testldap.BindDN, testldap.BindPass, testldap.Base
	p.Timeout = config.Duration(3 * time.Second)
	f.cfg.LDAP.Profiles = []config.LDAPProfile{p}
	f.cfg.Trust = config.Trust{Custom: true, CustomCAs: []config.CA{{Name: "testca", PEM: s.CA}}}
	f.cfg.SSL.PeerCertX509, f.cfg.SSL.PeerCertFQDN = true, true
	return f
}

func (f *fixture) profile() *config.LDAPProfile { return &f.cfg.LDAP.Profiles[0] }

// withClientCert stores the test CA's client certificate (or a stranger's)
// in the key store and chooses it in the LDAP global settings.
func (f *fixture) withClientCert(t testing.TB, stranger bool) {
	certPEM, keyPEM := f.s.ClientPEM, f.s.ClientKey
	if stranger {
		certPEM, keyPEM = f.s.StrangerPEM, f.s.StrangerKey
	}
	key, err := certstore.ParsePrivateKey(keyPEM)
	require.NoError(t, err)
	ref, err := f.keys.Put(key)
	require.NoError(t, err)
	f.cfg.Certificates = append(f.cfg.Certificates, config.Certificate{Name: "ldapclient", PEM: certPEM, Key: ref})
	f.cfg.LDAP.Certificate = "ldapclient"
}

func (f *fixture) checker() *Checker {
	return New(Options{Keys: f.keys, TrustPool: certstore.TrustPool})
}

func accepts(c *Checker, cfg *config.Config, addr string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Accepts(ctx, cfg, "Dir.ldapaccept", addr)
}

// Known addresses are accepted and unknown ones not, over each connection
// kind, with and without a client certificate demanded by the server.
func TestAcceptsOverEachConnection(t *testing.T) {
	plain := testldap.Start(t, testldap.Options{})
	demand := testldap.Start(t, testldap.Options{VerifyClient: true})
	cases := []struct {
		name    string
		s       *testldap.Server
		conn    string
		cert    string // "", "ours", "stranger"
		wantErr string
	}{
		{"plain", plain, config.LDAPPlain, "", ""},
		{"starttls", plain, config.LDAPStartTLS, "", ""},
		{"ldaps", plain, config.LDAPSSL, "", ""},
		{"starttls, certificate demanded and sent", demand, config.LDAPStartTLS, "ours", ""},
		{"ldaps, certificate demanded and sent", demand, config.LDAPSSL, "ours", ""},
		{"ldaps, certificate demanded, none", demand, config.LDAPSSL, "", "TLS handshake"},
		{"starttls, certificate demanded, none", demand, config.LDAPStartTLS, "", "StartTLS"},
		// slapd checks the certificate after the handshake, then hangs up.
		{"ldaps, certificate demanded, a stranger's", demand, config.LDAPSSL, "stranger", "bind"},
		{"starttls, certificate demanded, a stranger's", demand, config.LDAPStartTLS, "stranger", "bind"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.s, tc.conn)
			if tc.cert != "" {
				f.withClientCert(t, tc.cert == "stranger")
			}
			c := f.checker()
			defer c.Close()
			for _, addr := range []string{"alice@example.com", "carol@example.org", "nobody@example.com"} {
				ok, err := accepts(c, f.cfg, addr)
				if tc.wantErr != "" {
					require.Error(t, err)
					assert.Contains(t, err.Error(), tc.wantErr)
					assert.False(t, ok)
					continue
				}
				require.NoError(t, err, addr)
				assert.Equal(t, addr != "nobody@example.com", ok, addr)
			}
		})
	}
}

// An address is put in the filter escaped: "*" or a closing parenthesis in
// it cannot widen the query to other entries.
func TestFilterEscapesTheAddress(t *testing.T) {
	cases := []struct{ query, addr, want string }{
		{"(mail={a})", "alice@example.com", "(mail=alice@example.com)"},
		{"(mail={a})", "*@example.com", `(mail=\2a@example.com)`},
		{"(mail={a})", "x)(mail=*", `(mail=x\29\28mail=\2a)`},
		{"(&(uid={u})(o={d}))", "a\\b@Example.COM", `(&(uid=a\5cb)(o=Example.COM))`},
		{"(mail={a})", "josé@example.com", `(mail=jos\c3\a9@example.com)`},
		{"(uid={u})", "no-at-sign", "(uid=no-at-sign)"},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			got := Filter(tc.query, tc.addr)
			assert.Equal(t, tc.want, got)
			_, err := ldap.CompileFilter(got)
			assert.NoError(t, err)
		})
	}
	s := testldap.Start(t, testldap.Options{})
	f := newFixture(t, s, config.LDAPPlain)
	c := f.checker()
	defer c.Close()
	for _, addr := range []string{"*", "*@example.com", "alice@example.com)(mail=*", "*)(|(mail=*"} {
		ok, err := accepts(c, f.cfg, addr)
		require.NoError(t, err, addr)
		assert.False(t, ok, "%q must match no entry", addr)
	}
}

// The hosts are tried in order: an unreachable first host fails over to the
// next. With every host down the answer is an error (the recipient is
// deferred, never refused), and the next query after the server is back
// answers again.
func TestFailoverAndDirectoryDown(t *testing.T) {
	s := testldap.Start(t, testldap.Options{})
	f := newFixture(t, s, config.LDAPStartTLS)
	f.profile().Hosts = []string{"127.0.0.2", "localhost"}
	f.profile().CacheSize = 0
	c := f.checker()
	defer c.Close()
	ok, err := accepts(c, f.cfg, "bob@example.com")
	require.NoError(t, err)
	assert.True(t, ok)

	s.Stop()
	ok, err = accepts(c, f.cfg, "bob@example.com")
	require.Error(t, err, "the pooled connection is dead and no host answers")
	assert.False(t, ok)
	assert.Contains(t, err.Error(), "127.0.0.2")

	s.Start()
	ok, err = accepts(c, f.cfg, "bob@example.com")
	require.NoError(t, err)
	assert.True(t, ok)
}

// Answers are cached: found ones for the TTL, not-found ones for the
// negative TTL, at most CacheSize of them; a directory that is down still
// answers what was cached, and nothing once it expired.
func TestCache(t *testing.T) {
	s := testldap.Start(t, testldap.Options{})
	f := newFixture(t, s, config.LDAPPlain)
	p := f.profile()
	p.CacheTTL, p.NegativeTTL, p.CacheSize = config.Duration(10*time.Minute), config.Duration(time.Minute), 2
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c := New(Options{Keys: f.keys, TrustPool: certstore.TrustPool, Now: clock})
	defer c.Close()
	for _, addr := range []string{"alice@example.com", "nobody@example.com"} {
		_, err := accepts(c, f.cfg, addr)
		require.NoError(t, err)
	}
	s.Stop()
	ok, err := accepts(c, f.cfg, "alice@EXAMPLE.com")
	require.NoError(t, err, "cached, the domain case-insensitively")
	assert.True(t, ok)
	ok, err = accepts(c, f.cfg, "nobody@example.com")
	require.NoError(t, err, "negative answers are cached too")
	assert.False(t, ok)

	advance(2 * time.Minute)
	_, err = accepts(c, f.cfg, "nobody@example.com")
	assert.Error(t, err, "the negative TTL expired and the directory is down")
	ok, err = accepts(c, f.cfg, "alice@example.com")
	require.NoError(t, err, "the positive TTL did not")
	assert.True(t, ok)
	advance(9 * time.Minute)
	_, err = accepts(c, f.cfg, "alice@example.com")
	assert.Error(t, err, "the positive TTL expired")

	s.Start()
	for _, addr := range []string{"alice@example.com", "bob@example.com", "carol@example.org"} {
		_, err := accepts(c, f.cfg, addr)
		require.NoError(t, err)
	}
	st, err := c.state(f.cfg, *p)
	require.NoError(t, err)
	assert.Equal(t, 2, st.cache.len(), "bounded by cache_size")
	assert.LessOrEqual(t, st.pool.size(), p.MaxConnections)
}

// A changed profile is not answered from the old pool or cache: a wrong
// bind password is an error at once.
func TestChangedSettingsTakeEffect(t *testing.T) {
	s := testldap.Start(t, testldap.Options{})
	f := newFixture(t, s, config.LDAPStartTLS)
	c := f.checker()
	defer c.Close()
	ok, err := accepts(c, f.cfg, "alice@example.com")
	require.NoError(t, err)
	require.True(t, ok)
	next := f.cfg.Clone()
	next.LDAP.Profiles[0].BindPassword = "wrong"
	_, err = accepts(c, next, "alice@example.com")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Invalid Credentials")
	next.LDAP.Profiles[0].BaseDN = "dc=nowhere,dc=com"
	next.LDAP.Profiles[0].BindPassword = testldap.BindPass
	_, err = accepts(c, next, "alice@example.com")
	require.Error(t, err, "a base that does not exist is an error, not a no")
}

// OTHER_CLIENT_TLSV10, PEER_CERT_X509 and PEER_CERT_FQDN act on LDAP on the
// wire, through tlsclient.
func TestSSLConfigActsOnLDAP(t *testing.T) {
	s := testldap.Start(t, testldap.Options{})
	old := testldap.Start(t, testldap.Options{TLS10Only: true})
	cases := []struct {
		name      string
		server    *testldap.Server
		host      string
		tlsv10    bool
		x509      bool
		fqdn      bool
		trustCA   bool
		wantError string
	}{
		{"TLS 1.0 server, TLS 1.0 off", old, "localhost", false, false, false, true, "protocol version"},
		{"TLS 1.0 server, TLS 1.0 on", old, "localhost", true, true, true, true, ""},
		{"untrusted chain, X509 on", s, "localhost", false, true, false, false, "does not verify"},
		{"untrusted chain, X509 off", s, "localhost", false, false, false, false, ""},
		{"trusted chain, X509 on", s, "localhost", false, true, true, true, ""},
		{"name mismatch, FQDN on", s, "127.0.0.1", false, true, true, true, "does not carry the host name"},
		{"name mismatch, FQDN off", s, "127.0.0.1", false, true, false, true, ""},
	}
	for _, tc := range cases {
		for _, conn := range []string{config.LDAPSSL, config.LDAPStartTLS} {
			t.Run(tc.name+" "+conn, func(t *testing.T) {
				f := newFixture(t, tc.server, conn)
				f.profile().Hosts = []string{tc.host}
				f.cfg.SSL.OtherClientTLSv10, f.cfg.SSL.PeerCertX509, f.cfg.SSL.PeerCertFQDN = tc.tlsv10, tc.x509, tc.fqdn
				if !tc.trustCA {
					f.cfg.Trust = config.Trust{}
				}
				c := f.checker()
				defer c.Close()
				ok, err := accepts(c, f.cfg, "alice@example.com")
				if tc.wantError != "" {
					require.Error(t, err)
					assert.Contains(t, err.Error(), tc.wantError)
					return
				}
				require.NoError(t, err)
				assert.True(t, ok)
			})
		}
	}
}

// ldaptest's report: the TLS session, the chain and both checks said even
// when not enforced, the client certificate asked for and sent, the match;
// and each failure with what to change.
func TestReport(t *testing.T) {
	s := testldap.Start(t, testldap.Options{VerifyClient: true})
	run := func(f *fixture, addr string) (string, bool, error) {
		var b strings.Builder
		c := f.checker()
		defer c.Close()
		found, err := c.Test(context.Background(), f.cfg, "Dir", addr, func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) })
		return b.String(), found, err
	}
	cases := []struct {
		name  string
		setup func(f *fixture)
		addr  string
		found bool
		err   bool
		want  []string
	}{
		{"match, checks not enforced", func(f *fixture) {
			f.withClientCert(t, false)
			f.profile().Hosts = []string{"127.0.0.1"}
			f.cfg.Trust = config.Trust{}
			f.cfg.SSL.PeerCertX509, f.cfg.SSL.PeerCertFQDN = false, false
		}, "alice@example.com", true, false, []string{
			"Filter for alice@example.com: (mail=alice@example.com)",
			"TLS session: TLSv1.2 cipher ",
			"subject CN=localhost, issuer CN=Relaybox Test LDAP CA",
			"Chain verification: does not verify",
			"Accepted: PEER_CERT_X509 is off",
			"Host name 127.0.0.1: not in the certificate",
			"Accepted: PEER_CERT_FQDN is off",
			"Client certificate: asked for by the server; sent",
			"Bind as cn=relaybox,dc=example,dc=com: ok",
			"Query: match: uid=alice,ou=people,dc=example,dc=com",
			"Result: alice@example.com is accepted",
		}},
		{"no match, checks enforced", func(f *fixture) { f.withClientCert(t, false) }, "zed@example.com", false, false, []string{
			"Chain verification: verifies against the trust store (PEER_CERT_X509 on)",
			"Host name localhost: in the certificate (PEER_CERT_FQDN on)",
			"Query: no match",
			"refuses it (550 5.1.0 Address rejected)",
		}},
		{"no client certificate", nil, "alice@example.com", false, true, []string{
			"Client certificate: asked for by the server; none sent",
			"choose one it trusts with ldapconfig SETUP",
			"defers the recipient (451 4.4.3)",
		}},
		{"wrong password, failover", func(f *fixture) {
			f.withClientCert(t, false)
			f.profile().Hosts = []string{"127.0.0.2", "localhost"}
			f.profile().BindPassword = "nope"
		}, "alice@example.com", false, true, []string{
			"Server 1 of 2: 127.0.0.2",
			"Check the host and port (ldapconfig EDIT)",
			"Server 2 of 2: localhost",
			"The server refused the bind DN or password",
		}},
		{"untrusted, enforced", func(f *fixture) { f.withClientCert(t, false); f.cfg.Trust = config.Trust{} }, "alice@example.com", false, true, []string{
			"Refused: PEER_CERT_X509 is on. Add the server's authority with certconfig CERTAUTHORITY",
		}},
		{"a certificate the server does not trust", func(f *fixture) { f.withClientCert(t, true) }, "alice@example.com", false, true, []string{
			"Client certificate: asked for by the server; sent",
			"The server closed the connection after the TLS handshake: it probably refused the client certificate",
		}},
		{"wrong base", func(f *fixture) { f.withClientCert(t, false); f.profile().BaseDN = "dc=other,dc=com" }, "alice@example.com", false, true, []string{
			"The base DN does not exist on the server",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, s, config.LDAPStartTLS)
			if tc.setup != nil {
				tc.setup(f)
			}
			out, found, err := run(f, tc.addr)
			assert.Equal(t, tc.found, found)
			assert.Equal(t, tc.err, err != nil, "%v", err)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

// BenchmarkAccept measures one accept query against slapd over StartTLS:
// cold (cache off: a search on a pooled connection each time) and warm
// (the answer from the cache).
func BenchmarkAccept(b *testing.B) {
	s := testldap.Start(b, testldap.Options{})
	for _, mode := range []struct {
		name string
		size int
	}{{"cold", 0}, {"warm", 1000}} {
		b.Run(mode.name, func(b *testing.B) {
			f := newFixture(b, s, config.LDAPStartTLS)
			f.profile().CacheSize = mode.size
			c := f.checker()
			defer c.Close()
			if _, err := accepts(c, f.cfg, "alice@example.com"); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				ok, err := accepts(c, f.cfg, "alice@example.com")
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
