package webui_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/appliance"
	"relaybox/config"
	"relaybox/internal/testnet"
	"relaybox/shell"
)

const adminPass = "Admin-Pass-1"

// box is a real appliance on loopback ports: the engine serves the GUI on
// its interface's HTTPS port.
type box struct {
	a       *appliance.Appliance
	base    string // https://127.0.0.1:PORT
	oneTime string // the first start's one-time password, when it made one
}

func startBox(t *testing.T, password string) *box {
	t.Helper()
	first := config.DefaultPorts
	first.Hostname = "box.example.test"
	first.SMTPPort, first.SubmissionPort, first.HTTPSPort, first.SSHPort = testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)
	first.Domains = []string{"example.test"}
	first.Resolver = "127.0.0.1:1"
	var out bytes.Buffer
	a, err := appliance.Start(context.Background(), appliance.Options{DataDir: t.TempDir(), First: first, AdminPassword: password, Version: "test", Out: &out})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	b := &box{a: a, base: "https://127.0.0.1:" + strconv.Itoa(first.HTTPSPort)}
	if m := regexp.MustCompile(`one-time password (\S+)`).FindStringSubmatch(out.String()); m != nil {
		b.oneTime = m[1]
	}
	return b
}

// shell runs a batch script in a console session of user (the shell's way in).
func (b *box) shell(t *testing.T, text string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	opts := b.a.Session("admin")
	opts.In, opts.Out, opts.Err = strings.NewReader(text), &out, &errOut
	code := shell.Run(context.Background(), opts)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	return out.String()
}

// token makes an API token for user in the shell and commits it.
func (b *box) token(t *testing.T, user, label string) string {
	t.Helper()
	out := b.shell(t, "userconfig apitokens "+user+" new "+label+"\ncommit token "+label+"\n")
	m := regexp.MustCompile(`(?m)^(rbx_\S+)$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	return m[1]
}

// startAPIClient starts a box with adminPass and a client holding an API
// token of admin's, the setup of most API tests.
func startAPIClient(t *testing.T) (*box, *browser) {
	t.Helper()
	b := startBox(t, adminPass)
	w := b.browser(t)
	w.tok = b.token(t, "admin", "ci")
	return b, w
}

// browser is a client with a cookie jar that does not follow redirects.
type browser struct {
	t   *testing.T
	b   *box
	c   *http.Client
	tok string // sent as a bearer token when set
}

func (b *box) browser(t *testing.T) *browser { return b.browserFrom(t, "127.0.0.1") }

// browserFrom connects from a loopback address of its own (lock-outs count per address).
func (b *box) browserFrom(t *testing.T, local string) *browser {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DialContext: d.DialContext} // the Demo certificate is self-signed
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, b: b, c: &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.body), &m), a.body)
	return m
}

func (w *browser) do(method, path string, body io.Reader, header map[string]string) answer {
	w.t.Helper()
	req, err := http.NewRequest(method, w.b.base+path, body)
	require.NoError(w.t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if w.tok != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+w.tok)
	}
	resp, err := w.c.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (w *browser) get(path string) answer { return w.do("GET", path, nil, nil) }

func (w *browser) post(path string, form url.Values) answer {
	return w.do("POST", path, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

func (w *browser) login(user, pass string) answer {
	return w.post("/login", url.Values{"username": {user}, "password": {pass}})
}

// api sends JSON with If-Match (when etag is not "").
func (w *browser) api(method, path, etag string, body any) answer {
	var r io.Reader
	h := map[string]string{}
	switch v := body.(type) {
	case nil:
	case string:
		r, h["Content-Type"] = strings.NewReader(v), "application/json"
	default:
		b, err := json.Marshal(v)
		require.NoError(w.t, err)
		r, h["Content-Type"] = bytes.NewReader(b), "application/json"
	}
	if etag != "" {
		h["If-Match"] = etag
	}
	return w.do(method, path, r, h)
}

func itoa(n int) string { return strconv.Itoa(n) }
