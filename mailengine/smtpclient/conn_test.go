package smtpclient

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func verbs(cmds []string) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		v, _, _ := strings.Cut(c, " ")
		out[i] = strings.ToUpper(v)
	}
	return out
}

func TestConnCarriesSeveralMessages(t *testing.T) {
	p := startPeer(t, peerOpts{pipelining: true, startTLS: "ok", tls: serverTLS(t, caSigned, tls.VersionTLS12, tls.VersionTLS13)})
	c, res, err := Dial(context.Background(), Options{Addr: p.addr, Level: Required, Timeouts: fast})
	require.NoError(t, err)
	require.NotNil(t, res.TLS)
	var delivered [][]string
	for i, body := range []string{"first\n", "second\n", "third\n"} {
		r, err := c.Send(context.Background(), Message{From: "s@relaybox.test", To: one, Body: strings.NewReader(body),
			Delivered: func(rc []string) { delivered = append(delivered, rc) }})
		require.NoError(t, err, "message %d", i+1)
		assert.Equal(t, one, rcpts(r.Delivered))
		require.NotNil(t, r.TLS, "each result carries the connection's TLS state")
		assert.True(t, c.Usable())
	}
	assert.Equal(t, 3, c.Sent())
	c.Close()
	c.Close() // a second Close does nothing
	assert.False(t, c.Usable())
	_, err = c.Send(context.Background(), Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("late\n")})
	require.Error(t, err, "no Send after Close")

	sess := p.sessions()
	require.Len(t, sess, 1, "one connection for the three messages")
	assert.Equal(t, []string{"first\r\n", "second\r\n", "third\r\n"}, sess[0].bodies)
	assert.Equal(t, [][]string{one, one, one}, delivered)
	assert.Equal(t, []string{"EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA", "QUIT"}, verbs(sess[0].cmds),
		"no RSET between clean transactions, one handshake, QUIT once at the end")
}

func TestConnResetsAfterAnUnfinishedTransaction(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    peerOpts
		to   []string
	}{
		{"mail rejected", peerOpts{mailReply: "553 5.1.8 Sender address rejected"}, one},
		{"mail rejected, pipelined (the peer still answers DATA with 354)", peerOpts{pipelining: true, mailReply: "553 5.1.8 Sender address rejected"}, one},
		{"every recipient rejected", peerOpts{rcpt: map[string]string{"nobody@example.test": "550 5.1.1 User unknown"}}, []string{"nobody@example.test"}},
		{"every recipient rejected, pipelined", peerOpts{pipelining: true, rcpt: map[string]string{"nobody@example.test": "550 5.1.1 User unknown"}}, []string{"nobody@example.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, tc.o)
			c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: fast})
			require.NoError(t, err)
			defer c.Close()
			_, _ = c.Send(context.Background(), Message{From: "s@relaybox.test", To: tc.to, Body: strings.NewReader("x\n")})
			require.True(t, c.Usable(), "a refused transaction leaves the session usable")
			_, _ = c.Send(context.Background(), Message{From: "s@relaybox.test", To: tc.to, Body: strings.NewReader("y\n")})
			c.Close()
			got := verbs(p.sessions()[0].cmds)
			require.Contains(t, got, "RSET")
			assert.Equal(t, "MAIL", got[indexOf(got, "RSET")+1], "RSET comes right before the second MAIL")
			assert.Equal(t, 1, strings.Count(strings.Join(got, " "), "RSET"), "once: only before the second transaction")
		})
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestConnClosedByTheServerBetweenMessages(t *testing.T) {
	p := startPeer(t, peerOpts{pipelining: true, closeAfter: 1})
	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(context.Background(), Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n")})
	require.NoError(t, err)
	res, err := c.Send(context.Background(), Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("y\n")})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "mail", e.Phase)
	assert.Zero(t, e.Code, "no reply: the server had gone")
	assert.True(t, e.Temporary)
	assert.Empty(t, res.Delivered)
	assert.False(t, c.Usable())
	assert.Len(t, p.sessions()[0].bodies, 1, "the second message never reached the server")
}

func TestConnAfter421IsNotReused(t *testing.T) {
	p := startPeer(t, peerOpts{dataReply: "421 4.4.2 Closing"})
	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(context.Background(), Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n")})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 421, e.Code)
	assert.False(t, c.Usable(), "a server that said 421 is closing the connection")
}

func TestDialFailureClosesAndReports(t *testing.T) {
	p := startPeer(t, peer454(t))
	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Level: Required, Timeouts: fast})
	require.Error(t, err)
	assert.Nil(t, c)
	sess := p.sessions()
	require.Len(t, sess, 1)
	assert.Equal(t, "QUIT", verbs(sess[0].cmds)[len(sess[0].cmds)-1], "a required level that cannot be met ends with QUIT")
}

func TestContexts(t *testing.T) {
	p := startPeer(t, peerOpts{})
	dialCtx, cancelDial := context.WithCancel(context.Background())
	c, _, err := Dial(dialCtx, Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	defer c.Close()
	cancelDial() // the dial's context ends with the dial
	_, err = c.Send(context.Background(), Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n")})
	require.NoError(t, err, "a connection outlives its dial's context")
	require.True(t, c.Usable())

	sendCtx, cancelSend := context.WithCancel(context.Background())
	cancelSend()
	_, err = c.Send(sendCtx, Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("y\n")})
	require.ErrorIs(t, err, context.Canceled, "a send whose context has ended does not start")
	assert.True(t, c.Usable(), "nothing was sent: the connection is still good")
	assert.Len(t, p.sessions()[0].bodies, 1, "the second message did not go out")
}

func TestCancelRightAfterTheFinalDotKeepsTheOutcome(t *testing.T) {
	p := startPeer(t, peerOpts{})
	c, _, err := Dial(context.Background(), Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	res, err := c.Send(ctx, Message{From: "s@relaybox.test", To: one, Body: strings.NewReader("x\n"),
		Delivered: func([]string) { cancel(); time.Sleep(20 * time.Millisecond) }}) // the context's close runs now
	require.NoError(t, err, "the server said 250: delivered, whatever the context did afterwards")
	assert.Equal(t, one, rcpts(res.Delivered))
	assert.False(t, c.Usable(), "but the connection takes no further message")
}

func TestCloseSaysQUITAfterTheDialContextEnded(t *testing.T) {
	p := startPeer(t, peerOpts{})
	ctx, cancel := context.WithCancel(context.Background())
	c, _, err := Dial(ctx, Options{Addr: p.addr, Timeouts: fast})
	require.NoError(t, err)
	cancel() // as at shutdown: the delivery loop's context ends while the connection is idle
	c.Close()
	require.Eventually(t, func() bool {
		cmds := p.sessions()[0].cmds
		return len(cmds) > 0 && verbs(cmds)[len(cmds)-1] == "QUIT"
	}, 5*time.Second, 10*time.Millisecond, "an idle connection is closed politely")
}
