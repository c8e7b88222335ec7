package commands_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

func TestSMTPRoutes(t *testing.T) {
	a := startAppliance(t)
	r := script(a, strings.Join([]string{
		"smtproutes", "new", "example.net", "127.0.0.1:10025, mx2.example.net",
		"edit", "example.net", "remove", "mx2.example.net",
		"new", ".lab.test", "usedns", "",
		"commit routes",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "Mapping for example.net to 127.0.0.1:10025, mx2.example.net created.")
	assert.Contains(t, r.out, "example.net => 127.0.0.1:10025")
	c := a.Store.Current()
	assert.Equal(t, []string{"127.0.0.1:10025"}, c.RouteFor("example.net"))
	assert.Equal(t, []string{config.UseDNS}, c.RouteFor("x.lab.test"))

	for _, tt := range []struct{ script, want string }{
		{"smtproutes new example.net mx.other.test\n", "The value example.net is already in the routing table."},
		{"smtproutes new bad..domain mx.test\n", "is not a domain"},
		{"smtproutes new a.test mx.test:0\n", "has a bad port"},
		{"smtproutes new a.test bad*host\n", "is not a host name"},
		{"smtproutes delete nowhere.test\n", "does not appear to be in the routing table"},
		{"smtproutes\nedit\nexample.net\nremove\n127.0.0.1:10025\n", "a route needs at least one destination"},
	} {
		r := script(a, tt.script)
		assert.Equal(t, 1, r.code, tt.script)
		assert.Contains(t, r.err, tt.want, tt.script)
	}
	r = script(a, "smtproutes clear\nsmtproutes print\ncommit cleared\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "There are no routes configured.")
	assert.Empty(t, a.Store.Current().Routes)
}

func TestDestConfigDialogAndBatch(t *testing.T) {
	a := startAppliance(t)
	r := script(a, strings.Join([]string{
		"destconfig",
		"new", "example.net", "y", "10", "n", "y", "3", // Required
		"default", "200", "20", "2", // Preferred for every other domain
		"setup", "y", "1", "y", "y", "ops@example.com",
		"list", "",
		"commit destination controls",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "1. No\n2. Preferred\n3. Required\n4. Preferred (Verify)\n5. Required (Verify)")
	assert.Contains(t, r.out, `Do you really wish to use the "Demo" certificate?`)
	d := a.Store.Current().Destinations
	assert.Equal(t, config.DestTLSRequired, d.DestinationFor("example.net").TLS)
	assert.Equal(t, 10, d.DestinationFor("example.net").MaxConnections)
	assert.Equal(t, config.DestTLSPreferred, d.DestinationFor("other.test").TLS)
	assert.Equal(t, "Demo", d.Certificate)
	assert.True(t, d.AlertOnRequiredTLSFailure)
	assert.Equal(t, []string{"ops@example.com"}, d.AlertRecipients)

	r = script(a, "destconfig edit example.net tls=default\ndestconfig new .example.org tls=required-verify msgs=5\ndestconfig list\ncommit batch\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "example.net                  Default")
	d = a.Store.Current().Destinations
	assert.Equal(t, config.DestTLSPreferred, d.DestinationFor("example.net").TLS, "Default follows DEFAULT")
	assert.Equal(t, config.DestTLSRequiredVerify, d.DestinationFor("mx.example.org").TLS)

	r = script(a, "certconfig delete Demo\n")
	assert.Contains(t, r.err, "destination controls (outbound TLS client certificate)", "the client certificate counts as in use")

	for _, tt := range []struct{ script, want string }{
		{"destconfig new example.net\n", "there is already an entry for example.net"},
		{"destconfig edit nowhere.test tls=none\n", `the domain "nowhere.test" was not found in the destination controls table`},
		{"destconfig new a.test tls=sometimes\n", `tls="sometimes" is not a TLS level`},
		{"destconfig default tls=default\n", "is not a TLS level"},
		{"destconfig default conns=0\n", `conns="0" is not a valid number`},
		{"destconfig setup certificate=Nope\n", `certificate "Nope" does not exist`},
		{"destconfig\nnew\nbad..domain\n", "is not a domain"},
	} {
		r := script(a, tt.script)
		assert.Equal(t, 1, r.code, tt.script)
		assert.Contains(t, r.err, tt.want, tt.script)
	}
}

func TestDeliveryConfig(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "deliveryconfig\nsetup\n2\n50\n\ncommit delivery\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "Default interface to deliver mail: Auto")
	assert.Contains(t, r.out, "1. Auto")
	assert.Equal(t, "Management", a.Store.Current().Delivery.Interface)
	assert.Equal(t, 50, a.Store.Current().Delivery.MaxConnections)
	r = script(a, "deliveryconfig setup interface=auto concurrency=7\ncommit back\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, "Auto", a.Store.Current().Delivery.Interface)
	for _, tt := range []struct{ script, want string }{
		{"deliveryconfig setup interface=Nowhere\n", `interface "Nowhere" is neither Auto nor a configured interface`},
		{"deliveryconfig setup concurrency=0\n", `concurrency="0": Value must be a number from 1 to 10000, not 0`},
		{"deliveryconfig frob\n", "Invalid arguments"},
	} {
		r := script(a, tt.script)
		assert.Equal(t, 1, r.code, tt.script)
		assert.Contains(t, r.err, tt.want, tt.script)
	}
}
