package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine/queue"
)

// headerStamper adds one header line and records what it was given.
type headerStamper struct {
	mu     sync.Mutex
	calls  map[queue.MID]int
	bodies []string
	delay  time.Duration
}

func (s *headerStamper) Stamp(_ context.Context, mid queue.MID, body io.Reader) []byte {
	b, _ := io.ReadAll(body)
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[mid]++
	s.bodies = append(s.bodies, string(b))
	return []byte("X-Relaybox-URL-Reputation: 6.0; urls=1\r\n")
}

func (s *headerStamper) count(mid queue.MID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[mid]
}

// TestStampedHeaderGoesWithEveryCopy: the stamper sees each message once,
// before its first attempt, and its header goes to every destination (also
// on a retry) with a SIZE= that counts it; bounces are not stamped.
func TestStampedHeaderGoesWithEveryCopy(t *testing.T) {
	a, b := startPeer(t, nil), startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("a.test", a.addr)(c)
		route("b.test", b.addr)(c)
		route("gone.test", "127.0.0.1:1")(c) // refused: retried until it expires
	})
	st := &headerStamper{calls: map[queue.MID]int{}}
	h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{RootCAs: x509.NewCertPool()}, Stamp: st})
	h.run(t)
	mid := h.queue(t, "alice@sender.test", "bob@a.test", "carol@b.test", "dave@gone.test")
	const body = "Subject: test\r\nMessage-ID: <m@x>\r\n\r\nhello\r\n"
	const stamped = "X-Relaybox-URL-Reputation: 6.0; urls=1\r\n" + body
	require.Eventually(t, func() bool { return len(a.received()) == 1 && len(b.received()) == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"bob@a.test|" + stamped}, a.received())
	assert.Equal(t, []string{"carol@b.test|" + stamped}, b.received())
	a.mu.Lock()
	assert.Equal(t, int64(len(stamped)), a.mails[0].Size, "SIZE= counts the added header")
	a.mu.Unlock()
	h.logContains(t, "Delayed: MID")
	require.Eventually(t, func() bool { return strings.Count(h.logLines(t), "Delayed: MID") >= 2 }, 10*time.Second, 50*time.Millisecond, "dave is retried")
	assert.Equal(t, 1, st.count(mid), "one look per queued message, not per attempt")
	st.mu.Lock()
	assert.Equal(t, body, st.bodies[0], "the stamper reads the message as queued")
	st.mu.Unlock()
	bounce := h.queueEnv(t, queue.Envelope{From: "", To: []string{"bob@a.test"}, Listener: "bounce"}, body)
	require.Eventually(t, func() bool { return len(a.received()) == 2 }, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, 0, st.count(bounce), "bounces are not looked at")
	assert.False(t, strings.HasPrefix(strings.TrimPrefix(a.received()[1], "bob@a.test|"), "X-Relaybox"))
}

// TestSlowStamperDelaysOnlyDelivery: acceptance (Put) does not wait for
// the stamper; delivery starts after it.
func TestSlowStamperDelaysOnlyDelivery(t *testing.T) {
	a := startPeer(t, nil)
	h := newHarness(t, route("a.test", a.addr))
	st := &headerStamper{calls: map[queue.MID]int{}, delay: 500 * time.Millisecond}
	h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{RootCAs: x509.NewCertPool()}, Stamp: st})
	h.run(t)
	begin := time.Now()
	h.queue(t, "alice@sender.test", "bob@a.test")
	assert.Less(t, time.Since(begin), 400*time.Millisecond, "queueing does not wait for the stamper")
	require.Eventually(t, func() bool { return len(a.received()) == 1 }, 10*time.Second, 20*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(begin), 500*time.Millisecond)
}
