package mailengine_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/internal/testnet"
	"relaybox/mailengine"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/queue"
)

type fixture struct {
	eng  *mailengine.Engine
	keys *certstore.KeyStore
	cfg  *config.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, mailengine.Options{})
}

// spoolAndLog opens a spool and a mail_logs of their own for a fixture,
// closed when the test ends.
func spoolAndLog(t *testing.T) (*queue.Spool, *maillog.Logger) {
	t.Helper()
	dir := t.TempDir()
	spool, err := queue.Open(filepath.Join(dir, "queue"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = spool.Close() })
	lg, err := maillog.Open(filepath.Join(dir, "logs"), 1<<20, 3)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lg.Close() })
	return spool, lg
}

// newClockedFixture is a fixture on its own spool and mail_logs whose
// clock is now (set it with now.Store); it returns the log to read.
func newClockedFixture(t *testing.T) (*fixture, *maillog.Logger, *atomic.Pointer[time.Time]) {
	t.Helper()
	spool, lg := spoolAndLog(t)
	now := new(atomic.Pointer[time.Time])
	start := time.Now()
	now.Store(&start)
	return newFixtureWith(t, mailengine.Options{Spool: spool, Log: lg, Now: func() time.Time { return *now.Load() }}), lg, now
}

func newFixtureWith(t *testing.T, opts mailengine.Options) *fixture {
	t.Helper()
	keys, err := certstore.NewKeyStore(afero.NewMemMapFs(), "/data")
	require.NoError(t, err)
	demo, err := keys.Demo("box.example.test")
	require.NoError(t, err)
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	require.NoError(t, err)
	f := config.DefaultPorts
	f.Hostname = "box.example.test"
	f.SMTPPort, f.SubmissionPort, f.HTTPSPort, f.SSHPort = testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t), 0
	f.Domains = []string{"example.test", ".sub.example.test"}
	f.Demo = demo
	f.AdminHash = string(hash)
	c := config.Defaults(f)
	require.NoError(t, config.Validate(c))
	opts.Keys, opts.Grace, opts.Version = keys, 5*time.Second, "test"
	if opts.Spool == nil {
		spool, err := queue.Open(filepath.Join(t.TempDir(), "queue"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = spool.Close() })
		opts.Spool = spool
	}
	eng := mailengine.New(opts)
	require.NoError(t, eng.Apply(context.Background(), c))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
	})
	return &fixture{eng: eng, keys: keys, cfg: c}
}

// apply commits a change the way the store would: a clone, edited, applied.
func (f *fixture) apply(t *testing.T, edit func(c *config.Config)) error {
	t.Helper()
	next := f.cfg.Clone()
	edit(next)
	next.Version = f.cfg.Version + 1
	if err := f.eng.Apply(context.Background(), next); err != nil {
		return err
	}
	f.cfg = next
	return nil
}

func (f *fixture) smtpAddr() string {
	return fmt.Sprintf("127.0.0.1:%d", f.cfg.Listeners[0].Port)
}

func (f *fixture) httpsAddr() string {
	return fmt.Sprintf("127.0.0.1:%d", f.cfg.Interfaces[0].HTTPSPort)
}

// smtpConn is a raw SMTP client: real lines on a real socket.
type smtpConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) *smtpConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &smtpConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// reply reads one (possibly multi-line) reply and returns it.
func (s *smtpConn) reply() string {
	s.t.Helper()
	var all strings.Builder
	for {
		line, err := s.r.ReadString('\n')
		require.NoError(s.t, err, "reading reply after %q", all.String())
		all.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			return all.String()
		}
	}
}

func (s *smtpConn) cmd(line string) string {
	s.t.Helper()
	_, err := fmt.Fprintf(s.conn, "%s\r\n", line)
	require.NoError(s.t, err)
	return s.reply()
}

// startTLS upgrades the session; it returns the handshake error.
func (s *smtpConn) startTLS(cfg *tls.Config) (*tls.Conn, error) {
	s.t.Helper()
	require.True(s.t, strings.HasPrefix(s.cmd("STARTTLS"), "220"))
	tc := tls.Client(s.conn, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	s.conn = tc
	s.r = bufio.NewReader(tc)
	return tc, nil
}

func clientTLS(version uint16) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: version, MaxVersion: version, ServerName: "box.example.test"}
}

func TestSMTPStartTLSFollowsInboundMethods(t *testing.T) {
	f := newFixture(t)
	try := func(v uint16) error {
		s := dialSMTP(t, f.smtpAddr())
		require.True(t, strings.HasPrefix(s.reply(), "220 "))
		ehlo := s.cmd("EHLO client.test")
		require.Contains(t, ehlo, "STARTTLS")
		tc, err := s.startTLS(clientTLS(v))
		if err == nil {
			assert.Equal(t, v, tc.ConnectionState().Version)
		}
		return err
	}
	require.NoError(t, try(tls.VersionTLS12))
	require.Error(t, try(tls.VersionTLS13), "TLS 1.3 is off by default")

	require.NoError(t, f.apply(t, func(c *config.Config) { c.SSL.Inbound.Methods = []config.Method{config.TLS13} }))
	require.NoError(t, try(tls.VersionTLS13))
	require.Error(t, try(tls.VersionTLS12))
}

func TestSessionInFlightSurvivesCommit(t *testing.T) {
	f := newFixture(t)
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO client.test")
	_, err := s.startTLS(clientTLS(tls.VersionTLS12))
	require.NoError(t, err)
	s.cmd("EHLO client.test")
	require.True(t, strings.HasPrefix(s.cmd("MAIL FROM:<a@client.test>"), "250"))
	require.True(t, strings.HasPrefix(s.cmd("RCPT TO:<b@example.test>"), "250"))

	// A commit that changes TLS and a setting that replaces the SMTP server.
	require.NoError(t, f.apply(t, func(c *config.Config) {
		c.SSL.Inbound.Methods = []config.Method{config.TLS13}
		c.Listeners[0].MaxRecipients = 7
	}))
	require.True(t, strings.HasPrefix(s.cmd("DATA"), "354"))
	require.True(t, strings.HasPrefix(s.cmd("Subject: x\r\n\r\nbody\r\n."), "250"))
	require.True(t, strings.HasPrefix(s.cmd("QUIT"), "221"))
}

func TestResumedSessionCannotKeepOldGeneration(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.SSL.GUI.Methods = []config.Method{config.TLS12} }))
	cache := tls.NewLRUClientSessionCache(8)
	dial := func() tls.ConnectionState {
		cfg := clientTLS(tls.VersionTLS12)
		cfg.ClientSessionCache = cache
		conn, err := tls.Dial("tcp", f.httpsAddr(), cfg)
		require.NoError(t, err)
		defer conn.Close()
		return conn.ConnectionState()
	}
	dial()
	require.True(t, dial().DidResume, "resumption works within one generation")
	// A new certificate in a new generation: a ticket from before may not resume.
	other, err := f.keys.SelfSigned(certstore.Request{Name: "Other", CommonName: "other.example.test", Days: 30, KeyType: "rsa", KeyBits: 2048})
	require.NoError(t, err)
	require.NoError(t, f.apply(t, func(c *config.Config) {
		c.Certificates = append(c.Certificates, other)
		c.Interfaces[0].Certificate = "Other"
	}))
	st := dial()
	assert.False(t, st.DidResume)
	assert.Equal(t, "other.example.test", st.PeerCertificates[0].Subject.CommonName)
}

func TestHTTPSOffersH2AndRequiresLogin(t *testing.T) {
	f := newFixture(t)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + f.httpsAddr() + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, "HTTP/2.0", resp.Proto)

	req, _ := http.NewRequest("GET", "https://"+f.httpsAddr()+"/api/v1/status", nil)
	req.SetBasicAuth("admin", "pw")
	resp, err = client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	req.SetBasicAuth("admin", "wrong")
	resp2, err := client.Do(req)
	require.NoError(t, err)
	resp2.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp2.StatusCode)
}

func TestApplyFailureKeepsRunningState(t *testing.T) {
	f := newFixture(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	err = f.apply(t, func(c *config.Config) {
		c.Listeners[0].Port = busy.Addr().(*net.TCPAddr).Port
		c.SSL.Inbound.Methods = []config.Method{config.TLS13}
	})
	require.ErrorContains(t, err, "cannot listen on")
	// Nothing changed: the old port still serves the old TLS versions.
	s := dialSMTP(t, f.smtpAddr())
	s.reply()
	s.cmd("EHLO client.test")
	_, err = s.startTLS(clientTLS(tls.VersionTLS12))
	require.NoError(t, err)
}

func TestApplyMissingKeyFails(t *testing.T) {
	f := newFixture(t)
	err := f.apply(t, func(c *config.Config) { c.Certificates[0].Key = strings.Repeat("0", 64) })
	require.ErrorContains(t, err, "private key")
}

func TestPortMoveBindsNewBeforeClosingOld(t *testing.T) {
	f := newFixture(t)
	old := f.smtpAddr()
	held := dialSMTP(t, old)
	held.reply()
	newPort := testnet.FreePort(t)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].Port = newPort }))
	s := dialSMTP(t, f.smtpAddr())
	assert.True(t, strings.HasPrefix(s.reply(), "220"))
	// The held session on the old socket still works.
	assert.True(t, strings.HasPrefix(held.cmd("EHLO client.test"), "250"))
	assert.True(t, strings.HasPrefix(held.cmd("QUIT"), "221"))
	_, err := net.DialTimeout("tcp", old, time.Second)
	assert.Error(t, err, "the old port no longer accepts")
}

func TestSMTPPolicy(t *testing.T) {
	f := newFixture(t)
	t.Run("public listener is no open relay", func(t *testing.T) {
		s := dialSMTP(t, f.smtpAddr())
		s.reply()
		s.cmd("EHLO client.test")
		s.cmd("MAIL FROM:<a@client.test>")
		assert.True(t, strings.HasPrefix(s.cmd("RCPT TO:<x@elsewhere.test>"), "550 5.7.1"))
		assert.True(t, strings.HasPrefix(s.cmd("RCPT TO:<x@example.test>"), "250"))
		assert.True(t, strings.HasPrefix(s.cmd("RCPT TO:<x@a.sub.example.test>"), "250"))
		assert.True(t, strings.HasPrefix(s.cmd("RCPT TO:<x@sub.example.test>"), "550"))
	})
	t.Run("required TLS refuses MAIL in clear", func(t *testing.T) {
		require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].TLS = config.TLSRequired }))
		s := dialSMTP(t, f.smtpAddr())
		s.reply()
		s.cmd("EHLO client.test")
		assert.True(t, strings.HasPrefix(s.cmd("MAIL FROM:<a@client.test>"), "530 5.7.0"))
		_, err := s.startTLS(clientTLS(tls.VersionTLS12))
		require.NoError(t, err)
		s.cmd("EHLO client.test")
		assert.True(t, strings.HasPrefix(s.cmd("MAIL FROM:<a@client.test>"), "250"))
	})
	t.Run("TLS off does not offer STARTTLS", func(t *testing.T) {
		require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].TLS = config.TLSOff }))
		s := dialSMTP(t, f.smtpAddr())
		s.reply()
		assert.NotContains(t, s.cmd("EHLO client.test"), "STARTTLS")
	})
	t.Run("private listener refuses hosts outside its relay list", func(t *testing.T) {
		require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[1].RelayFrom = []string{"192.0.2.0/24"} }))
		s := dialSMTP(t, fmt.Sprintf("127.0.0.1:%d", f.cfg.Listeners[1].Port))
		assert.True(t, strings.HasPrefix(s.reply(), "554 5.7.1"))
	})
	t.Run("connection limit", func(t *testing.T) {
		require.NoError(t, f.apply(t, func(c *config.Config) { c.Listeners[0].MaxConnections = 1 }))
		first := dialSMTP(t, f.smtpAddr())
		assert.True(t, strings.HasPrefix(first.reply(), "220"))
		second := dialSMTP(t, f.smtpAddr())
		assert.True(t, strings.HasPrefix(second.reply(), "421 4.7.0"))
	})
}

func TestAcceptsDomain(t *testing.T) {
	d := []string{"example.test", ".sub.example.test"}
	assert.True(t, mailengine.AcceptsDomain(d, "a@EXAMPLE.test"))
	assert.True(t, mailengine.AcceptsDomain(d, "a@x.sub.example.test"))
	assert.False(t, mailengine.AcceptsDomain(d, "a@sub.example.test"))
	assert.False(t, mailengine.AcceptsDomain(d, "a@badexample.test"))
	assert.False(t, mailengine.AcceptsDomain(d, "no-at-sign"))
	assert.False(t, mailengine.AcceptsDomain(nil, "a@example.test"))
}
