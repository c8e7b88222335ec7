package delivery

import (
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stop right after the final dot reached the peer lets the peer's reply
// come (here 1 s later): the message is recorded delivered, the connection
// says QUIT, and a restart does not send it again.
func TestStopWaitsForTheReplyToTheFinalDot(t *testing.T) {
	var conversation debugLog
	p := startPeerWith(t, peerOptions{hold: true, edits: []func(*smtp.Server){func(s *smtp.Server) { s.Debug = &conversation }}})
	t.Cleanup(p.answer)
	h := newHarness(t, route("example.net", p.addr))
	r := start(t, h.d)
	h.queue(t, "alice@sender.test", "bob@example.net")
	p.awaitData(t) // the final dot is at the peer
	time.AfterFunc(time.Second, p.answer)
	took := r.stop(t, 10*time.Second)

	assert.GreaterOrEqual(t, took, 900*time.Millisecond, "Run waited for the reply")
	assert.Zero(t, h.spool.Count(), "recorded delivered: gone from the queue")
	assert.Len(t, p.received(), 1)
	logs := h.logLines(t)
	assert.Contains(t, logs, "Message done DCID 1 MID 1 to RID [0]")
	assert.Contains(t, logs, "Message finished MID 1 done")
	assert.Contains(t, logs, "DCID 1 close")
	assert.Contains(t, conversation.String(), "QUIT", "the connection said QUIT")

	r2 := start(t, h.restarted())
	time.Sleep(500 * time.Millisecond)
	r2.stop(t, 10*time.Second)
	assert.Len(t, p.received(), 1, "not sent again after the restart")
}

// A peer that never answers the final dot does not hold the stop longer
// than Timeouts.Stop; the message stays queued and the log says it may be
// a duplicate when sent again.
func TestStopWithoutAReplyToTheFinalDotIsBounded(t *testing.T) {
	p := holdPeer(t) // answers at the end of the test only
	h := newHarness(t, route("example.net", p.addr))
	h.d.opts.Timeouts.Data = 30 * time.Second
	h.d.opts.Timeouts.Stop = time.Second
	r := start(t, h.d)
	h.queue(t, "alice@sender.test", "bob@example.net")
	p.awaitData(t)
	took := r.stop(t, 5*time.Second)

	assert.GreaterOrEqual(t, took, 900*time.Millisecond, "the reply was waited for")
	assert.Less(t, took, 3*time.Second, "for Timeouts.Stop, not the data timeout")
	assert.Equal(t, 1, h.spool.Count(), "still queued")
	logs := h.logLines(t)
	assert.Contains(t, logs, "stopping: no data reply within 1s of the stop")
	assert.Contains(t, logs, "Warning: MID 1 DCID 1 got no reply to the final dot; the message stays queued and is sent again, so the peer may get it twice")
	assert.NotContains(t, logs, "Bounced:")
}

// A transaction that has not reached its final dot is cut at once by a
// stop: nothing of it was accepted, the message stays queued, and the next
// start delivers it.
func TestStopBeforeTheFinalDotCutsAndTheMessageGoesLater(t *testing.T) {
	p := startPeer(t, nil)
	stalled, unstall := make(chan struct{}, 1), make(chan struct{})
	p.mu.Lock()
	p.stallRcpt, p.unstall = stalled, unstall
	p.mu.Unlock()
	t.Cleanup(func() { close(unstall) })
	h := newHarness(t, route("example.net", p.addr))
	r := start(t, h.d)
	h.queue(t, "alice@sender.test", "bob@example.net")
	select {
	case <-stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("no RCPT reached the peer")
	}
	took := r.stop(t, 5*time.Second)
	assert.Less(t, took, time.Second, "cut at once: the peer has no message to answer for")
	assert.Equal(t, 1, h.spool.Count(), "not lost")
	assert.NotContains(t, h.logLines(t), "Bounced:")

	r2 := start(t, h.restarted())
	require.Eventually(t, func() bool { return h.spool.Count() == 0 }, 10*time.Second, 20*time.Millisecond)
	r2.stop(t, 10*time.Second)
	assert.Len(t, p.received(), 1, "delivered once, after the restart")
}
