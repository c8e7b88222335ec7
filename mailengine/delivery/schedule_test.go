package delivery

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine/queue"
)

// listCounting is the real spool, counting how often the queue is listed.
type listCounting struct {
	*queue.Spool
	lists atomic.Int64
}

func (s *listCounting) IDs() ([]queue.MID, error) {
	s.lists.Add(1)
	return s.Spool.IDs()
}

// A backlog of deferred mail is listed about once a second, not once per
// new message: messages the engine announces with Queued, and the attempts
// that end, are scheduled without walking the whole queue.
func TestBacklogIsNotListedPerMessage(t *testing.T) {
	p := startPeer(t, nil)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := closed.Addr().String()
	require.NoError(t, closed.Close()) // connection refused: deferred
	h := newHarness(t, func(c *config.Config) {
		route("example.net", p.addr)(c)
		route("down.test", down)(c)
		c.Delivery.RetryInitial = config.Duration(time.Hour)
		c.Delivery.RetryMax = config.Duration(time.Hour)
	})
	spool := &listCounting{Spool: h.spool}
	h.d = h.deliverer(spool, filepath.Join(t.TempDir(), "delivery"))

	const backlog, fresh = 300, 100
	put := func(to string) queue.MID {
		mid, _, err := h.spool.Put(context.Background(), queue.Envelope{From: "a@sender.test", To: []string{to}, Received: time.Now()},
			strings.NewReader("Subject: s\r\n\r\nbody\r\n"), 0)
		require.NoError(t, err)
		return mid
	}
	for range backlog {
		put("x@down.test")
	}
	h.run(t)
	h.logContains(t, fmt.Sprintf("Delayed: MID %d to RID [0]", backlog))

	before, start := spool.lists.Load(), time.Now()
	for range fresh {
		h.d.Queued(put("bob@example.net"))
	}
	require.Eventually(t, func() bool { return len(p.received()) == fresh }, 20*time.Second, 10*time.Millisecond)
	lists := spool.lists.Load() - before
	ticks := int64(time.Since(start)/time.Second) + 2
	t.Logf("%d new messages delivered in %v beside %d deferred: the queue was listed %d times", fresh, time.Since(start).Round(time.Millisecond), backlog, lists)
	assert.LessOrEqual(t, lists, ticks, "listed about once a second (the retry tick), not per message")
	require.Eventually(t, func() bool { return h.spool.Count() == backlog }, 5*time.Second, 10*time.Millisecond,
		"the deferred messages stay queued, the fresh ones are gone")
}
