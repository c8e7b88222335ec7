package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDaemonLogs: relaybox serve copies mail_logs to its stdout (SPEC §1);
// a GUI client whose TLS handshake fails is recorded in DATA/logs/gui_logs,
// not printed raw on the daemon's stderr.
func TestDaemonLogs(t *testing.T) {
	requireOpenSSL(t)
	a := startAppliance(t, startOptions{})
	c := dialSMTP(t, addr(a.smtpPort))
	c.cmd("QUIT", 221)
	require.Eventually(t, func() bool {
		return regexp.MustCompile(`(?m)^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} Info: New SMTP ICID \d+ interface Management`).MatchString(a.stdout.String())
	}, 10*time.Second, 50*time.Millisecond, "stdout:\n%s", a.stdout)

	// TLS 1.0 only: the GUI allows 1.1-1.2 by default, so the handshake fails.
	out, _ := exec.Command("openssl", "s_client", "-connect", addr(a.httpsPort), "-tls1_3", "-brief").CombinedOutput()
	require.NotContains(t, string(out), "CONNECTION ESTABLISHED", "TLS 1.3 must be refused by the GUI's default methods")
	path := filepath.Join(a.dir, "logs", "gui_logs")
	var logs []byte
	require.Eventually(t, func() bool {
		logs, _ = os.ReadFile(path)
		return strings.Contains(string(logs), "Info: HTTPS TLS handshake failed from 127.0.0.1:")
	}, 10*time.Second, 50*time.Millisecond, "gui_logs:\n%s", logs)
	assert.NotContains(t, a.stderr.String(), "http: TLS handshake error")
}
