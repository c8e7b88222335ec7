package e2e

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// methodSelection is a contiguous answer to the sslconfig method menu.
type methodSelection struct {
	answer   string
	from, to int // menu items, inclusive
}

func (s methodSelection) enables(v tlsVersion) bool { return v.menu >= s.from && v.menu <= s.to }

var allSelections = []methodSelection{
	{"1", 1, 1}, {"2", 2, 2}, {"3", 3, 3}, {"4", 4, 4},
	{"1-2", 1, 2}, {"2-3", 2, 3}, {"3-4", 3, 4},
	{"1-3", 1, 3}, {"2-4", 2, 4},
	{"1-4", 1, 4},
}

// service is a TLS endpoint of the appliance as the matrix probes it.
type service struct {
	name string
	smtp bool
	port func(*appliance) int
}

var services = []service{
	{"smtp", true, func(a *appliance) int { return a.smtpPort }},
	{"https", false, func(a *appliance) int { return a.httpsPort }},
}

// checkGo asserts that Go's client at exactly v is accepted (with v) or refused.
func checkGo(t *testing.T, address string, smtp bool, v tlsVersion, want bool) tls.ConnectionState {
	t.Helper()
	var st tls.ConnectionState
	var err error
	if smtp {
		st, err = goSMTPHandshake(t, address, v.id)
	} else {
		st, err = goHTTPSHandshake(t, address, v.id)
	}
	if want {
		require.NoErrorf(t, err, "%s must be accepted on %s", v.name, address)
		require.Equalf(t, v.id, st.Version, "negotiated %s, want %s", tls.VersionName(st.Version), v.name)
	} else {
		require.Errorf(t, err, "%s must be refused on %s, but the handshake succeeded with %s", v.name, address, tls.VersionName(st.Version))
		require.Containsf(t, err.Error(), "tls:", "the refusal must come from the TLS handshake")
	}
	return st
}

// checkOpenSSL asserts the same with openssl s_client.
func checkOpenSSL(t *testing.T, address string, smtp bool, v tlsVersion, want bool) opensslResult {
	t.Helper()
	res := opensslProbe(t, address, smtp, v)
	if want {
		require.Truef(t, res.accepted(v), "%s must be accepted on %s; exit %d, protocol %q:\n%s", v.name, address, res.exit, res.protocol, res.output)
	} else {
		require.Falsef(t, res.accepted(v), "%s must be refused on %s:\n%s", v.name, address, res.output)
		require.Truef(t, res.refusedByTLS(), "%s on %s must be refused by a TLS alert, not fail otherwise (exit %d):\n%s", v.name, address, res.exit, res.output)
	}
	return res
}

func TestTLSVersionMatrix(t *testing.T) {
	requireOpenSSL(t)
	a := startAppliance(t, startOptions{})
	a.mustCommit(t, fmt.Sprintf("sslconfig gui ciphers %s\nsslconfig inbound ciphers %s\ncommit ciphers for TLS 1.0 and 1.1\n", permissiveCiphers, permissiveCiphers))

	for _, sel := range allSelections {
		t.Run("sel="+sel.answer, func(t *testing.T) {
			a.mustCommit(t, fmt.Sprintf("sslconfig gui methods %s\nsslconfig inbound methods %s\ncommit methods %s\n", sel.answer, sel.answer, sel.answer))
			for _, svc := range services {
				t.Run(svc.name, func(t *testing.T) {
					t.Parallel()
					address := addr(svc.port(a))
					for _, v := range tlsVersions {
						t.Run(v.name, func(t *testing.T) {
							t.Parallel()
							want := sel.enables(v)
							t.Run("go", func(t *testing.T) {
								t.Parallel()
								checkGo(t, address, svc.smtp, v, want)
							})
							t.Run("openssl", func(t *testing.T) {
								t.Parallel()
								checkOpenSSL(t, address, svc.smtp, v, want)
							})
						})
					}
				})
			}
		})
	}
}

// TestDefaultCiphersTLS11Warning documents what the AsyncOS default cipher
// strings really do: they exclude every suite usable below TLS 1.2, so the
// enabled TLS v1.1 cannot be negotiated, and sslconfig says so.
func TestDefaultCiphersTLS11Warning(t *testing.T) {
	a := startAppliance(t, startOptions{})
	res := a.cli(t, "sslconfig print\n")
	require.Equalf(t, 0, res.code, "sslconfig print failed: %s", res.stderr)
	require.Contains(t, res.stdout, "Inbound SMTP method: tlsv1_1tlsv1_2", "a fresh appliance enables TLS v1.1 and v1.2")
	var warnings []string
	for _, line := range strings.Split(res.stdout, "\n") {
		if strings.Contains(line, "Warning:") && strings.Contains(line, "TLS v1.1") {
			warnings = append(warnings, line)
		}
	}
	require.NotEmptyf(t, warnings, "sslconfig print must warn that TLS v1.1 cannot be negotiated:\n%s", res.stdout)
	assert.Truef(t, strings.Contains(strings.Join(warnings, "\n"), "Inbound SMTP"), "the warning must name inbound SMTP: %q", warnings)

	smtp := addr(a.smtpPort)
	checkGo(t, smtp, true, versionByID(t, tls.VersionTLS11), false)
	checkGo(t, smtp, true, versionByID(t, tls.VersionTLS12), true)
}

// dialogEnableTLS13 is the AsyncOS dialog: sslconfig, INBOUND, methods 1-3,
// Enter for the cipher default, Enter for "no renegotiation", Enter to leave
// the menu, then commit with a comment.
const dialogEnableTLS13 = "sslconfig\ninbound\n1-3\n\n\n\ncommit\ncomment\n"

func TestDialogScriptEnablesTLS13(t *testing.T) {
	requireOpenSSL(t)
	a := startAppliance(t, startOptions{})
	tls13 := versionByID(t, tls.VersionTLS13)
	smtp, gui := addr(a.smtpPort), addr(a.httpsPort)

	// Before: TLS 1.3 is off everywhere.
	checkGo(t, smtp, true, tls13, false)

	res := a.mustCommit(t, dialogEnableTLS13)
	assert.Contains(t, res.stdout, "Inbound SMTP method: tlsv1_1tlsv1_2tlsv1_3", "the dialog shows the new methods before commit")
	assert.Equal(t, 2, a.statusVersion(t))

	st := checkGo(t, smtp, true, tls13, true)
	assert.Containsf(t, tls13Suites, st.CipherSuite, "TLS 1.3 negotiated %s, not one of its three suites", tls.CipherSuiteName(st.CipherSuite))
	o := checkOpenSSL(t, smtp, true, tls13, true)
	assert.Containsf(t, []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}, o.cipher, "openssl negotiated %q:\n%s", o.cipher, o.output)
	// TLS 1.2 stays enabled with the default ciphers.
	checkGo(t, smtp, true, versionByID(t, tls.VersionTLS12), true)

	// The GUI was not edited: TLS 1.3 is still refused there.
	checkGo(t, gui, false, tls13, false)
	checkOpenSSL(t, gui, false, tls13, false)
	checkGo(t, gui, false, versionByID(t, tls.VersionTLS12), true)
}

var configVersionRE = regexp.MustCompile(`(?m)^version: (\d+)$`)

// fileVersion is the version: line of DIR/config.yaml.
func fileVersion(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
	m := configVersionRE.FindSubmatch(data)
	require.NotNilf(t, m, "no version line in config.yaml:\n%s", data)
	return string(m[1])
}

func TestNonContiguousScriptFails(t *testing.T) {
	a := startAppliance(t, startOptions{})
	tls13 := versionByID(t, tls.VersionTLS13)
	smtp := addr(a.smtpPort)

	t.Run("dialog", func(t *testing.T) {
		res := a.cli(t, "sslconfig\ninbound\n1,3\ncommit x\n")
		require.NotEqualf(t, 0, res.code, "a gap in the methods must fail the script:\n%s", res.stdout)
		require.Containsf(t, res.stderr, "line 3: TLS protocols can be enabled only in sequence", "stderr:\n%s", res.stderr)
		assert.NotContains(t, res.stdout, "Changes committed:")
	})
	t.Run("batch", func(t *testing.T) {
		res := a.cli(t, "sslconfig inbound methods 1,3\ncommit x\n")
		require.NotEqualf(t, 0, res.code, "a gap in the methods must fail the script:\n%s", res.stdout)
		require.Containsf(t, res.stderr, "line 1: TLS protocols can be enabled only in sequence", "stderr:\n%s", res.stderr)
		assert.NotContains(t, res.stdout, "Changes committed:")
	})

	assert.Equal(t, 1, a.statusVersion(t), "the configuration version must not change")
	assert.Equal(t, "1", fileVersion(t, a.dir))
	res := a.cli(t, "showconfig mask\n")
	require.Equal(t, 0, res.code, res.stderr)
	assert.Contains(t, res.stdout, "version: 1\n")
	assert.NotContains(t, res.stdout, "TLSv1.3", "no service may have TLS v1.3 enabled")
	checkGo(t, smtp, true, tls13, false)
}
