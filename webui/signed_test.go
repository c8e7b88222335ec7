package webui_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signCSR signs a CSR with a new test CA and returns the leaf and the CA, PEM.
func signCSR(t *testing.T, csrPEM string) (leaf, ca string) {
	t.Helper()
	blk, _ := pem.Decode([]byte(csrPEM))
	require.NotNil(t, blk)
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "GUI Test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &key.PublicKey, key)
	require.NoError(t, err)
	caCert, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: csr.Subject, DNSNames: csr.DNSNames, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, csr.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
}

func TestUploadSignedCertificate(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	require.Equal(t, http.StatusSeeOther, w.post("/certificates/new", url.Values{"name": {"Web"}, "cn": {"web.example.test"}, "c": {"US"}}).code)
	csr := w.get("/certificates/Web/csr")
	require.Equal(t, http.StatusOK, csr.code)
	leaf, ca := signCSR(t, csr.body)

	r := w.post("/certificates/Web/signed", url.Values{"chain": {"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"}})
	assert.Equal(t, http.StatusUnprocessableEntity, r.code)
	r = w.post("/certificates/Web/signed", url.Values{"chain": {leaf + ca}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = w.get("/certificates")
	assert.Contains(t, r.body, "the signed certificate replaces the self-signed one")
	cert := b.a.Store.Current().Certificate("Web")
	assert.Nil(t, cert, "pending until commit")
	require.Equal(t, http.StatusSeeOther, w.post("/changes/commit", url.Values{"comment": {"signed Web"}}).code)
	cert = b.a.Store.Current().Certificate("Web")
	require.NotNil(t, cert)
	assert.Empty(t, cert.CSR, "the CSR is done")
	assert.Equal(t, 2, strings.Count(cert.PEM, "BEGIN CERTIFICATE"), "the intermediate is kept")
	assert.Contains(t, w.get("/certificates").body, "GUI Test CA")
}
