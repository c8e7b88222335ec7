package smtpclient

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendAsync starts c.Send(ctx, m) and returns where its outcome arrives.
func sendAsync(c *Conn, ctx context.Context, m Message) <-chan sendOutcome {
	out := make(chan sendOutcome, 1)
	go func() {
		res, err := c.Send(ctx, m)
		out <- sendOutcome{res, err}
	}()
	return out
}

type sendOutcome struct {
	res Result
	err error
}

func awaitDot(t *testing.T, arrived <-chan struct{}) {
	t.Helper()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the final dot never reached the peer")
	}
}

// A stop after the final dot reached the server waits for its reply: the
// server has the message, and so must the caller's records.
func TestStopAfterTheFinalDotWaitsForTheReply(t *testing.T) {
	arrived := make(chan struct{}, 1)
	p := startPeer(t, peerOpts{dotDelay: 700 * time.Millisecond, dotArrived: arrived})
	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var delivered []string
	out := sendAsync(c, ctx, Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n"),
		Delivered: func(r []string) { delivered = r }})
	awaitDot(t, arrived)
	cancel()
	o := <-out
	require.NoError(t, o.err, "the reply came within Timeouts.Stop")
	assert.Equal(t, one, rcpts(o.res.Delivered))
	assert.Equal(t, one, delivered, "Delivered was called: the caller records the recipients")
	assert.False(t, c.Usable(), "no further message after a stop")
	c.Close()
	require.Eventually(t, func() bool { return p.sessions()[0].quit }, 5*time.Second, 10*time.Millisecond, "then QUIT")
}

// Waiting for the reply after a stop is bounded by Timeouts.Stop, not by
// the data timeout; the error says the server may have the message.
func TestStopWaitForTheFinalReplyIsBounded(t *testing.T) {
	arrived := make(chan struct{}, 1)
	p := startPeer(t, peerOpts{dotSilent: true, dotArrived: arrived})
	to := fast
	to.Data, to.Stop = 20*time.Second, 400*time.Millisecond
	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: to})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	out := sendAsync(c, ctx, Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n")})
	awaitDot(t, arrived)
	start := time.Now()
	cancel()
	var o sendOutcome
	select {
	case o = <-out:
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return within the stop bound")
	}
	waited := time.Since(start)
	var e *Error
	require.ErrorAs(t, o.err, &e)
	assert.True(t, e.Temporary)
	assert.True(t, e.AfterDot, "the server may have the message: %v", o.err)
	assert.Equal(t, "data", e.Phase)
	assert.Contains(t, o.err.Error(), "stopping: no data reply within 400ms of the stop")
	assert.GreaterOrEqual(t, waited, 300*time.Millisecond, "the reply was waited for")
	assert.Less(t, waited, 3*time.Second, "but not for the data timeout")
	assert.Empty(t, o.res.Delivered)
	c.Close()
}

// A stop before the final dot cuts the connection at once: the server got
// no end of data, so it has nothing to deliver.
func TestStopBeforeTheFinalDotCuts(t *testing.T) {
	p := startPeer(t, peerOpts{})
	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	out := sendAsync(c, ctx, Message{From: "s@relaybox.test", To: one, Body: endless{}})
	require.Eventually(t, func() bool { return hasCmd(p.sessions()[0].cmds, "DATA") }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the body is on its way
	start := time.Now()
	cancel()
	o := <-out
	var e *Error
	require.ErrorAs(t, o.err, &e)
	assert.True(t, e.Temporary)
	assert.False(t, e.AfterDot, "no final dot was sent")
	assert.ErrorIs(t, o.err, context.Canceled)
	assert.Less(t, time.Since(start), time.Second)
	assert.False(t, c.Usable())
	c.Close()
	require.Eventually(t, func() bool { return len(p.sessions()) == 1 }, time.Second, 10*time.Millisecond)
	assert.Empty(t, p.sessions()[0].bodies, "the server received no complete message")
	assert.False(t, p.sessions()[0].quit, "a cut connection gets no QUIT")
}

// endless is a message body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "line\r\n"[i%6]
	}
	return len(p), nil
}
