package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/internal/testldap"
)

const ldapDomain = "example.com" // testldap's users are @example.com

// ldapSwaks sends one message to rcpt and reports swaks's exit status (24:
// RCPT refused) and transcript.
func ldapSwaks(t *testing.T, a *appliance, rcpt string) (string, swaksResult) {
	t.Helper()
	tok := uniqueToken("ldap")
	return tok, runSwaks(t, addr(a.smtpPort), rcpt, tok)
}

// TestLDAPRecipientValidation drives the daemon with swaks while its public
// listener validates recipients with an LDAP accept query against a real
// slapd: over StartTLS and LDAPS, with and without a client certificate
// demanded by the server. Known recipients get 250, unknown ones 550 5.1.0 at
// RCPT; a directory that refuses the box (no client certificate) or is
// stopped gives 451 4.4.3 and nothing is queued; once slapd is back the
// sender's retry is accepted. Answers are cached: a recipient found before
// the outage is still accepted during it.
func TestLDAPRecipientValidation(t *testing.T) {
	requireSwaks(t)
	requireOpenSSL(t)
	plain := testldap.Start(t, testldap.Options{})
	demand := testldap.Start(t, testldap.Options{VerifyClient: true})
	a := startAppliance(t, startOptions{domains: ldapDomain})
	configs := filepath.Join(a.dir, "configs")
	require.NoError(t, os.MkdirAll(configs, 0o700))
	// The box trusts the test CA, and gets the client certificate it signed
	// as a PKCS#12 file, the way an admin brings one in.
	require.NoError(t, os.WriteFile(filepath.Join(configs, "ldap-ca.pem"), []byte(plain.CA+demand.CA), 0o600))
	pkiDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(pkiDir, "c.pem"), []byte(demand.ClientPEM), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(pkiDir, "k.pem"), []byte(demand.ClientKey), 0o600))
	out, err := exec.Command("openssl", "pkcs12", "-export", "-in", filepath.Join(pkiDir, "c.pem"), "-inkey", filepath.Join(pkiDir, "k.pem"),
		"-out", filepath.Join(configs, "ldap-client.p12"), "-passout", "pass:P12-Secret-1").CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The two servers' CAs differ: import each under its own name.
	require.NoError(t, os.WriteFile(filepath.Join(configs, "ca1.pem"), []byte(plain.CA), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(configs, "ca2.pem"), []byte(demand.CA), 0o600))
	a.mustCommit(t, strings.Join([]string{
		"certconfig ca import LdapCA1 ca1.pem",
		"certconfig ca import LdapCA2 ca2.pem",
		"certconfig import LdapClient ldap-client.p12 P12-Secret-1",
		fmt.Sprintf("ldapconfig new Corp host=localhost port=%d connection=starttls base=%s bind_dn=%s bind_password=%s negative_ttl=0",
			plain.Port, testldap.Base, testldap.BindDN, testldap.BindPass),
		"listenerconfig edit IncomingMail ldapaccept Corp.ldapaccept",
		"sslconfig peer_cert_x509 enable",
		"sslconfig peer_cert_fqdn enable",
		"commit ldap",
	}, "\n")+"\n")

	cases := []struct {
		name       string
		server     *testldap.Server
		connection string
		cert       string // the LDAP client certificate, "none" for none
		known      int    // what a known recipient gets
	}{
		{"StartTLS", plain, "starttls", "none", 250},
		{"LDAPS", plain, "ssl", "none", 250},
		{"StartTLS, client certificate demanded", demand, "starttls", "LdapClient", 250},
		{"LDAPS, client certificate demanded", demand, "ssl", "LdapClient", 250},
		{"LDAPS, client certificate demanded, none", demand, "ssl", "none", 451},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := tc.server.Port
			if tc.connection == "ssl" {
				port = tc.server.TLSPort
			}
			res0 := a.cli(t, fmt.Sprintf("ldapconfig edit Corp port=%d connection=%s\nldapconfig setup certificate=%s\ncommit %s\n", port, tc.connection, tc.cert, tc.name))
			require.Equalf(t, 0, res0.code, "%s%s", res0.stdout, res0.stderr)
			tok, res := ldapSwaks(t, a, "alice@"+ldapDomain)
			if tc.known == 250 {
				require.Equalf(t, 0, res.exit, "a known recipient is accepted:\n%s", res.out)
				require.Regexp(t, swaksQueuedRE, res.out)
				requireSpooledOnce(t, a.dir, tok)
			} else {
				require.Equalf(t, 24, res.exit, "RCPT deferred:\n%s", res.out)
				require.Contains(t, res.out, "<** 451 4.4.3 Directory lookup failed, try again later")
				require.Empty(t, spooledWith(t, a.dir, tok), "nothing queued")
				return
			}
			tok, res = ldapSwaks(t, a, "nobody@"+ldapDomain)
			require.Equalf(t, 24, res.exit, "swaks exits 24 when RCPT is refused:\n%s", res.out)
			require.Contains(t, res.out, "<** 550 5.1.0 Address rejected")
			require.Empty(t, spooledWith(t, a.dir, tok))
		})
	}
	logs := a.cli(t, "grep -e \"LDAPACCEPT\" mail_logs\n").stdout
	require.Regexp(t, `Info: ICID \d+ To: <nobody@example.com> Rejected by LDAPACCEPT query Corp.ldapaccept`, logs)
	require.Regexp(t, `Warning: ICID \d+ To: <alice@example.com> deferred: LDAPACCEPT query Corp.ldapaccept failed: `, logs)

	t.Run("slapd stopped mid-test", func(t *testing.T) {
		a.mustCommit(t, fmt.Sprintf("ldapconfig edit Corp port=%d connection=starttls\nldapconfig setup certificate=none\ncommit back to plain\n", plain.Port))
		_, res := ldapSwaks(t, a, "alice@"+ldapDomain)
		require.Equalf(t, 0, res.exit, "%s", res.out) // alice is now cached as found
		plain.Stop()
		tok, res := ldapSwaks(t, a, "alice@"+ldapDomain)
		require.Equalf(t, 0, res.exit, "a recipient found before the outage is answered from the cache:\n%s", res.out)
		requireSpooledOnce(t, a.dir, tok)
		tok, res = ldapSwaks(t, a, "bob@"+ldapDomain)
		require.Equalf(t, 24, res.exit, "%s", res.out)
		require.Contains(t, res.out, "<** 451 4.4.3 Directory lookup failed, try again later", "never refused, never accepted unchecked")
		require.Empty(t, spooledWith(t, a.dir, tok), "nothing queued while the directory is down")
		plain.Start()
		// The sender keeps the message on a 4xx and retries: swaks again.
		require.Eventually(t, func() bool {
			res = runSwaks(t, addr(a.smtpPort), "bob@"+ldapDomain, tok)
			return res.exit == 0
		}, 20*time.Second, 500*time.Millisecond, "accepted once slapd is back")
		requireSpooledOnce(t, a.dir, tok)
	})
}
