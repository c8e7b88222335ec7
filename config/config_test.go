package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCert is a syntactically valid certificate entry; the config package
// does not load keys, so any PEM CERTIFICATE block and key reference will do.
var testCert = Certificate{
	Name: DemoCertificate,
	PEM:  "-----BEGIN CERTIFICATE-----\nMAo=\n-----END CERTIFICATE-----\n",
	Key:  strings.Repeat("ab", 32),
}

func testDefaults() *Config {
	f := DefaultPorts
	f.Hostname = "mail.example.test"
	f.Domains = []string{"example.test"}
	f.Demo = testCert
	f.AdminHash = "$2a$10$abcdefghijklmnopqrstuv"
	return Defaults(f)
}

// recorder is an Applier that records what it was given and can fail.
type recorder struct {
	applied []int
	fail    error
}

func (r *recorder) Apply(_ context.Context, c *Config) error {
	if r.fail != nil {
		return r.fail
	}
	r.applied = append(r.applied, c.Version)
	return nil
}

func openStore(t *testing.T, fs afero.Fs) *Store {
	t.Helper()
	s, err := Open(fs, "/data", func() (*Config, error) { return testDefaults(), nil })
	require.NoError(t, err)
	return s
}

func TestDefaultsAreValid(t *testing.T) {
	require.NoError(t, Validate(testDefaults()))
}

func TestValidateReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(c *Config)
		wants []string
	}{
		{"bad hostname", func(c *Config) { c.Hostname = "bad*host" }, []string{"hostname:"}},
		{"no methods", func(c *Config) { c.SSL.GUI.Methods = nil }, []string{"ssl.gui.methods: no TLS method enabled"}},
		{"gap", func(c *Config) { c.SSL.Inbound.Methods = []Method{TLS10, TLS12} }, []string{"TLS protocols can be enabled only in sequence"}},
		{"unknown method", func(c *Config) { c.SSL.Outbound.Methods = []Method{"SSLv3"} }, []string{`"SSLv3" is not a TLS method`}},
		{"junk cipher", func(c *Config) { c.SSL.Inbound.Ciphers = "HIHG" }, []string{"ssl.inbound.ciphers", "HIHG"}},
		{"no usable suite", func(c *Config) { c.SSL.Inbound.Ciphers = "DHE-RSA-AES256-SHA" }, []string{"selects no cipher suite usable"}},
		{"renegotiation", func(c *Config) { c.SSL.GUI.Renegotiation = true }, []string{"renegotiation cannot be enabled"}},
		{"port clash", func(c *Config) { c.Listeners[1].Port = c.Listeners[0].Port }, []string{"already used by listener IncomingMail"}},
		{"port range", func(c *Config) { c.Listeners[0].Port = 70000 }, []string{"port 70000 is out of range"}},
		{"missing cert", func(c *Config) { c.Listeners[0].Certificate = "Nope" }, []string{`certificate "Nope" does not exist`}},
		{"bad domain", func(c *Config) { c.Listeners[0].Domains = []string{"exa mple"} }, []string{"is not a domain"}},
		{"bad relay", func(c *Config) { c.Listeners[1].RelayFrom = []string{"10.0.0.0/33"} }, []string{"Invalid IP or IP range"}},
		{"two at once", func(c *Config) { c.Hostname = ""; c.Listeners[0].TLS = "sometimes" },
			[]string{"hostname:", `"sometimes" is not a TLS level`}},
		{"no users", func(c *Config) { c.Users = nil }, []string{"users: " + noAdmin, "in a file add one", "bcrypt hash"}},
		{"empty users", func(c *Config) { c.Users = []User{} }, []string{"users: " + noAdmin}},
		{"no user with a password", func(c *Config) { c.Users[0].PasswordHash = "" },
			[]string{`users[0].password_hash: user "admin" has no bcrypt password hash`, "users: " + noAdmin}},
		{"only an invalid name", func(c *Config) { c.Users[0].Name = "9 bad" },
			[]string{"users[0].name", "users: " + noAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testDefaults()
			tt.edit(c)
			err := Validate(c)
			require.Error(t, err)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// noAdmin is the message of the rule that keeps the appliance administrable.
const noAdmin = "no account with the admin role could log in (with a password or an SSH key)"

func TestOneAdministratorIsEnough(t *testing.T) {
	c := testDefaults()
	c.Users = append(c.Users, User{Name: "operator", Role: RoleOperator, PasswordHash: "$2a$10$abcdefghijklmnopqrstuv"})
	require.NoError(t, Validate(c))
	c.Users = c.Users[1:]
	require.ErrorContains(t, Validate(c), "users: "+noAdmin, "an operator is not an administrator")
}

func TestTLS13OnlyIgnoresCipherString(t *testing.T) {
	c := testDefaults()
	c.SSL.Inbound = Service{Methods: []Method{TLS13}, Ciphers: "DHE-RSA-AES256-SHA"}
	require.NoError(t, Validate(c))
}

func TestServiceWarningsForDefaultStrings(t *testing.T) {
	// The AsyncOS default strings contain !SSLv3:!TLSv1, which leave only
	// TLS 1.2 suites: TLS 1.1 is enabled but cannot be negotiated.
	w := ServiceWarnings(Service{Methods: []Method{TLS11, TLS12}, Ciphers: DefaultInboundCiphers})
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "TLS v1.1 is enabled")
	assert.Empty(t, ServiceWarnings(Service{Methods: []Method{TLS10, TLS11, TLS12}, Ciphers: "HIGH:!aNULL"}))
}

func TestOfferedNeverIncludesRC4(t *testing.T) {
	res, err := Offered(DefaultOutboundCiphers)
	require.NoError(t, err)
	for _, s := range res.Suites {
		assert.NotEqual(t, "RC4", s.Enc, s.Name)
	}
	assert.NotEmpty(t, res.Suites)
	joined := strings.Join(res.Warnings, "\n")
	assert.Contains(t, joined, "ECDHE-RSA-RC4-SHA is never offered")
	c := testDefaults()
	c.SSL.Outbound = Service{Methods: []Method{TLS12}, Ciphers: "RC4"}
	require.ErrorContains(t, Validate(c), "selects no cipher suite usable")
}

func TestMethodsToken(t *testing.T) {
	assert.Equal(t, "tlsv1_1tlsv1_2", MethodsToken([]Method{TLS12, TLS11}))
	assert.Equal(t, "tlsv1_0tlsv1_1tlsv1_2tlsv1_3", MethodsToken([]Method{TLS13, TLS10, TLS12, TLS11}))
	assert.Equal(t, "none", MethodsToken(nil))
}

func TestOpenFirstStartWritesVersion1OwnerOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(afero.NewOsFs(), dir, func() (*Config, error) { return testDefaults(), nil })
	require.NoError(t, err)
	assert.Equal(t, 1, s.Current().Version)
	st, err := os.Stat(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	// A second open reads it back and does not call first.
	s2, err := Open(afero.NewOsFs(), dir, func() (*Config, error) { return nil, errors.New("must not be called") })
	require.NoError(t, err)
	assert.True(t, SameSettings(s.Current(), s2.Current()))
}

func TestOpenRefusesInvalidFile(t *testing.T) {
	fs := afero.NewMemMapFs()
	require.NoError(t, fs.MkdirAll("/data", 0o700))
	require.NoError(t, afero.WriteFile(fs, "/data/"+ConfigFile, []byte("schema: 1\nhostname: \"bad host\"\n"), 0o600))
	_, err := Open(fs, "/data", nil)
	require.ErrorContains(t, err, "is not valid")
}

func TestCommitAppliesThenPersists(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := openStore(t, fs)
	p := s.NewPending()
	p.Config().SSL.Inbound.Methods = []Method{TLS11, TLS12, TLS13}
	require.True(t, p.Changed())
	rec := &recorder{}
	c, err := p.Commit(context.Background(), "admin", "tls13", rec)
	require.NoError(t, err)
	assert.Equal(t, 2, c.Version)
	assert.Equal(t, []int{2}, rec.applied)
	assert.False(t, p.Changed(), "the session is rebased on the new version")
	data, err := afero.ReadFile(fs, "/data/"+ConfigFile)
	require.NoError(t, err)
	onDisk, err := Decode(data)
	require.NoError(t, err)
	assert.Equal(t, 2, onDisk.Version)
	assert.Equal(t, "tls13", onDisk.Comment)
	_, err = p.Commit(context.Background(), "admin", "again", rec)
	require.ErrorIs(t, err, ErrNothingToCommit)
}

func TestCommitApplyFailureChangesNothing(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := openStore(t, fs)
	before, err := afero.ReadFile(fs, "/data/"+ConfigFile)
	require.NoError(t, err)
	p := s.NewPending()
	p.Config().Hostname = "other.example.test"
	_, err = p.Commit(context.Background(), "admin", "x", &recorder{fail: errors.New("port 2525 busy")})
	require.ErrorContains(t, err, "keeps version 1")
	require.ErrorContains(t, err, "port 2525 busy")
	after, err := afero.ReadFile(fs, "/data/"+ConfigFile)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "nothing may be persisted")
	assert.Equal(t, 1, s.Current().Version)
	assert.True(t, p.Changed(), "the pending edits stay")
	assert.Len(t, s.History(), 1)
}

// failingFs fails every write to names containing fail.
type failingFs struct {
	afero.Fs
	fail string
}

func (f failingFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if strings.Contains(name, f.fail) && flag&os.O_CREATE != 0 {
		return nil, fmt.Errorf("disk full writing %s", name)
	}
	return f.Fs.OpenFile(name, flag, perm)
}

func TestCommitPersistFailureRestoresEngine(t *testing.T) {
	mem := afero.NewMemMapFs()
	openStore(t, mem)
	s, err := Open(failingFs{Fs: mem, fail: ".config.yaml.tmp"}, "/data", nil)
	require.NoError(t, err)
	p := s.NewPending()
	p.Config().Hostname = "other.example.test"
	rec := &recorder{}
	_, err = p.Commit(context.Background(), "admin", "x", rec)
	require.ErrorContains(t, err, "saving the configuration failed")
	assert.Equal(t, []int{2, 1}, rec.applied, "the new version was applied, then the old one again")
	assert.Equal(t, 1, s.Current().Version)
	assert.Len(t, s.History(), 1, "no history entry for a version that never became live")
}

func TestOpenDropsHistoryNewerThanLiveFile(t *testing.T) {
	fs := afero.NewMemMapFs()
	s := openStore(t, fs)
	// Simulate a crash after the history entry of version 2 was written.
	data, err := s.Current().Encode()
	require.NoError(t, err)
	require.NoError(t, afero.WriteFile(fs, s.historyPath(2), data, 0o600))
	s2, err := Open(fs, "/data", nil)
	require.NoError(t, err)
	assert.Len(t, s2.History(), 1)
}

func TestCommitInvalidReportsAllProblems(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	p := s.NewPending()
	p.Config().Hostname = "bad host"
	p.Config().SSL.GUI.Ciphers = "HIHG"
	rec := &recorder{}
	_, err := p.Commit(context.Background(), "admin", "x", rec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "hostname:")
	assert.Contains(t, err.Error(), "ssl.gui.ciphers")
	assert.Empty(t, rec.applied)
}

func TestTwoSessionsMergeDisjointSections(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	a, b := s.NewPending(), s.NewPending()
	a.Config().SSL.Inbound.Methods = []Method{TLS12, TLS13}
	b.Config().SSL.GUI.Methods = []Method{TLS12}
	rec := &recorder{}
	_, err := a.Commit(context.Background(), "alice", "inbound", rec)
	require.NoError(t, err)
	c, err := b.Commit(context.Background(), "bob", "gui", rec)
	require.NoError(t, err)
	assert.Equal(t, 3, c.Version)
	assert.Equal(t, []Method{TLS12, TLS13}, c.SSL.Inbound.Methods, "alice's change survives bob's commit")
	assert.Equal(t, []Method{TLS12}, c.SSL.GUI.Methods)
}

func TestTwoSessionsSameSectionRefused(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	a, b := s.NewPending(), s.NewPending()
	a.Config().SSL.Inbound.Methods = []Method{TLS12, TLS13}
	b.Config().SSL.Inbound.Methods = []Method{TLS12}
	rec := &recorder{}
	_, err := a.Commit(context.Background(), "alice", "first", rec)
	require.NoError(t, err)
	_, err = b.Commit(context.Background(), "bob", "second", rec)
	require.ErrorContains(t, err, "sslconfig INBOUND")
	require.ErrorContains(t, err, "committed by alice")
	assert.Equal(t, 2, s.Current().Version)
	assert.True(t, b.Changed(), "bob's edits are kept for him to redo")
}

func TestHistoryKeepsLast50(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	p := s.NewPending()
	rec := &recorder{}
	for i := range 55 {
		p.Config().Listeners[0].MaxRecipients = 100 + i + 1
		_, err := p.Commit(context.Background(), "admin", fmt.Sprintf("c%d", i), rec)
		require.NoError(t, err)
	}
	h := s.History()
	require.Len(t, h, HistorySize)
	assert.Equal(t, 56, h[0].Version)
	assert.Equal(t, "c54", h[0].Comment)
	_, err := s.Version(1)
	require.ErrorContains(t, err, "not in the history")
	old, err := s.Version(10)
	require.NoError(t, err)
	assert.Equal(t, 100+9, old.Listeners[0].MaxRecipients)
}

func TestPendingReplaceAndClear(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	p := s.NewPending()
	other := p.Config().Clone()
	other.Hostname = "loaded.example.test"
	other.Version = 99
	p.Replace(other)
	assert.True(t, p.Changed())
	assert.Equal(t, 1, p.Config().Version, "commit metadata stays the base's")
	assert.Contains(t, p.Diff(), "+ hostname: loaded.example.test")
	assert.Contains(t, p.Diff(), "- hostname: mail.example.test")
	p.Clear()
	assert.False(t, p.Changed())
	assert.Empty(t, p.Diff())
}

func TestDiffMasksSecrets(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	p := s.NewPending()
	p.Config().Users[0].PasswordHash = "$2a$10$zzzzzzzzzzzzzzzzzzzzzz"
	d := p.Diff()
	assert.NotContains(t, d, "zzzz")
	assert.Empty(t, d, "a masked secret change shows no line")
}

func TestDecodeIsStrict(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "schema: 1\nfrobnicate: 3\n", "field frobnicate not found"},
		{"no schema", "hostname: x\n", `no "schema" field`},
		{"newer schema", "schema: 9\n", "newer than this build"},
		{"two documents", "schema: 1\n---\nschema: 1\n", "more than one YAML document"},
		{"bad duration", "schema: 1\nlisteners:\n- idle_timeout: soon\n", "is not a duration"},
		{"not yaml", "schema: [\n", "parsing configuration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c := testDefaults()
	data, err := c.Encode()
	require.NoError(t, err)
	back, err := Decode(data)
	require.NoError(t, err)
	assert.True(t, SameSettings(c, back))
	assert.Equal(t, c.Listeners[0].IdleTimeout, back.Listeners[0].IdleTimeout)
}

func TestDocumentWithoutDeliverySectionsGetsDefaults(t *testing.T) {
	c := testDefaults()
	c.Destinations, c.Delivery = Destinations{}, Delivery{}
	data, err := c.Encode()
	require.NoError(t, err)
	back, err := Decode(data)
	require.NoError(t, err)
	require.NoError(t, Validate(back))
	assert.Equal(t, DestTLSNone, back.Destinations.Default.TLS)
	assert.Equal(t, "Auto", back.Delivery.Interface)
}

func TestDestinationAndRouteLookup(t *testing.T) {
	c := testDefaults()
	c.Destinations.Default = DestPolicy{TLS: DestTLSPreferred, MaxConnections: 10, MaxMessagesPerConnection: 5}
	c.Destinations.Domains = []DestPolicy{
		{Domain: "example.net", TLS: DestTLSRequired},
		{Domain: ".example.org", MaxConnections: 2},
		{Domain: "mx.example.org", TLS: DestTLSRequiredVerify},
	}
	c.Routes = []Route{{Domain: "example.net", Hosts: []string{"127.0.0.1:10025"}}, {Domain: ".lab.test", Hosts: []string{UseDNS}}}
	require.NoError(t, Validate(c))
	tests := []struct {
		domain string
		tls    string
		conns  int
	}{
		{"example.net", DestTLSRequired, 10},
		{"EXAMPLE.NET.", DestTLSRequired, 10},
		{"a.example.org", DestTLSPreferred, 2},
		{"mx.example.org", DestTLSRequiredVerify, 10},
		{"other.test", DestTLSPreferred, 10},
	}
	for _, tt := range tests {
		p := c.Destinations.DestinationFor(tt.domain)
		assert.Equal(t, tt.tls, p.TLS, tt.domain)
		assert.Equal(t, tt.conns, p.MaxConnections, tt.domain)
	}
	assert.Equal(t, []string{"127.0.0.1:10025"}, c.RouteFor("example.net"))
	assert.Equal(t, []string{UseDNS}, c.RouteFor("a.lab.test"))
	assert.Nil(t, c.RouteFor("elsewhere.test"))
}

func TestRouteAndDestinationValidation(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"bad port", func(c *Config) { c.Routes = []Route{{Domain: "a.test", Hosts: []string{"mx.a.test:99999"}}} }, "has a bad port"},
		{"bad host", func(c *Config) { c.Routes = []Route{{Domain: "a.test", Hosts: []string{"mx a"}}} }, "is not a host name"},
		{"no hosts", func(c *Config) { c.Routes = []Route{{Domain: "a.test"}} }, "has no destination host"},
		{"duplicate route", func(c *Config) {
			c.Routes = []Route{{Domain: "a.test", Hosts: []string{UseDNS}}, {Domain: "A.test", Hosts: []string{UseDNS}}}
		}, "already in the routing table"},
		{"bad level", func(c *Config) { c.Destinations.Domains = []DestPolicy{{Domain: "a.test", TLS: "maybe"}} }, `"maybe" is not a TLS level`},
		{"default follows nothing", func(c *Config) { c.Destinations.Default.TLS = "" }, "destinations.default.tls"},
		{"missing client cert", func(c *Config) { c.Destinations.Certificate = "Nope" }, `certificate "Nope" does not exist`},
		{"bad interface", func(c *Config) { c.Delivery.Interface = "Nowhere" }, "neither Auto nor a configured interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testDefaults()
			tt.edit(c)
			require.ErrorContains(t, Validate(c), tt.want)
		})
	}
	for _, ok := range []string{"mx.a.test", "mx.a.test:2525", "127.0.0.1:25", "[::1]:25", "usedns"} {
		assert.NoError(t, CheckRouteHost(ok), ok)
	}
}
