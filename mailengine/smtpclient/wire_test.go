package smtpclient

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wireSize is what a caller puts in Message.Size: the DotWriter's count.
func wireSize(t *testing.T, body string) int64 {
	w := NewDotWriter(io.Discard)
	_, err := io.WriteString(w, body)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return w.Size()
}

// What a peer receives is clean, whatever the message holds: a peer that
// takes a bare CR or LF as a line end sees the same lines and the same end
// of data as a strict one.
func TestWhatGoesOnTheWireIsClean(t *testing.T) {
	long := strings.Repeat("0123456789", 250) // 2,500 octets
	body := "Subject: smuggling\r\n\r\n" +
		"hello\r.\r\nMAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n" + // <CR>.<CR><LF>
		"again\n.\nRSET\n" + // <LF>.<LF>
		"a bare\rCR\n" +
		".leading dot\r\n" +
		long + "\r\n" +
		"no final line end"
	p := startPeer(t, peerOpts{size: 1 << 20, pipelining: true})
	size := wireSize(t, body)
	res, err := Deliver(context.Background(), Options{Addr: p.addr, Timeouts: fast},
		Message{From: "s@relaybox.test", To: one, Body: strings.NewReader(body), Size: size})
	require.NoError(t, err)
	require.Len(t, res.Delivered, 1)

	s := p.sessions()[0]
	raw := string(s.raw)
	require.NoError(t, checkWire(raw), "raw DATA: %q", raw)
	assert.Equal(t, 1, bytes.Count(s.raw, []byte("\r\n.\r\n")), "one end of data: the final one")
	assert.NotContains(t, raw, "\r.\r", "no <CR>.<CR> a lenient peer could take for the end")
	assert.Len(t, s.bodies, 1, "one message")
	for _, l := range s.rawBody {
		assert.LessOrEqual(t, len(l), MaxLineLength)
	}
	assert.Contains(t, s.rawBody, long[:998])
	assert.Contains(t, s.rawBody, " "+long[998:1995], "a long line goes on after CRLF SPACE")
	assert.Equal(t, strings.ReplaceAll(normalise(body), "\r\n ", ""), strings.ReplaceAll(s.body, "\r\n ", ""),
		"the peer gets the message back once the inserted CRLF SPACE are taken out")
	assert.Contains(t, s.cmds, "MAIL FROM:<s@relaybox.test> SIZE="+strconv.FormatInt(size, 10))
	assert.Equal(t, int64(len(s.body)), size, "SIZE= is what the peer received, as RFC 1870 counts it (no stuffing, no final dot)")
}
