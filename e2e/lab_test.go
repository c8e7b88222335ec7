package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freePortOn returns a TCP port that was free on ip a moment ago (below the
// ephemeral range, as testnet.FreePort).
func freePortOn(t *testing.T, ip string) int {
	t.Helper()
	for range 1000 {
		p := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatalf("no free port on %s", ip)
	return 0
}

// labRun runs lab/lab.sh with args in env and returns its output and exit status.
func labRun(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot(t), "lab", "lab.sh"), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, ctx.Err(), "lab/lab.sh %s timed out:\n%s", strings.Join(args, " "), out)
	return string(out), exitCode(err)
}

// TestLab runs the lab of docs/lab.md as it is written (lab/lab.sh): swaks
// into a Postfix on 127.0.0.2, which relays through the box (its container)
// over TLS; the box delivers to a Postfix on 127.0.0.3 that requires TLS,
// under destconfig TLS Required. The message arrives in the receiver's
// Maildir; the box's mail_logs shows the DCID TLS success line and the
// receiver's log its TLS connection. When the receiver stops offering
// STARTTLS, the box keeps the next message queued instead of sending it in clear.
func TestLab(t *testing.T) {
	requireSwaks(t)
	requireOpenSSL(t)
	if os.Geteuid() != 0 {
		t.Fatal("the lab test runs two Postfix instances of its own and needs root (make test runs as root in CI)")
	}
	if _, err := exec.LookPath("postfix"); err != nil {
		t.Fatal("postfix is not installed: run make test-deps")
	}
	d := startDocker(t)
	d.buildImage(t, imageVersion)

	labDir, err := os.MkdirTemp("", "rb-lab-")
	require.NoError(t, err)
	require.NoError(t, os.Remove(labDir)) // lab.sh up makes it
	name := fmt.Sprintf("rb-lab-%d", os.Getpid())
	box := freePorts(t, 4)
	receiverPort := freePortOn(t, "127.0.0.3")
	env := append(d.env(), "DOCKER="+d.client, "LAB_DIR="+labDir, "LAB_NAME="+name, "LAB_IMAGE=relaybox:"+imageVersion,
		"LAB_BOX_SMTP_PORT="+strconv.Itoa(box[0]), "LAB_BOX_SUBMISSION_PORT="+strconv.Itoa(box[1]),
		"LAB_BOX_HTTPS_PORT="+strconv.Itoa(box[2]), "LAB_BOX_SSH_PORT="+strconv.Itoa(box[3]),
		"LAB_SENDER_PORT="+strconv.Itoa(freePortOn(t, "127.0.0.2")), "LAB_RECEIVER_PORT="+strconv.Itoa(receiverPort))
	t.Cleanup(func() {
		if out, code := labRun(t, env, "down"); code != 0 {
			t.Errorf("lab/lab.sh down: %d\n%s", code, out)
		}
		_, err := os.Stat(labDir)
		assert.True(t, os.IsNotExist(err), "lab/lab.sh down removes %s", labDir)
	})
	out, code := labRun(t, env, "up")
	require.Equalf(t, 0, code, "lab/lab.sh up:\n%s", out)

	token := uniqueToken("lab")
	out, code = labRun(t, env, "send", token)
	require.Equalf(t, 0, code, "lab/lab.sh send:\n%s", out)
	require.Contains(t, out, "<-  250 2.0.0 Ok: queued as ")

	// The message arrives in the receiver's Maildir, over TLS on both hops.
	inbox := filepath.Join(labDir, "receiver", "mail", "inbox", "new")
	var msg string
	require.Eventuallyf(t, func() bool {
		files, _ := filepath.Glob(filepath.Join(inbox, "*"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), token) {
				msg = string(b)
				return true
			}
		}
		return false
	}, 30*time.Second, 100*time.Millisecond, "the message reaches %s", inbox)
	assert.Regexp(t, `Received: from box\.lab\.test \(unknown \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.[23] with cipher \S+`, msg, "the receiver got it over TLS")
	assert.Regexp(t, `Received: from sender\.lab\.test \(unknown \[127\.0\.0\.2\]\)\n\tby box\.lab\.test \(Relaybox\) with ESMTPS \(TLSv1\.[23] `, msg, "the box got it over TLS from the sender")

	// The commands of docs/lab.md show TLS on every side.
	out, code = labRun(t, env, "tls")
	require.Equalf(t, 0, code, "lab/lab.sh tls:\n%s", out)
	assert.Regexp(t, `Info: DCID \d+ TLS success protocol TLSv1\.[23] cipher \S+`, out, "box mail_logs")
	assert.Regexp(t, `Info: Message done DCID \d+ MID \d+ to RID \[0\]`, out)
	assert.Regexp(t, `Info: ICID \d+ TLS success protocol TLSv1\.[23] cipher \S+`, out, "the sender's hop, inbound at the box")
	assert.Regexp(t, `postfix/smtpd\[\d+\]: Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.[23] with cipher`, out, "receiver log")
	assert.Regexp(t, `postfix/virtual\[\d+\]: \w+: to=<bob@receiver\.lab\.test>, relay=virtual, .*status=sent \(delivered to maildir\)`, out)
	assert.Regexp(t, `postfix/smtp\[\d+\]: \w+ TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:`+strconv.Itoa(box[1]), out, "sender log")

	// Required TLS is a policy the box keeps: without STARTTLS at the
	// receiver the next message is deferred, not sent in clear.
	out, code = labRun(t, env, "receiver-tls", "off")
	require.Equalf(t, 0, code, "lab/lab.sh receiver-tls off:\n%s", out)
	// postfix reload is asynchronous: wait until a new session is offered no STARTTLS.
	require.Eventually(t, func() bool { return !offersSTARTTLS(t, net.JoinHostPort("127.0.0.3", strconv.Itoa(receiverPort))) },
		30*time.Second, 200*time.Millisecond, "the receiver stops offering STARTTLS after its reload")
	// A connection the box keeps open from the first delivery is still TLS and
	// would carry the next message: wait until delivery has closed it.
	require.Eventually(t, func() bool {
		out, _, _ := boxCLI(d, name, "grep -e \"DCID 1 close\" mail_logs\n")
		return strings.Contains(out, "Info: DCID 1 close")
	}, 60*time.Second, 200*time.Millisecond, "the box closes its idle connection to the receiver")
	clear := uniqueToken("lab-clear")
	out, code = labRun(t, env, "send", clear)
	require.Equalf(t, 0, code, "lab/lab.sh send:\n%s", out)
	deferred := regexp.MustCompile(`DCID \d+ TLS was required but remote host did not initiate it`)
	if !assert.Eventually(t, func() bool {
		out, _, _ := boxCLI(d, name, "grep -e \"TLS was required\" mail_logs\n")
		return deferred.MatchString(out)
	}, 30*time.Second, 200*time.Millisecond, "the box defers the message") {
		logs, _, _ := boxCLI(d, name, "tail mail_logs 40\n")
		sender, _ := labRun(t, env, "status")
		t.Fatalf("box mail_logs:\n%s\nlab status:\n%s", logs, sender)
	}
	out, code = labRun(t, env, "status")
	require.Equalf(t, 0, code, "lab/lab.sh status:\n%s", out)
	assert.Regexp(t, `Messages in work queue:\s+1\n`, out)
	files, _ := filepath.Glob(filepath.Join(inbox, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		assert.NotContains(t, string(b), clear, "nothing reaches the receiver in clear")
	}
}

// offersSTARTTLS reports whether the SMTP server at addr lists STARTTLS in
// its EHLO reply (false when it cannot be reached).
func offersSTARTTLS(t *testing.T, addr string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	sc, err := smtp.NewClient(c, "127.0.0.3")
	if err != nil {
		c.Close()
		return false
	}
	defer sc.Close()
	if err := sc.Hello("probe.lab.test"); err != nil {
		return false
	}
	ok, _ := sc.Extension("STARTTLS")
	_ = sc.Quit()
	return ok
}
