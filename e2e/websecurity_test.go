package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/internal/testwebsec"
)

// webSecurityBox is a running daemon with the web security service's
// authority in its trust store, the client certificate that service
// accepts (WSClient, pasted) and one it does not (Wrong, self-signed).
func webSecurityBox(t *testing.T, srv *testwebsec.Server) *appliance {
	t.Helper()
	a := startAppliance(t, startOptions{domains: "e2e.test"})
	configs := filepath.Join(a.dir, "configs")
	require.NoError(t, os.MkdirAll(configs, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(configs, "wsca.pem"), []byte(srv.CA.PEM), 0o600))
	client := srv.CA.Issue(t, "relaybox.e2e.test", true)
	a.mustCommit(t, "certconfig ca import WSCA wsca.pem\n"+
		"certconfig\ncertificate\npaste\nWSClient\n"+strings.TrimSpace(client.CertPEM)+"\n.\n"+strings.TrimSpace(client.KeyPEM)+"\n.\nn\n\n\n"+
		"certconfig new Wrong cn=wrong.e2e.test c=US\n"+
		"commit web security certificates\n")
	return a
}

// TestWebSecurityDialogInReferenceOrder: the linear dialog asks what the
// reference (§7, seed 003) asks, in its order, and commits.
func TestWebSecurityDialogInReferenceOrder(t *testing.T) {
	srv := testwebsec.Start(t, testwebsec.Options{})
	a := webSecurityBox(t, srv)
	res := a.mustCommit(t, "urllistconfig new Trusted example.org\n"+
		"websecurityconfig\ny\n"+srv.URL+"\ny\n1\ny\nWSClient\nn\n"+
		"commit url filtering\n")
	order := []string{"Enable URL Filtering? [N]> y", "Enter the URL of the web security service", srv.URL,
		"Do you want to whitelist URLs using a URL list?", "Enter the number of URL list:", "1. Trusted (1 entries)",
		"Do you want to set client certificate for Cisco Web Security Services Authentication? [N]> y",
		"Choose the certificate to present to the web security service:", "WSClient",
		"Do you want to enable Web Interaction Tracking? [N]> n", "Changes committed:"}
	rest := res.stdout
	for _, s := range order {
		i := strings.Index(rest, s)
		require.GreaterOrEqualf(t, i, 0, "%q missing or out of order in:\n%s", s, res.stdout)
		rest = rest[i+len(s):]
	}
	res = a.cli(t, "showconfig mask\n")
	assert.Contains(t, res.stdout, "web_security:\n  enabled: true\n  service_url: "+srv.URL+"\n  allow_list: Trusted\n  certificate: WSClient\n")
	res = a.cli(t, "certconfig delete WSClient\n")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, `certificate "WSClient" is in use by websecurityconfig`)
	res = a.cli(t, "urllistconfig delete Trusted\n")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, `URL list "Trusted" is used by websecurityconfig`)
	res = a.cli(t, "websecurityconfig\nn\nhttp://plain.e2e.test/\n")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, "The value must be an https URL")
}

// TestWebSecurityDiagnostics: a real mutual-TLS connection, refused and
// accepted as the certificates and the sslconfig settings say.
func TestWebSecurityDiagnostics(t *testing.T) {
	srv := testwebsec.Start(t, testwebsec.Options{})
	tls10 := testwebsec.StartWith(t, srv.CA, testwebsec.Options{MaxVersion: tls.VersionTLS10})
	misnamed := testwebsec.StartWith(t, srv.CA, testwebsec.Options{Name: "elsewhere.e2e.test"})
	a := webSecurityBox(t, srv)
	a.mustCommit(t, "websecurityconfig enable url="+srv.URL+" certificate=WSClient\ncommit url filtering\n")
	tests := []struct {
		name, edits string
		ok          bool
		want        []string
	}{
		{"right certificate", "", true, []string{"TLS: TLSv1.2 with ", "Chain: verifies against the trust store",
			"the server asked for one; we presented WSClient", "Client certificate: accepted by the server", "Test lookup: HTTP 200 OK", "Result: the web security service can be used."}},
		{"wrong certificate", "websecurityconfig certificate=Wrong\n", false, []string{"we presented Wrong", "the service refused the client certificate Wrong"}},
		{"no certificate", "websecurityconfig certificate=none\n", false, []string{"we have none to present", "the service requires a client certificate and none is set"}},
		{"TLS 1.0 server", "websecurityconfig url=" + tls10.URL + "\n", false, []string{"TLS v1.0 not allowed", "enable OTHER_CLIENT_TLSV10 in sslconfig"}},
		{"TLS 1.0 server, OTHER_CLIENT_TLSV10", "websecurityconfig url=" + tls10.URL + "\nsslconfig other_client_tlsv10 enable\n", true, []string{"TLS: TLSv1.0 with ", "Test lookup: HTTP 200 OK"}},
		{"name mismatch, PEER_CERT_FQDN off", "websecurityconfig url=" + misnamed.URL + "\n", true, []string{"does NOT carry localhost", "not enforced, PEER_CERT_FQDN is off", "Test lookup: HTTP 200 OK"}},
		{"name mismatch, PEER_CERT_FQDN on", "websecurityconfig url=" + misnamed.URL + "\nsslconfig peer_cert_fqdn enable\n", false, []string{"refused, PEER_CERT_FQDN is on", "connect by the name in the certificate, or turn PEER_CERT_FQDN off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := tt.edits + "websecuritydiagnostics\n"
			if tt.edits != "" && tt.ok {
				script += "clearchanges confirm\n" // pending edits tested, not kept
			}
			res := a.cli(t, script)
			all := res.stdout + res.stderr
			if tt.ok {
				assert.Equal(t, 0, res.code, all)
				assert.Contains(t, res.stdout, "Result: the web security service can be used.")
			} else {
				assert.Equal(t, 1, res.code, all)
				assert.NotContains(t, res.stdout, "Result: the web security service can be used.")
			}
			for _, w := range tt.want {
				assert.Contains(t, all, w)
			}
		})
	}
}

// TestWebSecurityMail: mail through the box (swaks in, smtp-sink out) gets
// its verdict header and mail_logs lines; with the service down it goes
// through at once without one, and the log says so.
func TestWebSecurityMail(t *testing.T) {
	requireSwaks(t)
	srv := testwebsec.Start(t, testwebsec.Options{})
	sinkPort, sinkDir := startSink(t)
	a := webSecurityBox(t, srv)
	a.mustCommit(t, fmt.Sprintf("smtproutes new example.net 127.0.0.1:%d\n", sinkPort)+
		"urllistconfig new Trusted docs.e2e.test\n"+
		"websecurityconfig enable url="+srv.URL+" certificate=WSClient allowlist=Trusted tracking=yes\ncommit url filtering\n")

	send := func(token string) time.Duration {
		body := "Hello " + token + "\nlog in at https://phish.e2e.test/login?t=" + token + " and read https://docs.e2e.test/guide\n"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		begin := time.Now()
		out, err := exec.CommandContext(ctx, "swaks", "--server", addr(a.submissionPort), "--from", "app@e2e.test", "--to", "bob@example.net",
			"--helo", "app.e2e.test", "--timeout", "10", "--header", "Subject: links "+token, "--body", body).CombinedOutput()
		require.NoErrorf(t, err, "swaks:\n%s", out)
		require.Regexp(t, swaksQueuedRE, string(out))
		return time.Since(begin)
	}
	midOf := func(token string) string {
		lines := a.cli(t, "grep -e \"Subject .*"+token+"\" mail_logs\n").stdout
		m := regexp.MustCompile(`MID (\d+) Subject`).FindStringSubmatch(lines)
		require.NotNil(t, m, "no Subject line for %s:\n%s", token, lines)
		return m[1]
	}

	token := uniqueToken("websec")
	send(token)
	require.Eventually(t, func() bool { return sinkHas(sinkDir, token) }, 20*time.Second, 50*time.Millisecond, "the message reaches the sink")
	assert.True(t, sinkHas(sinkDir, `X-Relaybox-URL-Reputation: -9.5; category="Phishing"; urls=2; looked_up=1`), "the verdict header")
	mid := midOf(token)
	logs := a.cli(t, "grep -e \"MID "+mid+" \" mail_logs\n").stdout
	assert.Contains(t, logs, "MID "+mid+" URL https://phish.e2e.test/login?t="+token+" reputation -9.5 category Phishing")
	assert.Contains(t, logs, "MID "+mid+" URL https://docs.e2e.test/guide on allow list Trusted: not looked up")
	assert.Contains(t, logs, "MID "+mid+" Web Security verdict: reputation -9.5 category Phishing (2 URLs, 1 looked up)")
	reqs := srv.Requests()
	require.NotEmpty(t, reqs)
	last := reqs[len(reqs)-1]
	assert.Equal(t, []string{"https://phish.e2e.test/login?t=" + token}, last.URLs)
	assert.Equal(t, "relaybox.e2e.test", last.ClientCN, "the lookup presented the chosen certificate")
	assert.True(t, last.Track, "Web Interaction Tracking is on")

	srv.Close() // the service goes down
	token = uniqueToken("websec-down")
	took := send(token)
	assert.Less(t, took, 3*time.Second, "acceptance does not wait for the service")
	begin := time.Now()
	require.Eventually(t, func() bool { return sinkHas(sinkDir, token) }, 20*time.Second, 50*time.Millisecond, "the message goes on")
	assert.Less(t, time.Since(begin), 10*time.Second, "promptly")
	assert.True(t, sinkHas(sinkDir, "X-Relaybox-URL-Reputation: unavailable; urls=2; looked_up=0"))
	mid = midOf(token)
	logs = a.cli(t, "grep -e \"MID "+mid+" \" mail_logs\n").stdout
	assert.Contains(t, logs, "MID "+mid+" Web Security lookup failed after")
	assert.Contains(t, logs, "the message goes on without a verdict")
	assert.Contains(t, logs, "Message finished MID "+mid+" done")

	// A service that accepts the connection but never answers in time:
	// acceptance is as fast, delivery waits for the lookup's timeout only.
	slow := testwebsec.StartWith(t, srv.CA, testwebsec.Options{Delay: 30 * time.Second})
	a.mustCommit(t, "websecurityconfig url="+slow.URL+"\ncommit slow service\n")
	token = uniqueToken("websec-slow")
	took = send(token)
	assert.Less(t, took, 3*time.Second, "acceptance does not wait for the service")
	begin = time.Now()
	require.Eventually(t, func() bool { return sinkHas(sinkDir, token) }, 20*time.Second, 50*time.Millisecond, "the message goes on")
	assert.Less(t, time.Since(begin), 10*time.Second, "after the lookup's timeout (5 s), not the service's 30 s")
	mid = midOf(token)
	logs = a.cli(t, "grep -e \"MID "+mid+" \" mail_logs\n").stdout
	assert.Contains(t, logs, "MID "+mid+" Web Security lookup failed after 5")
	assert.Len(t, slow.Requests(), 1, "the lookup reached the slow service")
}
