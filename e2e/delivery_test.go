package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startSink runs Postfix's smtp-sink on a free port, dumping each message
// into a file under the returned directory.
func startSink(t *testing.T) (port int, dir string) {
	t.Helper()
	if _, err := exec.LookPath("smtp-sink"); err != nil {
		t.Fatal("smtp-sink (Debian package postfix) is not installed: run make test-deps")
	}
	// smtp-sink runs as the postfix user, which cannot enter t.TempDir()'s
	// owner-only parent: use a directory of its own directly under the temp dir.
	dir, err := os.MkdirTemp("", "relaybox-sink-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	port = freePorts(t, 1)[0]
	cmd := exec.Command("smtp-sink", "-u", "postfix", "-d", dir+"/%M.", fmt.Sprintf("127.0.0.1:%d", port), "64")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "smtp-sink did not start")
	return port, dir
}

// sinkHas reports whether a dumped message contains token.
func sinkHas(dir, token string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), token) {
			return true
		}
	}
	return false
}

// relay submits a message through the private OutgoingMail listener.
func relay(t *testing.T, a *appliance, to, token string) {
	t.Helper()
	c := dialSMTP(t, addr(a.submissionPort))
	c.cmd("EHLO app.e2e.test", 250)
	c.cmd("MAIL FROM:<app@e2e.test>", 250)
	c.cmd("RCPT TO:<"+to+">", 250)
	c.cmd("DATA", 354)
	c.cmd("Subject: outbound "+token+"\r\n\r\nbody "+token+"\r\n.", 250)
	c.cmd("QUIT", 221)
}

func TestDeliveryIntoPostfixSmtpSink(t *testing.T) {
	sinkPort, sinkDir := startSink(t)
	a := startAppliance(t, startOptions{domains: "e2e.test"})
	a.mustCommit(t, fmt.Sprintf("smtproutes new example.net 127.0.0.1:%d\ncommit route to smtp-sink\n", sinkPort))
	token := uniqueToken("sink")
	relay(t, a, "bob@example.net", token)
	require.Eventually(t, func() bool { return sinkHas(sinkDir, token) }, 15*time.Second, 50*time.Millisecond, "smtp-sink never got the message")
	require.Eventually(t, func() bool {
		return strings.Contains(a.cli(t, "workqueue status\n").stdout, "Messages in work queue:  0")
	}, 10*time.Second, 100*time.Millisecond, "the queue empties once the peer said 250")
	logs := a.cli(t, "tail mail_logs 100\n").stdout
	for _, want := range []string{
		fmt.Sprintf("address 127.0.0.1 port %d", sinkPort),
		"Delivery start DCID", "Message done DCID", "close", "Message finished MID",
	} {
		assert.Contains(t, logs, want)
	}
	assert.Regexp(t, `Info: New SMTP DCID \d+ interface 127\.0\.0\.1 address 127\.0\.0\.1 port \d+`, logs)
}

// tls12Peer is a Go SMTP server that only speaks TLS 1.2 after STARTTLS.
func tls12Peer(t *testing.T) (port int, received func() int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peer.e2e.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	count := make(chan struct{}, 100)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &countSession{count: count}, nil }))
	srv.Domain = "peer.e2e.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}
	port = freePorts(t, 1)[0]
	ln, err := net.Listen("tcp", addr(port))
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return port, func() int { return len(count) }
}

type countSession struct{ count chan struct{} }

func (s *countSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *countSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *countSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.count <- struct{}{}
	return err
}
func (s *countSession) Reset()        {}
func (s *countSession) Logout() error { return nil }

func TestOutboundTLSVersionMismatchDefers(t *testing.T) {
	port, received := tls12Peer(t)
	a := startAppliance(t, startOptions{domains: "e2e.test"})
	a.mustCommit(t, fmt.Sprintf("smtproutes new example.net 127.0.0.1:%d\ndestconfig new example.net tls=required\nsslconfig outbound methods 1\ncommit TLS 1.3 only outbound\n", port))
	relay(t, a, "bob@example.net", uniqueToken("mismatch"))
	require.Eventually(t, func() bool {
		return strings.Contains(a.cli(t, "grep -e \"TLS deferring\" mail_logs\n").stdout, "TLS version mismatch could be the failure reason")
	}, 15*time.Second, 100*time.Millisecond)
	assert.Zero(t, received(), "nothing is delivered")
	res := a.cli(t, "tlsverify example.net\n")
	assert.Equal(t, 1, res.code, "tlsverify reports the failure")
	assert.Contains(t, res.stdout, "TLS level for example.net: Required (from its destination controls entry example.net)")
	assert.Contains(t, res.stdout, "TLS failed:")
	assert.Contains(t, res.stderr, "no host of example.net would take mail under its TLS policy")
	assert.Contains(t, a.cli(t, "workqueue status\n").stdout, "Messages in work queue:  1", "the message stays queued for retry")

	// Allowing TLS 1.2 outbound delivers it at once (a commit retries deferred
	// mail), over TLS 1.2.
	a.mustCommit(t, "sslconfig outbound methods 1-2\ncommit allow TLS 1.2\n")
	require.Eventually(t, func() bool { return received() == 1 }, 15*time.Second, 100*time.Millisecond)
	res = a.cli(t, "tlsverify example.net\n")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "Negotiated TLSv1.2 with ECDHE-ECDSA-")
	assert.Contains(t, res.stdout, "Verification: not checked at this level")
	assert.Contains(t, res.stdout, "would proceed over TLSv1.2")
	assert.Equal(t, 1, received(), "tlsverify sends no mail")
	assert.Contains(t, a.cli(t, "grep -e \"DCID.*TLS success\" mail_logs\n").stdout, "TLS success protocol TLSv1.2 cipher ECDHE-ECDSA-")
}
