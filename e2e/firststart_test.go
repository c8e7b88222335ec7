package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFirstStartNotices: the first start says what the box listens on and
// that the public listener takes no domain yet; a later start given other
// first-start flags says each was ignored and what changes it instead.
func TestFirstStartNotices(t *testing.T) {
	a := startAppliance(t, startOptions{})
	out := a.stdout.String()
	assert.Contains(t, out, fmt.Sprintf("First start: SMTP IncomingMail on 127.0.0.1:%d: public, accepts mail for no domain yet (every RCPT gets 550): add yours with \"listenerconfig edit IncomingMail domains example.com\" and commit, or start with --domains", a.smtpPort))
	assert.Contains(t, out, fmt.Sprintf("First start: SMTP OutgoingMail on 127.0.0.1:%d: private, relays for 127.0.0.0/8, ::1/128", a.submissionPort))
	assert.Contains(t, out, fmt.Sprintf("First start: GUI https://127.0.0.1:%d/ (interface Management)", a.httpsPort))
	assert.Contains(t, out, fmt.Sprintf("First start: SSH ssh -p %d admin@127.0.0.1 (interface Management)", a.sshPort))

	a.term(t)
	old := a.smtpPort
	a.smtpPort = freePorts(t, 1)[0]
	a.start(t)
	// stderr is copied by its own goroutine: it may trail the ready line on stdout.
	want := fmt.Sprintf("relaybox: --smtp-port %d (RELAYBOX_SMTP_PORT) was ignored", a.smtpPort)
	require.Eventually(t, func() bool { return strings.Contains(a.stderr.String(), want) }, 5*time.Second, 20*time.Millisecond, "stderr:\n%s", a.stderr)
	errs := a.stderr.String()
	assert.Contains(t, errs, fmt.Sprintf("relaybox: --smtp-port %d (RELAYBOX_SMTP_PORT) was ignored: it is a first-start setting and the data directory already has configuration version 1; move the listener with \"listenerconfig edit IncomingMail port %d\" and commit", a.smtpPort, a.smtpPort))
	assert.NotContains(t, a.stdout.String(), "First start:")
	c := dialSMTP(t, addr(old))
	c.cmd("QUIT", 221)
	assert.True(t, strings.Contains(errs, "--hostname relaybox.e2e.test (RELAYBOX_HOSTNAME) was ignored"), errs)
}
