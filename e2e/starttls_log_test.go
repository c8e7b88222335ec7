package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenSSLCheckIsLoggedAsSuccess: the check every admin runs,
// `openssl s_client -starttls smtp -connect … </dev/null`, completes the
// handshake and leaves; mail_logs says TLS success, never TLS failed.
func TestOpenSSLCheckIsLoggedAsSuccess(t *testing.T) {
	requireOpenSSL(t)
	a := startInbound(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-starttls", "smtp", "-connect", addr(a.smtpPort))
	cmd.Stdin = nil // /dev/null
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, err, "openssl:\n%s", out)
	require.Regexp(t, `(?m)^New, TLSv1\.[23], Cipher is `, string(out))

	logPath := filepath.Join(a.dir, "logs", "mail_logs")
	success := regexp.MustCompile(`Info: ICID \d+ TLS success protocol TLSv1\.[23] cipher [A-Z0-9_-]+`)
	var logs []byte
	require.Eventually(t, func() bool {
		logs, _ = os.ReadFile(logPath)
		return success.Match(logs) && regexp.MustCompile(`ICID \d+ close`).Match(logs)
	}, 10*time.Second, 50*time.Millisecond, "mail_logs:\n%s", logs)
	assert.NotContains(t, string(logs), "TLS failed")
}
