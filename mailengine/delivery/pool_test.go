package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

func (p *peer) counts() (conns, active, maxActive int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.remotes), p.active, p.maxActive
}

// deliverOne queues a message and waits until the peer has it and its
// attempt is over (the connection is parked or closed by then).
func (h *harness) deliverOne(t *testing.T, p *peer) {
	t.Helper()
	n := len(p.received())
	mid := h.queue(t, "alice@sender.test", "bob@example.net")
	finished := fmt.Sprintf("Message finished MID %d done", mid)
	require.Eventually(t, func() bool {
		return len(p.received()) == n+1 && strings.Contains(h.logLines(t), finished)
	}, 10*time.Second, 10*time.Millisecond)
}

func (h *harness) logLines(t *testing.T) string {
	t.Helper()
	lines, err := h.log.Tail(1000)
	require.NoError(t, err)
	return strings.Join(lines, "\n")
}

func TestNextMessageReusesTheConnection(t *testing.T) {
	p := startPeer(t, &tls.Config{Certificates: []tls.Certificate{selfSigned(t, "peer.test")}})
	h := newHarness(t, func(c *config.Config) {
		route("example.net", p.addr)(c)
		c.Destinations.Default.TLS = config.DestTLSPreferred
	})
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	for range 3 {
		h.deliverOne(t, p)
	}
	conns, _, _ := p.counts()
	assert.Equal(t, 1, conns, "three messages over one connection")
	logs := h.logLines(t)
	assert.Equal(t, 1, strings.Count(logs, "New SMTP DCID"), logs)
	assert.Equal(t, 1, strings.Count(logs, "TLS success"), "one handshake: %s", logs)
	for _, mid := range []string{"MID 1", "MID 2", "MID 3"} {
		assert.Contains(t, logs, "Delivery start DCID 1 "+mid+" to RID [0]")
		assert.Contains(t, logs, "Message done DCID 1 "+mid+" to RID [0]")
	}
	assert.NotContains(t, logs, "DCID 1 close", "the connection waits for the next message")
	open, idle := h.d.OutboundConnections()
	assert.Equal(t, [2]int{1, 1}, [2]int{open, idle}, "one connection open, idle")
	p.mu.Lock()
	assert.Equal(t, []uint16{tls.VersionTLS13, tls.VersionTLS13, tls.VersionTLS13}, p.tlsVer, "every message over TLS")
	p.mu.Unlock()

	// A commit closes it: connections follow the settings they were made under.
	h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}})
	h.logContains(t, "DCID 1 close")
	require.Eventually(t, func() bool { _, active, _ := p.counts(); return active == 0 }, 5*time.Second, 10*time.Millisecond, "the peer saw the connection end")
	assert.Eventually(t, func() bool { open, idle := h.d.OutboundConnections(); return open == 0 && idle == 0 },
		5*time.Second, 10*time.Millisecond, "none open after the commit")
	h.deliverOne(t, p)
	conns, _, _ = p.counts()
	assert.Equal(t, 2, conns, "the next message needs a new connection")
	assert.Contains(t, h.logLines(t), "Delivery start DCID 2 MID 4")
}

func TestMessagesPerConnectionLimit(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", p.addr)(c)
		c.Destinations.Domains = []config.DestPolicy{{Domain: "example.net", TLS: config.DestTLSNone, MaxMessagesPerConnection: 2}}
	})
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	for range 5 {
		h.deliverOne(t, p)
	}
	conns, _, _ := p.counts()
	assert.Equal(t, 3, conns, "5 messages at 2 per connection")
	logs := h.logLines(t)
	assert.Contains(t, logs, "DCID 1 close")
	assert.Contains(t, logs, "DCID 2 close")
	assert.NotContains(t, logs, "DCID 3 close", "the third connection carried one message and waits for another")
	assert.Less(t, strings.Index(logs, "Message done DCID 1 MID 2"), strings.Index(logs, "DCID 1 close"))
	assert.Less(t, strings.Index(logs, "DCID 1 close"), strings.Index(logs, "New SMTP DCID 2"))
}

func TestIdleConnectionIsClosed(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, route("example.net", p.addr))
	h.d.opts.IdleTimeout = 500 * time.Millisecond
	h.run(t)
	h.deliverOne(t, p)
	start := time.Now()
	assert.NotContains(t, h.logLines(t), "DCID 1 close", "kept open at first")
	h.logContains(t, "DCID 1 close")
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "closed when its idle time was up, not at once")
	require.Eventually(t, func() bool { _, active, _ := p.counts(); return active == 0 }, 5*time.Second, 10*time.Millisecond)
	h.deliverOne(t, p)
	conns, _, _ := p.counts()
	assert.Equal(t, 2, conns)
}

func TestConnectionClosedByThePeerIsReplaced(t *testing.T) {
	// The peer drops idle sessions (go-smtp says "421 4.4.2 Idle timeout").
	p := startPeer(t, nil, func(s *smtp.Server) { s.ReadTimeout = time.Second })
	h := newHarness(t, route("example.net", p.addr))
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	h.deliverOne(t, p)
	require.Eventually(t, func() bool { _, active, _ := p.counts(); return active == 0 }, 5*time.Second, 10*time.Millisecond, "the peer dropped the idle connection")
	h.deliverOne(t, p)
	conns, _, _ := p.counts()
	assert.Equal(t, 2, conns)
	logs := h.logLines(t)
	assert.NotContains(t, logs, "Delayed:", "a stale connection is not a delivery failure")
	assert.Contains(t, logs, "Delivery start DCID 2 MID 2")
	assert.Less(t, strings.Index(logs, "DCID 1 close"), strings.Index(logs, "New SMTP DCID 2"))
}

func TestDestinationConcurrencyLimitQueuesWithoutDeferring(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", p.addr)(c)
		c.Destinations.Domains = []config.DestPolicy{{Domain: "example.net", TLS: config.DestTLSNone, MaxConnections: 1}}
		c.Delivery.RetryInitial = config.Duration(time.Hour) // a deferral would stall the test
		c.Delivery.RetryMax = config.Duration(time.Hour)
	})
	h.run(t)
	start := time.Now()
	for range 8 {
		h.queue(t, "alice@sender.test", "bob@example.net")
	}
	if !assert.Eventually(t, func() bool { return len(p.received()) == 8 && h.spool.Count() == 0 }, 20*time.Second, 10*time.Millisecond) {
		t.Fatalf("%d of 8 delivered, %d queued; mail_logs:\n%s", len(p.received()), h.spool.Count(), h.logLines(t))
	}
	_, _, maxActive := p.counts()
	assert.Equal(t, 1, maxActive, "never more than the destination's one connection")
	// A waiting message is woken as soon as the connection is free, not by
	// a timer: eight messages over a loopback connection take milliseconds.
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.NotContains(t, h.logLines(t), "Delayed:", "waiting for a connection is not a deferral")
}

func TestSystemWideLimitClosesAnotherDestinationsIdleConnection(t *testing.T) {
	net1, org := startPeer(t, nil), startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", net1.addr)(c)
		route("example.org", org.addr)(c)
		c.Delivery.MaxConnections = 1
	})
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	h.deliverOne(t, net1)
	open, idle := h.d.OutboundConnections()
	require.Equal(t, [2]int{1, 1}, [2]int{open, idle})
	h.queue(t, "alice@sender.test", "carol@example.org")
	require.Eventually(t, func() bool { return len(org.received()) == 1 && h.spool.Count() == 0 }, 10*time.Second, 10*time.Millisecond)
	h.logContains(t, "DCID 1 close", "Message done DCID 2 MID 2", "Message finished MID 2 done")
	open, idle = h.d.OutboundConnections()
	assert.Equal(t, [2]int{1, 1}, [2]int{open, idle}, "still one connection in all: example.org's")
	assert.NotContains(t, h.logLines(t), "Delayed:")
}

func TestConnectionClosedAfterAnUnfinishedTransactionIsReplaced(t *testing.T) {
	p := startPeer(t, nil, func(s *smtp.Server) { s.ReadTimeout = time.Second })
	p.reject["nobody@example.net"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	h := newHarness(t, route("example.net", p.addr))
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	// Null sender: the rejection makes no bounce. The connection is parked
	// with a transaction to reset (RSET before the next MAIL).
	h.queue(t, "", "nobody@example.net")
	h.logContains(t, "Bounced: DCID 1 MID 1 to RID 0 - 5.1.1", "Message finished MID 1 done")
	require.Eventually(t, func() bool { _, active, _ := p.counts(); return active == 0 }, 5*time.Second, 10*time.Millisecond, "the peer dropped the idle connection")
	h.deliverOne(t, p)
	logs := h.logLines(t)
	assert.Contains(t, logs, "DCID 1 RSET failed: ", "the RSET found the connection gone")
	assert.Contains(t, logs, "Message done DCID 2 MID 2")
	assert.NotContains(t, logs, "Delayed:")
}

// debugLog is a go-smtp server's Debug writer: the whole conversation.
type debugLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *debugLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *debugLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestStoppingSaysQUITOnIdleConnections(t *testing.T) {
	var conversation debugLog
	p := startPeer(t, nil, func(s *smtp.Server) { s.Debug = &conversation })
	h := newHarness(t, route("example.net", p.addr))
	h.d.opts.IdleTimeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { h.d.Run(ctx); close(stopped) }()
	h.deliverOne(t, p)
	require.NotContains(t, conversation.String(), "QUIT")
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	assert.Contains(t, conversation.String(), "QUIT", "the idle connection was closed with QUIT before Run returned")
	assert.Contains(t, h.logLines(t), "DCID 1 close")
	open, idle := h.d.OutboundConnections()
	assert.Equal(t, [2]int{0, 0}, [2]int{open, idle})
}

func TestCommitDuringATransactionRetiresItsConnection(t *testing.T) {
	p := holdPeer(t)
	h := newHarness(t, route("example.net", p.addr))
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net")
	p.awaitData(t)
	// A commit while the message is on the wire: the transaction completes,
	// then the connection closes instead of waiting for the next message.
	h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}})
	p.answer()
	h.logContains(t, "Message done DCID 1 MID 1", "Message finished MID 1 done", "DCID 1 close")
	assert.Eventually(t, func() bool { open, idle := h.d.OutboundConnections(); return open == 0 && idle == 0 },
		5*time.Second, 10*time.Millisecond, "nothing kept under the old settings")
	h.deliverOne(t, p)
	assert.Contains(t, h.logLines(t), "Message done DCID 2 MID 2", "the next message gets a connection under the new settings")
}

// holdPeer starts a peer that keeps each message's final dot unanswered
// until the test releases it (at the end of the test at the latest).
func holdPeer(t *testing.T) *peer {
	p := startPeerWith(t, peerOptions{hold: true})
	t.Cleanup(p.answer)
	return p
}

// answer lets a holding peer answer every final dot from now on.
func (p *peer) answer() { p.releaseOnce.Do(func() { close(p.release) }) }

func (p *peer) awaitData(t *testing.T) {
	t.Helper()
	select {
	case <-p.inData:
	case <-time.After(10 * time.Second):
		t.Fatal("no message reached the peer")
	}
}

func TestWaitingAndDeferredMessagesKeepTheirBackoff(t *testing.T) {
	busy := holdPeer(t)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", busy.addr)(c)
		route("dead.test", "127.0.0.1:1")(c) // refuses connections
		c.Destinations.Domains = []config.DestPolicy{{Domain: "example.net", TLS: config.DestTLSNone, MaxConnections: 1}}
		c.Delivery.RetryInitial = config.Duration(time.Hour)
		c.Delivery.RetryMax = config.Duration(time.Hour)
	})
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net") // takes example.net's one connection and holds it
	busy.awaitData(t)
	// Each of these waits for example.net and fails at dead.test: deferred
	// for an hour, whatever example.net's room does meanwhile.
	h.queue(t, "alice@sender.test", "bob@example.net", "carl@dead.test")
	h.queue(t, "alice@sender.test", "bob@example.net", "carl@dead.test")
	h.logContains(t, "Delayed: MID 2", "Delayed: MID 3")
	busy.answer() // example.net's connection comes free: it must not wake the deferred messages
	h.logContains(t, "Message finished MID 1 done")
	time.Sleep(time.Second)
	logs := h.logLines(t)
	assert.Equal(t, 1, strings.Count(logs, "Delayed: MID 2 "), logs)
	assert.Equal(t, 1, strings.Count(logs, "Delayed: MID 3 "), logs)
}

func TestDestinationLimitDoesNotEvictOtherConnections(t *testing.T) {
	busy, org := holdPeer(t), startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", busy.addr)(c)
		route("example.org", org.addr)(c)
		c.Destinations.Domains = []config.DestPolicy{{Domain: "example.net", TLS: config.DestTLSNone, MaxConnections: 1}}
		c.Delivery.MaxConnections = 2
	})
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	h.queue(t, "alice@sender.test", "carol@example.org") // DCID 1 to example.org, then idle
	h.logContains(t, "Message done DCID 1 MID 1", "Message finished MID 1 done")
	h.queue(t, "alice@sender.test", "bob@example.net")
	busy.awaitData(t) // DCID 2 holds example.net's one connection
	h.queue(t, "alice@sender.test", "bob@example.net")
	time.Sleep(300 * time.Millisecond)
	assert.NotContains(t, h.logLines(t), "DCID 1 close", "example.org's idle connection cannot help example.net: it stays")
	open, idle := h.d.OutboundConnections()
	assert.Equal(t, [2]int{2, 1}, [2]int{open, idle})
	busy.answer()
	h.logContains(t, "Message done DCID 2 MID 2", "Message done DCID 2 MID 3")
}

func TestReusedConnectionRefusingAnotherMessageIsReplaced(t *testing.T) {
	p := startPeerWith(t, peerOptions{mailErrAfter: 1,
		mailErr: &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many messages in this session"}})
	h := newHarness(t, route("example.net", p.addr))
	h.d.opts.IdleTimeout = time.Minute
	h.run(t)
	h.deliverOne(t, p)
	h.deliverOne(t, p)
	logs := h.logLines(t)
	assert.Contains(t, logs, "Message done DCID 2 MID 2", "a new connection took the second message")
	assert.Contains(t, logs, "DCID 1 close")
	assert.NotContains(t, logs, "Delayed:")
}
