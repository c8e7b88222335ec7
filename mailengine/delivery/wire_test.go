package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/mailengine/queue"
)

// A queued message with bare CRs and LFs and an over-long line reaches the
// peer clean, and the SIZE= on MAIL is what the peer then received.
func TestPeerGetsACleanMessageOfTheAnnouncedSize(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	long := strings.Repeat("x", 2500)
	body := "Subject: odd\n\nbare LF\nbare CR\rhello\r.\r\nRSET\r\n" + long + "\r\n.leading dot\n"
	h.queueEnv(t, queue.Envelope{From: "alice@sender.test", To: []string{"bob@example.net"}}, body)
	require.Eventually(t, func() bool { return len(p.received()) == 1 }, 10*time.Second, 20*time.Millisecond)
	_, data, _ := strings.Cut(p.received()[0], "|")

	assert.Equal(t, "Subject: odd\r\n\r\nbare LF\r\nbare CR\r\nhello\r\n.\r\nRSET\r\n"+long[:998]+"\r\n "+long[998:1995]+"\r\n "+long[1995:]+"\r\n.leading dot\r\n", data,
		"CRLF line ends only, long lines broken with CRLF SPACE (the peer un-stuffed the dots)")
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Len(t, p.mails, 1)
	assert.Equal(t, int64(len(data)), p.mails[0].Size, "SIZE= is the size the peer received (RFC 1870)")
}
