package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tlsVersion is one protocol version with the names the clients use for it.
type tlsVersion struct {
	id      uint16
	name    string // subtest name, e.g. TLSv1.1
	menu    int    // sslconfig method menu item
	flag    string // openssl s_client option
	openssl string // what openssl -brief prints as "Protocol version:"
}

var tlsVersions = []tlsVersion{
	{tls.VersionTLS10, "TLSv1.0", 4, "-tls1", "TLSv1"},
	{tls.VersionTLS11, "TLSv1.1", 3, "-tls1_1", "TLSv1.1"},
	{tls.VersionTLS12, "TLSv1.2", 2, "-tls1_2", "TLSv1.2"},
	{tls.VersionTLS13, "TLSv1.3", 1, "-tls1_3", "TLSv1.3"},
}

func versionByID(t *testing.T, id uint16) tlsVersion {
	t.Helper()
	for _, v := range tlsVersions {
		if v.id == id {
			return v
		}
	}
	t.Fatalf("unknown TLS version 0x%04x", id)
	return tlsVersion{}
}

// tls13Suites are the only suites TLS 1.3 may negotiate, by Go and OpenSSL names.
var tls13Suites = map[uint16]string{
	tls.TLS_AES_128_GCM_SHA256:       "TLS_AES_128_GCM_SHA256",
	tls.TLS_AES_256_GCM_SHA384:       "TLS_AES_256_GCM_SHA384",
	tls.TLS_CHACHA20_POLY1305_SHA256: "TLS_CHACHA20_POLY1305_SHA256",
}

// clientTLS pins the client to exactly one version and, below TLS 1.3,
// offers every suite Go implements, the CBC-SHA ones TLS 1.0/1.1 need included.
func clientTLS(version uint16) *tls.Config {
	cfg := &tls.Config{
		MinVersion:         version,
		MaxVersion:         version,
		InsecureSkipVerify: true, // the Demo certificate is self-signed
		ServerName:         "probe.test",
	}
	if version < tls.VersionTLS13 {
		for _, s := range tls.CipherSuites() {
			cfg.CipherSuites = append(cfg.CipherSuites, s.ID)
		}
	}
	return cfg
}

// smtpConn is a line-level SMTP client, enough to drive a session by hand.
type smtpConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

// dialSMTP connects and reads the 220 greeting.
func dialSMTP(t *testing.T, address string) *smtpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", address, 5*time.Second)
	require.NoErrorf(t, err, "connecting to SMTP %s", address)
	t.Cleanup(func() { _ = conn.Close() })
	c := &smtpConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.expect(220)
	return c
}

// dialFrom connects to address from a chosen loopback source address and
// returns the connection with its greeting unread.
func dialFrom(t *testing.T, src, address string) *smtpConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", address)
	require.NoErrorf(t, err, "connecting to SMTP %s from %s", address, src)
	t.Cleanup(func() { _ = conn.Close() })
	return &smtpConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// reply reads one (possibly multi-line) reply and returns its code and text.
func (c *smtpConn) reply() (int, string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var text strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, text.String(), err
		}
		text.WriteString(line)
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			return 0, text.String(), fmt.Errorf("malformed SMTP reply line %q", line)
		}
		var code int
		if _, err := fmt.Sscanf(line[:3], "%d", &code); err != nil {
			return 0, text.String(), fmt.Errorf("malformed SMTP reply line %q", line)
		}
		if line[3] == ' ' {
			return code, text.String(), nil
		}
	}
}

func (c *smtpConn) expect(code int) string {
	c.t.Helper()
	got, text, err := c.reply()
	require.NoErrorf(c.t, err, "reading the SMTP reply (want %d); got so far %q", code, text)
	require.Equalf(c.t, code, got, "SMTP reply: %q", text)
	return text
}

func (c *smtpConn) send(line string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := fmt.Fprintf(c.conn, "%s\r\n", line)
	require.NoErrorf(c.t, err, "sending %q", line)
}

func (c *smtpConn) cmd(line string, code int) string {
	c.t.Helper()
	c.send(line)
	return c.expect(code)
}

// startTLS runs EHLO and STARTTLS and returns the handshake's outcome; the
// steps before the handshake must succeed. On success c speaks TLS.
func (c *smtpConn) startTLS(cfg *tls.Config) (tls.ConnectionState, error) {
	c.t.Helper()
	ehlo := c.cmd("EHLO probe.test", 250)
	require.Containsf(c.t, ehlo, "STARTTLS", "EHLO must offer STARTTLS: %q", ehlo)
	c.cmd("STARTTLS", 220)
	tc := tls.Client(c.conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	_ = tc.SetDeadline(time.Time{})
	c.conn, c.r = tc, bufio.NewReader(tc)
	return tc.ConnectionState(), nil
}

// sendMessage sends DATA, a small message and the final dot, expecting 250.
func (c *smtpConn) sendMessage(from, to string) {
	c.t.Helper()
	c.cmd("DATA", 354)
	c.send("From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: e2e\r\n\r\nhello from the end-to-end tests\r\n.")
	c.expect(250)
}

// goSMTPHandshake does STARTTLS on an SMTP listener with Go's client at
// exactly version; connection and SMTP steps must work, the handshake may fail.
func goSMTPHandshake(t *testing.T, address string, version uint16) (tls.ConnectionState, error) {
	t.Helper()
	c := dialSMTP(t, address)
	defer c.conn.Close()
	return c.startTLS(clientTLS(version))
}

// goHTTPSHandshake does a direct TLS handshake with Go's client at exactly version.
func goHTTPSHandshake(t *testing.T, address string, version uint16) (tls.ConnectionState, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", address, 5*time.Second)
	require.NoErrorf(t, err, "connecting to HTTPS %s", address)
	defer conn.Close()
	tc := tls.Client(conn, clientTLS(version))
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	return tc.ConnectionState(), nil
}

// opensslResult is what "openssl s_client -brief" reported.
type opensslResult struct {
	exit     int
	protocol string // the "Protocol version:" line's value
	cipher   string // the "Ciphersuite:" line's value
	output   string
}

// accepted applies the rule from testing-tools.md: exit 0 and the version asked for.
func (r opensslResult) accepted(v tlsVersion) bool {
	return r.exit == 0 && r.protocol == v.openssl
}

// tlsRefusalRE matches OpenSSL's reports of a handshake refused at the TLS
// level: the server's alert (it does not speak the client's version), or the
// client's own refusal of the lower version the server answered with.
var tlsRefusalRE = regexp.MustCompile(`alert protocol version|alert handshake failure|unsupported protocol`)

// refusedByTLS tells a TLS-level refusal from a connection problem.
func (r opensslResult) refusedByTLS() bool {
	return r.exit != 0 && tlsRefusalRE.MatchString(r.output)
}

// opensslProbe runs openssl s_client at exactly one version; smtp selects STARTTLS.
func opensslProbe(t *testing.T, address string, smtp bool, v tlsVersion) opensslResult {
	t.Helper()
	args := []string{"s_client", "-brief", "-connect", address}
	if smtp {
		args = append(args, "-starttls", "smtp", "-name", "probe.test")
	}
	args = append(args, v.flag)
	if v.id < tls.VersionTLS13 {
		// Without it OpenSSL 3 refuses TLS 1.0/1.1 itself (security level 2).
		args = append(args, "-cipher", "DEFAULT:@SECLEVEL=0")
	}
	return runOpenSSL(t, args, "")
}

// runOpenSSL runs openssl with input on stdin and parses its -brief summary.
func runOpenSSL(t *testing.T, args []string, input string) opensslResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, ctx.Err(), "openssl %s timed out:\n%s", strings.Join(args, " "), out)
	res := opensslResult{output: string(out)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.Truef(t, ok, "running openssl: %v", err)
		res.exit = ee.ExitCode()
	}
	for _, line := range strings.Split(res.output, "\n") {
		line = strings.TrimSpace(line)
		if p, ok := strings.CutPrefix(line, "Protocol version:"); ok {
			res.protocol = strings.TrimSpace(p)
		}
		if c, ok := strings.CutPrefix(line, "Ciphersuite:"); ok {
			res.cipher = strings.TrimSpace(c)
		}
	}
	return res
}
