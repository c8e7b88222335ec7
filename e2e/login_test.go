package e2e

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGUILoginLockOutIsLogged: on the real daemon, five wrong GUI
// passwords lock the account, the right one is then refused with 429, and
// DATA/logs/authentication has the failures and the lock-out; the 401 and
// 429 answers carry the security headers.
func TestGUILoginLockOutIsLogged(t *testing.T) {
	a := startAppliance(t, startOptions{})
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS(tls.VersionTLS12)}}
	try := func(pass string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, "https://"+addr(a.httpsPort)+"/api/v1/status", nil)
		require.NoError(t, err)
		req.SetBasicAuth(adminUser, pass)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	for range 5 {
		resp := try("wrong-password")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "a 401 carries the security headers")
	}
	resp := try(adminPassword)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the right password is refused during the lock-out")
	assert.Equal(t, "900", resp.Header.Get("Retry-After"))
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))

	log, err := os.ReadFile(filepath.Join(a.dir, "logs", "authentication"))
	require.NoError(t, err)
	text := string(log)
	assert.Equal(t, 5, strings.Count(text, "Info: A failed login attempt for user admin from 127.0.0.1 (gui)"), text)
	assert.Contains(t, text, "Warning: User admin locked out for 15m0s after 5 failed attempts from 127.0.0.1 (gui)")
	assert.NotContains(t, text, "logged in")
	st, err := os.Stat(filepath.Join(a.dir, "logs", "authentication"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
}
