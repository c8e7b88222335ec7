package delivery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testdns"
)

// TestAllRouteIsTheDefaultRoute: smtproutes ALL (AsyncOS's default route,
// a smarthost) carries mail for every domain without a route of its own.
func TestAllRouteIsTheDefaultRoute(t *testing.T) {
	smarthost, own := startPeer(t, nil), startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("ALL", smarthost.addr)(c)
		route("own.test", own.addr)(c)
	})
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@anywhere.test", "carol@own.test")
	require.Eventually(t, func() bool { return len(smarthost.received()) == 1 && len(own.received()) == 1 && h.spool.Count() == 0 },
		10*time.Second, 10*time.Millisecond, "mail_logs:\n%s", h.logLines(t))
}

// TestDevNullRouteDiscards: smtproutes DOMAIN /dev/null accepts and drops.
func TestDevNullRouteDiscards(t *testing.T) {
	other := startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("trash.test", "/dev/null")(c)
		route("ALL", other.addr)(c)
	})
	h.run(t)
	mid := h.queue(t, "alice@sender.test", "bob@trash.test")
	h.logContains(t, "Message done MID 1 to RID [0] - discarded: smtproutes sends trash.test to /dev/null", "Message finished MID 1 done")
	assert.Equal(t, 1, int(mid))
	assert.Empty(t, other.received(), "nothing goes on the wire")
	assert.Equal(t, 0, h.spool.Count())
}

// TestBracketedRouteHostSkipsMX: a route to "[relay.test]" uses the host's
// own address; to "relay.test" its MX hosts, as a mail domain.
func TestBracketedRouteHostSkipsMX(t *testing.T) {
	direct, viaMX := startPeer(t, nil), startPeer(t, nil)
	zone := testdns.Zone{
		MX: map[string][]testdns.MX{"relay.test": {{Host: "mx.relay.test", Pref: 10}}},
		A:  map[string][]string{"relay.test": {"127.0.0.1"}, "mx.relay.test": {"127.0.0.2"}},
	}
	// Both peers listen on 127.0.0.1; the MX host's address 127.0.0.2 is
	// where a second listener on viaMX's port would be: so route to ports.
	h, dns := mxHarness(t, zone, "25", func(c *config.Config) {
		route("a.test", "[relay.test]:"+portOf(t, direct.addr))(c)
	})
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@a.test")
	require.Eventually(t, func() bool { return len(direct.received()) == 1 }, 10*time.Second, 10*time.Millisecond, "mail_logs:\n%s", h.logLines(t))
	assert.Zero(t, dns.Queries()["relay.test. MX"], "[host] means no MX lookup")

	h2, dns2 := mxHarness(t, testdns.Zone{
		MX: map[string][]testdns.MX{"relay.test": {{Host: "mx.relay.test", Pref: 10}}},
		A:  map[string][]string{"relay.test": {"127.0.0.2"}, "mx.relay.test": {"127.0.0.1"}},
	}, "25", func(c *config.Config) {
		route("b.test", "relay.test:"+portOf(t, viaMX.addr))(c)
	})
	h2.run(t)
	h2.queue(t, "alice@sender.test", "bob@b.test")
	require.Eventually(t, func() bool { return len(viaMX.received()) == 1 }, 10*time.Second, 10*time.Millisecond, "mail_logs:\n%s", h2.logLines(t))
	assert.Positive(t, dns2.Queries()["relay.test. MX"], "a plain route host is looked up as a mail domain")
}
