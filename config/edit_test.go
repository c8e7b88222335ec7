package config

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRefusedEditsChangeNothing: every mutation function leaves the
// configuration as it was when it refuses.
func TestRefusedEditsChangeNothing(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config) error
		want string
	}{
		{"listener name taken", func(c *Config) error {
			return c.PutListener("", NewListener("incomingmail", ListenerPublic, ManagementIface, 2600))
		}, `a listener named "incomingmail" already exists`},
		{"listener on no interface", func(c *Config) error {
			return c.PutListener("", NewListener("X", ListenerPublic, "Nowhere", 2600))
		}, `interface "Nowhere" does not exist`},
		{"listener TLS without certificate", func(c *Config) error {
			l := NewListener("X", ListenerPublic, ManagementIface, 2600)
			l.TLS = TLSRequired
			return c.PutListener("", l)
		}, "no certificate is chosen"},
		{"listener unknown", func(c *Config) error { return c.PutListener("Ghost", c.Listeners[0]) }, `listener "Ghost" does not exist`},
		{"listener delete unknown", func(c *Config) error { return c.DeleteListener("Ghost") }, `listener "Ghost" does not exist`},
		{"limits", func(c *Config) error { return c.Listeners[0].SetLimits(10, 1, 1, 0) }, "Value must be a number from 1024"},
		{"per IP above total", func(c *Config) error { return c.Listeners[0].SetLimits(2048, 1, 5, 6) }, "Value must be a number from 1 to 5, not 6"},
		{"idle", func(c *Config) error { return c.Listeners[0].SetIdleTimeout(1) }, "Value must be a number from 5"},
		{"inbound", func(c *Config) error { return c.Inbound.SetMaxConnections(-1) }, "Value must be a number from 0"},
		{"hostname", func(c *Config) error { return c.SetHostname("bad") }, "it has no domain"},
		{"interface in use", func(c *Config) error { return c.DeleteInterface(ManagementIface) }, "is used by listener IncomingMail, listener OutgoingMail"},
		{"interface bad hostname", func(c *Config) error {
			return c.PutInterface("", NewInterface("Lab", "127.0.0.2", 8, "1.1.1.1"))
		}, "it is an IP address"},
		{"certificate in use", func(c *Config) error { return c.DeleteCertificate("demo") }, `certificate "Demo" is in use by listener IncomingMail (inbound TLS)`},
		{"certificate bad name", func(c *Config) error {
			cert := testCert
			cert.Name = "x\x1by"
			return c.PutCertificate(cert)
		}, `"x\x1by" is not a valid certificate name`},
		{"authority bad name", func(c *Config) error { return c.Trust.AddAuthority(CA{Name: "bad\x07", PEM: testCert.PEM}) }, `"bad\a" is not a valid custom authority name`},
		{"authority twice", func(c *Config) error {
			require.NoError(t, c.Trust.AddAuthority(CA{Name: "Lab", PEM: testCert.PEM}))
			return c.Trust.AddAuthority(CA{Name: "lab", PEM: testCert.PEM})
		}, `a custom authority named "lab" already exists`},
		{"route twice", func(c *Config) error {
			require.NoError(t, c.AddRoute(Route{Domain: "a.test", Hosts: []string{UseDNS}}))
			return c.AddRoute(Route{Domain: "A.test", Hosts: []string{UseDNS}})
		}, "The value A.test is already in the routing table."},
		{"route remove all", func(c *Config) error {
			require.NoError(t, c.AddRoute(Route{Domain: "a.test", Hosts: []string{"mx.a.test"}}))
			r, err := c.FindRoute("a.test")
			require.NoError(t, err)
			return r.EditHosts(RouteRemove, []string{"MX.a.test"})
		}, "a route needs at least one destination"},
		{"destination twice", func(c *Config) error {
			require.NoError(t, c.Destinations.PutDestination("", NewDestination("a.test")))
			return c.Destinations.PutDestination("", NewDestination("a.test"))
		}, "there is already an entry for a.test"},
		{"default follows nothing", func(c *Config) error { return c.Destinations.SetDefault(NewDestination("")) }, `"" is not a TLS level`},
		{"client certificate", func(c *Config) error { return c.SetClientCertificate("Nope") }, `certificate "Nope" does not exist`},
		{"alert without recipients", func(c *Config) error { return c.Destinations.SetAlert(true, nil) }, "at least one email address"},
		{"delivery interface", func(c *Config) error { return c.SetDeliveryInterface("Nowhere") }, "neither Auto nor a configured interface"},
		{"delivery concurrency", func(c *Config) error { return c.Delivery.SetMaxConnections(0) }, "Value must be a number from 1 to 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testDefaults()
			err := tt.edit(c)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\x1b")
			before := testDefaults()
			if tt.name == "authority twice" || tt.name == "route twice" || tt.name == "route remove all" || tt.name == "destination twice" {
				return // the first edit of these stands
			}
			assert.True(t, SameSettings(before, c), "a refused edit changes nothing")
		})
	}
}

func TestEditsStoreCanonicalNames(t *testing.T) {
	c := testDefaults()
	l := NewListener("Lab", ListenerPrivate, "management", 2600)
	l.RelayFrom, l.Certificate, l.TLS = []string{"10.0.0.0/8"}, "demo", TLSPreferred
	require.NoError(t, c.PutListener("", l))
	assert.Equal(t, ManagementIface, c.Listener("lab").Interface)
	assert.Equal(t, DemoCertificate, c.Listener("lab").Certificate)

	// Renaming an interface carries the new name to what uses it.
	require.NoError(t, c.SetDeliveryInterface("MANAGEMENT"))
	assert.Equal(t, ManagementIface, c.Delivery.Interface)
	ifc := *c.Interface(ManagementIface)
	ifc.Name = "Mgmt"
	require.NoError(t, c.PutInterface(ManagementIface, ifc))
	for _, l := range c.Listeners {
		assert.Equal(t, "Mgmt", l.Interface)
	}
	assert.Equal(t, "Mgmt", c.Delivery.Interface)
	require.NoError(t, Validate(c))

	require.NoError(t, c.DeleteListener("LAB"))
	assert.Nil(t, c.Listener("Lab"))
	require.NoError(t, c.Listeners[0].SetLimits(4000, 2, 5, 0))
	assert.Equal(t, 5, c.Listeners[0].MaxConnectionsPerIP, "the per-address limit follows a lower total")
}

func TestStoreEscapesComments(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	p := s.NewPending()
	p.Config().Hostname = "other.example.test"
	c, err := p.Commit(context.Background(), "admin", "red \x1b[31malert\x1b[0m", &recorder{})
	require.NoError(t, err)
	assert.Equal(t, `red \x1b[31malert\x1b[0m`, c.Comment)
	h := s.History()
	assert.Equal(t, `red \x1b[31malert\x1b[0m`, h[0].Comment, "the history never holds the raw escape")
}

func TestMergeClashNamesTimeWithZone(t *testing.T) {
	s := openStore(t, afero.NewMemMapFs())
	a, b := s.NewPending(), s.NewPending()
	a.Config().Hostname = "a.example.test"
	b.Config().Hostname = "b.example.test"
	_, err := a.Commit(context.Background(), "alice", "first", &recorder{})
	require.NoError(t, err)
	_, err = b.Commit(context.Background(), "bob", "second", &recorder{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), Stamp(s.Current().Time))
	zone, _ := s.Current().Time.Local().Zone()
	assert.True(t, strings.Contains(err.Error(), " "+zone+" "), "the time carries its zone: %s", err)
}

// TestPortClashRefusedAtTheEdit: a port another service has is refused
// when the edit is made, naming that service (not at commit, with a path).
func TestPortClashRefusedAtTheEdit(t *testing.T) {
	c := Defaults(FirstStart{Hostname: "mail.example.com", Address: "127.0.0.1", SMTPPort: 2525, SubmissionPort: 2587, HTTPSPort: 8443, SSHPort: 2222,
		Demo: Certificate{Name: DemoCertificate}})
	out := c.Listeners[1]
	out.Port = 2525
	err := c.PutListener(out.Name, out)
	require.EqualError(t, err, "port 2525 on 127.0.0.1 is already used by listener IncomingMail: choose another port")
	assert.Equal(t, 2587, c.Listeners[1].Port, "nothing changed")

	ifc := c.Interfaces[0]
	ifc.HTTPSPort = 2587
	require.EqualError(t, c.PutInterface(ifc.Name, ifc), "port 2587 on 127.0.0.1 is already used by listener OutgoingMail: choose another port")
	ifc.HTTPSPort = 2222
	require.EqualError(t, c.PutInterface(ifc.Name, ifc), "port 2222 on 127.0.0.1 is already used by SSH on interface Management: choose another port")
	assert.Equal(t, 8443, c.Interfaces[0].HTTPSPort)
	out.Port = 2600
	require.NoError(t, c.PutListener(out.Name, out))
}
