package mailengine_test

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"relaybox/auth"
	"relaybox/config"
	"relaybox/mailengine"
	"relaybox/mailengine/maillog"
)

// loginCost is the bcrypt cost of the administrator's hash in the timing test. The appliance's
// own is bcrypt.DefaultCost (10); measure with -args -login-cost=10.
var loginCost = flag.Int("login-cost", 7, "bcrypt cost of the admin hash in TestGUIUnknownUserCostsAsMuchAsWrongPassword")

type guiFixture struct {
	*fixture
	authLog *maillog.Logger
	logDir  string
}

// newGUIFixture starts an engine whose GUI logs in through an authenticator with policy p and an
// authentication log, as the appliance wires it.
func newGUIFixture(t *testing.T, p auth.Policy) *guiFixture {
	t.Helper()
	dir := t.TempDir()
	lg, err := maillog.Open(dir, 1<<20, 3, maillog.WithName(maillog.AuthLogName))
	require.NoError(t, err)
	t.Cleanup(func() { _ = lg.Close() })
	f := newFixtureWith(t, mailengine.Options{Auth: auth.New(auth.Options{Policy: p, Log: lg})})
	return &guiFixture{fixture: f, authLog: lg, logDir: dir}
}

// fastPolicy is the default policy with delays of a millisecond.
var fastPolicy = auth.Policy{Delay: time.Millisecond, MaxDelay: time.Millisecond}

// guiClientFrom is an HTTPS client whose connections come from the loopback address source.
func guiClientFrom(t *testing.T, source string) *http.Client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

type guiAnswer struct {
	status int
	header http.Header
	body   string
}

// get asks for the status API as user (no credentials if user is "-").
func (f *guiFixture) get(t *testing.T, c *http.Client, user, password string) guiAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+f.httpsAddr()+"/api/v1/status", nil)
	require.NoError(t, err)
	if user != "-" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return guiAnswer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

// authLines is the authentication log without timestamps, checking each has one.
func (f *guiFixture) authLines(t *testing.T) []string {
	t.Helper()
	lines, err := f.authLog.Tail(1000)
	require.NoError(t, err)
	stamp := regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} `)
	var out []string
	for _, l := range lines {
		require.Regexp(t, stamp, l)
		out = append(out, stamp.ReplaceAllString(l, ""))
	}
	return out
}

func TestGUILockout(t *testing.T) {
	type try struct {
		source, user, password string
		want                   int
	}
	failed := func(user, source string) string {
		return fmt.Sprintf("Info: A failed login attempt for user %s from %s (gui)", user, source)
	}
	tests := []struct {
		name  string
		tries []try
		log   []string
	}{
		{
			name: "user locked out after 5 failures: the right password is refused, from any address",
			tries: []try{
				{"127.0.0.1", "admin", "wrong1", 401}, {"127.0.0.1", "admin", "wrong2", 401}, {"127.0.0.1", "admin", "wrong3", 401},
				{"127.0.0.1", "admin", "wrong4", 401}, {"127.0.0.1", "admin", "wrong5", 401},
				{"127.0.0.1", "admin", "pw", 429},
				{"127.0.0.2", "admin", "pw", 429},
				{"127.0.0.2", "admin", "wrong6", 429},
			},
			log: []string{
				failed("admin", "127.0.0.1"), failed("admin", "127.0.0.1"), failed("admin", "127.0.0.1"),
				failed("admin", "127.0.0.1"), failed("admin", "127.0.0.1"),
				"Warning: User admin locked out for 15m0s after 5 failed attempts from 127.0.0.1 (gui)",
				"Warning: Address 127.0.0.1 locked out for 15m0s after 5 failed attempts (gui)",
			},
		},
		{
			name: "address locked out after 5 failures on any names: another address is not",
			tries: []try{
				{"127.0.0.1", "root", "x", 401}, {"127.0.0.1", "guest", "x", 401}, {"127.0.0.1", "test", "x", 401},
				{"127.0.0.1", "operator", "x", 401}, {"127.0.0.1", "admin", "x", 401},
				{"127.0.0.1", "admin", "pw", 429},
				{"127.0.0.2", "admin", "pw", 200},
			},
			log: []string{
				failed("root", "127.0.0.1"), failed("guest", "127.0.0.1"), failed("test", "127.0.0.1"),
				failed("operator", "127.0.0.1"), failed("admin", "127.0.0.1"),
				"Warning: Address 127.0.0.1 locked out for 15m0s after 5 failed attempts (gui)",
				"Info: User admin logged in from 127.0.0.2 (gui)",
			},
		},
		{
			name: "4 failures do not lock",
			tries: []try{
				{"127.0.0.1", "admin", "wrong1", 401}, {"127.0.0.1", "admin", "wrong2", 401}, {"127.0.0.1", "admin", "wrong3", 401},
				{"127.0.0.1", "admin", "wrong4", 401},
				{"127.0.0.1", "admin", "pw", 200},
			},
			log: []string{
				failed("admin", "127.0.0.1"), failed("admin", "127.0.0.1"), failed("admin", "127.0.0.1"), failed("admin", "127.0.0.1"),
				"Info: User admin logged in from 127.0.0.1 (gui)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newGUIFixture(t, fastPolicy)
			clients := map[string]*http.Client{}
			for i, tr := range tt.tries {
				if clients[tr.source] == nil {
					clients[tr.source] = guiClientFrom(t, tr.source)
				}
				got := f.get(t, clients[tr.source], tr.user, tr.password)
				require.Equal(t, tr.want, got.status, "try %d: %s/%s from %s: %s", i, tr.user, tr.password, tr.source, got.body)
				if tr.want == http.StatusTooManyRequests {
					assert.Equal(t, "900", got.header.Get("Retry-After"), "try %d", i)
					assert.Equal(t, "Too many failed login attempts: try again in 15 minutes.\n", got.body)
				}
			}
			assert.Equal(t, tt.log, f.authLines(t))
		})
	}
}

func TestGUIResponsesCarrySecurityHeaders(t *testing.T) {
	f := newGUIFixture(t, fastPolicy)
	c := guiClientFrom(t, "127.0.0.1")
	answers := map[string]guiAnswer{
		"no credentials": f.get(t, c, "-", ""),
		"unknown user":   f.get(t, c, "nosuch", "pw"),
		"wrong password": f.get(t, c, "admin", "wrong"),
		"logged in":      f.get(t, c, "admin", "pw"),
	}
	for range 3 { // the address's 5th failure (the login does not clear an address's)
		f.get(t, c, "admin", "wrong")
	}
	answers["locked out"] = f.get(t, c, "admin", "wrong")

	want := map[string]int{"no credentials": 401, "unknown user": 401, "wrong password": 401, "logged in": 200, "locked out": 429}
	for name, a := range answers {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, want[name], a.status, a.body)
			assert.Equal(t, "max-age=31536000", a.header.Get("Strict-Transport-Security"))
			assert.Equal(t, "nosniff", a.header.Get("X-Content-Type-Options"))
			assert.Equal(t, "DENY", a.header.Get("X-Frame-Options"))
			assert.Equal(t, "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'", a.header.Get("Content-Security-Policy"))
			if a.status == http.StatusUnauthorized {
				assert.Equal(t, `Basic realm="Relaybox", charset="UTF-8"`, a.header.Get("WWW-Authenticate"))
			}
		})
	}
	// One 401 for all three: it does not tell whether the user exists.
	assert.Equal(t, answers["no credentials"].body, answers["unknown user"].body)
	assert.Equal(t, answers["wrong password"].body, answers["unknown user"].body)
	assert.Equal(t, answers["wrong password"].header.Get("Content-Length"), answers["unknown user"].header.Get("Content-Length"))
	assert.NotContains(t, strings.ToLower(answers["unknown user"].body), "exist")
}

// TestGUIUnknownUserCostsAsMuchAsWrongPassword times real HTTPS requests: an unknown user must
// take at least half as long as a wrong password for admin (before: 3 ms against 83 ms).
func TestGUIUnknownUserCostsAsMuchAsWrongPassword(t *testing.T) {
	f := newGUIFixture(t, auth.Policy{MaxFailures: 1 << 20, MaxTracked: 1 << 20, Delay: time.Nanosecond, MaxDelay: time.Nanosecond})
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), *loginCost)
	require.NoError(t, err)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Users[0].PasswordHash = string(hash) }))
	c := guiClientFrom(t, "127.0.0.1")
	timed := func(user string) time.Duration {
		start := time.Now()
		got := f.get(t, c, user, "guess")
		d := time.Since(start)
		require.Equal(t, http.StatusUnauthorized, got.status)
		return d
	}
	timed("nosuch") // the connection, and the dummy hash at this cost
	var unknown, wrong []time.Duration
	for range 9 {
		unknown = append(unknown, timed("nosuch"))
		wrong = append(wrong, timed("admin"))
	}
	slices.Sort(unknown)
	slices.Sort(wrong)
	mu, mw := unknown[len(unknown)/2], wrong[len(wrong)/2]
	t.Logf("bcrypt cost %d, median of %d: unknown user %v, wrong password for admin %v (ratio %.2f)", *loginCost, len(wrong), mu, mw, float64(mu)/float64(mw))
	assert.GreaterOrEqual(t, float64(mu)/float64(mw), 0.5, "an unknown user is answered faster than a wrong password")
}

// TestGUIRemembersLogin: a browser sends the password with each request; one login is one line,
// and a changed password is not remembered past the change.
func TestGUIRemembersLogin(t *testing.T) {
	f := newGUIFixture(t, fastPolicy)
	one, two := guiClientFrom(t, "127.0.0.1"), guiClientFrom(t, "127.0.0.2")
	for range 5 {
		require.Equal(t, http.StatusOK, f.get(t, one, "admin", "pw").status)
	}
	require.Equal(t, http.StatusOK, f.get(t, two, "admin", "pw").status)
	assert.Equal(t, []string{
		"Info: User admin logged in from 127.0.0.1 (gui)",
		"Info: User admin logged in from 127.0.0.2 (gui)",
	}, f.authLines(t))

	hash, err := bcrypt.GenerateFromPassword([]byte("new"), bcrypt.MinCost)
	require.NoError(t, err)
	require.NoError(t, f.apply(t, func(c *config.Config) { c.Users[0].PasswordHash = string(hash) }))
	assert.Equal(t, http.StatusUnauthorized, f.get(t, one, "admin", "pw").status, "the old password is not remembered")
	assert.Equal(t, http.StatusOK, f.get(t, one, "admin", "new").status)

	// The file is named authentication, in the AsyncOS format of mail_logs.
	b, err := os.ReadFile(filepath.Join(f.logDir, maillog.AuthLogName))
	require.NoError(t, err)
	assert.Regexp(t, `^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4} Info: User admin logged in from 127\.0\.0\.1 \(gui\)\n`, string(b))
}

// TestGUIServesTheHandlerGiven: with Options.Handler the HTTPS port serves
// that handler (the appliance's webui) with the security headers, and no
// basic authentication of its own in front.
func TestGUIServesTheHandlerGiven(t *testing.T) {
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		fmt.Fprintf(w, "webui %s %d", r.URL.Path, calls)
	})
	f := newFixtureWith(t, mailengine.Options{Handler: h})
	c := guiClientFrom(t, "127.0.0.1")
	get := func() guiAnswer {
		resp, err := c.Get("https://" + f.httpsAddr() + "/anything")
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return guiAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	a := get()
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "webui /anything 1", a.body, "no basic authentication in front: the handler does its own")
	assert.Equal(t, "max-age=31536000", a.header.Get("Strict-Transport-Security"))
	assert.Equal(t, "DENY", a.header.Get("X-Frame-Options"))
	assert.Contains(t, a.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
}
