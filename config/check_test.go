package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckers(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		want  string // "" for accepted
		input string // the input the message must name
	}{
		{"name", CheckName(KindListener, "InboundMail"), "", ""},
		{"name digit", CheckName(KindListener, "9bad"), "is not a valid listener name: start with a letter", "9bad"},
		{"name control", CheckName(KindCertificate, "a\x1b[31m"), "is not a valid certificate name", `a\x1b[31m`},
		{"name long", CheckName(KindInterface, "a"+strings.Repeat("b", 64)), "is not a valid interface name", ""},
		{"hostname", CheckHostname("mail.example.com"), "", ""},
		{"hostname single label", CheckHostname("bad"), "it has no domain", "bad"},
		{"hostname IP", CheckHostname("1.1.1.1"), "it is an IP address", "1.1.1.1"},
		{"hostname IPv6", CheckHostname("::1"), "it is an IP address", "::1"},
		{"hostname star", CheckHostname("bad*.com.too"), "is not a valid hostname", "bad*.com.too"},
		{"hostname numeric TLD", CheckHostname("a.123"), "its last label is a number", "a.123"},
		{"hostname trailing dot", CheckHostname("mail.example.com."), "is not a valid hostname", ""},
		{"hostname leading dash", CheckHostname("-lead.example"), "is not a valid hostname", ""},
		{"domain", CheckDomain("example.com"), "", ""},
		{"subdomains", CheckDomain(".example.com"), "", ""},
		{"single label domain", CheckDomain("localhost"), "", ""},
		{"domain double dot", CheckDomain("bad..domain"), "is not a domain: write example.com, or .example.com", "bad..domain"},
		{"domain blank", CheckDomain("exa mple"), "is not a domain", "exa mple"},
		{"port", CheckPort(25), "", ""},
		{"port zero", CheckPort(0), "port 0 is out of range: use 1 to 65535", ""},
		{"port high", CheckPort(65536), "port 65536 is out of range", ""},
		{"address", CheckAddress("192.0.2.1"), "", ""},
		{"address junk", CheckAddress("192.0.2"), "is not an IP address", "192.0.2"},
		{"netmask", CheckNetmask("192.0.2.1", 33), "netmask /33 is out of range for 192.0.2.1: use 0 to 32", ""},
		{"netmask v6", CheckNetmask("2001:db8::1", 64), "", ""},
		{"network", CheckNetwork("192.0.2.0/24"), "", ""},
		{"network bare", CheckNetwork("192.0.2.1"), "Invalid IP or IP range", "192.0.2.1"},
		{"network bits", CheckNetwork("10.0.0.0/33"), "Invalid IP or IP range", "10.0.0.0/33"},
		{"email", CheckEmail("ops@example.com"), "", ""},
		{"email no at", CheckEmail("ops"), "is not an email address: write it as name@example.com", "ops"},
		{"email control", CheckEmail("o\x1bps@example.com"), "is not an email address", `o\x1bps`},
		{"email two at", CheckEmail("a@b@example.com"), "is not an email address", ""},
		{"route host", CheckRouteHost("mx.example.com:2525"), "", ""},
		{"route host ipv6", CheckRouteHost("[::1]:25"), "", ""},
		{"route usedns", CheckRouteHost("usedns"), "", ""},
		{"route bad port", CheckRouteHost("mx:0"), "has a bad port", "mx:0"},
		{"route no MX lookup", CheckRouteHost("[relay.example.com]:2525"), "", ""},
		{"route no MX lookup, port 25", CheckRouteHost("[relay.example.com]"), "", ""},
		{"route discard", CheckRouteHost("/dev/null"), "", ""},
		{"route open bracket", CheckRouteHost("[relay.example.com"), "close the bracket", ""},
		{"route bracket junk", CheckRouteHost("[relay.example.com]x"), "close the bracket", ""},
		{"tls level", CheckTLSLevel("sometimes"), "is not a TLS level: use off, preferred", "sometimes"},
		{"dest level default", CheckDestTLSLevel(DestTLSDefault, false), "", ""},
		{"dest level default refused", CheckDestTLSLevel(DestTLSDefault, true), "is not a TLS level: use none", ""},
		{"range", RecipientRange.Check(0), "Value must be a number from 1 to 100000, not 0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				assert.NoError(t, tt.err)
				return
			}
			require.Error(t, tt.err)
			assert.Contains(t, tt.err.Error(), tt.want)
			assert.Contains(t, tt.err.Error(), tt.input, "the message names the input")
			assert.NotContains(t, tt.err.Error(), "\x1b", "a message never carries a raw control character")
		})
	}
}

func TestParsers(t *testing.T) {
	n, err := ParsePort("2525")
	require.NoError(t, err)
	assert.Equal(t, 2525, n)
	_, err = ParsePort("smtp")
	assert.EqualError(t, err, `"smtp" is not a port: use a number from 1 to 65535`)
	_, err = ParsePort("70000")
	assert.EqualError(t, err, "port 70000 is out of range: use 1 to 65535", "one rule, one message: the same as Validate's")
	nets, err := ParseNetworks([]string{"127.0.0.1", "::1", "10.0.0.0/8"})
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1/32", "::1/128", "10.0.0.0/8"}, nets)
	_, err = ParseNetworks(nil)
	assert.ErrorContains(t, err, "Please enter a value")
	_, err = ParseDomains(nil)
	assert.ErrorContains(t, err, "A Recipient Access Table address can be one of the following")
	hosts, err := ParseRouteHosts([]string{"usedns", "mx.a.test"})
	require.NoError(t, err)
	assert.Equal(t, []string{UseDNS, "mx.a.test"}, hosts)
	_, err = ParseRouteHosts([]string{"/dev/null", "mx.a.test"})
	assert.ErrorContains(t, err, "/dev/null throws the mail away: give it alone")
	v, err := DestMessageRange.Parse("many")
	assert.Zero(t, v)
	assert.EqualError(t, err, `Value must be a number from 1 to 1000, not "many"`)
}

// TestValidateSpeaksTheCheckers: Validate's message for a field is the
// checker's message after the path, so a prompt and a commit say the same.
func TestValidateSpeaksTheCheckers(t *testing.T) {
	tests := []struct {
		edit func(c *Config)
		path string
		want error
	}{
		{func(c *Config) { c.Hostname = "bad" }, "hostname", CheckHostname("bad")},
		{func(c *Config) { c.Interfaces[0].Hostname = "1.1.1.1" }, "interfaces[0].hostname", CheckHostname("1.1.1.1")},
		{func(c *Config) { c.Listeners[0].Domains = []string{"bad..domain"} }, "listeners[0].domains", CheckDomain("bad..domain")},
		{func(c *Config) { c.Routes = []Route{{Domain: "bad..domain", Hosts: []string{UseDNS}}} }, "routes[0].domain", CheckDomain("bad..domain")},
		{func(c *Config) { c.Destinations.Domains = []DestPolicy{{Domain: "bad..domain"}} }, "destinations.domains[0].domain", CheckDomain("bad..domain")},
		{func(c *Config) { c.Listeners[0].Port = 70000 }, "listeners[0].port", CheckPort(70000)},
		{func(c *Config) { c.Listeners[1].RelayFrom = []string{"10.0.0.0/33"} }, "listeners[1].relay_from", CheckNetwork("10.0.0.0/33")},
		{func(c *Config) { c.Listeners[0].Name = "9bad" }, "listeners[0].name", CheckName(KindListener, "9bad")},
		{func(c *Config) { c.Trust.CustomCAs = []CA{{Name: "a\x07b", PEM: testCert.PEM}} }, "trust.custom_cas[0].name", CheckName(KindAuthority, "a\x07b")},
		{func(c *Config) { c.Destinations.AlertRecipients = []string{"ops"} }, "destinations.alert_recipients", CheckEmail("ops")},
		{func(c *Config) { c.Listeners[0].MaxRecipients = 0 }, "listeners[0].max_recipients", RecipientRange.Check(0)},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c := testDefaults()
			tt.edit(c)
			require.Error(t, tt.want)
			assert.ErrorContains(t, Validate(c), tt.path+": "+tt.want.Error())
		})
	}
}

func TestEscapeControl(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain comment", "plain comment"},
		{"naïve – ok", "naïve – ok"},
		{"red \x1b[31m alert", `red \x1b[31m alert`},
		{"bell\a and nul\x00", `bell\x07 and nul\x00`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b", `c1 \x9b`},
		{"rtl \u202e spoof", `rtl \u202e spoof`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"line\nbreak", `line\x0abreak`},
	}
	for _, tt := range tests {
		got := EscapeControl(tt.in)
		assert.Equal(t, tt.want, got)
		assert.Equal(t, got, EscapeControl(got), "escaping twice changes nothing more")
	}
}

func TestQualifyHostname(t *testing.T) {
	assert.Equal(t, "mail.example.com", QualifyHostname("mail.example.com"))
	assert.Equal(t, "vm.localdomain", QualifyHostname("vm"))
	assert.Equal(t, "relaybox.localdomain", QualifyHostname("bad*name"))
	assert.Equal(t, "relaybox.localdomain", QualifyHostname(""))
	f := DefaultPorts
	f.Hostname, f.Demo, f.AdminHash = "vm", testCert, "$2a$10$abcdefghijklmnopqrstuv"
	c := Defaults(f)
	assert.Equal(t, "vm.localdomain", c.Hostname)
	assert.Equal(t, "vm.localdomain", c.Interfaces[0].Hostname)
	require.NoError(t, Validate(c), "a machine name without a domain still gives a valid first start")
}

func TestParseResolver(t *testing.T) {
	for in, want := range map[string]string{"system": SystemResolver, "SYSTEM": SystemResolver, "127.0.0.1": "127.0.0.1:53",
		"127.0.0.1:5353": "127.0.0.1:5353", "[::1]:53": "[::1]:53", "::1": "[::1]:53"} {
		got, err := ParseResolver(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "dns.example.com", "127.0.0.1:0", "127.0.0.1:99999"} {
		_, err := ParseResolver(bad)
		assert.ErrorContains(t, err, "is neither system nor a DNS server as IP or IP:port", bad)
	}
}
