package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSIGTERMAnswersIdleSessionsAndFinishesMessages: a clean stop does not
// wait out idle sessions' timeouts (they get 421 at once), a message being
// received is finished and acknowledged, and the daemon exits 0 with the
// message in its queue.
func TestSIGTERMAnswersIdleSessionsAndFinishesMessages(t *testing.T) {
	a := startInbound(t)
	srv := addr(a.smtpPort)
	rcpt := "user@" + inboundDomain

	idle := dialSMTP(t, srv)
	idle.cmd("EHLO idle.test", 250)
	busy := dialSMTP(t, srv)
	busy.cmd("EHLO busy.test", 250)
	busy.cmd("MAIL FROM:<"+senderAddr+">", 250)
	busy.cmd("RCPT TO:<"+rcpt+">", 250)
	busy.cmd("DATA", 354)
	tok := uniqueToken("sigterm")
	msg := inboundMessage(rcpt, tok)
	busy.send(msg[:len(msg)/2]) // half the message is in when the stop comes

	begin := time.Now()
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	code, text, err := idle.reply()
	require.NoError(t, err)
	assert.Equalf(t, 421, code, "an idle session is told the service is going down: %q", text)
	assert.Contains(t, text, "4.3.2")
	assert.Less(t, time.Since(begin), 5*time.Second, "the stop does not wait for idle sessions to time out")

	busy.send(msg[len(msg)/2:] + ".")
	code, text, err = busy.reply()
	require.NoError(t, err)
	require.Equalf(t, 250, code, "the message being received is finished and acknowledged: %q", text)
	code, _, err = busy.reply()
	require.NoError(t, err)
	assert.Equal(t, 421, code, "then the session ends")

	select {
	case <-a.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("relaybox serve did not exit after SIGTERM\nstderr:\n%s", a.stderr)
	}
	t.Logf("exited %v after SIGTERM", time.Since(begin))
	assert.True(t, a.cmd.ProcessState.Success(), "exit status 0 after a clean stop: %v\nstderr:\n%s", a.cmd.ProcessState, a.stderr)
	assert.Less(t, time.Since(begin), 15*time.Second)
	assert.NotContains(t, a.stderr.String(), "context deadline exceeded")
	requireSpooledOnce(t, a.dir, tok)

	logs, err := os.ReadFile(a.dir + "/logs/mail_logs")
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(logs), "queued for delivery"), "the finished message is logged")
}
