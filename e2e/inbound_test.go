package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/mailengine/queue"
)

// The inbound tests start the appliance with --domains e2e.test, so the
// public IncomingMail listener accepts mail for e2e.test and nothing else;
// OutgoingMail is the private listener that relays for 127.0.0.0/8.
const (
	inboundDomain = "e2e.test"
	senderAddr    = "sender@client.test"
)

// startInbound starts an appliance for the inbound tests with TLS 1.2 and
// 1.3 enabled on the SMTP listeners, so STARTTLS negotiates TLS 1.3.
func startInbound(t *testing.T) *appliance {
	t.Helper()
	a := startAppliance(t, startOptions{domains: inboundDomain})
	a.mustCommit(t, "sslconfig inbound methods 1-2\ncommit inbound TLS 1.2 and 1.3\n")
	return a
}

// uniqueToken names one message so the test can find it in the spool.
func uniqueToken(what string) string {
	return fmt.Sprintf("tok-%s-%d", what, time.Now().UnixNano())
}

// requireSwaks fails (never skips) when swaks is missing.
func requireSwaks(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Fatalf("swaks is not on PATH (%v): the end-to-end tests need the real client; run `make test-deps`", err)
	}
}

type swaksResult struct {
	exit int
	out  string // the transcript, stdout and stderr
}

// runSwaks runs swaks against address with a small message whose body is token.
func runSwaks(t *testing.T, address, to, token string, extra ...string) swaksResult {
	t.Helper()
	args := []string{"--server", address, "--from", senderAddr, "--to", to, "--helo", "client.test",
		"--timeout", "10", "--body", "body " + token, "--h-X-Token", token}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "swaks", args...).CombinedOutput()
	require.NoErrorf(t, ctx.Err(), "swaks %s timed out:\n%s", strings.Join(args, " "), out)
	res := swaksResult{out: string(out)}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.Truef(t, ok, "running swaks: %v", err)
		res.exit = ee.ExitCode()
	}
	return res
}

// swaksQueuedRE matches the 250 swaks got for its message, in clear (<-) or over TLS (<~).
var swaksQueuedRE = regexp.MustCompile(`(?m)^<[-~] +250 2\.0\.0 ok:  Message \d+ accepted`)

// spoolFile is one spooled message as queue.Inspect reads it from
// DATA/queue: its envelope header and the raw message.
type spoolFile struct {
	path   string
	header struct {
		MID      uint64
		From     string
		To       []string
		Listener string
		TLS      string
	}
	body string
}

// readSpool reads every message in the appliance's spool. It is safe while
// the daemon runs: queue.Inspect takes no lock and reads only whole records
// and files that were renamed into place.
func readSpool(t *testing.T, dataDir string) []spoolFile {
	t.Helper()
	stored, err := queue.Inspect(filepath.Join(dataDir, "queue"))
	require.NoError(t, err)
	files := make([]spoolFile, 0, len(stored))
	for _, m := range stored {
		f := spoolFile{path: m.Path, body: string(m.Body)}
		f.header.MID, f.header.From, f.header.To = uint64(m.MID), m.Envelope.From, m.Envelope.To
		f.header.Listener, f.header.TLS = m.Envelope.Listener, m.Envelope.TLS
		files = append(files, f)
	}
	return files
}

// spooledWith returns the spooled messages whose body contains token.
func spooledWith(t *testing.T, dataDir, token string) []spoolFile {
	t.Helper()
	var out []spoolFile
	for _, f := range readSpool(t, dataDir) {
		if strings.Contains(f.body, token) {
			out = append(out, f)
		}
	}
	return out
}

// requireSpooledOnce asserts token is in exactly one spooled message and returns it.
func requireSpooledOnce(t *testing.T, dataDir, token string) spoolFile {
	t.Helper()
	got := spooledWith(t, dataDir, token)
	require.Lenf(t, got, 1, "the message %s must be in DATA/queue/msg exactly once", token)
	return got[0]
}

func requireNotSpooled(t *testing.T, dataDir, token string) {
	t.Helper()
	got := spooledWith(t, dataDir, token)
	require.Emptyf(t, got, "the refused message %s must not be queued", token)
}

// dialRaw connects without expecting a greeting: the caller reads the first reply.
func dialRaw(t *testing.T, address string) *smtpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", address, 5*time.Second)
	require.NoErrorf(t, err, "connecting to SMTP %s", address)
	t.Cleanup(func() { _ = conn.Close() })
	return &smtpConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// inboundMessage is a small RFC 5322 message carrying token, CRLF line ends, no final dot.
func inboundMessage(to, token string) string {
	return "From: <" + senderAddr + ">\r\nTo: <" + to + ">\r\nSubject: e2e " + token + "\r\nX-Token: " + token +
		"\r\n\r\nbody " + token + "\r\n"
}

// sizedMessage is inboundMessage(to, token) padded with short lines to exactly size bytes.
func sizedMessage(to, token string, size int) string {
	msg := inboundMessage(to, token)
	for size-len(msg) > 80 {
		msg += strings.Repeat("z", 78) + "\r\n"
	}
	return msg + strings.Repeat("w", size-len(msg)-2) + "\r\n"
}

// opensslSMTP runs "openssl s_client -starttls smtp" with input on stdin; with
// -ign_eof it sends the whole input and ends when the server closes.
func opensslSMTP(t *testing.T, address, input string, extra ...string) opensslResult {
	t.Helper()
	args := append([]string{"s_client", "-brief", "-connect", address, "-starttls", "smtp", "-name", "probe.test", "-ign_eof"}, extra...)
	return runOpenSSL(t, args, input)
}

// insideSession is what opensslSMTP sends once TLS is up: an EHLO whose
// answer can only come from inside the TLS session, then QUIT.
const insideSession = "EHLO inside.probe\r\nQUIT\r\n"

// requireOpenSSLSession asserts openssl completed STARTTLS with TLS 1.3 and
// held an SMTP session over it.
func requireOpenSSLSession(t *testing.T, res opensslResult, what string) {
	t.Helper()
	require.Equalf(t, 0, res.exit, "%s: openssl must succeed:\n%s", what, res.output)
	require.Equalf(t, "TLSv1.3", res.protocol, "%s: negotiated protocol:\n%s", what, res.output)
	require.Truef(t, strings.HasPrefix(res.cipher, "TLS_"), "%s: cipher %q:\n%s", what, res.cipher, res.output)
	require.Containsf(t, res.output, "250-relaybox.e2e.test", "%s: the EHLO inside TLS must be answered:\n%s", what, res.output)
	require.Containsf(t, res.output, "221 ", "%s: QUIT inside TLS must be answered:\n%s", what, res.output)
}

// TestInboundSwaks sends mail with swaks: in clear, with STARTTLS, and with
// implicit TLS, which this STARTTLS listener must refuse.
func TestInboundSwaks(t *testing.T) {
	requireSwaks(t)
	a := startInbound(t)
	srv := addr(a.smtpPort)
	rcpt := "user@" + inboundDomain

	t.Run("plain", func(t *testing.T) {
		tok := uniqueToken("plain")
		res := runSwaks(t, srv, rcpt, tok)
		require.Equalf(t, 0, res.exit, "swaks must deliver in clear:\n%s", res.out)
		require.Regexpf(t, `(?m)^<- +220 `, res.out, "greeting:\n%s", res.out)
		require.Regexpf(t, swaksQueuedRE, res.out, "transcript:\n%s", res.out)
		require.NotContainsf(t, res.out, "~>", "a plain session must not start TLS:\n%s", res.out)
		f := requireSpooledOnce(t, a.dir, tok)
		require.Equal(t, senderAddr, f.header.From)
		require.Equal(t, []string{rcpt}, f.header.To)
		require.Equal(t, "IncomingMail", f.header.Listener)
		require.Empty(t, f.header.TLS)
		require.Truef(t, strings.HasPrefix(f.body, "Received: from client.test (unknown [127.0.0.1])"), "the message must start with the appliance's Received header:\n%s", f.body)
		require.Containsf(t, f.body, "(Relaybox) with ESMTP\r\n", "a clear session is ESMTP:\n%s", f.body)
		require.Containsf(t, f.body, "X-Token: "+tok+"\r\n", "the message must be stored as sent:\n%s", f.body)
	})

	t.Run("starttls", func(t *testing.T) {
		tok := uniqueToken("tls")
		res := runSwaks(t, srv, rcpt, tok, "--tls")
		require.Equalf(t, 0, res.exit, "swaks --tls must deliver:\n%s", res.out)
		require.Regexpf(t, `(?m)^<- +220 .*(?i:tls)`, res.out, "STARTTLS must be answered 220:\n%s", res.out)
		require.Regexpf(t, `(?m)^=== TLS started with cipher TLSv1\.3:TLS_`, res.out, "transcript:\n%s", res.out)
		require.Regexpf(t, `(?m)^<~ +250-`, res.out, "the EHLO after STARTTLS must be answered inside TLS:\n%s", res.out)
		require.Regexpf(t, `(?m)^<~ +250 2\.0\.0 ok:  Message \d+ accepted`, res.out, "the message must be accepted inside TLS:\n%s", res.out)
		f := requireSpooledOnce(t, a.dir, tok)
		require.Regexpf(t, `^Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\r\n\tby relaybox\.e2e\.test \(Relaybox\) with ESMTPS \(TLSv1\.3 TLS_[A-Z0-9_]+\)\r\n`, f.body,
			"the Received header must name ESMTPS, the TLS version and cipher:\n%s", f.body)
		require.Regexp(t, `^TLSv1\.3 TLS_`, f.header.TLS)
	})

	t.Run("tls-on-connect refused", func(t *testing.T) {
		tok := uniqueToken("implicit")
		start := time.Now()
		res := runSwaks(t, srv, rcpt, tok, "--tls-on-connect")
		require.NotEqualf(t, 0, res.exit, "swaks --tls-on-connect must fail on a STARTTLS listener:\n%s", res.out)
		require.Containsf(t, res.out, "TLS startup failed", "swaks must report the failed implicit-TLS handshake:\n%s", res.out)
		require.NotContainsf(t, res.out, "MAIL FROM", "no SMTP transaction may happen:\n%s", res.out)
		require.Lessf(t, time.Since(start), 5*time.Second, "the refusal must be prompt, not a timeout:\n%s", res.out)
		requireNotSpooled(t, a.dir, tok)

		// The listener is unharmed: a normal session still works.
		c := dialSMTP(t, srv)
		c.cmd("EHLO probe.test", 250)
		c.cmd("QUIT", 221)
	})
}

// TestInboundTLSLevels checks each TLS level without client certificates
// with openssl s_client -starttls smtp and a hand-driven session.
func TestInboundTLSLevels(t *testing.T) {
	requireOpenSSL(t)
	a := startInbound(t)
	srv := addr(a.smtpPort)
	rcpt := "user@" + inboundDomain

	setLevel := func(level string) {
		a.mustCommit(t, "listenerconfig edit IncomingMail tls "+level+"\ncommit TLS "+level+"\n")
	}

	t.Run("off", func(t *testing.T) {
		setLevel("off")
		c := dialSMTP(t, srv)
		ehlo := c.cmd("EHLO probe.test", 250)
		require.NotContainsf(t, ehlo, "STARTTLS", "TLS off: EHLO must not offer STARTTLS: %q", ehlo)
		c.cmd("STARTTLS", 502)
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		c.cmd("RCPT TO:<"+rcpt+">", 250)
		tok := uniqueToken("off")
		c.cmd("DATA", 354)
		c.send(inboundMessage(rcpt, tok) + ".")
		c.expect(250)
		c.cmd("QUIT", 221)
		requireSpooledOnce(t, a.dir, tok)

		res := opensslSMTP(t, srv, insideSession)
		require.NotEqualf(t, 0, res.exit, "TLS off: openssl must fail:\n%s", res.output)
		require.Containsf(t, res.output, "Didn't find STARTTLS", "TLS off: openssl must see no STARTTLS offer:\n%s", res.output)
		require.NotContainsf(t, res.output, "250-relaybox.e2e.test", "no session may follow:\n%s", res.output)
	})

	t.Run("preferred", func(t *testing.T) {
		setLevel("preferred")
		requireOpenSSLSession(t, opensslSMTP(t, srv, insideSession), "preferred")
		c := dialSMTP(t, srv)
		ehlo := c.cmd("EHLO probe.test", 250)
		require.Containsf(t, ehlo, "STARTTLS", "preferred: EHLO must offer STARTTLS: %q", ehlo)
		c.cmd("MAIL FROM:<"+senderAddr+">", 250) // clear text is allowed
		c.cmd("QUIT", 221)
	})

	t.Run("required", func(t *testing.T) {
		setLevel("required")
		requireOpenSSLSession(t, opensslSMTP(t, srv, insideSession), "required")
		// The mail transaction inside TLS works.
		res := opensslSMTP(t, srv, "EHLO inside.probe\r\nMAIL FROM:<"+senderAddr+">\r\nQUIT\r\n")
		require.Equalf(t, 0, res.exit, "openssl:\n%s", res.output)
		require.Regexpf(t, `(?m)^250 .*<`+regexp.QuoteMeta(senderAddr)+`>`, res.output, "required: MAIL inside TLS must be accepted:\n%s", res.output)

		c := dialSMTP(t, srv)
		ehlo := c.cmd("EHLO probe.test", 250)
		require.Contains(t, ehlo, "STARTTLS")
		text := c.cmd("MAIL FROM:<"+senderAddr+">", 530)
		require.Containsf(t, text, "5.7.0", "required: the refusal must be 530 5.7.0: %q", text)
		c.send("RCPT TO:<" + rcpt + ">") // no transaction was started
		code, text, err := c.reply()
		require.NoError(t, err)
		require.Truef(t, code >= 500 && code < 600, "RCPT without an accepted MAIL must be refused: %q", text)
		st, err := c.startTLS(clientTLS(tls.VersionTLS13))
		require.NoError(t, err)
		require.Equal(t, uint16(tls.VersionTLS13), st.Version)
		c.cmd("EHLO probe.test", 250)
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		c.cmd("QUIT", 221)
	})
}

// clientPKI is a lab CA with a client certificate, plus an untrusted one, made with openssl.
type clientPKI struct {
	caPEM                 string // the trusted CA certificate
	clientCert, clientKey string // signed by the trusted CA
	rogueCert, rogueKey   string // signed by a CA the appliance does not know
}

// makeLabCA makes a CA certificate (CA:TRUE) and its key in dir.
func makeLabCA(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	openssl(t, dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", cert, "-subj", "/CN="+name, "-days", "2",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	return cert, key
}

// makeClientCert makes a client certificate for cn signed by the CA.
func makeClientCert(t *testing.T, dir, name, cn, caCert, caKey string, serial int) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	csr := filepath.Join(dir, name+".csr")
	ext := filepath.Join(dir, name+".ext")
	require.NoError(t, os.WriteFile(ext, []byte("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n"), 0o600))
	openssl(t, dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", csr, "-subj", "/CN="+cn)
	openssl(t, dir, "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-set_serial", strconv.Itoa(serial),
		"-out", cert, "-days", "2", "-extfile", ext)
	return cert, key
}

func newClientPKI(t *testing.T) clientPKI {
	t.Helper()
	dir := t.TempDir()
	caCert, caKey := makeLabCA(t, dir, "LabCA")
	rogueCA, rogueKey := makeLabCA(t, dir, "RogueCA")
	var p clientPKI
	p.caPEM = caCert
	p.clientCert, p.clientKey = makeClientCert(t, dir, "client", "client.e2e.test", caCert, caKey, 2)
	p.rogueCert, p.rogueKey = makeClientCert(t, dir, "rogue", "rogue.e2e.test", rogueCA, rogueKey, 3)
	return p
}

// TestInboundClientCertificates checks the Verify levels with a lab CA
// imported into the trust store, swaks and openssl as clients.
func TestInboundClientCertificates(t *testing.T) {
	requireSwaks(t)
	requireOpenSSL(t)
	p := newClientPKI(t)
	a := startInbound(t)
	srv := addr(a.smtpPort)
	rcpt := "user@" + inboundDomain

	configs := filepath.Join(a.dir, "configs")
	require.NoError(t, os.MkdirAll(configs, 0o700))
	caData, err := os.ReadFile(p.caPEM)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(configs, "ca.pem"), caData, 0o600))
	a.mustCommit(t, "certconfig ca import LabCA ca.pem\nlistenerconfig edit IncomingMail tls required-verify\ncommit client certificates required\n")

	withCert := []string{"--tls", "--tls-cert", p.clientCert, "--tls-key", p.clientKey}
	withRogue := []string{"--tls", "--tls-cert", p.rogueCert, "--tls-key", p.rogueKey}

	t.Run("required-verify", func(t *testing.T) {
		tok := uniqueToken("rv-cert")
		res := runSwaks(t, srv, rcpt, tok, withCert...)
		require.Equalf(t, 0, res.exit, "required-verify: swaks with a trusted client certificate must deliver:\n%s", res.out)
		require.Containsf(t, res.out, `TLS local DN="/CN=client.e2e.test"`, "swaks must present the certificate:\n%s", res.out)
		require.Regexpf(t, `(?m)^<~ +250 2\.0\.0 ok:  Message \d+ accepted`, res.out, "transcript:\n%s", res.out)
		f := requireSpooledOnce(t, a.dir, tok)
		require.Contains(t, f.body, "with ESMTPS (TLSv1.3 TLS_")

		tok = uniqueToken("rv-none")
		res = runSwaks(t, srv, rcpt, tok, "--tls")
		require.NotEqualf(t, 0, res.exit, "required-verify: swaks --tls without a certificate must fail:\n%s", res.out)
		require.NotRegexpf(t, `(?m)^<~ +250`, res.out, "no SMTP reply may come inside TLS without a certificate:\n%s", res.out)
		requireNotSpooled(t, a.dir, tok)

		tok = uniqueToken("rv-rogue")
		res = runSwaks(t, srv, rcpt, tok, withRogue...)
		require.NotEqualf(t, 0, res.exit, "required-verify: an untrusted client certificate must fail:\n%s", res.out)
		require.NotRegexpf(t, `(?m)^<~ +250`, res.out, "no SMTP reply may come inside TLS with an untrusted certificate:\n%s", res.out)
		requireNotSpooled(t, a.dir, tok)

		requireOpenSSLSession(t, opensslSMTP(t, srv, insideSession, "-cert", p.clientCert, "-key", p.clientKey), "required-verify with a trusted certificate")
		res2 := opensslSMTP(t, srv, insideSession)
		require.NotEqualf(t, 0, res2.exit, "required-verify: openssl without a certificate must fail:\n%s", res2.output)
		require.Containsf(t, res2.output, "alert certificate required", "the refusal must be TLS 1.3's certificate_required alert:\n%s", res2.output)
		require.NotContains(t, res2.output, "250-relaybox.e2e.test")
		res2 = opensslSMTP(t, srv, insideSession, "-cert", p.rogueCert, "-key", p.rogueKey)
		require.NotEqualf(t, 0, res2.exit, "required-verify: openssl with an untrusted certificate must fail:\n%s", res2.output)
		require.Regexpf(t, `alert (bad certificate|unknown ca)`, res2.output, "the refusal must be a certificate alert:\n%s", res2.output)
		require.NotContains(t, res2.output, "250-relaybox.e2e.test")
	})

	t.Run("preferred-verify", func(t *testing.T) {
		a.mustCommit(t, "listenerconfig edit IncomingMail tls preferred-verify\ncommit client certificates optional\n")
		tok := uniqueToken("pv-none")
		res := runSwaks(t, srv, rcpt, tok, "--tls")
		require.Equalf(t, 0, res.exit, "preferred-verify: swaks --tls without a certificate must deliver:\n%s", res.out)
		requireSpooledOnce(t, a.dir, tok)

		tok = uniqueToken("pv-cert")
		res = runSwaks(t, srv, rcpt, tok, withCert...)
		require.Equalf(t, 0, res.exit, "preferred-verify: a trusted certificate must deliver:\n%s", res.out)
		requireSpooledOnce(t, a.dir, tok)

		tok = uniqueToken("pv-rogue")
		res = runSwaks(t, srv, rcpt, tok, withRogue...)
		require.NotEqualf(t, 0, res.exit, "preferred-verify: an untrusted certificate must be refused:\n%s", res.out)
		require.NotRegexpf(t, `(?m)^<~ +250`, res.out, "no SMTP reply may come inside TLS with an untrusted certificate:\n%s", res.out)
		requireNotSpooled(t, a.dir, tok)

		tok = uniqueToken("pv-plain")
		res = runSwaks(t, srv, rcpt, tok)
		require.Equalf(t, 0, res.exit, "preferred-verify: clear text stays allowed:\n%s", res.out)
		requireSpooledOnce(t, a.dir, tok)

		requireOpenSSLSession(t, opensslSMTP(t, srv, insideSession), "preferred-verify without a certificate")
		requireOpenSSLSession(t, opensslSMTP(t, srv, insideSession, "-cert", p.clientCert, "-key", p.clientKey), "preferred-verify with a trusted certificate")
		res2 := opensslSMTP(t, srv, insideSession, "-cert", p.rogueCert, "-key", p.rogueKey)
		require.NotEqualf(t, 0, res2.exit, "preferred-verify: openssl with an untrusted certificate must fail:\n%s", res2.output)
		require.NotContains(t, res2.output, "250-relaybox.e2e.test")
	})
}

// TestInboundRelayDenial checks that the public listener takes mail only for
// its domains and the private one only from its relay networks.
func TestInboundRelayDenial(t *testing.T) {
	requireSwaks(t)
	a := startInbound(t)
	in, out := addr(a.smtpPort), addr(a.submissionPort)

	t.Run("public listener: foreign domain", func(t *testing.T) {
		before := len(readSpool(t, a.dir))
		tok := uniqueToken("relay")
		res := runSwaks(t, in, "victim@elsewhere.test", tok)
		require.Equalf(t, 24, res.exit, "swaks must report that no recipient was accepted (exit 24):\n%s", res.out)
		require.Regexpf(t, `(?m)^<\*\* +550 5\.7\.1 `, res.out, "the recipient must be refused with 550 5.7.1:\n%s", res.out)
		requireNotSpooled(t, a.dir, tok)

		// A subdomain is foreign too; a mixed list keeps only the local recipient.
		c := dialSMTP(t, in)
		c.cmd("EHLO probe.test", 250)
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		require.Contains(t, c.cmd("RCPT TO:<a@sub.e2e.test>", 550), "5.7.1")
		c.cmd("RCPT TO:<a@E2E.test>", 250)
		require.Contains(t, c.cmd("RCPT TO:<b@elsewhere.test>", 550), "5.7.1")
		tok = uniqueToken("mixed")
		c.cmd("DATA", 354)
		c.send(inboundMessage("a@E2E.test", tok) + ".")
		c.expect(250)
		c.cmd("QUIT", 221)
		f := requireSpooledOnce(t, a.dir, tok)
		require.Equal(t, []string{"a@E2E.test"}, f.header.To)
		require.Len(t, readSpool(t, a.dir), before+1, "only the message with a local recipient is queued")
	})

	t.Run("private listener", func(t *testing.T) {
		tok := uniqueToken("outgoing")
		res := runSwaks(t, out, "someone@elsewhere.test", tok)
		require.Equalf(t, 0, res.exit, "OutgoingMail relays for 127.0.0.1:\n%s", res.out)
		f := requireSpooledOnce(t, a.dir, tok)
		require.Equal(t, "OutgoingMail", f.header.Listener)
		require.Equal(t, []string{"someone@elsewhere.test"}, f.header.To)

		a.mustCommit(t, "listenerconfig edit OutgoingMail relay 192.0.2.0/24\ncommit relay only for 192.0.2.0/24\n")
		c := dialRaw(t, out)
		code, text, err := c.reply()
		require.NoError(t, err)
		require.Equalf(t, 554, code, "a host outside the relay list must get 554 at connect: %q", text)
		require.Contains(t, text, "5.7.1")
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.r.ReadByte()
		require.Errorf(t, err, "the appliance must close the connection after 554")

		tok = uniqueToken("denied")
		res = runSwaks(t, out, "someone@elsewhere.test", tok)
		require.NotEqualf(t, 0, res.exit, "swaks must fail on the 554 banner:\n%s", res.out)
		require.Regexpf(t, `(?m)^<\*\* +554 `, res.out, "swaks must show the 554 banner:\n%s", res.out)
		requireNotSpooled(t, a.dir, tok)
	})
}

// TestInboundLimits checks the size, recipient and connection limits of
// "listenerconfig edit IncomingMail limits 4000 2 50 20".
func TestInboundLimits(t *testing.T) {
	a := startInbound(t)
	a.mustCommit(t, "listenerconfig edit IncomingMail limits 4000 2 50 20\ncommit small limits\n")
	srv := addr(a.smtpPort)
	rcpt := "user@" + inboundDomain

	t.Run("recipients", func(t *testing.T) {
		c := dialSMTP(t, srv)
		c.cmd("EHLO probe.test", 250)
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		c.cmd("RCPT TO:<r1@e2e.test>", 250)
		c.cmd("RCPT TO:<r2@e2e.test>", 250)
		text := c.cmd("RCPT TO:<r3@e2e.test>", 452)
		require.Containsf(t, text, "4.5.3", "the third recipient must get 452 4.5.3: %q", text)
		tok := uniqueToken("rcpts")
		c.cmd("DATA", 354)
		c.send(inboundMessage("r1@e2e.test", tok) + ".")
		c.expect(250)
		c.cmd("QUIT", 221)
		f := requireSpooledOnce(t, a.dir, tok)
		require.Equal(t, []string{"r1@e2e.test", "r2@e2e.test"}, f.header.To)
	})

	t.Run("size", func(t *testing.T) {
		c := dialSMTP(t, srv)
		ehlo := c.cmd("EHLO probe.test", 250)
		// RFC 1870: SIZE is the largest message taken, exactly.
		require.Containsf(t, ehlo, "SIZE 4000\r\n", "EHLO must announce the size limit: %q", ehlo)

		// Over the limit: 552 after the data, nothing queued, the session goes on.
		tok := uniqueToken("big")
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		c.cmd("RCPT TO:<"+rcpt+">", 250)
		c.cmd("DATA", 354)
		c.send(inboundMessage(rcpt, tok) + strings.Repeat(strings.Repeat("x", 76)+"\r\n", 60) + ".")
		text := c.expect(552)
		require.Containsf(t, text, "5.3.4", "over-size must be 552 5.3.4: %q", text)
		requireNotSpooled(t, a.dir, tok)

		// Under the limit in the same session: accepted.
		tok = uniqueToken("small")
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		c.cmd("RCPT TO:<"+rcpt+">", 250)
		c.cmd("DATA", 354)
		c.send(inboundMessage(rcpt, tok) + strings.Repeat(strings.Repeat("y", 76)+"\r\n", 40) + ".")
		c.expect(250)
		requireSpooledOnce(t, a.dir, tok)

		// A declared SIZE over the limit is refused at MAIL.
		c.cmd("MAIL FROM:<"+senderAddr+"> SIZE=5000", 552)
		c.cmd("QUIT", 221)
	})

	t.Run("size exactly at the limit", func(t *testing.T) {
		// RFC 1870: "SIZE 4000" is the largest message the server accepts, so
		// a message of exactly 4000 bytes (dot-unstuffed, CRLF line ends, the
		// CRLF before the final dot included) must be taken, with BDAT and with DATA.
		c := dialSMTP(t, srv)
		c.cmd("EHLO probe.test", 250)
		bdatTok := uniqueToken("exact-bdat")
		msg := sizedMessage(rcpt, bdatTok, 4000)
		c.cmd("MAIL FROM:<"+senderAddr+"> SIZE=4000", 250)
		c.cmd("RCPT TO:<"+rcpt+">", 250)
		c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), strings.TrimSuffix(msg, "\r\n")))
		c.expect(250)
		requireSpooledOnce(t, a.dir, bdatTok)

		tok := uniqueToken("exact-data")
		msg = sizedMessage(rcpt, tok, 4000)
		c.cmd("MAIL FROM:<"+senderAddr+"> SIZE=4000", 250)
		c.cmd("RCPT TO:<"+rcpt+">", 250)
		c.cmd("DATA", 354)
		c.send(msg + ".")
		code, text, err := c.reply()
		require.NoError(t, err)
		require.Equalf(t, 250, code, "a message of exactly %d bytes, the configured limit, must be accepted after DATA, got %q", len(msg), text)
		requireSpooledOnce(t, a.dir, tok)

		// One byte over: refused, with DATA and with BDAT, nothing queued.
		overTok := uniqueToken("over-data")
		msg = sizedMessage(rcpt, overTok, 4001)
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		c.cmd("RCPT TO:<"+rcpt+">", 250)
		c.cmd("DATA", 354)
		c.send(msg + ".")
		c.expect(552)
		requireNotSpooled(t, a.dir, overTok)
		overTok = uniqueToken("over-bdat")
		msg = sizedMessage(rcpt, overTok, 4001)
		c.cmd("MAIL FROM:<"+senderAddr+">", 250)
		c.cmd("RCPT TO:<"+rcpt+">", 250)
		c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), strings.TrimSuffix(msg, "\r\n")))
		c.expect(552)
		requireNotSpooled(t, a.dir, overTok)
	})

	t.Run("connections", func(t *testing.T) {
		// 20 from one address, then that address is refused while others
		// still get in, up to 50 in total.
		var conns []*smtpConn
		for i := range 50 {
			c := dialFrom(t, fmt.Sprintf("127.0.0.%d", 1+i/20), srv)
			c.expect(220)
			conns = append(conns, c)
			if i == 19 {
				greedy := dialFrom(t, "127.0.0.1", srv)
				code, text, err := greedy.reply()
				require.NoError(t, err)
				require.Equalf(t, 421, code, "the 21st connection from one address must get 421: %q", text)
				require.Contains(t, text, "4.7.0 relaybox.e2e.test Too many concurrent connections from your address")
			}
		}
		c := dialFrom(t, "127.0.0.9", srv)
		code, text, err := c.reply()
		require.NoError(t, err)
		require.Equalf(t, 421, code, "the 51st concurrent connection must get 421: %q", text)
		require.Contains(t, text, "4.7.0")

		// Once one closes, a new connection is served again.
		conns[0].cmd("QUIT", 221)
		require.Eventually(t, func() bool {
			c := dialRaw(t, srv)
			defer c.conn.Close()
			code, _, err := c.reply()
			return err == nil && code == 220
		}, 5*time.Second, 20*time.Millisecond, "after a session ends, a new connection must get 220")
	})
}

// TestInboundPipelining sends a whole transaction in one write (RFC 2920).
func TestInboundPipelining(t *testing.T) {
	requireSwaks(t)
	a := startInbound(t)
	srv := addr(a.smtpPort)

	c := dialSMTP(t, srv)
	ehlo := c.cmd("EHLO probe.test", 250)
	require.Containsf(t, ehlo, "PIPELINING", "EHLO must offer PIPELINING: %q", ehlo)
	tok := uniqueToken("pipe")
	batch := "MAIL FROM:<" + senderAddr + ">\r\nRCPT TO:<p1@e2e.test>\r\nRCPT TO:<x@elsewhere.test>\r\nRCPT TO:<p2@e2e.test>\r\nDATA\r\n"
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.conn.Write([]byte(batch))
	require.NoError(t, err)
	for i, want := range []int{250, 250, 550, 250, 354} {
		code, text, err := c.reply()
		require.NoErrorf(t, err, "reply %d of the pipelined batch", i+1)
		require.Equalf(t, want, code, "reply %d of the pipelined batch (MAIL, RCPT, RCPT, RCPT, DATA): %q", i+1, text)
	}
	// The end of data may be pipelined with the next commands too.
	_, err = c.conn.Write([]byte(inboundMessage("p1@e2e.test", tok) + ".\r\nRSET\r\nQUIT\r\n"))
	require.NoError(t, err)
	for i, want := range []int{250, 250, 221} {
		code, text, err := c.reply()
		require.NoErrorf(t, err, "reply %d after the data", i+1)
		require.Equalf(t, want, code, "reply %d after the data (end of data, RSET, QUIT): %q", i+1, text)
	}
	f := requireSpooledOnce(t, a.dir, tok)
	require.Equal(t, []string{"p1@e2e.test", "p2@e2e.test"}, f.header.To)
	require.Truef(t, strings.HasSuffix(f.body, inboundMessage("p1@e2e.test", tok)), "the message must be stored exactly as sent:\n%q", f.body)

	// swaks --pipeline drives the same from a real client.
	tok = uniqueToken("swaks-pipe")
	res := runSwaks(t, srv, "user@"+inboundDomain, tok, "--pipeline")
	require.Equalf(t, 0, res.exit, "swaks --pipeline must deliver:\n%s", res.out)
	require.Regexpf(t, swaksQueuedRE, res.out, "transcript:\n%s", res.out)
	requireSpooledOnce(t, a.dir, tok)
}

// mailLogLine is an AsyncOS mail_logs line: "Mon Nov 23 00:11:10 2026 Info: text".
var mailLogLine = regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4} (Info|Warning|Debug|Trace): `)

// TestInboundMailLogs produces the common sessions and reads mail_logs back
// through the shell's tail and grep commands.
func TestInboundMailLogs(t *testing.T) {
	requireSwaks(t)
	a := startInbound(t)
	srv := addr(a.smtpPort)
	rcpt := "user@" + inboundDomain

	res := runSwaks(t, srv, rcpt, uniqueToken("log-plain"))
	require.Equalf(t, 0, res.exit, "swaks:\n%s", res.out)
	tok := uniqueToken("log-tls")
	res = runSwaks(t, srv, rcpt, tok, "--tls")
	require.Equalf(t, 0, res.exit, "swaks --tls:\n%s", res.out)
	tlsMID := requireSpooledOnce(t, a.dir, tok).header.MID
	// A handshake that cannot succeed: TLS 1.1 is not enabled.
	_, err := goSMTPHandshake(t, srv, tls.VersionTLS11)
	require.Error(t, err, "TLS 1.1 must be refused (only 1.2 and 1.3 are enabled)")
	a.mustCommit(t, "listenerconfig edit IncomingMail tls required\ncommit TLS required\n")
	c := dialSMTP(t, srv)
	c.cmd("EHLO probe.test", 250)
	c.cmd("MAIL FROM:<"+senderAddr+">", 530)
	c.cmd("QUIT", 221)
	_ = c.conn.Close()

	want := []string{
		`Info: New SMTP ICID \d+ interface Management \(127\.0\.0\.1\) address 127\.0\.0\.1 `,
		`Info: ICID \d+ ACCEPT SG `,
		`Info: ICID \d+ TLS success protocol TLSv1\.3 cipher TLS_`,
		`Info: Start MID \d+ ICID \d+$`,
		`Info: MID \d+ ICID \d+ From: <` + regexp.QuoteMeta(senderAddr) + `>`,
		`Info: MID \d+ ICID \d+ RID 0 To: <` + regexp.QuoteMeta(rcpt) + `>`,
		`Info: MID \d+ ready \d+ bytes from <` + regexp.QuoteMeta(senderAddr) + `>`,
		fmt.Sprintf(`Info: MID %d queued for delivery`, tlsMID),
		`Info: ICID \d+ close$`,
		`Info: ICID \d+ TLS was required but remote host did not initiate it`,
		`Info: ICID \d+ TLS failed: `,
	}
	// Lines are written as the events happen; the last close may trail the QUIT.
	var out string
	require.Eventuallyf(t, func() bool {
		r := a.cli(t, "tail mail_logs 200\n")
		if r.code != 0 {
			return false
		}
		out = r.stdout
		for _, w := range want {
			if !regexp.MustCompile(`(?m)` + w).MatchString(out) {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond, "tail mail_logs 200 must show every kind of line")
	var logLines, tlsSuccess int
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.Contains(line, " Info: ") || strings.Contains(line, " Warning: ") {
			logLines++
			require.Regexpf(t, mailLogLine, line, "not an AsyncOS mail_logs line: %q", line)
			if strings.Contains(line, "TLS success") {
				tlsSuccess++
			}
		}
	}
	require.Greater(t, logLines, 20)
	for _, w := range want {
		require.Regexpf(t, `(?m)`+w, out, "tail mail_logs 200 is missing %s:\n%s", w, out)
	}

	g := a.cli(t, `grep -e "TLS success" -c mail_logs`+"\n")
	require.Equalf(t, 0, g.code, "grep failed: %s", g.stderr)
	m := regexp.MustCompile(`(?m)^(\d+)\r?$`).FindStringSubmatch(g.stdout)
	require.NotNilf(t, m, "grep -c must print a count:\n%s", g.stdout)
	n, _ := strconv.Atoi(m[1])
	require.Greaterf(t, n, 0, "grep -c must count the TLS success lines:\n%s", g.stdout)
	require.Equalf(t, tlsSuccess, n, "grep -c and tail must agree on the TLS success lines")

	g = a.cli(t, `grep -e "tls was required" -i mail_logs`+"\n")
	require.Equal(t, 0, g.code)
	require.Regexp(t, `ICID \d+ TLS was required but remote host did not initiate it`, g.stdout)
}
