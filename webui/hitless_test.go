package webui_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// conn1 speaks HTTP/1.1 on one TLS connection, so the test knows which
// connection carried which request.
type conn1 struct {
	t     *testing.T
	c     *tls.Conn
	r     *bufio.Reader
	base  string
	token string
}

func (c *conn1) do(method, path, ifMatch, body string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	require.NoError(c.t, req.Write(c.c))
	resp, err := http.ReadResponse(c.r, req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// TestCertificateCommitIsHitless: a commit that gives the GUI's interface
// another certificate, sent over an open connection, is answered on that
// connection; the next connection gets the new certificate.
func TestCertificateCommitIsHitless(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	tok := b.token(t, "admin", "ci")
	addr := strings.TrimPrefix(b.base, "https://")
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) // the test reads the certificate served
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	tc := dial()
	require.Equal(t, "Relaybox Demo", tc.ConnectionState().PeerCertificates[0].Subject.CommonName)
	c := &conn1{t: t, c: tc, r: bufio.NewReader(tc), base: b.base, token: tok}

	certs := c.do("GET", "/api/v1/certificates", "", "")
	r := c.do("POST", "/api/v1/certificates", certs.header.Get("ETag"), `{"name": "Web", "common_name": "gui.example.test", "country": "US"}`)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	ifc := c.do("GET", "/api/v1/interfaces", "", "")
	r = c.do("PUT", "/api/v1/interfaces/Management", ifc.header.Get("ETag"), `{"certificate": "Web"}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	p := c.do("GET", "/api/v1/config/pending", "", "")
	r = c.do("POST", "/api/v1/commit", p.header.Get("ETag"), `{"comment": "GUI certificate Web"}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Contains(t, r.body, `"comment": "GUI certificate Web"`, "the commit's answer came on the connection open before it")
	assert.Equal(t, "Relaybox Demo", tc.ConnectionState().PeerCertificates[0].Subject.CommonName)

	next := dial()
	assert.Equal(t, "gui.example.test", next.ConnectionState().PeerCertificates[0].Subject.CommonName, "the next connection gets the new certificate")
}
