package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/queue"
	"relaybox/mailengine/smtpclient"
)

// peer is a real SMTP server on 127.0.0.1 that records what it received.
type peer struct {
	addr   string
	mu     sync.Mutex
	got    []string // "rcpt|body"
	tlsVer []uint16
	reject map[string]*smtp.SMTPError
	// mailErr, when set, is the reply to MAIL FROM once a session has had
	// mailErrAfter transactions (0: from the first)
	mailErr      *smtp.SMTPError
	mailErrAfter int
	// inData, when set, receives a value while a message is being received,
	// and the peer answers the final dot only once release is closed
	inData      chan struct{}
	release     chan struct{}
	releaseOnce sync.Once
	// sessions open now and the most at once (go-smtp starts a new session
	// after STARTTLS), and every client address seen (one per connection)
	active, maxActive int
	remotes           map[string]bool
	// mails has the options of every MAIL FROM (SIZE=, SMTPUTF8)
	mails []smtp.MailOptions
	// stallRcpt, when set, receives a value at the first RCPT, which is
	// answered only once unstall is closed
	stallRcpt chan struct{}
	unstall   chan struct{}
}

type peerSession struct {
	p     *peer
	c     *smtp.Conn
	rcpts []string
	mails int
}

func (s *peerSession) Mail(_ string, o *smtp.MailOptions) error {
	s.p.mu.Lock()
	if o != nil {
		s.p.mails = append(s.p.mails, *o)
	}
	s.p.mu.Unlock()
	s.mails++
	if s.p.mailErr != nil && s.mails > s.p.mailErrAfter {
		return s.p.mailErr
	}
	return nil
}
func (s *peerSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.p.mu.Lock()
	stall, unstall := s.p.stallRcpt, s.p.unstall
	s.p.stallRcpt = nil // the first RCPT only
	s.p.mu.Unlock()
	if stall != nil {
		stall <- struct{}{}
		<-unstall
	}
	if e := s.p.reject[to]; e != nil {
		return e
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}
func (s *peerSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.p.inData != nil {
		s.p.inData <- struct{}{}
		<-s.p.release
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	for _, rc := range s.rcpts {
		s.p.got = append(s.p.got, rc+"|"+string(b))
	}
	if st, ok := s.c.TLSConnectionState(); ok {
		s.p.tlsVer = append(s.p.tlsVer, st.Version)
	} else {
		s.p.tlsVer = append(s.p.tlsVer, 0)
	}
	return nil
}
func (s *peerSession) Reset() { s.rcpts = nil }
func (s *peerSession) Logout() error {
	s.p.mu.Lock()
	s.p.active--
	s.p.mu.Unlock()
	return nil
}

// startPeer starts a peer; tlsCfg nil means no STARTTLS; edits change the
// server before it starts.
func startPeer(t *testing.T, tlsCfg *tls.Config, edits ...func(*smtp.Server)) *peer {
	t.Helper()
	return startPeerWith(t, peerOptions{tls: tlsCfg, edits: edits})
}

type peerOptions struct {
	listen       string // "" = 127.0.0.1:0
	tls          *tls.Config
	mailErr      *smtp.SMTPError
	mailErrAfter int
	hold         bool // the final dot is answered once the test closes peer.release
	edits        []func(*smtp.Server)
}

func startPeerWith(t *testing.T, o peerOptions) *peer {
	t.Helper()
	tlsCfg, edits := o.tls, o.edits
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	p := &peer{reject: map[string]*smtp.SMTPError{}, remotes: map[string]bool{}, mailErr: o.mailErr, mailErrAfter: o.mailErrAfter}
	if o.hold {
		p.inData, p.release = make(chan struct{}, 1), make(chan struct{})
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		p.mu.Lock()
		p.remotes[c.Conn().RemoteAddr().String()] = true
		p.active++
		p.maxActive = max(p.maxActive, p.active)
		p.mu.Unlock()
		return &peerSession{p: p, c: c}, nil
	}))
	srv.Domain = "peer.test"
	srv.TLSConfig = tlsCfg
	srv.AllowInsecureAuth = true
	for _, e := range edits {
		e(srv)
	}
	ln, err := net.Listen("tcp", o.listen)
	require.NoError(t, err)
	p.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func (p *peer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...)
}

func selfSigned(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

type harness struct {
	d     *Deliverer
	spool *queue.Spool
	log   *maillog.Logger
	cfg   *config.Config
	mu    sync.Mutex
	shift time.Duration // the deliverer's clock runs this far ahead of the real one
}

func newHarness(t *testing.T, edit func(c *config.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	spool, err := queue.Open(filepath.Join(dir, "queue"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = spool.Close() })
	lg, err := maillog.Open(filepath.Join(dir, "logs"), 1<<20, 3)
	require.NoError(t, err)
	t.Cleanup(func() { _ = lg.Close() })
	c := config.Defaults(config.FirstStart{Hostname: "relay.example.test", Resolver: "127.0.0.1:1"})
	c.Delivery.RetryInitial = config.Duration(50 * time.Millisecond)
	c.Delivery.RetryMax = config.Duration(100 * time.Millisecond)
	edit(c)
	h := &harness{spool: spool, log: lg, cfg: c}
	h.d = h.deliverer(spool, filepath.Join(dir, "delivery"))
	return h
}

// deliverer is the harness's deliverer on spool (the harness's own, or a
// wrapper of it), its settings applied.
func (h *harness) deliverer(spool Spool, stateDir string) *Deliverer {
	d := New(Options{Spool: spool, Log: h.log, StateDir: stateDir,
		Timeouts: smtpclient.Timeouts{Connect: 2 * time.Second, Greeting: 5 * time.Second, Command: 5 * time.Second, Data: 5 * time.Second},
		Now:      func() time.Time { h.mu.Lock(); defer h.mu.Unlock(); return time.Now().Add(h.shift) }})
	d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13, RootCAs: x509.NewCertPool()}})
	return d
}

func (h *harness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (h *harness) queue(t *testing.T, from string, to ...string) queue.MID {
	t.Helper()
	mid, _, err := h.spool.Put(context.Background(), queue.Envelope{From: from, To: to, Received: time.Now()},
		strings.NewReader("Subject: test\r\nMessage-ID: <m@x>\r\n\r\nhello\r\n"), 0)
	require.NoError(t, err)
	h.d.Notify()
	return mid
}

func (h *harness) logContains(t *testing.T, want ...string) {
	t.Helper()
	var joined string
	ok := assert.Eventually(t, func() bool {
		lines, _ := h.log.Tail(500)
		joined = strings.Join(lines, "\n")
		for _, w := range want {
			if !strings.Contains(joined, w) {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	if !ok {
		t.Logf("mail_logs:\n%s\nwanted: %q", joined, want)
	}
}

func route(domain, addr string) func(c *config.Config) {
	return func(c *config.Config) {
		c.Routes = append(c.Routes, config.Route{Domain: domain, Hosts: []string{addr}})
	}
}

func TestDeliversByRouteAndEmptiesTheQueue(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	mid := h.queue(t, "alice@sender.test", "bob@example.net", "carol@example.net")
	require.Eventually(t, func() bool { return len(p.received()) == 2 && h.spool.Count() == 0 }, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, p.received()[0], "hello")
	h.logContains(t, "New SMTP DCID 1 interface 127.0.0.1 address 127.0.0.1 port", "Delivery start DCID 1 MID", "Message done DCID 1 MID",
		"Message finished MID", "DCID 1 close")
	lines, err := h.log.Tail(100)
	require.NoError(t, err)
	// The connection waits DefaultIdleTimeout for another message before it closes.
	order := []string{"New SMTP DCID 1", "Delivery start DCID 1", "Message done DCID 1", "Message finished", "DCID 1 close"}
	i := 0
	for _, l := range lines {
		if i < len(order) && strings.Contains(l, order[i]) {
			i++
		}
	}
	assert.Equal(t, len(order), i, "the lines come in the AsyncOS order: %v", lines)
	_ = mid
}

func TestTLSLevelsAgainstPeers(t *testing.T) {
	cert := selfSigned(t, "peer.test")
	tls12 := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}
	tls13 := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	tests := []struct {
		name      string
		peerTLS   *tls.Config
		level     string
		outbound  []config.Method
		delivered bool
		version   uint16
		logs      []string
	}{
		{"none in clear", tls13, config.DestTLSNone, nil, true, 0, nil},
		{"preferred uses TLS", tls13, config.DestTLSPreferred, nil, true, tls.VersionTLS13, []string{"TLS success protocol TLSv1.3 cipher TLS_"}},
		{"preferred without STARTTLS goes clear", nil, config.DestTLSPreferred, nil, true, 0, nil},
		{"required without STARTTLS is deferred", nil, config.DestTLSRequired, nil, false, 0, []string{"TLS was required but remote host did not initiate it", "Delayed: MID"}},
		{"required over TLS 1.2", tls12, config.DestTLSRequired, nil, true, tls.VersionTLS12, []string{"TLS success protocol TLSv1.2 cipher ECDHE-ECDSA-"}},
		{"version mismatch is deferred", tls12, config.DestTLSRequired, []config.Method{config.TLS13}, false, 0, []string{"TLS deferring:", "TLS version mismatch could be the failure reason"}},
		{"required-verify refuses an untrusted peer", tls13, config.DestTLSRequiredVerify, nil, false, 0, []string{"Delayed: MID"}},
		{"preferred-verify delivers over TLS to an untrusted peer", tls13, config.DestTLSPreferredVerify, nil, true, tls.VersionTLS13, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPeer(t, tt.peerTLS)
			h := newHarness(t, func(c *config.Config) {
				route("example.net", p.addr)(c)
				c.Destinations.Domains = []config.DestPolicy{{Domain: "example.net", TLS: tt.level}}
			})
			if tt.outbound != nil {
				lo, hi := config.VersionRange(tt.outbound)
				h.d.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{MinVersion: lo, MaxVersion: hi, RootCAs: x509.NewCertPool()}})
			}
			h.run(t)
			h.queue(t, "alice@sender.test", "bob@example.net")
			if tt.delivered {
				require.Eventually(t, func() bool { return len(p.received()) == 1 && h.spool.Count() == 0 }, 10*time.Second, 20*time.Millisecond)
				p.mu.Lock()
				assert.Equal(t, tt.version, p.tlsVer[0], "the wire TLS version")
				p.mu.Unlock()
			} else {
				h.logContains(t, "Delayed: MID")
				assert.Empty(t, p.received(), "nothing may be delivered")
				assert.Equal(t, 1, h.spool.Count(), "the message stays queued for retry")
			}
			h.logContains(t, tt.logs...)
		})
	}
}

func TestRequiredTLSFailureSendsOneAlert(t *testing.T) {
	p := startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", p.addr)(c)
		c.Destinations.Domains = []config.DestPolicy{{Domain: "example.net", TLS: config.DestTLSRequired}}
		c.Destinations.AlertOnRequiredTLSFailure = true
		c.Destinations.AlertRecipients = []string{"ops@alerts.test"}
	})
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net")
	h.logContains(t, "Required TLS to example.net failed: alert MID")
	msgs, err := h.spool.List()
	require.NoError(t, err)
	alerts := 0
	for _, m := range msgs {
		if len(m.Envelope.To) == 1 && m.Envelope.To[0] == "ops@alerts.test" {
			alerts++
			_, rc, err := h.spool.Get(m.MID)
			require.NoError(t, err)
			body, _ := io.ReadAll(rc)
			rc.Close()
			assert.Contains(t, string(body), "required TLS connection to example.net failed")
		}
	}
	assert.Equal(t, 1, alerts, "one alert per destination and hour, not one per retry")
}

func TestPermanentRejectionBounces(t *testing.T) {
	p := startPeer(t, nil)
	p.reject["nobody@example.net"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	h := newHarness(t, route("example.net", p.addr))
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net", "nobody@example.net")
	h.logContains(t, "Bounced: DCID", "- 5.1.1 - 550", "bounce MID")
	require.Eventually(t, func() bool { return len(p.received()) == 1 }, 5*time.Second, 20*time.Millisecond)
	var dsn string
	require.Eventually(t, func() bool {
		msgs, _ := h.spool.List()
		for _, m := range msgs {
			if m.Envelope.From == "" && len(m.Envelope.To) == 1 && m.Envelope.To[0] == "alice@sender.test" {
				_, rc, err := h.spool.Get(m.MID)
				if err != nil {
					return false
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				dsn = string(b)
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, dsn, "Content-Type: multipart/report; report-type=delivery-status")
	assert.Contains(t, dsn, "Final-Recipient: rfc822; nobody@example.net")
	assert.Contains(t, dsn, "Status: 5.1.1")
	assert.Contains(t, dsn, "Subject: test", "the original header is returned")
}

func TestExpiredMessageBounces(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		route("example.net", "127.0.0.1:1")(c) // nothing listens
		c.Delivery.MaxQueueLifetime = config.Duration(time.Hour)
	})
	h.run(t)
	h.queue(t, "alice@sender.test", "bob@example.net")
	h.logContains(t, "Delayed: MID")
	h.mu.Lock()
	h.shift = 2 * time.Hour
	h.mu.Unlock()
	h.d.Notify()
	h.logContains(t, "- 5.4.7 - delivery time expired", "bounce MID")
	require.Eventually(t, func() bool {
		msgs, err := h.spool.List()
		if err != nil || len(msgs) != 1 {
			return false
		}
		return msgs[0].Envelope.From == "" && msgs[0].Envelope.To[0] == "alice@sender.test"
	}, 5*time.Second, 20*time.Millisecond, "the expired message left the queue; only its bounce to the sender is queued")
}

func TestRestartNeverRedeliversToAPeerThatAccepted(t *testing.T) {
	good := startPeer(t, nil)
	h := newHarness(t, func(c *config.Config) {
		route("example.net", good.addr)(c)
		route("slow.test", "127.0.0.1:1")(c) // this domain keeps failing
	})
	h.run(t)
	mid := h.queue(t, "alice@sender.test", "bob@example.net", "carl@slow.test")
	require.Eventually(t, func() bool { return len(good.received()) == 1 }, 10*time.Second, 20*time.Millisecond)
	h.logContains(t, "Delayed: MID")
	// A second deliverer on the same spool and state (as after a restart).
	d2 := New(Options{Spool: h.spool, Log: h.log, StateDir: h.d.opts.StateDir, Now: h.d.opts.Now})
	st, err := loadState(d2.statePath(mid))
	require.NoError(t, err)
	assert.True(t, st.Done[0], "the accepted recipient is recorded")
	assert.False(t, st.Done[1])
	d2.Apply(&Settings{Config: h.cfg, TLS: &tls.Config{RootCAs: x509.NewCertPool()}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d2.Run(ctx); close(done) }()
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	assert.Len(t, good.received(), 1, "bob got the message once, across the restart")
}

func TestBackoffGrowsToTheMaximum(t *testing.T) {
	c := config.Delivery{RetryInitial: config.Duration(time.Minute), RetryMax: config.Duration(10 * time.Minute)}
	assert.Equal(t, time.Minute, backoff(c, 1))
	assert.Equal(t, 2*time.Minute, backoff(c, 2))
	assert.Equal(t, 8*time.Minute, backoff(c, 4))
	assert.Equal(t, 10*time.Minute, backoff(c, 9))
}
