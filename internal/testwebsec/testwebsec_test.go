package testwebsec

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerAcceptsOnlyItsClients: the right client certificate gets the
// documented JSON; another authority's certificate, or none, is refused.
func TestServerAcceptsOnlyItsClients(t *testing.T) {
	srv := Start(t, Options{})
	roots := x509.NewCertPool()
	roots.AddCert(srv.CA.Cert)
	right := srv.CA.Issue(t, "client.test", true).TLS
	wrong := NewAuthority(t, "Other").Issue(t, "client.test", true).TLS
	post := func(certs []tls.Certificate) (*http.Response, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, MaxVersion: tls.VersionTLS12}}}
		return c.Post(srv.URL, "application/json", bytes.NewReader([]byte(`{"version":1,"urls":["https://phish.test/a","https://ok.test/"],"track":true,"client":"box"}`)))
	}
	resp, err := post([]tls.Certificate{right})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		Results []struct {
			URL      string  `json:"url"`
			Score    float64 `json:"score"`
			Category string  `json:"category"`
		} `json:"results"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Len(t, out.Results, 2)
	assert.Equal(t, -9.5, out.Results[0].Score)
	assert.Equal(t, "Phishing", out.Results[0].Category)
	assert.Equal(t, 6.0, out.Results[1].Score)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "client.test", reqs[0].ClientCN)
	assert.True(t, reqs[0].Track)
	for name, certs := range map[string][]tls.Certificate{"wrong": {wrong}, "none": nil} {
		_, err := post(certs)
		assert.Error(t, err, name)
	}
	assert.Len(t, srv.Requests(), 1, "refused clients are never answered")
}
