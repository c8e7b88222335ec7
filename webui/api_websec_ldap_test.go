package webui_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testldap"
	"relaybox/internal/testwebsec"
)

// changed says whether the client has pending changes.
func (w *browser) changed() bool {
	w.t.Helper()
	return w.get("/api/v1/config/pending").json(w.t)["changed"].(bool)
}

// TestAPINewEndpointsRefuseBadRequests: every write of the Web Security,
// URL list, LDAP and PKCS#12 endpoints refuses a missing If-Match (428), a
// stale one (412), bad JSON and unknown fields (400), and changes nothing.
func TestAPINewEndpointsRefuseBadRequests(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	b.shell(t, "urllistconfig new Known example.com\nldapconfig new Known host=127.0.0.1 base=dc=example,dc=com\ncommit fixtures\n")
	w := b.browser(t)
	w.tok = b.token(t, "admin", "ci")
	writes := []struct {
		method, path, tagFrom string
		body                  bool // the endpoint reads a JSON body
	}{
		{"PUT", "/api/v1/websecurity", "/api/v1/websecurity", true},
		{"POST", "/api/v1/urllists", "/api/v1/urllists", true},
		{"PUT", "/api/v1/urllists/Known", "/api/v1/urllists", true},
		{"DELETE", "/api/v1/urllists/Known", "/api/v1/urllists", false},
		{"POST", "/api/v1/ldap/profiles", "/api/v1/ldap/profiles", true},
		{"PUT", "/api/v1/ldap/profiles/Known", "/api/v1/ldap/profiles", true},
		{"DELETE", "/api/v1/ldap/profiles/Known", "/api/v1/ldap", false},
		{"PUT", "/api/v1/ldap/certificate", "/api/v1/ldap/certificate", true},
		{"POST", "/api/v1/certificates/New/pkcs12", "/api/v1/certificates", true},
	}
	for _, e := range writes {
		t.Run(e.method+" "+e.path, func(t *testing.T) {
			tag := w.get(e.tagFrom).header.Get("ETag")
			require.NotEmpty(t, tag)
			r := w.api(e.method, e.path, "", `{}`)
			assert.Equal(t, http.StatusPreconditionRequired, r.code, r.body)
			r = w.api(e.method, e.path, `"stale"`, `{}`)
			assert.Equal(t, http.StatusPreconditionFailed, r.code, r.body)
			assert.Equal(t, tag, r.header.Get("ETag"), "412 gives the current ETag")
			assert.Contains(t, r.json(t)["error"], "nothing was changed")
			if e.body {
				r = w.api(e.method, e.path, tag, `{"name": `)
				assert.Equal(t, http.StatusBadRequest, r.code, r.body)
				assert.Contains(t, r.json(t)["error"], "the request body is not valid JSON")
				r = w.api(e.method, e.path, tag, `{"bogus": 1}`)
				assert.Equal(t, http.StatusBadRequest, r.code, r.body)
				assert.Contains(t, r.json(t)["error"], `unknown field "bogus"`)
				r = w.api(e.method, e.path, tag, `{"name": 5}`)
				assert.Equal(t, http.StatusBadRequest, r.code, r.body)
			}
			assert.False(t, w.changed(), "nothing changed")
			assert.Equal(t, tag, w.get(e.tagFrom).header.Get("ETag"))
		})
	}
	for _, p := range []string{"/api/v1/ldap/test"} {
		r := w.api("POST", p, "", `{"query": `)
		assert.Equal(t, http.StatusBadRequest, r.code, r.body)
		r = w.api("POST", p, "", `{"query": "Known.ldapaccept", "address": "a@example.com", "bogus": true}`)
		assert.Equal(t, http.StatusBadRequest, r.code, r.body)
		assert.Contains(t, r.json(t)["error"], `unknown field "bogus"`)
	}
}

func TestAPIWebSecurityAndURLLists(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	srv := testwebsec.Start(t, testwebsec.Options{})
	b.commitCerts(t, srv.CA.PEM, map[string]testwebsec.Issued{"WebSec": srv.CA.Issue(t, "box.example.test", true)})
	w := b.browser(t)
	w.tok = b.token(t, "admin", "ci")

	ws := w.get("/api/v1/websecurity")
	require.Equal(t, http.StatusOK, ws.code)
	assert.JSONEq(t, `{"enabled": false, "service_url": "", "allow_list": "", "certificate": "", "interaction_tracking": false}`, ws.body)
	r := w.api("PUT", "/api/v1/websecurity", ws.header.Get("ETag"), `{"enabled": true, "service_url": "http://websec.example.test/"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Equal(t, config.CheckServiceURL("http://websec.example.test/").Error(), r.json(t)["error"], "config's message, word for word")

	l := w.get("/api/v1/urllists")
	require.Equal(t, "[]\n", l.body)
	r = w.api("POST", "/api/v1/urllists", l.header.Get("ETag"), `{"name": "Trusted", "entries": []}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	_, want := config.ParseURLListEntries(nil)
	assert.Equal(t, want.Error(), r.json(t)["error"])
	r = w.api("POST", "/api/v1/urllists", l.header.Get("ETag"), `{"name": "Trusted", "entries": ["Example.COM", ".partner.test", "https://Docs.example.org/a"]}`)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	r2 := w.api("POST", "/api/v1/urllists", r.header.Get("ETag"), `{"name": "trusted", "entries": ["a.test"]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r2.code, "the name is taken")
	one := w.get("/api/v1/urllists/trusted")
	require.Equal(t, http.StatusOK, one.code)
	assert.JSONEq(t, `{"name": "Trusted", "entries": ["example.com", "partner.test", "https://docs.example.org/a"], "used_by": []}`, one.body)
	assert.Equal(t, http.StatusNotFound, w.get("/api/v1/urllists/Nope").code)

	ws = w.get("/api/v1/websecurity")
	r = w.api("PUT", "/api/v1/websecurity", ws.header.Get("ETag"), map[string]any{"enabled": true, "service_url": srv.URL, "allow_list": "trusted", "certificate": "websec", "interaction_tracking": true})
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Equal(t, "Trusted", r.json(t)["allow_list"], "names as the configuration has them")
	assert.Equal(t, "WebSec", r.json(t)["certificate"])

	l = w.get("/api/v1/urllists")
	assert.Contains(t, l.body, `"websecurityconfig (URL allow list)"`)
	r = w.api("DELETE", "/api/v1/urllists/Trusted", l.header.Get("ETag"), nil)
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, `URL list "Trusted" is used by websecurityconfig (its URL allow list): choose another list there first`, r.json(t)["error"])
	// A GET, edited, PUT back (used_by is read-only): a rename follows its user.
	var list map[string]any
	require.NoError(t, json.Unmarshal([]byte(one.body), &list))
	list["name"] = "Partners"
	r = w.api("PUT", "/api/v1/urllists/Trusted", l.header.Get("ETag"), list)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Equal(t, "Partners", w.get("/api/v1/websecurity").json(t)["allow_list"])
	assert.Equal(t, http.StatusNotFound, w.api("PUT", "/api/v1/urllists/Trusted", r.header.Get("ETag"), list).code)

	d := w.api("POST", "/api/v1/websecurity/diagnostics", "", nil)
	require.Equal(t, http.StatusOK, d.code, d.body)
	dj := d.json(t)
	assert.Equal(t, true, dj["ok"], d.body)
	assert.Equal(t, "", dj["error"])
	report := strings.Join(toStrings(dj["report"]), "\n")
	for _, line := range []string{"Client certificate: WebSec", "Client certificate: accepted by the server", "Result: the web security service can be used."} {
		assert.Contains(t, report, line)
	}
	reqs := srv.Requests()
	require.Len(t, reqs, 1, "one test lookup")
	assert.Equal(t, "box.example.test", reqs[0].ClientCN, "made with the client certificate WebSec")

	p := w.get("/api/v1/config/pending")
	require.Equal(t, http.StatusOK, w.api("POST", "/api/v1/commit", p.header.Get("ETag"), map[string]string{"comment": "URL filtering over the API"}).code)
	cur := b.a.Store.Current()
	assert.Equal(t, config.WebSecurity{Enabled: true, ServiceURL: srv.URL, AllowList: "Partners", Certificate: "WebSec", InteractionTracking: true}, cur.WebSecurity)

	// The other certificate fails: the diagnostic says so, still 200.
	ws = w.get("/api/v1/websecurity")
	require.Equal(t, http.StatusOK, w.api("PUT", "/api/v1/websecurity", ws.header.Get("ETag"), map[string]any{"enabled": true, "service_url": srv.URL, "certificate": ""}).code)
	dj = w.api("POST", "/api/v1/websecurity/diagnostics", "", nil).json(t)
	assert.Equal(t, false, dj["ok"])
	assert.Contains(t, dj["error"], "the service requires a client certificate and none is set")
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestAPILDAPProfilesAndTest(t *testing.T) {
	t.Parallel()
	s := testldap.Start(t, testldap.Options{})
	b, w := startAPIClient(t)

	l := w.get("/api/v1/ldap/profiles")
	require.Equal(t, http.StatusOK, l.code)
	assert.Equal(t, "[]\n", l.body)
	base := map[string]any{"name": "Dir", "hosts": []string{"127.0.0.1"}, "port": s.Port, "connection": "none",
		"bind_dn": testldap.BindDN, "base_dn": testldap.Base}
	r := w.api("POST", "/api/v1/ldap/profiles", l.header.Get("ETag"), base)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Equal(t, "Please enter a value: the bind password of "+testldap.BindDN, r.json(t)["error"])
	bad := map[string]any{"name": "Dir", "hosts": []string{"127.0.0.1"}, "base_dn": "nonsense"}
	r = w.api("POST", "/api/v1/ldap/profiles", l.header.Get("ETag"), bad)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.json(t)["error"], config.CheckDN("base DN", "nonsense").Error())
	assert.False(t, w.changed())

	base["bind_password"] = testldap.BindPass
	r = w.api("POST", "/api/v1/ldap/profiles", l.header.Get("ETag"), base)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	assert.NotContains(t, r.body, testldap.BindPass, "the bind password is never shown")
	var made []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &made))
	require.Len(t, made, 1)
	assert.Equal(t, config.MaskedSecret, made[0]["bind_password"])
	assert.EqualValues(t, 10, made[0]["timeout_seconds"], "ldapconfig NEW's defaults")
	assert.Equal(t, "(mail={a})", made[0]["accept_query"])
	assert.Equal(t, "Dir.ldapaccept", made[0]["query_name"])
	for _, p := range []string{"/api/v1/ldap", "/api/v1/ldap/profiles/dir", "/api/v1/config/pending"} {
		g := w.get(p)
		require.Equal(t, http.StatusOK, g.code, p)
		assert.NotContains(t, g.body, testldap.BindPass, p)
		assert.Contains(t, g.body, config.MaskedSecret, p)
	}

	test := func(addr string) map[string]any {
		r := w.api("POST", "/api/v1/ldap/test", "", map[string]string{"query": "Dir.ldapaccept", "address": addr})
		require.Equal(t, http.StatusOK, r.code, r.body)
		assert.NotContains(t, r.body, testldap.BindPass)
		return r.json(t)
	}
	res := test("alice@example.com")
	assert.Equal(t, true, res["found"])
	assert.Equal(t, true, res["answered"])
	report := strings.Join(toStrings(res["report"]), "\n")
	assert.Contains(t, report, "Bind as "+testldap.BindDN+": ok")
	assert.Contains(t, report, "Query: match: ")
	assert.Contains(t, report, "Result: alice@example.com is accepted")
	res = test("nobody@example.com")
	assert.Equal(t, false, res["found"])
	assert.Equal(t, true, res["answered"])
	for _, tt := range []struct{ query, addr, want string }{
		{"Nope.ldapaccept", "a@example.com", `LDAP accept query "Nope.ldapaccept" does not exist`},
		{"Dir.ldapaccept", "nobody", config.CheckEmail("nobody").Error()},
	} {
		r := w.api("POST", "/api/v1/ldap/test", "", map[string]string{"query": tt.query, "address": tt.addr})
		assert.Equal(t, http.StatusUnprocessableEntity, r.code)
		assert.Contains(t, r.json(t)["error"], tt.want)
	}

	// A GET, edited, PUT back: the masked password keeps the current one.
	one := w.get("/api/v1/ldap/profiles/Dir")
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(one.body), &p))
	p["timeout_seconds"] = 7
	r = w.api("PUT", "/api/v1/ldap/profiles/Dir", one.header.Get("ETag"), p)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Equal(t, true, test("alice@example.com")["found"], "the password was kept")
	// A new password changes the ETag, though the masked answer is the same.
	kept := r
	p["bind_password"] = "wrong-secret"
	r = w.api("PUT", "/api/v1/ldap/profiles/Dir", kept.header.Get("ETag"), p)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Equal(t, kept.body, r.body)
	assert.NotEqual(t, kept.header.Get("ETag"), r.header.Get("ETag"), "the ETag covers the password")
	res = test("alice@example.com")
	assert.Equal(t, false, res["answered"])
	assert.Equal(t, "no LDAP server of the profile answered the query", res["error"])
	assert.Contains(t, strings.Join(toStrings(res["report"]), "\n"), "Bind as "+testldap.BindDN+": failed")
	p["bind_password"] = testldap.BindPass
	r = w.api("PUT", "/api/v1/ldap/profiles/Dir", r.header.Get("ETag"), p)
	require.Equal(t, http.StatusOK, r.code, r.body)
	r2 := w.api("PUT", "/api/v1/ldap/profiles/Dir", r.header.Get("ETag"), `{"timeout_seconds": 600}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r2.code)
	assert.Contains(t, r2.json(t)["error"], "Value must be a number from 1 to 60, not 600")
	assert.Equal(t, http.StatusNotFound, w.api("PUT", "/api/v1/ldap/profiles/Nope", r.header.Get("ETag"), `{}`).code)

	// The client certificate.
	c := w.get("/api/v1/ldap/certificate")
	assert.JSONEq(t, `{"certificate": ""}`, c.body)
	r = w.api("PUT", "/api/v1/ldap/certificate", c.header.Get("ETag"), `{"certificate": "Nope"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	r = w.api("PUT", "/api/v1/ldap/certificate", c.header.Get("ETag"), `{"certificate": "demo"}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.JSONEq(t, `{"certificate": "Demo"}`, r.body)

	pend := w.get("/api/v1/config/pending")
	require.Equal(t, http.StatusOK, w.api("POST", "/api/v1/commit", pend.header.Get("ETag"), map[string]string{"comment": "LDAP over the API"}).code)
	cur := b.a.Store.Current()
	require.Len(t, cur.LDAP.Profiles, 1)
	assert.Equal(t, testldap.BindPass, cur.LDAP.Profiles[0].BindPassword)
	assert.Equal(t, config.Duration(7e9), cur.LDAP.Profiles[0].Timeout)
	assert.Equal(t, "Demo", cur.LDAP.Certificate)

	// Deleting a profile a listener uses is refused with config's message.
	b.shell(t, "listenerconfig edit IncomingMail ldapaccept Dir.ldapaccept\ncommit listener uses LDAP\n")
	pend = w.get("/api/v1/config/pending")
	require.Equal(t, http.StatusOK, w.api("POST", "/api/v1/abandon", pend.header.Get("ETag"), nil).code) // onto the shell's commit
	l = w.get("/api/v1/ldap/profiles")
	assert.Contains(t, l.body, `"listener IncomingMail"`)
	r = w.api("DELETE", "/api/v1/ldap/profiles/Dir", l.header.Get("ETag"), nil)
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, b.a.Store.Current().Clone().DeleteLDAPProfile("Dir").Error(), r.json(t)["error"])
	assert.False(t, w.changed())
	assert.Equal(t, http.StatusNotFound, w.api("DELETE", "/api/v1/ldap/profiles/Nope", l.header.Get("ETag"), nil).code)
}

// openssl runs openssl in dir.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "openssl %s: %s", strings.Join(args, " "), out)
	return string(out)
}

// TestAPIPKCS12RoundTrip: a file made by openssl pkcs12 -export is imported
// over the API (base64 JSON and multipart), exported again and read back by
// openssl.
func TestAPIPKCS12RoundTrip(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed: run make test-deps")
	}
	dir := t.TempDir()
	openssl(t, dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
		"-subj", "/CN=p12.example.test/O=Round Trip", "-days", "30")
	openssl(t, dir, "pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-out", "in.p12", "-passout", "pass:in-pass-1")
	p12, err := os.ReadFile(filepath.Join(dir, "in.p12"))
	require.NoError(t, err)

	b, w := startAPIClient(t)
	list := w.get("/api/v1/certificates")
	tag := list.header.Get("ETag")

	refusals := []struct {
		name, path, body, want string
		code                   int
	}{
		{"wrong passphrase", "/api/v1/certificates/P12/pkcs12", `{"data": "` + base64.StdEncoding.EncodeToString(p12) + `", "passphrase": "nope"}`, "", http.StatusUnprocessableEntity},
		{"not base64", "/api/v1/certificates/P12/pkcs12", `{"data": "%%%", "passphrase": "in-pass-1"}`, `field "data" is not base64`, http.StatusBadRequest},
		{"no data", "/api/v1/certificates/P12/pkcs12", `{"passphrase": "in-pass-1"}`, "choose the PKCS#12 file", http.StatusUnprocessableEntity},
		{"name taken", "/api/v1/certificates/demo/pkcs12", `{"data": "` + base64.StdEncoding.EncodeToString(p12) + `", "passphrase": "in-pass-1"}`, "already exists", http.StatusUnprocessableEntity},
		{"bad name", "/api/v1/certificates/9x/pkcs12", `{"data": "` + base64.StdEncoding.EncodeToString(p12) + `", "passphrase": "in-pass-1"}`, "is not a valid certificate name", http.StatusUnprocessableEntity},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			r := w.api("POST", tt.path, tag, tt.body)
			assert.Equal(t, tt.code, r.code, r.body)
			assert.Contains(t, r.json(t)["error"], tt.want)
			assert.False(t, w.changed(), "nothing changed")
		})
	}

	r := w.api("POST", "/api/v1/certificates/P12/pkcs12", tag, map[string]string{"data": base64.StdEncoding.EncodeToString(p12), "passphrase": "in-pass-1"})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	cert := r.json(t)["certificate"].(map[string]any)
	assert.Equal(t, "P12", cert["name"])
	assert.Equal(t, "p12.example.test", cert["common_name"])
	assert.Equal(t, "Self-signed", cert["status"])
	assert.NotContains(t, r.body, "PRIVATE KEY")

	// The same file as multipart, under another name.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("passphrase", "in-pass-1"))
	fw, err := mw.CreateFormFile("file", "in.p12")
	require.NoError(t, err)
	_, _ = fw.Write(p12)
	require.NoError(t, mw.Close())
	r = w.do("POST", "/api/v1/certificates/P12Copy/pkcs12", &body, map[string]string{"Content-Type": mw.FormDataContentType(), "If-Match": r.header.Get("ETag")})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	assert.Equal(t, "P12Copy", r.json(t)["certificate"].(map[string]any)["name"])

	// Export: the passphrase in X-Passphrase, at least 4 characters.
	for _, h := range []map[string]string{{}, {"X-Passphrase": "abc"}} {
		e := w.do("GET", "/api/v1/certificates/P12/pkcs12", nil, h)
		assert.Equal(t, http.StatusUnprocessableEntity, e.code, e.body)
		assert.Contains(t, e.json(t)["error"], "passphrase")
	}
	assert.Equal(t, http.StatusNotFound, w.do("GET", "/api/v1/certificates/Nope/pkcs12", nil, map[string]string{"X-Passphrase": "out-pass-1"}).code)
	e := w.do("GET", "/api/v1/certificates/P12/pkcs12", nil, map[string]string{"X-Passphrase": "out-pass-1"})
	require.Equal(t, http.StatusOK, e.code, e.body)
	assert.Equal(t, "application/x-pkcs12", e.header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="P12.p12"`, e.header.Get("Content-Disposition"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "out.p12"), []byte(e.body), 0o600))
	out := openssl(t, dir, "pkcs12", "-in", "out.p12", "-passin", "pass:out-pass-1", "-nodes")
	assert.Contains(t, out, "subject=CN = p12.example.test, O = Round Trip")
	assert.Contains(t, out, "BEGIN PRIVATE KEY")
	// The key that came back is the key that went in.
	want := openssl(t, dir, "pkey", "-in", "key.pem", "-pubout")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "back.pem"), []byte(out), 0o600))
	got := openssl(t, dir, "pkey", "-in", "back.pem", "-pubout")
	assert.Equal(t, want, got)
	assert.Nil(t, b.a.Store.Current().Certificate("P12"), "pending until commit")
}
