package webui_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/webui"
)

// endpoints are every API endpoint but the OpenAPI document, with a body a write accepts.
var endpoints = []struct{ method, path string }{
	{"GET", "/api/v1/status"}, {"GET", "/api/v1/config"}, {"GET", "/api/v1/config/pending"},
	{"POST", "/api/v1/commit"}, {"POST", "/api/v1/abandon"}, {"GET", "/api/v1/ssl"}, {"PUT", "/api/v1/ssl"},
	{"GET", "/api/v1/certificates"}, {"POST", "/api/v1/certificates"}, {"GET", "/api/v1/certificates/Demo/csr"},
	{"PUT", "/api/v1/certificates/Demo/signed"}, {"DELETE", "/api/v1/certificates/Demo"},
	{"GET", "/api/v1/listeners"}, {"GET", "/api/v1/interfaces"}, {"GET", "/api/v1/destinations"}, {"GET", "/api/v1/routes"},
	{"POST", "/api/v1/routes"}, {"DELETE", "/api/v1/routes/Demo"},
	{"PUT", "/api/v1/destinations/Demo"}, {"DELETE", "/api/v1/destinations/Demo"}, {"PUT", "/api/v1/destinations/DEFAULT"},
	{"PUT", "/api/v1/destinations/SETUP"},
	{"POST", "/api/v1/listeners"}, {"PUT", "/api/v1/listeners/Demo"}, {"DELETE", "/api/v1/listeners/Demo"}, {"PUT", "/api/v1/interfaces/Demo"},
	{"POST", "/api/v1/interfaces"}, {"DELETE", "/api/v1/interfaces/Demo"}, {"GET", "/api/v1/inbound"}, {"PUT", "/api/v1/inbound"},
	{"GET", "/api/v1/maillog"}, {"GET", "/api/v1/queue"},
	{"POST", "/api/v1/certificates/Demo/pkcs12"}, {"GET", "/api/v1/certificates/Demo/pkcs12"},
	{"GET", "/api/v1/websecurity"}, {"PUT", "/api/v1/websecurity"}, {"POST", "/api/v1/websecurity/diagnostics"},
	{"GET", "/api/v1/urllists"}, {"POST", "/api/v1/urllists"}, {"GET", "/api/v1/urllists/Demo"}, {"PUT", "/api/v1/urllists/Demo"}, {"DELETE", "/api/v1/urllists/Demo"},
	{"GET", "/api/v1/ldap"}, {"GET", "/api/v1/ldap/profiles"}, {"POST", "/api/v1/ldap/profiles"}, {"GET", "/api/v1/ldap/profiles/Demo"},
	{"PUT", "/api/v1/ldap/profiles/Demo"}, {"DELETE", "/api/v1/ldap/profiles/Demo"}, {"GET", "/api/v1/ldap/certificate"}, {"PUT", "/api/v1/ldap/certificate"},
	{"POST", "/api/v1/ldap/test"},
}

func TestAPIRefusesWithoutAValidToken(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	good := b.token(t, "admin", "ci")
	before := b.a.Store.Current()
	wrongs := map[string]string{
		"wrong token": "Bearer rbx_" + strings.Repeat("A", 43), "not bearer": "Digest x",
		"one character off": "Bearer " + good[:len(good)-1] + "x", "empty bearer": "Bearer ",
	}
	i := 0
	for _, e := range endpoints {
		for name, auth := range map[string]string{"none": ""} {
			wrongs[name] = auth
		}
		for name, auth := range wrongs {
			t.Run(e.method+" "+e.path+" "+name, func(t *testing.T) {
				// Each attempt from its own loopback address: wrong tokens lock an address out.
				i++
				w := b.browserFrom(t, fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250))
				h := map[string]string{"If-Match": "*"}
				if auth != "" {
					h["Authorization"] = auth
				}
				r := w.do(e.method, e.path, strings.NewReader(`{}`), h)
				assert.Equal(t, http.StatusUnauthorized, r.code)
				assert.Equal(t, `Bearer realm="Relaybox"`, r.header.Get("WWW-Authenticate"))
				assert.Contains(t, r.json(t)["error"], "Authorization: Bearer TOKEN")
			})
		}
	}
	// A wrong password (basic authentication) counts against the account, as the login form's.
	w := b.browser(t)
	r := w.do("GET", "/api/v1/status", nil, map[string]string{"Authorization": "Basic YWRtaW46eA=="})
	assert.Equal(t, http.StatusUnauthorized, r.code)
	assert.Contains(t, r.json(t)["error"], "Login refused: wrong user name or password")
	r = w.do("GET", "/api/v1/status", nil, map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminPass))})
	assert.Equal(t, http.StatusOK, r.code, "the right password works")

	assert.True(t, config.SameSettings(before, b.a.Store.Current()), "nothing changed")
	log := readAuthLog(t, b)
	assert.Regexp(t, `failed login attempt for user "\(API token from 127\.0\.1\.\d+\)" from 127\.0\.1\.\d+ \(api, token\)`, log, "refused tokens are in the authentication log")
	assert.Contains(t, log, "A failed login attempt for user admin from 127.0.0.1 (gui)")
}

func readAuthLog(t *testing.T, b *box) string {
	lines, err := b.a.AuthLog.Tail(200)
	require.NoError(t, err)
	return strings.Join(lines, "\n")
}

func TestAPIWrongTokensLockTheAddressOut(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	good := b.token(t, "admin", "ci")
	b.shell(t, "userconfig policy lockout_after=3\ncommit lock-out\n")
	w := b.browser(t)
	for range 3 {
		w.tok = "rbx_wrong"
		require.Equal(t, http.StatusUnauthorized, w.get("/api/v1/status").code)
	}
	w.tok = good
	r := w.get("/api/v1/status")
	assert.Equal(t, http.StatusTooManyRequests, r.code, "the address is locked out, a good token too")
	assert.NotEmpty(t, r.header.Get("Retry-After"))
}

func TestAPIBadBodiesChangeNothing(t *testing.T) {
	t.Parallel()
	_, w := startAPIClient(t)
	ssl := w.get("/api/v1/ssl")
	require.Equal(t, http.StatusOK, ssl.code)
	tag := ssl.header.Get("ETag")
	require.NotEmpty(t, tag)
	tests := []struct {
		name, body string
		code       int
		want       string
	}{
		{"not JSON", `{"gui": `, http.StatusBadRequest, "the request body is not valid JSON"},
		{"empty", ``, http.StatusBadRequest, "the request body is empty"},
		{"unknown field", `{"gui": {"methods": ["TLSv1.2"], "ciphers": "HIGH", "renegotiation": true}}`, http.StatusBadRequest, `unknown field "renegotiation"`},
		{"wrong type", `{"peer_cert_fqdn": "yes"}`, http.StatusBadRequest, `field "peer_cert_fqdn" must be a JSON bool`},
		{"two values", `{} {}`, http.StatusBadRequest, "more than one JSON value"},
		{"gap", strings.Replace(ssl.body, `"TLSv1.1",`, `"TLSv1.0",`, 1), http.StatusUnprocessableEntity,
			"ssl.gui.methods: TLS protocols can be enabled only in sequence: TLSv1.0 and TLSv1.2 leave a gap"},
		{"bad cipher", strings.Replace(ssl.body, `"HIGH:`, `"HIHG:`, 1), http.StatusUnprocessableEntity, `ssl.gui.ciphers: unknown cipher keyword "HIHG"`},
		{"unknown method", strings.Replace(ssl.body, `"TLSv1.1",`, `"SSLv3",`, 1), http.StatusUnprocessableEntity, `"SSLv3" is not a TLS method`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.api("PUT", "/api/v1/ssl", tag, tt.body)
			assert.Equal(t, tt.code, r.code, r.body)
			assert.Contains(t, r.json(t)["error"], tt.want)
			again := w.get("/api/v1/ssl")
			assert.Equal(t, tag, again.header.Get("ETag"), "nothing changed")
			assert.False(t, w.get("/api/v1/config/pending").json(t)["changed"].(bool))
		})
	}
}

func TestAPIEditCommitAbandonWithETags(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)
	before := b.a.Store.Current().Version

	ssl := w.get("/api/v1/ssl")
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(ssl.body), &v))
	v["gui"].(map[string]any)["methods"] = []string{"TLSv1.3"}

	r := w.api("PUT", "/api/v1/ssl", "", v)
	assert.Equal(t, http.StatusPreconditionRequired, r.code, "If-Match is required")
	r = w.api("PUT", "/api/v1/ssl", `"stale"`, v)
	assert.Equal(t, http.StatusPreconditionFailed, r.code)
	assert.Contains(t, r.json(t)["error"], "nothing was changed")
	r = w.api("PUT", "/api/v1/ssl", ssl.header.Get("ETag"), v)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.NotEqual(t, ssl.header.Get("ETag"), r.header.Get("ETag"))
	r = w.api("PUT", "/api/v1/ssl", ssl.header.Get("ETag"), v)
	assert.Equal(t, http.StatusPreconditionFailed, r.code, "the old ETag is stale now")

	p := w.get("/api/v1/config/pending")
	pj := p.json(t)
	assert.True(t, pj["changed"].(bool))
	assert.Contains(t, pj["diff"], "TLSv1.3")
	assert.NotContains(t, p.body, "$2a$", "secrets masked")
	assert.Contains(t, p.body, config.MaskedSecret)

	r = w.api("POST", "/api/v1/commit", `"stale"`, map[string]string{"comment": "x"})
	assert.Equal(t, http.StatusPreconditionFailed, r.code)
	assert.Equal(t, before, b.a.Store.Current().Version)
	r = w.api("POST", "/api/v1/commit", p.header.Get("ETag"), map[string]string{"comment": "API: GUI TLS 1.3 only"})
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.EqualValues(t, before+1, r.json(t)["version"])
	assert.Equal(t, []config.Method{config.TLS13}, b.a.Store.Current().SSL.GUI.Methods)
	r = w.api("POST", "/api/v1/commit", r.header.Get("ETag"), map[string]string{})
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, "There is no data to commit.", r.json(t)["error"])

	// Abandon drops the pending edit.
	ssl = w.get("/api/v1/ssl")
	require.NoError(t, json.Unmarshal([]byte(ssl.body), &v))
	v["peer_cert_fqdn"] = true
	require.Equal(t, http.StatusOK, w.api("PUT", "/api/v1/ssl", ssl.header.Get("ETag"), v).code)
	p = w.get("/api/v1/config/pending")
	r = w.api("POST", "/api/v1/abandon", p.header.Get("ETag"), nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.False(t, r.json(t)["changed"].(bool))
	assert.False(t, b.a.Store.Current().SSL.PeerCertFQDN)

	c := w.get("/api/v1/config")
	assert.Equal(t, http.StatusOK, c.code)
	assert.NotEmpty(t, c.header.Get("ETag"))
	assert.Contains(t, c.body, `"comment": "API: GUI TLS 1.3 only"`)
}

func TestAPIOperatorCannotCommit(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	b.shell(t, "userconfig new olga \"Olga Op\" operator Olga-Pass-1\ncommit olga\n")
	w := b.browser(t)
	w.tok = b.token(t, "olga", "ops")
	r := w.get("/api/v1/status")
	assert.Equal(t, http.StatusForbidden, r.code, "a one-time password is changed first")
	assert.Contains(t, r.json(t)["error"], "one-time password")
	gui := b.browser(t)
	require.Equal(t, http.StatusSeeOther, gui.login("olga", "Olga-Pass-1").code)
	require.Equal(t, http.StatusSeeOther, gui.post("/password", url.Values{"new": {"Olga-Pass-2"}, "again": {"Olga-Pass-2"}}).code)

	ssl := w.get("/api/v1/ssl")
	require.Equal(t, http.StatusOK, ssl.code, ssl.body)
	body := strings.Replace(ssl.body, `"peer_cert_x509": false`, `"peer_cert_x509": true`, 1)
	require.Equal(t, http.StatusOK, w.api("PUT", "/api/v1/ssl", ssl.header.Get("ETag"), body).code, "operators edit")
	p2 := w.get("/api/v1/config/pending")
	r = w.api("POST", "/api/v1/commit", p2.header.Get("ETag"), map[string]string{"comment": "olga"})
	assert.Equal(t, http.StatusForbidden, r.code)
	assert.Contains(t, r.json(t)["error"], "operators cannot commit")
	assert.False(t, b.a.Store.Current().SSL.PeerCertX509)
}

// TestAPIAndShellEditTogether: an API client and a shell session edit at
// the same time. Different settings merge; the same settings make the
// later commit refuse, and the earlier one stays; a stale ETag refuses the
// edit before it is made.
func TestAPIAndShellEditTogether(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)

	// The API client starts editing (its pending copy is made now).
	ssl := w.get("/api/v1/ssl")
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(ssl.body), &v))
	v["inbound"].(map[string]any)["methods"] = []string{"TLSv1.2", "TLSv1.3"}
	r := w.api("PUT", "/api/v1/ssl", ssl.header.Get("ETag"), v)
	require.Equal(t, http.StatusOK, r.code, r.body)
	tagAfterEdit := r.header.Get("ETag")

	// Meanwhile a shell commits another setting.
	b.shell(t, "sslconfig gui methods 1-2\nsethostname other.example.test\ncommit from the shell\n")

	// The SSL resource changed underneath: the API's ETag is stale.
	v["peer_cert_fqdn"] = true
	r = w.api("PUT", "/api/v1/ssl", tagAfterEdit, v)
	assert.Equal(t, http.StatusPreconditionFailed, r.code)

	// Its commit merges (different sections): nothing is lost.
	p := w.get("/api/v1/config/pending")
	r = w.api("POST", "/api/v1/commit", p.header.Get("ETag"), map[string]string{"comment": "from the API"})
	require.Equal(t, http.StatusOK, r.code, r.body)
	cur := b.a.Store.Current()
	assert.Equal(t, "other.example.test", cur.Hostname, "the shell's edit is kept")
	assert.Equal(t, []config.Method{config.TLS12, config.TLS13}, cur.SSL.GUI.Methods, "the shell's edit is kept")
	assert.Equal(t, []config.Method{config.TLS12, config.TLS13}, cur.SSL.Inbound.Methods, "the API's edit is in")

	// The same section from both: the later commit is refused, the earlier kept.
	ssl = w.get("/api/v1/ssl")
	require.NoError(t, json.Unmarshal([]byte(ssl.body), &v))
	v["outbound"].(map[string]any)["methods"] = []string{"TLSv1.2"}
	require.Equal(t, http.StatusOK, w.api("PUT", "/api/v1/ssl", ssl.header.Get("ETag"), v).code)
	b.shell(t, "sslconfig outbound methods 1-2\ncommit shell outbound\n")
	p = w.get("/api/v1/config/pending")
	r = w.api("POST", "/api/v1/commit", p.header.Get("ETag"), map[string]string{"comment": "API outbound"})
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Contains(t, r.json(t)["error"], "changed the same settings as you")
	assert.Equal(t, []config.Method{config.TLS12, config.TLS13}, b.a.Store.Current().SSL.Outbound.Methods, "the shell's commit stays")
}

func TestAPICertificates(t *testing.T) {
	t.Parallel()
	_, w := startAPIClient(t)
	list := w.get("/api/v1/certificates")
	require.Equal(t, http.StatusOK, list.code)
	assert.Contains(t, list.body, `"interface Management (HTTPS)"`)
	assert.NotContains(t, list.body, "PRIVATE KEY")

	r := w.api("DELETE", "/api/v1/certificates/Demo", list.header.Get("ETag"), nil)
	assert.Equal(t, http.StatusConflict, r.code)
	assert.Contains(t, r.json(t)["error"], `certificate "Demo" is in use by listener IncomingMail (inbound TLS)`)

	r = w.api("POST", "/api/v1/certificates", list.header.Get("ETag"), map[string]any{"name": "Api", "common_name": "api.example.test", "country": "DE", "key": "ecdsa256"})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	assert.Contains(t, r.json(t)["csr"], "BEGIN CERTIFICATE REQUEST")
	assert.Equal(t, "Not signed", r.json(t)["certificate"].(map[string]any)["status"])
	r2 := w.api("POST", "/api/v1/certificates", r.header.Get("ETag"), map[string]any{"name": "api", "common_name": "x.example.test", "country": "DE"})
	assert.Equal(t, http.StatusUnprocessableEntity, r2.code)
	assert.Contains(t, r2.json(t)["error"], "already exists")

	csr := w.get("/api/v1/certificates/Api/csr")
	assert.Equal(t, http.StatusOK, csr.code)
	assert.Contains(t, csr.body, "BEGIN CERTIFICATE REQUEST")
	assert.Equal(t, http.StatusNotFound, w.get("/api/v1/certificates/Demo/csr").code)

	r3 := w.api("PUT", "/api/v1/certificates/Api/signed", r.header.Get("ETag"), map[string]string{"chain": "not pem"})
	assert.Equal(t, http.StatusUnprocessableEntity, r3.code)
	r4 := w.api("DELETE", "/api/v1/certificates/Api", r.header.Get("ETag"), nil)
	require.Equal(t, http.StatusOK, r4.code, r4.body)
	assert.NotContains(t, r4.body, `"Api"`)
}

func TestAPIReadOnlyResources(t *testing.T) {
	t.Parallel()
	_, w := startAPIClient(t)
	for _, tt := range []struct{ path, want string }{
		{"/api/v1/status", `"config_version"`}, {"/api/v1/listeners", `"IncomingMail"`}, {"/api/v1/interfaces", `"Management"`},
		{"/api/v1/destinations", `"default"`}, {"/api/v1/routes", `[]`}, {"/api/v1/queue", `[]`}, {"/api/v1/maillog?lines=5", `"lines"`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := w.get(tt.path)
			require.Equal(t, http.StatusOK, r.code, r.body)
			assert.Contains(t, r.body, tt.want)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
		})
	}
	r := w.get("/api/v1/maillog?lines=x")
	assert.Equal(t, http.StatusBadRequest, r.code)
	assert.Contains(t, r.json(t)["error"], `lines="x" is not a number`)
	r = w.get("/api/v1/nothing")
	assert.Equal(t, http.StatusNotFound, r.code)
	assert.Contains(t, r.json(t)["error"], "see /api/v1/openapi.json")
	r = w.get("/api/v1/status")
	assert.Equal(t, "TLSv1.2", r.json(t)["protocol"])
}

// TestOpenAPIDocumentMatchesTheAPI checks the hand-written OpenAPI 3.1
// document against the server: every operation it lists is served (not 404
// or 405), every endpoint is listed, and the schemas of the JSON types have
// exactly the Go types' fields.
func TestOpenAPIDocumentMatchesTheAPI(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	r := w.get("/api/v1/openapi.json")
	require.Equal(t, http.StatusOK, r.code)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
		Comp    struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &doc))
	assert.Equal(t, "3.1.0", doc.OpenAPI)

	listed := map[string]bool{}
	w.tok = b.token(t, "admin", "ci")
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			concrete := strings.NewReplacer("{name}", "Demo", "{domain}", "Demo").Replace(path)
			listed[m+" "+concrete] = true
			got := w.do(m, concrete, strings.NewReader(`{}`), map[string]string{"If-Match": `"probe"`})
			assert.NotEqual(t, http.StatusMethodNotAllowed, got.code, "%s %s is in the document but not served", m, path)
			assert.NotContains(t, got.body, "is not an API endpoint", "%s %s is in the document but not served", m, path)
		}
	}
	for _, e := range endpoints {
		assert.True(t, listed[e.method+" "+e.path], "%s %s is served but not in the document", e.method, e.path)
	}
	for name, typ := range map[string]any{"SSL": webui.SSLShape{}, "Service": webui.ServiceShape{}, "Certificate": webui.CertShape{}, "CertificateRequest": webui.CertRequestShape{}, "Route": webui.RouteShape{}, "Destination": webui.DestShape{}, "Listener": webui.ListenerShape{}, "Interface": webui.InterfaceShape{}, "DestinationDefault": webui.DestDefaultShape{},
		"DestinationSetup": webui.DestSetupShape{}, "ListenerNew": webui.ListenerNewShape{}, "InterfaceNew": webui.InterfaceNewShape{}, "Inbound": webui.InboundShape{},
		"WebSecurity": webui.WebSecurityShape{}, "URLList": webui.URLListShape{}, "Diagnosis": webui.DiagnosisShape{}, "LDAP": webui.LDAPShape{},
		"LDAPProfile": webui.LDAPProfileShape{}, "LDAPCertificate": webui.LDAPCertShape{}, "LDAPTest": webui.LDAPTestShape{}, "LDAPResult": webui.LDAPResultShape{},
		"PKCS12Import": webui.PKCS12Shape{}, "Imported": webui.ImportedShape{}} {
		var want []string
		rt := reflect.TypeOf(typ)
		for i := range rt.NumField() {
			want = append(want, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		var got []string
		for k := range doc.Comp.Schemas[name].Properties {
			got = append(got, k)
		}
		slices.Sort(want)
		slices.Sort(got)
		assert.Equal(t, want, got, "schema %s", name)
	}
}

// TestAPIParallelEditsOfOneToken: requests of one token in parallel share
// its pending copy one at a time (run with -race): of edits sent with the
// same ETag exactly one succeeds, the others get 412.
func TestAPIParallelEditsOfOneToken(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	tok := b.token(t, "admin", "ci")
	w := b.browser(t)
	w.tok = tok
	ssl := w.get("/api/v1/ssl")
	const n = 8
	codes := make(chan int, n)
	for i := range n {
		go func() {
			body := strings.Replace(ssl.body, `"peer_cert_fqdn": false`, `"peer_cert_fqdn": `+strconv.FormatBool(i%2 == 0), 1)
			body = strings.Replace(body, `"peer_cert_x509": false`, `"peer_cert_x509": true`, 1)
			c := b.browser(t)
			c.tok = tok
			codes <- c.api("PUT", "/api/v1/ssl", ssl.header.Get("ETag"), body).code
		}()
	}
	got := map[int]int{}
	for range n {
		got[<-codes]++
	}
	assert.Equal(t, map[int]int{http.StatusOK: 1, http.StatusPreconditionFailed: n - 1}, got)
}

func TestAPIRoutes(t *testing.T) {
	t.Parallel()
	_, w := startAPIClient(t)
	l := w.get("/api/v1/routes")
	require.Equal(t, http.StatusOK, l.code)
	assert.Equal(t, "[]\n", l.body)
	for _, tt := range []struct{ name, body, want string }{
		{"no hosts", `{"domain": "a.test", "hosts": []}`, "Please enter a value: host, host:port"},
		{"bad domain", `{"domain": "a..test", "hosts": ["mx.a.test"]}`, "a..test"},
		{"bad host", `{"domain": "a.test", "hosts": ["mx a"]}`, "mx a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := w.api("POST", "/api/v1/routes", l.header.Get("ETag"), tt.body)
			assert.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
			assert.Contains(t, r.json(t)["error"], tt.want)
		})
	}
	r := w.api("POST", "/api/v1/routes", l.header.Get("ETag"), `{"domain": "a.test", "hosts": ["mx.a.test:2525", "usedns"]}`)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	assert.Contains(t, r.body, `"USEDNS"`, "stored as smtproutes stores it")
	r2 := w.api("POST", "/api/v1/routes", r.header.Get("ETag"), `{"domain": "A.test", "hosts": ["mx.a.test"]}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r2.code, "already there")
	assert.Equal(t, http.StatusNotFound, w.api("DELETE", "/api/v1/routes/b.test", r.header.Get("ETag"), nil).code)
	r3 := w.api("DELETE", "/api/v1/routes/a.test", r.header.Get("ETag"), nil)
	require.Equal(t, http.StatusOK, r3.code, r3.body)
	assert.Equal(t, "[]\n", r3.body)
}

func TestAPIDestinations(t *testing.T) {
	t.Parallel()
	_, w := startAPIClient(t)
	l := w.get("/api/v1/destinations")
	require.Equal(t, http.StatusOK, l.code)
	for _, tt := range []struct{ name, path, body, want string }{
		{"bad level", "/api/v1/destinations/a.test", `{"domain": "a.test", "tls": "maybe"}`, "maybe"},
		{"negative", "/api/v1/destinations/a.test", `{"domain": "a.test", "max_connections": -1}`, "Value must be a number from 1 to 10000, not -1"},
		{"path and body differ", "/api/v1/destinations/a.test", `{"domain": "b.test"}`, "is not the path's"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := w.api("PUT", tt.path, l.header.Get("ETag"), tt.body)
			assert.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
			assert.Contains(t, r.json(t)["error"], tt.want)
		})
	}
	r := w.api("PUT", "/api/v1/destinations/a.test", l.header.Get("ETag"), `{"domain": "a.test", "tls": "required", "max_connections": 10}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Contains(t, r.body, `"domain": "a.test"`)
	r2 := w.api("PUT", "/api/v1/destinations/a.test", r.header.Get("ETag"), `{"domain": "a.test", "tls": "preferred"}`)
	require.Equal(t, http.StatusOK, r2.code, r2.body)
	assert.Contains(t, r2.body, `"tls": "preferred"`, "edited in place")
	assert.Equal(t, 1, strings.Count(r2.body, `"domain": "a.test"`))
	r3 := w.api("DELETE", "/api/v1/destinations/a.test", r2.header.Get("ETag"), nil)
	require.Equal(t, http.StatusOK, r3.code, r3.body)
	assert.NotContains(t, r3.body, "a.test")
	assert.Equal(t, http.StatusNotFound, w.api("DELETE", "/api/v1/destinations/a.test", r3.header.Get("ETag"), nil).code)
}

func TestAPIListenerAndInterfaceEdits(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)
	l := w.get("/api/v1/listeners")
	require.Equal(t, http.StatusOK, l.code)
	r := w.api("PUT", "/api/v1/listeners/IncomingMail", l.header.Get("ETag"), `{"tls": "required", "certificate": "Nope"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.json(t)["error"], "Nope")
	r = w.api("PUT", "/api/v1/listeners/Nobody", l.header.Get("ETag"), `{"tls": "required", "certificate": "Demo"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.json(t)["error"], "Nobody")
	r = w.api("PUT", "/api/v1/listeners/IncomingMail", l.header.Get("ETag"), `{"tls": "Required", "certificate": "Demo"}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Contains(t, r.body, `"tls": "required"`)
	assert.Equal(t, config.TLSPreferred, b.a.Store.Current().Listener("IncomingMail").TLS, "pending until commit")

	i := w.get("/api/v1/interfaces")
	r = w.api("PUT", "/api/v1/interfaces/Management", i.header.Get("ETag"), `{"certificate": "Nope"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	assert.Contains(t, r.json(t)["error"], "Nope")
	r = w.api("PUT", "/api/v1/interfaces/Management", i.header.Get("ETag"), `{"certificate": "Demo", "gateway": "127.0.0.254"}`)
	assert.Equal(t, http.StatusBadRequest, r.code, "an interface has no such field")
	assert.Contains(t, r.json(t)["error"], `unknown field "gateway"`)
}
