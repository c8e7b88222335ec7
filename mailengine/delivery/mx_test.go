package delivery

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testdns"
)

// mxHarness is a deliverer whose resolver is a real DNS server serving zone,
// with MX hosts reached on port (where the peers listen).
func mxHarness(t *testing.T, zone testdns.Zone, port string, edit func(c *config.Config)) (*harness, *testdns.Server) {
	t.Helper()
	dns := testdns.Start(t, zone)
	h := newHarness(t, func(c *config.Config) {
		c.Delivery.Resolver = dns.Addr()
		if edit != nil {
			edit(c)
		}
	})
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	h.d.opts.Port = p
	return h, dns
}

func portOf(t *testing.T, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return port
}

func TestDeliversToTheMXHostOfTheDomain(t *testing.T) {
	p := startPeer(t, nil)
	h, dns := mxHarness(t, testdns.Zone{
		MX: map[string][]testdns.MX{"example.net": {{Host: "mx1.example.net", Pref: 10}}},
		A:  map[string][]string{"mx1.example.net": {"127.0.0.1"}},
	}, portOf(t, p.addr), nil)
	h.run(t)
	h.deliverOne(t, p)
	q := dns.Queries()
	assert.Positive(t, q["example.net. MX"], "the MX was looked up: %v", q)
	assert.Positive(t, q["mx1.example.net. A"], "the MX host's address came from the same resolver: %v", q)
	h.logContains(t, "New SMTP DCID 1 interface 127.0.0.1 address 127.0.0.1 port "+portOf(t, p.addr))
}

func TestMXHostsAreTriedByPreference(t *testing.T) {
	p := startPeer(t, nil)
	port := portOf(t, p.addr)
	// The preferred host's address has no listener: connection refused, next host.
	h, _ := mxHarness(t, testdns.Zone{
		MX: map[string][]testdns.MX{"example.net": {{Host: "backup.example.net", Pref: 20}, {Host: "down.example.net", Pref: 10}}},
		A:  map[string][]string{"down.example.net": {"127.0.0.2"}, "backup.example.net": {"127.0.0.1"}},
	}, port, nil)
	h.run(t)
	h.deliverOne(t, p)
	conns, _, _ := p.counts()
	assert.Equal(t, 1, conns, "the backup host got the one connection")
	h.logContains(t, "Connection Error: DCID 1 domain: example.net IP: 127.0.0.2 port: "+port+" details: connection failed: connection refused interface: Auto reason: network error",
		"New SMTP DCID 2 interface 127.0.0.1 address 127.0.0.1 port "+port, "Message done DCID 2 MID 1")
}

func TestDomainWithoutMXUsesItsAddress(t *testing.T) {
	p := startPeer(t, nil)
	h, dns := mxHarness(t, testdns.Zone{A: map[string][]string{"example.net": {"127.0.0.1"}}}, portOf(t, p.addr), nil)
	h.run(t)
	h.deliverOne(t, p)
	q := dns.Queries()
	assert.Positive(t, q["example.net. MX"], "%v", q)
	assert.Positive(t, q["example.net. A"], "implicit MX: the domain's own address: %v", q)
}

func TestRouteHostNameUsesTheResolver(t *testing.T) {
	p := startPeer(t, nil)
	h, dns := mxHarness(t, testdns.Zone{A: map[string][]string{"relay.lab.test": {"127.0.0.1"}}}, "25",
		route("example.net", "relay.lab.test:"+portOf(t, p.addr)))
	h.run(t)
	h.deliverOne(t, p)
	assert.Positive(t, dns.Queries()["relay.lab.test. A"])
	assert.Zero(t, dns.Queries()["example.net. MX"], "a route replaces the MX lookup")
}

func TestUnknownDomainBounces(t *testing.T) {
	h, _ := mxHarness(t, testdns.Zone{A: map[string][]string{"other.test": {"127.0.0.1"}}}, "25", nil)
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@nowhere.test")
	// The bounce goes to sender.test, which does not exist either: it
	// fails the same way and, from the null sender, gets no bounce itself.
	h.logContains(t, "Bounced: MID 1 to RID 0 - 5.4.4 - Host or domain name not found", "MID 1 bounce MID 2 queued to <alice@sender.test>",
		"Bounced: MID 2 to RID 0 - 5.4.4", "MID 2 RID [0] failed; no bounce for a message from the null sender")
	require.Eventually(t, func() bool { return h.spool.Count() == 0 }, 5*time.Second, 10*time.Millisecond, "nothing stays queued")
}

func TestDNSFailureDefers(t *testing.T) {
	h, _ := mxHarness(t, testdns.Zone{ServFail: []string{"example.net"}}, "25", func(c *config.Config) {
		c.Delivery.RetryInitial = config.Duration(time.Hour)
		c.Delivery.RetryMax = config.Duration(time.Hour)
	})
	h.run(t)
	mid := h.queue(t, "alice@sender.test", "bob@example.net")
	h.logContains(t, "MX lookup for example.net failed", "Delayed: MID "+strconv.FormatUint(uint64(mid), 10))
	assert.Equal(t, 1, h.spool.Count(), "kept for retry")
	assert.NotContains(t, h.logLines(t), "Bounced:")
}

func TestUnresolvableRouteHostDefers(t *testing.T) {
	h, _ := mxHarness(t, testdns.Zone{A: map[string][]string{"relay.lab.test": {"127.0.0.1"}}}, "25", func(c *config.Config) {
		route("example.net", "relay.lab.tset:2525")(c) // a typo
		c.Delivery.RetryInitial = config.Duration(time.Hour)
		c.Delivery.RetryMax = config.Duration(time.Hour)
	})
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net")
	h.logContains(t, "address lookup for relay.lab.tset failed: no such host (asked 127.0.0.1:", "Delayed: MID 1")
	assert.NotContains(t, h.logLines(t), "Bounced:", "an operator's typo must not bounce the domain's mail")
	assert.Equal(t, 1, h.spool.Count())
}

func TestNullMXBounces(t *testing.T) {
	h, _ := mxHarness(t, testdns.Zone{MX: map[string][]testdns.MX{"example.net": {{Host: ".", Pref: 0}}}}, "25", nil)
	h.run(t)
	h.queue(t, "", "bob@example.net")
	h.logContains(t, "Bounced: MID 1 to RID 0 - 5.1.10 - Recipient address has null MX", "Message finished MID 1 done")
	assert.Zero(t, h.spool.Count())
}

func TestMXAddressLimit(t *testing.T) {
	var addrs []string
	for i := 1; i <= 7; i++ {
		addrs = append(addrs, "127.0.0."+strconv.Itoa(i))
	}
	h, _ := mxHarness(t, testdns.Zone{
		MX: map[string][]testdns.MX{"example.net": {{Host: "mx.example.net", Pref: 10}}},
		A:  map[string][]string{"mx.example.net": addrs},
	}, "2525", nil)
	targets, err := h.d.targets(context.Background(), h.d.settings.Load(), "example.net")
	require.NoError(t, err)
	require.Len(t, targets, maxMXAddresses)
	for _, tg := range targets {
		assert.Equal(t, "mx.example.net", tg.name, "the certificate is checked against the MX host name")
		assert.True(t, strings.HasSuffix(tg.addr, ":2525"))
	}
}

func TestMXSessionLimit(t *testing.T) {
	busy := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	first := startPeerWith(t, peerOptions{mailErr: busy})
	port := portOf(t, first.addr)
	second := startPeerWith(t, peerOptions{listen: "127.0.0.2:" + port, mailErr: busy})
	third := startPeerWith(t, peerOptions{listen: "127.0.0.3:" + port})
	h, _ := mxHarness(t, testdns.Zone{
		MX: map[string][]testdns.MX{"example.net": {{Host: "mx1.example.net", Pref: 10}, {Host: "mx2.example.net", Pref: 20}, {Host: "mx3.example.net", Pref: 30}}},
		A:  map[string][]string{"mx1.example.net": {"127.0.0.1"}, "mx2.example.net": {"127.0.0.2"}, "mx3.example.net": {"127.0.0.3"}},
	}, port, func(c *config.Config) {
		c.Delivery.RetryInitial = config.Duration(time.Hour)
		c.Delivery.RetryMax = config.Duration(time.Hour)
	})
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net")
	h.logContains(t, "Delayed: MID 1")
	c1, _, _ := first.counts()
	c2, _, _ := second.counts()
	c3, _, _ := third.counts()
	assert.Equal(t, [3]int{1, 1, 0}, [3]int{c1, c2, c3}, "two sessions per attempt, then the message waits for its retry")
}

func TestMXHostsWithoutAddressesBounce(t *testing.T) {
	// As Postfix with smtp_defer_if_no_mx_address_found = no (its default).
	h, _ := mxHarness(t, testdns.Zone{
		MX: map[string][]testdns.MX{"example.net": {{Host: "mx.example.net", Pref: 10}}},
		A:  map[string][]string{"example.net": {"127.0.0.1"}}, // the domain's own address is not used when it has MX
	}, "25", nil)
	h.run(t)
	h.queue(t, "", "bob@example.net")
	h.logContains(t, "Bounced: MID 1 to RID 0 - 5.4.4 - Host or domain name not found: address lookup for mx.example.net failed")
	require.Eventually(t, func() bool { return h.spool.Count() == 0 }, 5*time.Second, 10*time.Millisecond)
}
