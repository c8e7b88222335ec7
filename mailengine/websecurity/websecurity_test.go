package websecurity

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/internal/testwebsec"
	"relaybox/mailengine/queue"
)

// box is a configuration with a key store holding the client certificates.
type box struct {
	keys *certstore.KeyStore
	c    *config.Config
}

func newBox(t *testing.T, srv *testwebsec.Server) *box {
	t.Helper()
	keys, err := certstore.NewKeyStore(afero.NewOsFs(), t.TempDir())
	require.NoError(t, err)
	b := &box{keys: keys, c: &config.Config{Hostname: "box.example.test"}}
	b.c.Trust = config.Trust{Custom: true, CustomCAs: []config.CA{{Name: "WSCA", PEM: srv.CA.PEM}}}
	b.addCert(t, "Right", srv.CA.Issue(t, "box.example.test", true))
	b.addCert(t, "Wrong", testwebsec.NewAuthority(t, "Other CA").Issue(t, "box.example.test", true))
	b.c.WebSecurity = config.WebSecurity{Enabled: true, ServiceURL: srv.URL, Certificate: "Right"}
	return b
}

func (b *box) addCert(t *testing.T, name string, is testwebsec.Issued) {
	cert, _, err := b.keys.FromPEM(name, is.CertPEM, is.KeyPEM)
	require.NoError(t, err)
	b.c.Certificates = append(b.c.Certificates, cert)
}

func (b *box) diagnose(t *testing.T) (string, error) {
	var out strings.Builder
	err := Diagnostics{Keys: b.keys, Trust: certstore.TrustPool}.Diagnose(context.Background(), b.c, func(f string, a ...any) {
		fmt.Fprintf(&out, f+"\n", a...)
	})
	return out.String(), err
}

func TestDiagnose(t *testing.T) {
	plain := testwebsec.Start(t, testwebsec.Options{})
	tls10 := testwebsec.StartWith(t, plain.CA, testwebsec.Options{MaxVersion: tls.VersionTLS10})
	misnamed := testwebsec.StartWith(t, plain.CA, testwebsec.Options{Name: "other.example.test"})
	untrusted := testwebsec.Start(t, testwebsec.Options{NoClientAuth: true}) // its CA is not in the trust store
	tests := []struct {
		name    string
		url     string
		edit    func(c *config.Config)
		lines   []string
		wantErr string
	}{
		{"right certificate", plain.URL, nil,
			[]string{"Connect: connected to 127.0.0.1:", "TLS: TLSv1.2 with ECDHE-ECDSA-", "Chain: verifies against the trust store", "Name: the certificate carries localhost",
				"the server asked for one; we presented Right", "Client certificate: accepted by the server", "Test lookup: HTTP 200 OK",
				"Test lookup: " + TestURL + " reputation 6.0", "Result: the web security service can be used."}, ""},
		{"wrong certificate", plain.URL, func(c *config.Config) { c.WebSecurity.Certificate = "Wrong" },
			[]string{"we presented Wrong", "TLS: FAILED: remote error: tls: "}, "the service refused the client certificate Wrong"},
		{"no certificate", plain.URL, func(c *config.Config) { c.WebSecurity.Certificate = "" },
			[]string{"Client certificate: none", "we have none to present"}, "the service requires a client certificate and none is set"},
		{"TLS 1.0 only, refused", tls10.URL, nil, []string{"TLS v1.0 not allowed"}, "enable OTHER_CLIENT_TLSV10 in sslconfig"},
		{"TLS 1.0 only, OTHER_CLIENT_TLSV10", tls10.URL, func(c *config.Config) { c.SSL.OtherClientTLSv10 = true },
			[]string{"TLS: TLSv1.0 with ", "Test lookup: HTTP 200 OK"}, ""},
		{"name mismatch, PEER_CERT_FQDN off", misnamed.URL, nil,
			[]string{"does NOT carry localhost", "not enforced, PEER_CERT_FQDN is off", "Result: the web security service can be used."}, ""},
		{"name mismatch, PEER_CERT_FQDN on", misnamed.URL, func(c *config.Config) { c.SSL.PeerCertFQDN = true },
			[]string{"refused, PEER_CERT_FQDN is on"}, "does not carry the host name"},
		{"chain unverified, PEER_CERT_X509 off", untrusted.URL, nil,
			[]string{"Chain: does NOT verify", "not enforced, PEER_CERT_X509 is off", "the server did not ask for one", "Test lookup: HTTP 200 OK"}, ""},
		{"chain unverified, PEER_CERT_X509 on", untrusted.URL, func(c *config.Config) { c.SSL.PeerCertX509 = true },
			[]string{"refused, PEER_CERT_X509 is on"}, "add its authority with certconfig CERTAUTHORITY"},
		{"service down", "https://localhost:1/lookup", nil, []string{"FAILED"}, "cannot connect to the service at localhost port 1"},
		{"no URL", "", func(c *config.Config) { c.WebSecurity.ServiceURL = "" }, nil, "no web security service URL is configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBox(t, plain)
			b.c.WebSecurity.ServiceURL = tt.url
			if tt.edit != nil {
				tt.edit(b.c)
			}
			out, err := b.diagnose(t)
			for _, l := range tt.lines {
				assert.Contains(t, out, l)
			}
			if tt.wantErr == "" {
				assert.NoError(t, err, out)
			} else {
				require.Error(t, err, out)
				assert.Contains(t, err.Error(), tt.wantErr, out)
				assert.NotContains(t, out, "Result: the web security service can be used.")
			}
		})
	}
}

// memLog collects mail_logs lines.
type memLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *memLog) Infof(f string, a ...any)    { l.add("Info: " + fmt.Sprintf(f, a...)) }
func (l *memLog) Warningf(f string, a ...any) { l.add("Warning: " + fmt.Sprintf(f, a...)) }
func (l *memLog) add(s string)                { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }
func (l *memLog) text() string                { l.mu.Lock(); defer l.mu.Unlock(); return strings.Join(l.lines, "\n") }

const message = "From: a@example.test\r\nSubject: links\r\nContent-Type: text/html\r\n\r\n" +
	`<a href="https://phish.bad.example/login">x</a> <a href="https://docs.good.example/a">y</a> https://news.example.test/today` + "\r\n"

func TestStamp(t *testing.T) {
	srv := testwebsec.Start(t, testwebsec.Options{})
	slow := testwebsec.StartWith(t, srv.CA, testwebsec.Options{Delay: 3 * time.Second})
	down, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downURL := "https://localhost:" + strings.TrimPrefix(down.Addr().String(), "127.0.0.1:") + "/lookup"
	require.NoError(t, down.Close())
	tests := []struct {
		name        string
		edit        func(c *config.Config)
		msg         string
		header      string
		logs        []string
		asked       []string // URLs the service got (srv only)
		maxDuration time.Duration
	}{
		{"verdict is the worst URL", nil, message,
			`X-Relaybox-URL-Reputation: -9.5; category="Phishing"; urls=3; looked_up=3` + "\r\n",
			[]string{"Info: MID 7 URL https://phish.bad.example/login reputation -9.5 category Phishing",
				"Info: MID 7 URL https://news.example.test/today reputation 6.0 category Business and Industry",
				"Info: MID 7 Web Security verdict: reputation -9.5 category Phishing (3 URLs, 3 looked up)"},
			[]string{"https://phish.bad.example/login", "https://docs.good.example/a", "https://news.example.test/today"}, 2 * time.Second},
		{"allow list is not looked up", func(c *config.Config) {
			c.URLLists = []config.URLList{{Name: "Good", Entries: []string{"good.example", "https://news.example.test/"}}}
			c.WebSecurity.AllowList = "Good"
		}, message, `X-Relaybox-URL-Reputation: -9.5; category="Phishing"; urls=3; looked_up=1` + "\r\n",
			[]string{"Info: MID 7 URL https://docs.good.example/a on allow list Good: not looked up"},
			[]string{"https://phish.bad.example/login"}, 2 * time.Second},
		{"no URLs", nil, "Subject: none\r\n\r\nno links here\r\n", "X-Relaybox-URL-Reputation: none; urls=0; looked_up=0\r\n",
			[]string{"Info: MID 7 Web Security verdict: none (0 URLs, none to look up)"}, nil, time.Second},
		{"service down", func(c *config.Config) { c.WebSecurity.ServiceURL = downURL }, message,
			"X-Relaybox-URL-Reputation: unavailable; urls=3; looked_up=0\r\n",
			[]string{"Warning: MID 7 Web Security lookup failed after", "connection refused", "the message goes on without a verdict"}, nil, time.Second},
		{"service slow", func(c *config.Config) { c.WebSecurity.ServiceURL = slow.URL }, message,
			"X-Relaybox-URL-Reputation: unavailable; urls=3; looked_up=0\r\n",
			[]string{"Warning: MID 7 Web Security lookup failed after", "the message goes on without a verdict"}, nil, 2 * time.Second},
		{"wrong certificate", func(c *config.Config) { c.WebSecurity.Certificate = "Wrong" }, message,
			"X-Relaybox-URL-Reputation: unavailable; urls=3; looked_up=0\r\n",
			[]string{"Warning: MID 7 Web Security lookup failed after", "tls: "}, nil, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Requests())
			b := newBox(t, srv)
			if tt.edit != nil {
				tt.edit(b.c)
			}
			lg := &memLog{}
			k, err := NewChecker(b.c, b.keys, certstore.TrustPool, lg)
			require.NoError(t, err)
			k.timeout, k.hc.Timeout = time.Second, time.Second // the slow service answers after 3s
			start := time.Now()
			h := k.Stamp(context.Background(), queue.MID(7), strings.NewReader(tt.msg))
			assert.Less(t, time.Since(start), tt.maxDuration)
			assert.Equal(t, tt.header, string(h))
			for _, l := range tt.logs {
				assert.Contains(t, lg.text(), l)
			}
			if tt.asked != nil {
				reqs := srv.Requests()[before:]
				require.Len(t, reqs, 1)
				assert.Equal(t, tt.asked, reqs[0].URLs)
				assert.Equal(t, "box.example.test", reqs[0].ClientCN)
				assert.Equal(t, "box.example.test", reqs[0].Client)
			}
		})
	}
}

func TestNewChecker(t *testing.T) {
	srv := testwebsec.Start(t, testwebsec.Options{})
	b := newBox(t, srv)
	b.c.WebSecurity.Enabled = false
	k, err := NewChecker(b.c, b.keys, certstore.TrustPool, &memLog{})
	assert.NoError(t, err)
	assert.Nil(t, k, "off: no checker")
	b.c.WebSecurity = config.WebSecurity{Enabled: true, ServiceURL: srv.URL, Certificate: "Gone"}
	_, err = NewChecker(b.c, b.keys, certstore.TrustPool, &memLog{})
	assert.ErrorContains(t, err, `the web security client certificate "Gone" does not exist`)
	b.c.WebSecurity = config.WebSecurity{Enabled: true, ServiceURL: srv.URL, AllowList: "Gone"}
	_, err = NewChecker(b.c, b.keys, certstore.TrustPool, &memLog{})
	assert.ErrorContains(t, err, `the URL allow list "Gone" does not exist`)
}

// TestFailurePause: after a lookup fails, the next messages are not
// looked up (no timeout each) until the pause is over.
func TestFailurePause(t *testing.T) {
	slow := testwebsec.Start(t, testwebsec.Options{Delay: 3 * time.Second})
	b := newBox(t, slow)
	lg := &memLog{}
	k, err := NewChecker(b.c, b.keys, certstore.TrustPool, lg)
	require.NoError(t, err)
	k.timeout, k.hc.Timeout, k.pause = 300*time.Millisecond, 300*time.Millisecond, time.Second
	stamp := func() (string, time.Duration) {
		begin := time.Now()
		h := k.Stamp(context.Background(), queue.MID(9), strings.NewReader(message))
		return string(h), time.Since(begin)
	}
	h, took := stamp()
	assert.Contains(t, h, "unavailable")
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "the first one waits for the timeout")
	h, took = stamp()
	assert.Contains(t, h, "unavailable")
	assert.Less(t, took, 100*time.Millisecond, "the next ones do not")
	assert.Contains(t, lg.text(), "Warning: MID 9 Web Security lookup skipped: it failed 0s ago (")
	assert.Len(t, slow.Requests(), 1, "the service is not asked while paused")
	time.Sleep(time.Second)
	_, took = stamp()
	assert.GreaterOrEqual(t, took, 300*time.Millisecond, "asked again after the pause")
	assert.Len(t, slow.Requests(), 2)
}
