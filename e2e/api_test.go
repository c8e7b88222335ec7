package e2e

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type apiClient struct {
	t     *testing.T
	base  string
	token string
	c     *http.Client
}

func newAPIClient(t *testing.T, a *appliance, token string) *apiClient {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // the Demo certificate is self-signed
	t.Cleanup(tr.CloseIdleConnections)
	return &apiClient{t: t, base: "https://" + addr(a.httpsPort), token: token, c: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

type apiAnswer struct {
	code       int
	etag, body string
}

func (c *apiClient) do(method, path, ifMatch, body string) apiAnswer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.c.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiAnswer{resp.StatusCode, resp.Header.Get("ETag"), string(b)}
}

func (r apiAnswer) field(t *testing.T, name string) any {
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &m), r.body)
	return m[name]
}

// TestAPIOnTheDaemon: a token made with relaybox cli drives the REST API
// of the real daemon: read, edit with If-Match, commit; a shell session
// (another process) commits meanwhile and both edits survive; a stale ETag
// changes nothing; a revoked token is refused.
func TestAPIOnTheDaemon(t *testing.T) {
	a := startAppliance(t, startOptions{})
	token := apiToken(t, a, "admin", "e2e")
	c := newAPIClient(t, a, token)

	st := c.do("GET", "/api/v1/status", "", "")
	require.Equal(t, http.StatusOK, st.code, st.body)
	assert.Equal(t, "relaybox.e2e.test", st.field(t, "hostname"))

	anon := newAPIClient(t, a, "")
	assert.Equal(t, http.StatusUnauthorized, anon.do("GET", "/api/v1/status", "", "").code)
	assert.Equal(t, http.StatusOK, anon.do("GET", "/api/v1/openapi.json", "", "").code, "the description needs no login")

	ssl := c.do("GET", "/api/v1/ssl", "", "")
	require.Equal(t, http.StatusOK, ssl.code)
	edited := strings.Replace(ssl.body, `"peer_cert_fqdn": false`, `"peer_cert_fqdn": true`, 1)
	r := c.do("PUT", "/api/v1/ssl", "", edited)
	assert.Equal(t, http.StatusPreconditionRequired, r.code)
	r = c.do("PUT", "/api/v1/ssl", ssl.etag, edited)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Equal(t, http.StatusPreconditionFailed, c.do("PUT", "/api/v1/ssl", ssl.etag, edited).code, "stale")

	// Another process commits a different setting meanwhile.
	a.mustCommit(t, "sethostname shell.e2e.test\ncommit from the shell\n")

	p := c.do("GET", "/api/v1/config/pending", "", "")
	assert.Contains(t, p.body, "peer_cert_fqdn")
	assert.NotContains(t, p.body, "$2a$", "secrets masked")
	r = c.do("POST", "/api/v1/commit", p.etag, `{"comment": "API: peer FQDN check"}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	show := a.cli(t, "showconfig mask\n").stdout
	assert.Contains(t, show, "hostname: shell.e2e.test", "the shell's commit is kept")
	assert.Contains(t, show, "peer_cert_fqdn: true", "the API's commit is in")
	assert.Contains(t, show, "comment: 'API: peer FQDN check'")
	assert.Contains(t, show, "hash: '********'", "the token's hash is masked")
	assert.NotContains(t, show, token)

	a.mustCommit(t, "userconfig apitokens admin revoke e2e\ncommit revoke\n")
	assert.Equal(t, http.StatusUnauthorized, c.do("GET", "/api/v1/status", "", "").code, "revoked")
}
