package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/internal/testdns"
)

// TestDeliveryByMXThroughTheConfiguredResolver: no route for the domain, so
// the daemon asks the DNS server it was given (a real one on loopback) for
// the MX, resolves the MX host there too, and delivers to Postfix's
// smtp-sink on the --mx-port.
func TestDeliveryByMXThroughTheConfiguredResolver(t *testing.T) {
	sinkPort, sinkDir := startSink(t)
	dns := testdns.Start(t, testdns.Zone{
		MX: map[string][]testdns.MX{"example.net": {{Host: "mx.example.net", Pref: 10}}},
		A:  map[string][]string{"mx.example.net": {"127.0.0.1"}},
	})
	a := startAppliance(t, startOptions{domains: "e2e.test", resolver: dns.Addr(), mxPort: sinkPort})
	token := uniqueToken("mx")
	relay(t, a, "bob@example.net", token)
	require.Eventually(t, func() bool { return sinkHas(sinkDir, token) }, 15*time.Second, 50*time.Millisecond, "smtp-sink never got the message")
	q := dns.Queries()
	assert.Positive(t, q["example.net. MX"], "the MX came from the configured resolver: %v", q)
	assert.Positive(t, q["mx.example.net. A"], "and the MX host's address too: %v", q)
	logs := a.cli(t, "tail mail_logs 50\n").stdout
	assert.Contains(t, logs, "interface 127.0.0.1 address 127.0.0.1 port "+strconv.Itoa(sinkPort))
	assert.Contains(t, logs, "Message done DCID")

	// A domain that does not exist (NXDOMAIN from the same server) bounces
	// at once instead of waiting in the queue.
	relay(t, a, "carol@nowhere.test", uniqueToken("nx"))
	require.Eventually(t, func() bool {
		return strings.Contains(a.cli(t, "tail mail_logs 50\n").stdout, "to RID 0 - 5.4.4 - Host or domain name not found")
	}, 10*time.Second, 50*time.Millisecond)
	assert.Positive(t, dns.Queries()["nowhere.test. MX"])
}

// TestDNSConfigChangesTheResolver: a box started with a DNS server that
// does not answer defers mail by MX; dnsconfig points it at a working one
// and the commit delivers the deferred message.
func TestDNSConfigChangesTheResolver(t *testing.T) {
	sinkPort, sinkDir := startSink(t)
	dns := testdns.Start(t, testdns.Zone{
		MX: map[string][]testdns.MX{"example.net": {{Host: "mx.example.net", Pref: 10}}},
		A:  map[string][]string{"mx.example.net": {"127.0.0.1"}},
	})
	a := startAppliance(t, startOptions{domains: "e2e.test", mxPort: sinkPort}) // resolver: a dead port
	token := uniqueToken("dns")
	relay(t, a, "bob@example.net", token)
	require.Eventually(t, func() bool {
		return strings.Contains(a.cli(t, "grep -e \"Delayed: MID\" mail_logs\n").stdout, "MX lookup for example.net failed")
	}, 10*time.Second, 50*time.Millisecond)
	res := a.mustCommit(t, "dnsconfig setup "+dns.Addr()+"\ndnsconfig print\ncommit use the lab DNS server\n")
	assert.Contains(t, res.stdout, "Currently using the DNS server "+dns.Addr()+".")
	require.Eventually(t, func() bool { return sinkHas(sinkDir, token) }, 15*time.Second, 50*time.Millisecond, "the commit retried the deferred message")
	bad := a.cli(t, "dnsconfig setup nowhere\n")
	assert.Equal(t, 1, bad.code)
	assert.Contains(t, bad.stderr, `"nowhere" is neither system nor a DNS server as IP or IP:port`)
}
