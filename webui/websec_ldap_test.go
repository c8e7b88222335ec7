package webui_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testldap"
	"relaybox/internal/testwebsec"
)

// commitCerts commits client certificates (PEM certificate and key) and,
// when ca is not "", trusts that authority: what certconfig paste and
// certconfig ca import would do.
func (b *box) commitCerts(t *testing.T, ca string, certs map[string]testwebsec.Issued) {
	t.Helper()
	var made []config.Certificate
	for name, is := range certs {
		cert, _, err := b.a.Keys.FromPEM(name, is.CertPEM, is.KeyPEM)
		require.NoError(t, err)
		made = append(made, cert)
	}
	_, err := b.a.Store.NewPending().CommitEdit(context.Background(), "admin", "test certificates", func(c *config.Config) error {
		for _, cert := range made {
			if err := c.PutCertificate(cert); err != nil {
				return err
			}
		}
		if ca != "" {
			c.Trust.Custom = true
			c.Trust.CustomCAs = append(c.Trust.CustomCAs, config.CA{Name: "TestCA", PEM: ca})
		}
		return nil
	}, b.a.Engine)
	require.NoError(t, err)
}

// esc is how a page shows a message (html/template escapes quotes).
func esc(err error) string { return html.EscapeString(err.Error()) }

func TestWebSecurityPage(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	srv := testwebsec.Start(t, testwebsec.Options{})
	b.commitCerts(t, srv.CA.PEM, map[string]testwebsec.Issued{
		"WebSec":   srv.CA.Issue(t, "box.example.test", true),
		"Stranger": testwebsec.NewAuthority(t, "Other CA").Issue(t, "box.example.test", true),
	})
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	before := b.a.Store.Current().Version

	r := w.get("/websecurity")
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, r.body, `<a href="/websecurity" class="here">Web Security</a>`, "in the menu, under Security Services")
	assert.Contains(t, r.body, "There are no URL lists.")
	assert.Contains(t, r.body, `<option>WebSec</option>`, "the certificates to choose from")

	// Refusals: config's message, word for word, and nothing pending.
	refusals := []struct {
		name string
		form url.Values
		want string
	}{
		{"http URL", url.Values{"enabled": {"on"}, "service_url": {"http://websec.example.test/lookup"}},
			esc(config.CheckServiceURL("http://websec.example.test/lookup"))},
		{"no URL", url.Values{"enabled": {"on"}}, esc(config.CheckServiceURL(""))},
		{"unknown allow list", url.Values{"service_url": {srv.URL}, "allow_list": {"Nope"}}, `URL list &#34;Nope&#34; does not exist`},
		{"unknown certificate", url.Values{"service_url": {srv.URL}, "certificate": {"Nope"}}, `certificate &#34;Nope&#34; does not exist`},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post("/websecurity", tt.form)
			assert.Equal(t, http.StatusUnprocessableEntity, r.code)
			assert.Contains(t, r.body, tt.want)
			assert.NotContains(t, r.body, "pending-banner", "a refusal changes nothing")
		})
	}
	_, bad := config.ParseURLListEntries([]string{"example.com", "ftp://x.test/"})
	r = w.post("/websecurity/urllists/new", url.Values{"name": {"Trusted"}, "entries": {"example.com, ftp://x.test/"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, esc(bad))
	assert.Contains(t, r.body, `&#34;ftp://x.test/&#34; is not a URL list entry`)
	r = w.post("/websecurity/urllists/new", url.Values{"name": {"9bad"}, "entries": {"example.com"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, esc(config.CheckName(config.KindURLList, "9bad")))
	assert.NotContains(t, r.body, "pending-banner")

	// A list, edited, then chosen as the allow list.
	r = w.post("/websecurity/urllists/new", url.Values{"name": {"Trusted"}, "entries": {"Example.com\nhttps://Docs.example.org/a"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.post("/websecurity/urllists/Trusted", url.Values{"name": {"Partners"}, "entries": {"example.com, .partner.test"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.get("/websecurity")
	assert.Contains(t, r.body, `id="urllist-Partners"`)
	assert.Contains(t, r.body, "example.com, partner.test", "stored as ParseURLListEntries keeps them")
	assert.Contains(t, r.body, "pending-banner")

	r = w.post("/websecurity", url.Values{"enabled": {"on"}, "service_url": {srv.URL}, "allow_list": {"partners"}, "certificate": {"Stranger"}, "interaction_tracking": {"on"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.post("/websecurity/urllists/Partners/delete", nil)
	assert.Equal(t, http.StatusConflict, r.code)
	pending := config.Config{URLLists: []config.URLList{{Name: "Partners", Entries: []string{"example.com"}}}, WebSecurity: config.WebSecurity{AllowList: "Partners"}}
	assert.Contains(t, r.body, esc(pending.DeleteURLList("Partners")), "config's refusal")

	// Diagnostics on the pending settings: the wrong certificate, then the right one.
	r = w.post("/websecurity/diagnostics", nil)
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, r.body, "we presented Stranger")
	assert.Contains(t, r.body, "the service refused the client certificate Stranger")
	assert.NotContains(t, r.body, "Result: the web security service can be used.")
	require.Equal(t, http.StatusSeeOther, w.post("/websecurity", url.Values{"enabled": {"on"}, "service_url": {srv.URL}, "allow_list": {"Partners"}, "certificate": {"WebSec"}, "interaction_tracking": {"on"}}).code)
	r = w.post("/websecurity/diagnostics", nil)
	require.Equal(t, http.StatusOK, r.code)
	for _, line := range []string{"URL filtering: Enabled", "Service URL: " + srv.URL, "Client certificate: WebSec", "Chain: verifies against the trust store",
		"Client certificate: accepted by the server", "Test lookup: HTTP 200 OK", "Result: the web security service can be used."} {
		assert.Contains(t, r.body, html.EscapeString(line))
	}
	assert.Contains(t, r.body, `<p class="flash" id="ws-result">`)
	assert.Equal(t, before, b.a.Store.Current().Version, "nothing committed yet")
	assert.False(t, b.a.Store.Current().WebSecurity.Enabled)

	r = w.post("/changes/commit", url.Values{"comment": {"URL filtering from the GUI"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	cur := b.a.Store.Current()
	assert.Equal(t, config.WebSecurity{Enabled: true, ServiceURL: srv.URL, AllowList: "Partners", Certificate: "WebSec", InteractionTracking: true}, cur.WebSecurity)
	assert.Equal(t, []config.URLList{{Name: "Partners", Entries: []string{"example.com", "partner.test"}}}, cur.URLLists)
	assert.Equal(t, "URL filtering from the GUI", cur.Comment)

	// Disabling keeps the settings, as websecurityconfig does.
	require.Equal(t, http.StatusSeeOther, w.post("/websecurity", url.Values{"service_url": {srv.URL}, "allow_list": {"Partners"}, "certificate": {"WebSec"}}).code)
	r = w.get("/websecurity")
	assert.NotContains(t, r.body, `id="ws-enabled" checked`)
	assert.Contains(t, r.body, `value="`+srv.URL+`"`)
}

// ldapForm is the LDAP page's profile form for the test directory.
func ldapForm(s *testldap.Server, name string) url.Values {
	return url.Values{"name": {name}, "hosts": {"127.0.0.1"}, "port": {strconv.Itoa(s.Port)}, "connection": {"none"},
		"bind_dn": {testldap.BindDN}, "bind_password": {testldap.BindPass}, "base_dn": {testldap.Base}, "accept_query": {"(mail={a})"},
		"timeout_seconds": {"5"}, "cache_ttl_seconds": {"900"}, "negative_ttl_seconds": {"60"}, "cache_size": {"100"}, "max_connections": {"2"}}
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string{}, vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func TestLDAPPage(t *testing.T) {
	t.Parallel()
	s := testldap.Start(t, testldap.Options{})
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)

	r := w.get("/ldap")
	require.Equal(t, http.StatusOK, r.code)
	assert.Contains(t, r.body, `<a href="/ldap" class="here">LDAP</a>`)
	assert.Contains(t, r.body, "No LDAP server configurations.")

	form := ldapForm(s, "Directory")
	refusals := []struct {
		name string
		form url.Values
		want string
	}{
		{"bad name", with(form, "name", "9dir"), esc(config.CheckName(config.KindLDAPProfile, "9dir"))},
		{"bad base", with(form, "base_dn", "example"), esc(config.CheckDN("base DN", "example"))},
		{"bad query", with(form, "accept_query", "mail={a}"), "is not an LDAP filter"},
		{"host with port", with(form, "hosts", "ldap.example.test:389"), esc(config.CheckLDAPHost("ldap.example.test:389"))},
		{"timeout", with(form, "timeout_seconds", "600"), "timeout_seconds: Value must be a number from 1 to 60, not 600"},
		{"bind DN without password", with(form, "bind_password", ""), "Please enter a value: the bind password of " + testldap.BindDN},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := w.post("/ldap/profiles/new", tt.form)
			assert.Equal(t, http.StatusUnprocessableEntity, r.code)
			assert.Contains(t, r.body, tt.want)
			assert.NotContains(t, r.body, "pending-banner", "a refusal changes nothing")
			assert.NotContains(t, r.body, testldap.BindPass, "a typed password is never rendered back")
		})
	}

	r = w.post("/ldap/profiles/new", form)
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	for _, p := range []string{"/ldap", "/changes"} {
		r = w.get(p)
		assert.Contains(t, r.body, "pending-banner")
		assert.NotContains(t, r.body, testldap.BindPass, "%s: the bind password is never rendered", p)
	}
	r = w.get("/ldap")
	assert.Contains(t, r.body, `id="ldap-Directory"`)
	assert.Contains(t, r.body, testldap.BindDN+" (password set)")
	assert.Contains(t, r.body, "set: leave empty to keep it")

	// Edit with an empty password: the current one is kept (the test finds alice).
	r = w.post("/ldap/profiles/Directory", with(form, "bind_password", "", "timeout_seconds", "7"))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.post("/ldap/test", url.Values{"query": {"Directory.ldapaccept"}, "address": {"alice@example.com"}})
	require.Equal(t, http.StatusOK, r.code)
	for _, line := range []string{"Query Directory.ldapaccept: (mail={a}) under " + testldap.Base, "Filter for alice@example.com: (mail=alice@example.com)",
		"Bind as " + testldap.BindDN + ": ok", "Query: match: ", "Result: alice@example.com is accepted: the query found it (RCPT gets 250)."} {
		assert.Contains(t, r.body, html.EscapeString(line))
	}
	assert.Contains(t, r.body, "Found: the address is accepted.")
	assert.NotContains(t, r.body, testldap.BindPass)
	r = w.post("/ldap/test", url.Values{"query": {"Directory.ldapaccept"}, "address": {"nobody@example.com"}})
	assert.Contains(t, r.body, "Query: no match")
	assert.Contains(t, r.body, "Not found: the address is refused.")
	r = w.post("/ldap/test", url.Values{"query": {"Directory.ldapaccept"}, "address": {"not-an-address"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, esc(config.CheckEmail("not-an-address")))

	// A wrong password: the report says the bind failed.
	r = w.post("/ldap/profiles/Directory", with(form, "bind_password", "wrong-secret"))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.post("/ldap/test", url.Values{"query": {"Directory.ldapaccept"}, "address": {"alice@example.com"}})
	assert.Contains(t, r.body, "Bind as "+testldap.BindDN+": failed")
	assert.Contains(t, r.body, "Result: no server answered")
	assert.NotContains(t, r.body, "wrong-secret")
	require.Equal(t, http.StatusSeeOther, w.post("/ldap/profiles/Directory", form).code)

	// The client certificate.
	r = w.post("/ldap/certificate", url.Values{"certificate": {"Nope"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.body, `&#34;Nope&#34;`)
	require.Equal(t, http.StatusSeeOther, w.post("/ldap/certificate", url.Values{"certificate": {"demo"}}).code)

	require.Equal(t, http.StatusSeeOther, w.post("/changes/commit", url.Values{"comment": {"LDAP from the GUI"}}).code)
	cur := b.a.Store.Current()
	require.Len(t, cur.LDAP.Profiles, 1)
	assert.Equal(t, testldap.BindPass, cur.LDAP.Profiles[0].BindPassword)
	assert.Equal(t, config.Duration(5e9), cur.LDAP.Profiles[0].Timeout)
	assert.Equal(t, "Demo", cur.LDAP.Certificate)

	// A listener uses the accept query: deleting the profile is refused.
	b.shell(t, "listenerconfig edit IncomingMail ldapaccept Directory.ldapaccept\ncommit listener uses LDAP\n")
	w2 := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w2.login("admin", adminPass).code)
	r = w2.post("/ldap/profiles/Directory/delete", nil)
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Contains(t, r.body, esc(b.a.Store.Current().Clone().DeleteLDAPProfile("Directory")))
	assert.Contains(t, r.body, "is used by listener IncomingMail")
	assert.NotContains(t, r.body, "pending-banner")
	assert.Contains(t, w2.get("/ldap").body, "listener IncomingMail")
	r = w2.post("/ldap/profiles/Directory", with(form, "name", "Renamed"))
	assert.Equal(t, http.StatusUnprocessableEntity, r.code, "renaming a profile in use is refused too")
	assert.Contains(t, r.body, "before renaming it")
}
