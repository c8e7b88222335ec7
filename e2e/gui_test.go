package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
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

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// screenshotDir keeps the GUI screenshots of the browser tests (gitignored).
const screenshotDir = "artifacts/screenshots"

// requireChromium fails (never skips) when Chromium is missing.
func requireChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not on PATH (%v): the browser tests need it; run `make test-deps`", err)
	}
	return path
}

// spkiHash is the base64 SHA-256 of the certificate's public key that
// --ignore-certificate-errors-spki-list takes: the browser accepts exactly
// the appliance's self-signed certificate, not any.
func spkiHash(t *testing.T, address string) string {
	t.Helper()
	c, err := tls.Dial("tcp", address, &tls.Config{InsecureSkipVerify: true}) // read the certificate to pin it
	require.NoError(t, err)
	defer c.Close()
	sum := sha256.Sum256(c.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// newChromium starts headless Chromium with a fresh profile that trusts the
// appliance's certificate at address.
func newChromium(t *testing.T, address string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(requireChromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, address)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	_, err := chromedp.Run(ctx, chromedp.Evaluate[int](`1`))
	require.NoError(t, err, "starting Chromium")
	return ctx
}

// gui drives the browser against one appliance.
type gui struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (g *gui) do(steps ...chromedp.Action[chromedp.Void]) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
	defer cancel()
	require.NoError(g.t, chromedp.Do(ctx, steps...))
}

// open loads a page and waits for it.
func (g *gui) open(path string) {
	g.t.Helper()
	g.do(chromedp.Navigate(g.base + path))
}

// submit clicks a button that submits a form and waits for the next page.
func (g *gui) submit(id string) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.ID(id))))
	require.NoError(g.t, err)
}

func (g *gui) eval(js string) string {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	require.NoError(g.t, err, js)
	return v
}

func (g *gui) disabled(id string) bool {
	return g.eval(fmt.Sprintf(`String(document.getElementById(%q).disabled)`, id)) == "true"
}

func (g *gui) location() string { return g.eval(`location.pathname`) }

func (g *gui) body() string { return g.eval(`document.body.innerText`) }

// download clicks a link and returns the file the browser saved.
func (g *gui) download(link chromedp.CSS) string {
	g.t.Helper()
	dir := g.t.TempDir()
	ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	require.NoError(g.t, chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			on := true
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on})
			return err
		}),
		chromedp.Click(link)))
	for ev, err := range progress {
		require.NoError(g.t, err, "waiting for the download")
		if ev.State == browser.DownloadProgressStateCompleted {
			b, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			require.NoError(g.t, err)
			return string(b)
		}
		require.NotEqual(g.t, browser.DownloadProgressStateCanceled, ev.State, "the download was cancelled")
	}
	g.t.Fatal("no download")
	return ""
}

// shot keeps a full-page screenshot under artifacts/screenshots.
func (g *gui) shot(name string) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // PNG
	require.NoError(g.t, err)
	require.NoError(g.t, os.MkdirAll(screenshotDir, 0o755))
	require.NoError(g.t, os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644))
}

func (g *gui) login(user, pass string) {
	g.t.Helper()
	g.open("/login")
	g.do(chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), pass))
	g.submit("login")
}

// fetchText posts a form from the page's own origin, with its session, as
// a forged request bypassing the page's checkboxes would, and returns the
// status and the body.
func (g *gui) fetchText(path, form string) string {
	return g.eval(fmt.Sprintf(`fetch(%q, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %q}).then(async r => r.status + "\n" + await r.text())`, path, form))
}

var oneTimeRE = regexp.MustCompile(`one-time password (\S+)`)

// TestGUIInChromium walks the GUI in headless Chromium: the first login
// changes the one-time password; SSL Configuration's checkboxes cannot make
// a gap and the server refuses a forged one; a commit with a comment puts
// the new GUI versions in force (openssl s_client sees them); a certificate
// is made and its CSR downloaded; an operator cannot commit. Each page is
// kept as a screenshot.
func TestGUIInChromium(t *testing.T) {
	requireOpenSSL(t)
	a := startAppliance(t, startOptions{oneTimePassword: true})
	address := addr(a.httpsPort)
	m := oneTimeRE.FindStringSubmatch(a.stdout.String())
	require.NotNil(t, m, a.stdout.String())
	g := &gui{t: t, ctx: newChromium(t, address), base: "https://" + address}

	// The first login: the one-time password must be changed first.
	g.login("admin", m[1])
	assert.Equal(t, "/password", g.location())
	assert.Contains(t, g.body(), "one-time password")
	g.shot("password")
	g.open("/ssl")
	assert.Equal(t, "/password", g.location(), "nothing else before the new password")
	g.do(chromedp.SendKeys(chromedp.ID("new"), "short"), chromedp.SendKeys(chromedp.ID("again"), "short"))
	g.submit("change")
	assert.Contains(t, g.body(), "The password must be at least 8 characters long.")
	g.do(chromedp.SendKeys(chromedp.ID("new"), adminPassword), chromedp.SendKeys(chromedp.ID("again"), adminPassword))
	g.submit("change")
	assert.Equal(t, "/", g.location())
	assert.Contains(t, g.body(), "Password changed")
	g.shot("status")

	// SSL Configuration: the checkboxes keep the methods contiguous.
	before := opensslProbe(t, address, false, versionByID(t, tls.VersionTLS13))
	require.False(t, before.accepted(versionByID(t, tls.VersionTLS13)), "TLS 1.3 is off at first:\n%s", before.output)
	g.open("/ssl")
	for _, id := range []string{"gui_tlsv1_3", "gui_tlsv1_2", "gui_tlsv1_1", "gui_tlsv1_0"} {
		assert.False(t, g.disabled(id), "%s: with TLS 1.1-1.2 on, every change keeps them contiguous", id)
	}
	g.do(chromedp.Click(chromedp.ID("gui_tlsv1_3")))
	assert.True(t, g.disabled("gui_tlsv1_2"), "unticking 1.2 between 1.3 and 1.1 would leave a gap")
	g.do(chromedp.Click(chromedp.ID("gui_tlsv1_1")))
	assert.True(t, g.disabled("gui_tlsv1_0"), "ticking 1.0 under 1.2-1.3 would leave a gap")
	assert.False(t, g.disabled("gui_tlsv1_2"))
	g.shot("ssl")
	g.submit("ssl-submit")
	assert.Contains(t, g.body(), "SSL settings changed (pending until you commit).")
	assert.Contains(t, g.body(), "You have uncommitted changes.")

	// A forged gap is refused by the server, and changes nothing.
	ciphers := "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL"
	forged := "gui_methods=TLSv1.3&gui_methods=TLSv1.1&gui_ciphers=" + ciphers + "&inbound_methods=TLSv1.2&inbound_ciphers=HIGH&outbound_methods=TLSv1.2&outbound_ciphers=HIGH"
	out := g.fetchText("/ssl", forged)
	assert.True(t, strings.HasPrefix(out, "422\n"), out)
	assert.Contains(t, out, "TLS protocols can be enabled only in sequence: TLSv1.1 and TLSv1.3 leave a gap")

	// Commit with a comment; the next connection negotiates the new versions.
	g.open("/changes")
	assert.Contains(t, g.body(), "TLSv1.3", "the pending diff")
	g.shot("changes")
	g.do(chromedp.SendKeys(chromedp.ID("comment"), "GUI: TLS 1.2 and 1.3"))
	g.submit("commit")
	assert.Contains(t, g.body(), "Changes committed as version")
	after := opensslProbe(t, address, false, versionByID(t, tls.VersionTLS13))
	assert.True(t, after.accepted(versionByID(t, tls.VersionTLS13)), after.output)
	old := opensslProbe(t, address, false, versionByID(t, tls.VersionTLS11))
	assert.False(t, old.accepted(versionByID(t, tls.VersionTLS11)), "TLS 1.1 is off now:\n%s", old.output)
	show := a.cli(t, "showconfig mask\n")
	assert.Contains(t, show.stdout, "comment: 'GUI: TLS 1.2 and 1.3'")
	// The browser goes on: its open connection may keep its TLS 1.2 session
	// (a commit drops no connection), a new one is TLS 1.3.
	g.open("/")
	assert.Contains(t, []string{"TLSv1.2", "TLSv1.3"}, g.eval(`document.getElementById("protocol").innerText`))

	// Certificates: create one, download its CSR.
	g.open("/certificates")
	g.do(chromedp.SendKeys(chromedp.ID("cert-name"), "Web"), chromedp.SendKeys(chromedp.ID("cert-cn"), "web.e2e.test"),
		chromedp.SendKeys(chromedp.ID("cert-c"), "US"))
	g.submit("cert-create")
	assert.Contains(t, g.body(), `Certificate "Web" created`)
	assert.Contains(t, g.eval(`document.getElementById("cert-Web").innerText`), "Not signed")
	g.shot("certificates")
	csrPEM := g.download(chromedp.CSS("#cert-Web a.csr"))
	blk, _ := pem.Decode([]byte(csrPEM))
	require.NotNil(t, blk, csrPEM)
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	require.NoError(t, err)
	assert.Equal(t, "web.e2e.test", csr.Subject.CommonName)
	assert.NoError(t, csr.CheckSignature())
	// Deleting a certificate in use is refused, saying where.
	out = g.fetchText("/certificates/Demo/delete", "")
	assert.Contains(t, out, "is in use by listener IncomingMail (inbound TLS)")

	// The other pages, for the screenshots.
	for _, p := range []string{"listeners", "interfaces", "destinations", "routes", "websecurity", "ldap", "maillog", "queue"} {
		g.open("/" + p)
		assert.NotContains(t, g.body(), "could not be shown")
		g.shot(p)
	}

	// An operator edits but cannot commit.
	require.Equal(t, 0, a.mustCommit(t, `userconfig new olga "Olga Op" operator Olga-Pass-1`+"\ncommit olga\n").code)
	g.submitLogout()
	g.login("olga", "Olga-Pass-1")
	g.do(chromedp.SendKeys(chromedp.ID("new"), "Olga-Pass-2"), chromedp.SendKeys(chromedp.ID("again"), "Olga-Pass-2"))
	g.submit("change")
	g.open("/ssl")
	g.do(chromedp.Click(chromedp.ID("other_client_tlsv10")))
	g.submit("ssl-submit")
	g.open("/changes")
	assert.True(t, g.disabled("commit"), "the Commit button is off for operators")
	g.shot("operator-changes")
	out = g.fetchText("/changes/commit", "comment=olga")
	assert.True(t, strings.HasPrefix(out, "403\n"), out)
	assert.Contains(t, out, "operators cannot commit")
	assert.NotContains(t, a.cli(t, "showconfig mask\n").stdout, "other_client_tlsv10: true")
}

func (g *gui) submitLogout() {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS("form.logout button"))))
	require.NoError(g.t, err)
}

// TestGUITLSCommitIsHitless: a commit that changes the GUI's TLS versions,
// sent over a TLS 1.2 connection, is answered on that connection; the next
// connection negotiates the new settings (TLS 1.3 only) and a TLS 1.2 one is refused.
func TestGUITLSCommitIsHitless(t *testing.T) {
	a := startAppliance(t, startOptions{})
	address := addr(a.httpsPort)
	token := apiToken(t, a, "admin", "hitless")
	conn, err := tls.Dial("tcp", address, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}) // the Demo certificate is self-signed
	require.NoError(t, err)
	defer conn.Close()
	require.Equal(t, uint16(tls.VersionTLS12), conn.ConnectionState().Version)
	c := &rawHTTP{t: t, conn: conn, token: token}

	ssl := c.do("GET", "/api/v1/ssl", "", "")
	require.Equal(t, 200, ssl.code, ssl.body)
	body := regexp.MustCompile(`(?s)"gui": \{\s*"methods": \[[^\]]*\]`).ReplaceAllString(ssl.body, `"gui": {"methods": ["TLSv1.3"]`)
	r := c.do("PUT", "/api/v1/ssl", ssl.etag, body)
	require.Equal(t, 200, r.code, r.body)
	p := c.do("GET", "/api/v1/config/pending", "", "")
	r = c.do("POST", "/api/v1/commit", p.etag, `{"comment": "GUI TLS 1.3 only"}`)
	require.Equal(t, 200, r.code, r.body)
	assert.Contains(t, r.body, `"comment": "GUI TLS 1.3 only"`, "the commit's answer came back on the old TLS 1.2 connection")

	_, err = tls.Dial("tcp", address, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}) // probe only
	assert.Error(t, err, "a new TLS 1.2 connection is refused")
	n, err := tls.Dial("tcp", address, &tls.Config{InsecureSkipVerify: true}) // probe only
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS13), n.ConnectionState().Version)
	n.Close()
}

// rawHTTP speaks HTTP/1.1 on one connection, so a test knows which
// connection carried which request.
type rawHTTP struct {
	t     *testing.T
	conn  net.Conn
	token string
}

type rawAnswer struct {
	code       int
	etag, body string
}

func (c *rawHTTP) do(method, path, ifMatch, body string) rawAnswer {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: relaybox\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n", method, path, c.token, len(body))
	if ifMatch != "" {
		fmt.Fprintf(&b, "If-Match: %s\r\nContent-Type: application/json\r\n", ifMatch)
	}
	b.WriteString("\r\n" + body)
	_ = c.conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, err := c.conn.Write([]byte(b.String()))
	require.NoError(c.t, err)
	resp, err := readResponse(c.conn)
	require.NoError(c.t, err)
	return resp
}

var lengthRE = regexp.MustCompile(`(?im)^content-length: (\d+)\r$`)
var etagRE = regexp.MustCompile(`(?im)^etag: (.*)\r$`)

// readResponse reads one response with a Content-Length body.
func readResponse(conn net.Conn) (rawAnswer, error) {
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := conn.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if i := strings.Index(string(buf), "\r\n\r\n"); i >= 0 {
			head := string(buf[:i+2])
			m := lengthRE.FindStringSubmatch(head)
			if m == nil {
				return rawAnswer{}, fmt.Errorf("no Content-Length in %q", head)
			}
			want, _ := strconv.Atoi(m[1])
			if len(buf)-(i+4) >= want {
				code, _ := strconv.Atoi(strings.Fields(head)[1])
				r := rawAnswer{code: code, body: string(buf[i+4 : i+4+want])}
				if e := etagRE.FindStringSubmatch(head); e != nil {
					r.etag = e[1]
				}
				return r, nil
			}
		}
		if err != nil {
			return rawAnswer{}, err
		}
	}
}

var tokenRE = regexp.MustCompile(`(?m)^(rbx_\S+)$`)

// apiToken makes and commits an API token in the shell and returns it.
func apiToken(t *testing.T, a *appliance, user, label string) string {
	t.Helper()
	res := a.mustCommit(t, "userconfig apitokens "+user+" new "+label+"\ncommit token "+label+"\n")
	m := tokenRE.FindStringSubmatch(res.stdout)
	require.NotNil(t, m, res.stdout)
	return m[1]
}
