package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSMTPRoutesAllDevNullAndBrackets: on the real daemon, smtproutes ALL
// is the smarthost for every domain without its own route (into Postfix's
// smtp-sink), /dev/null discards, and [127.0.0.1]:port is a destination.
func TestSMTPRoutesAllDevNullAndBrackets(t *testing.T) {
	sinkPort, sinkDir := startSink(t)
	a := startAppliance(t, startOptions{domains: "e2e.test"})
	res := a.mustCommit(t, fmt.Sprintf("smtproutes new ALL 127.0.0.1:%d\nsmtproutes new trash.test /dev/null\nsmtproutes new bracket.test [127.0.0.1]:%d\nsmtproutes print\ncommit routes\n", sinkPort, sinkPort))
	assert.Contains(t, res.stdout, "trash.test => /dev/null")

	anywhere, trash, bracket := uniqueToken("all"), uniqueToken("trash"), uniqueToken("bracket")
	relay(t, a, "bob@anywhere.example", anywhere)
	relay(t, a, "bob@trash.test", trash)
	relay(t, a, "bob@bracket.test", bracket)
	require.Eventually(t, func() bool { return sinkHas(sinkDir, anywhere) && sinkHas(sinkDir, bracket) }, 15*time.Second, 50*time.Millisecond,
		"smtp-sink never got the messages:\n%s", a.cli(t, "tail mail_logs 40\n").stdout)
	require.Eventually(t, func() bool {
		return strings.Contains(a.cli(t, "workqueue status\n").stdout, "Messages in work queue:  0")
	}, 10*time.Second, 100*time.Millisecond)
	assert.False(t, sinkHas(sinkDir, trash), "/dev/null sends nothing")
	assert.Contains(t, a.cli(t, "grep -e \"discarded\" mail_logs\n").stdout, "discarded: smtproutes sends trash.test to /dev/null")
}
