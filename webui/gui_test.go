package webui_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"relaybox/config"
)

func TestLoginFormSessionAndLogout(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)

	r := w.get("/ssl")
	require.Equal(t, http.StatusSeeOther, r.code)
	assert.Equal(t, "/login", r.header.Get("Location"), "no session: to the login form")

	tests := []struct {
		name, user, pass string
		code             int
		want             string
	}{
		{"wrong password", "admin", "nope", http.StatusUnauthorized, "Login refused: wrong user name or password."},
		{"unknown user", "mallory", "nope", http.StatusUnauthorized, "Login refused: wrong user name or password."},
		{"no user", "", "x", http.StatusBadRequest, "Enter your user name and password."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.login(tt.user, tt.pass)
			assert.Equal(t, tt.code, r.code)
			assert.Contains(t, r.body, tt.want)
			assert.NotContains(t, r.body, "nope", "a typed password is never rendered back")
		})
	}

	r = w.login("admin", adminPass)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	cookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"relaybox_session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"} {
		assert.Contains(t, cookie, attr)
	}
	r = w.get("/")
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, r.body, "System Status")
	assert.Contains(t, r.body, "admin (admin)")
	assert.Equal(t, "max-age=31536000", r.header.Get("Strict-Transport-Security"))
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	assert.Contains(t, b.a.App.Sessions.Who()[0].Kind, "gui", "who lists the GUI session")

	require.Equal(t, http.StatusSeeOther, w.post("/logout", nil).code)
	r = w.get("/")
	assert.Equal(t, "/login", r.header.Get("Location"), "logged out")
	assert.Empty(t, b.a.App.Sessions.Who(), "the GUI session ended")
}

func TestLockoutSharedWithSSH(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	b.shell(t, "userconfig policy lockout_after=3 lockout_seconds=600\ncommit lock-out\n")
	w := b.browser(t)
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, w.login("admin", "wrong").code)
	}
	r := w.login("admin", adminPass)
	assert.Equal(t, http.StatusTooManyRequests, r.code, "locked out: the right password is refused too")
	assert.Contains(t, r.body, "Too many failed login attempts: try again in 10 minutes.")
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	// SSH shares the lock-out: the user name is locked there too.
	port := b.a.Store.Current().Interfaces[0].SSHPort
	_, err := ssh.Dial("tcp", "127.0.0.1:"+itoa(port), &ssh.ClientConfig{User: "admin", Auth: []ssh.AuthMethod{ssh.Password(adminPass)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()}) // a test of the lock-out, not of the host key
	require.Error(t, err, "SSH refuses the locked-out name")
}

func TestOneTimePasswordChangedAtFirstLogin(t *testing.T) {
	t.Parallel()
	b := startBox(t, "")
	require.NotEmpty(t, b.oneTime)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", b.oneTime).code)
	for _, p := range []string{"/", "/ssl", "/certificates"} {
		r := w.get(p)
		assert.Equal(t, "/password", r.header.Get("Location"), "%s: the one-time password is changed first", p)
	}
	r := w.get("/password")
	assert.Contains(t, r.body, "one-time password")

	refusals := []struct{ name, new, again, want string }{
		{"too short", "short", "short", "The password must be at least 8 characters long."},
		{"user name", "admin", "admin", "at least 8"},
		{"same as now", b.oneTime, b.oneTime, "The password must not be the same as the previous password."},
		{"mismatch", "New-Pass-12", "New-Pass-13", "The passwords do not match"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post("/password", url.Values{"new": {tt.new}, "again": {tt.again}})
			assert.Equal(t, http.StatusUnprocessableEntity, r.code)
			assert.Contains(t, r.body, tt.want)
			assert.True(t, b.a.Store.Current().LoginUser("admin").MustChangePassword, "nothing changed")
		})
	}
	v := b.a.Store.Current().Version
	r = w.post("/password", url.Values{"new": {"New-Pass-12"}, "again": {"New-Pass-12"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	cur := b.a.Store.Current()
	assert.Equal(t, v+1, cur.Version)
	assert.Equal(t, "passwd: admin changed their password at login", cur.Comment)
	assert.False(t, cur.LoginUser("admin").MustChangePassword)
	assert.Equal(t, http.StatusOK, w.get("/").code)

	w2 := b.browser(t)
	assert.Equal(t, http.StatusUnauthorized, w2.login("admin", b.oneTime).code, "the one-time password is gone")
	assert.Equal(t, http.StatusSeeOther, w2.login("admin", "New-Pass-12").code)
}

func sslForm(gui ...string) url.Values {
	c := config.Defaults(config.FirstStart{Hostname: "x.example.test"})
	f := url.Values{"gui_methods": gui, "gui_ciphers": {c.SSL.GUI.Ciphers},
		"inbound_methods": {"TLSv1.1", "TLSv1.2"}, "inbound_ciphers": {c.SSL.Inbound.Ciphers},
		"outbound_methods": {"TLSv1.1", "TLSv1.2"}, "outbound_ciphers": {c.SSL.Outbound.Ciphers}}
	return f
}

func TestSSLFormPendingCommitAndRoles(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	b.shell(t, "userconfig new olga \"Olga Op\" operator Olga-Pass-1\ncommit olga\n")
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	before := b.a.Store.Current().Version

	// A forged gap (the checkboxes grey it out; the server refuses it).
	r := w.post("/ssl", sslForm("TLSv1.1", "TLSv1.3"))
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, "ssl.gui.methods: TLS protocols can be enabled only in sequence: TLSv1.1 and TLSv1.3 leave a gap")
	assert.NotContains(t, r.body, "pending-banner", "a refusal changes nothing")
	r = w.post("/ssl", sslForm())
	assert.Contains(t, r.body, "no TLS method enabled")

	r = w.post("/ssl", sslForm("TLSv1.2", "TLSv1.3"))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.get("/ssl")
	assert.Contains(t, r.body, "pending-banner", "the banner while changes are pending")
	assert.Contains(t, r.body, "SSL settings changed (pending until you commit).")
	r = w.get("/changes")
	assert.Contains(t, r.body, "TLSv1.3", "the pending diff")
	assert.Equal(t, before, b.a.Store.Current().Version, "nothing committed yet")

	r = w.post("/changes/commit", url.Values{"comment": {"GUI to TLS 1.2-1.3"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	cur := b.a.Store.Current()
	assert.Equal(t, before+1, cur.Version)
	assert.Equal(t, "GUI to TLS 1.2-1.3", cur.Comment)
	assert.Equal(t, []config.Method{config.TLS12, config.TLS13}, cur.SSL.GUI.Methods)
	assert.NotContains(t, w.get("/").body, "pending-banner")

	// An operator edits but cannot commit.
	op := b.browser(t)
	require.Equal(t, http.StatusSeeOther, op.login("olga", "Olga-Pass-1").code)
	r = op.post("/password", url.Values{"new": {"Olga-Pass-2"}, "again": {"Olga-Pass-2"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, http.StatusSeeOther, op.post("/ssl", sslForm("TLSv1.3")).code)
	r = op.post("/changes/commit", url.Values{"comment": {"by olga"}})
	assert.Equal(t, http.StatusForbidden, r.code)
	assert.Contains(t, r.body, "operators cannot commit: you are not in the correct access group to use commit (your role is operator)")
	assert.Equal(t, before+2, b.a.Store.Current().Version, "only olga's password was committed")
	require.Equal(t, http.StatusSeeOther, op.post("/changes/abandon", nil).code)
	assert.Contains(t, op.get("/changes").body, "There are no uncommitted changes.")
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	r := w.do("POST", "/ssl", strings.NewReader(sslForm("TLSv1.3").Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, http.StatusForbidden, r.code)
	assert.Contains(t, r.body, "Cross-origin request refused")
	assert.NotContains(t, w.get("/ssl").body, "pending-banner", "nothing changed")
}

func TestCertificatesPage(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)

	r := w.get("/certificates")
	assert.Contains(t, r.body, "interface Management (HTTPS)", "the Demo certificate's users")

	r = w.post("/certificates/Demo/delete", nil)
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Contains(t, r.body, `certificate &#34;Demo&#34; is in use by listener IncomingMail (inbound TLS)`)

	bad := []struct {
		name string
		form url.Values
		want string
	}{
		{"bad name", url.Values{"name": {"9x"}, "cn": {"a.example.test"}, "c": {"US"}}, "is not a valid certificate name"},
		{"exists", url.Values{"name": {"demo"}, "cn": {"a.example.test"}, "c": {"US"}}, "already exists"},
		{"bad days", url.Values{"name": {"New"}, "cn": {"a.example.test"}, "c": {"US"}, "days": {"soon"}}, "is not a number of days"},
		{"bad key", url.Values{"name": {"New"}, "cn": {"a.example.test"}, "c": {"US"}, "key": {"dsa"}}, "is not offered"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post("/certificates/new", tt.form)
			assert.Equal(t, http.StatusUnprocessableEntity, r.code)
			assert.Contains(t, r.body, tt.want)
		})
	}
	r = w.post("/certificates/new", url.Values{"name": {"Web"}, "cn": {"web.example.test"}, "c": {"us"}, "o": {"Example"}, "key": {"ecdsa256"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.get("/certificates")
	assert.Contains(t, r.body, `id="cert-Web"`)
	assert.Contains(t, r.body, "Not signed")

	r = w.get("/certificates/Web/csr")
	require.Equal(t, http.StatusOK, r.code)
	blk, _ := pem.Decode([]byte(r.body))
	require.NotNil(t, blk)
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	require.NoError(t, err)
	assert.Equal(t, "web.example.test", csr.Subject.CommonName)
	assert.Equal(t, []string{"US"}, csr.Subject.Country)

	// PKCS#12 out and back in under another name.
	r = w.post("/certificates/Web/export", url.Values{"passphrase": {"abc"}, "again": {"abc"}})
	assert.Contains(t, r.body, "at least 4 characters")
	r = w.post("/certificates/Web/export", url.Values{"passphrase": {"pass-1234"}, "again": {"pass-1234"}})
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, "application/x-pkcs12", r.header.Get("Content-Type"))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("name", "WebCopy")
	_ = mw.WriteField("passphrase", "pass-1234")
	fw, _ := mw.CreateFormFile("pkcs12_file", "web.p12")
	_, _ = fw.Write([]byte(r.body))
	require.NoError(t, mw.Close())
	r = w.do("POST", "/certificates/import", &body, map[string]string{"Content-Type": mw.FormDataContentType()})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	assert.NotNil(t, b.a.Store.Current().Certificate("Web") == nil, "pending, not committed")

	r = w.post("/certificates/Web/delete", nil)
	require.Equal(t, http.StatusSeeOther, r.code)
	r = w.get("/certificates")
	assert.NotContains(t, r.body, `id="cert-Web"`)
	assert.Contains(t, r.body, `id="cert-WebCopy"`)
}

func TestEveryPageRenders(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	pages := map[string]string{
		"/": "System Status", "/ssl": "SSL Configuration", "/certificates": "Certificates", "/listeners": "IncomingMail",
		"/interfaces": "Management", "/destinations": "Destination Controls", "/routes": "SMTP Routes",
		"/maillog": "Mail Log", "/queue": "The queue is empty.", "/changes": "There are no uncommitted changes.", "/password": "Old password",
		"/websecurity": "There are no URL lists.", "/ldap": "No LDAP server configurations.",
	}
	for p, want := range pages {
		t.Run(p, func(t *testing.T) {
			r := w.get(p)
			require.Equal(t, http.StatusOK, r.code)
			assert.Contains(t, r.body, want)
			assert.NotContains(t, r.body, "$2a$", "no password hash is ever rendered")
		})
	}
	r := w.get("/maillog?filter=[")
	assert.Contains(t, r.body, "error")
	r = w.get("/maillog?filter=relaybox&lines=5000")
	assert.Contains(t, r.body, "lines=5000 is out of range: use 1 to 1000")
}

func TestRoutesPage(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	r := w.post("/routes/new", url.Values{"domain": {"a.test"}, "hosts": {""}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, "Please enter a value: host, host:port")
	r = w.post("/routes/new", url.Values{"domain": {"a.test"}, "hosts": {"mx1.a.test, usedns"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.get("/routes")
	assert.Contains(t, r.body, `id="route-a.test"`)
	assert.Contains(t, r.body, "mx1.a.test, USEDNS")
	assert.Contains(t, r.body, "pending-banner")
	require.Equal(t, http.StatusSeeOther, w.post("/routes/a.test/delete", nil).code)
	assert.NotContains(t, w.get("/routes").body, `id="route-a.test"`)
}

func TestDestinationsPage(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	r := w.post("/destinations", url.Values{"domain": {"a.test"}, "tls": {"required"}, "max_connections": {"ten"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, `max_connections=&#34;ten&#34; is not a number`)
	r = w.post("/destinations", url.Values{"domain": {"a.test"}, "tls": {"required"}, "max_connections": {"10"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.post("/destinations", url.Values{"domain": {"a.test"}, "tls": {"none"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code, "a second entry for the domain is refused")
	r = w.post("/destinations", url.Values{"old": {"a.test"}, "domain": {"a.test"}, "tls": {"preferred"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.get("/destinations")
	assert.Contains(t, r.body, `id="dest-a.test"`)
	assert.Contains(t, r.body, "<td>preferred</td>")
	require.Equal(t, http.StatusSeeOther, w.post("/destinations/a.test/delete", nil).code)
	assert.NotContains(t, w.get("/destinations").body, `id="dest-a.test"`)
}

func TestListenersAndInterfacesPages(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	r := w.post("/listeners/IncomingMail", url.Values{"tls": {"sometimes"}, "certificate": {"Demo"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, "sometimes")
	r = w.post("/listeners/IncomingMail", url.Values{"tls": {"required"}, "certificate": {"Demo"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.get("/listeners")
	assert.Contains(t, r.body, `<option value="required" selected>`)
	assert.Contains(t, r.body, "pending-banner")
	r = w.post("/interfaces/Management", url.Values{"certificate": {"Nope"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, "Nope")
	r = w.post("/interfaces/Nowhere", url.Values{"certificate": {"Demo"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
}
