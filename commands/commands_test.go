package commands_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/appliance"
	"relaybox/config"
	"relaybox/internal/testnet"
	"relaybox/shell"
)

// startAppliance boots a real appliance (engine on free loopback ports).
func startAppliance(t *testing.T) *appliance.Appliance {
	t.Helper()
	a, _ := start(t, "test-password")
	return a
}

// startOneTime starts an appliance that chose its administrator password
// itself, as one without RELAYBOX_ADMIN_PASSWORD does, and returns the
// one-time password it printed.
func startOneTime(t *testing.T) (*appliance.Appliance, string) {
	t.Helper()
	a, out := start(t, "")
	m := regexp.MustCompile(`one-time password (\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, "the first start prints the one-time password: %s", out)
	return a, m[1]
}

func start(t *testing.T, password string) (*appliance.Appliance, string) {
	t.Helper()
	first := config.DefaultPorts
	first.Hostname = "box.example.test"
	first.SMTPPort, first.SubmissionPort, first.HTTPSPort, first.SSHPort = testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)
	first.Domains = []string{"example.test"}
	first.Resolver = "127.0.0.1:1" // nothing listens: MX lookups fail at once, never leave the machine
	var out bytes.Buffer
	a, err := appliance.Start(context.Background(), appliance.Options{
		DataDir: t.TempDir(), First: first, AdminPassword: password, Version: "test", Out: &out,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	return a, out.String()
}

type run struct {
	code     int
	out, err string
}

func script(a *appliance.Appliance, text string) run {
	var out, errOut bytes.Buffer
	opts := a.Session("admin")
	opts.In, opts.Out, opts.Err = strings.NewReader(text), &out, &errOut
	code := shell.Run(context.Background(), opts)
	return run{code, out.String(), errOut.String()}
}

func TestSSLConfigBadInputChangesNothing(t *testing.T) {
	a := startAppliance(t)
	before := a.Store.Current()
	tests := []struct {
		name, script, want string
	}{
		{"menu junk", "sslconfig\nfrobnicate\n", `line 2: Unknown option: "frobnicate"`},
		{"methods gap", "sslconfig\ninbound\n1,3\n", "line 3: TLS protocols can be enabled only in sequence"},
		{"methods gap 2,4", "sslconfig\ngui\n2,4\n", "line 3: TLS protocols can be enabled only in sequence"},
		{"methods out of range", "sslconfig\noutbound\n5\n", "line 3: item 5 is out of range"},
		{"methods zero", "sslconfig\noutbound\n0-2\n", "out of range"},
		{"methods reversed", "sslconfig\ninbound\n3-1\n", `line 3: range "3-1" is reversed`},
		{"methods junk", "sslconfig\ninbound\nall\n", `line 3: "all" is not a number or range`},
		{"methods empty part", "sslconfig\ninbound\n1,,2\n", "line 3: empty item"},
		{"cipher unknown word", "sslconfig\ninbound\n2\nHIHG:!aNULL\n", `line 4: ssl.inbound.ciphers: unknown cipher keyword "HIHG"`},
		{"cipher selects nothing", "sslconfig\ngui\n2-3\nDHE-RSA-AES256-SHA\n", "line 4: ssl.gui.ciphers: \"DHE-RSA-AES256-SHA\" selects no cipher suite usable"},
		{"renegotiation refused", "sslconfig\ninbound\n2\n\ny\n", "line 5: TLS renegotiation cannot be enabled"},
		{"renegotiation junk", "sslconfig\ngui\n2\n\nperhaps\n", "line 5: Please answer Y or N"},
		{"verify junk", "sslconfig\nverify\n%%%\n", "line 3:"},
		{"script ends inside dialog", "sslconfig\ninbound\n", "input ended in the middle of the dialog"},
		{"gap after a good edit", "sslconfig\ninbound\n1-2\n\n\nGUI\n1,4\n", "line 7: TLS protocols can be enabled only in sequence"},
		{"edit then fail before commit", "sslconfig inbound methods 1-2\nsslconfig gui methods 9\ncommit x\n", "line 2: item 9 is out of range"},
		{"batch unknown service", "sslconfig smtp methods 1\n", "line 1: Invalid arguments when processing: sslconfig"},
		{"batch too few", "sslconfig inbound methods\n", "line 1: Invalid arguments"},
		{"batch bad toggle", "sslconfig peer_cert_fqdn maybe\n", `line 1: sslconfig peer_cert_fqdn: "maybe" is neither enable nor disable`},
		{"batch renegotiation", "sslconfig gui renegotiation enable\n", "line 1: TLS renegotiation cannot be enabled"},
		{"batch renegotiation outbound", "sslconfig outbound renegotiation disable\n", "GUI and INBOUND only"},
		{"batch cipher", "sslconfig outbound ciphers NOPE\n", "unknown cipher keyword"},
		{"commit comment missing", "sslconfig inbound methods 1-2\ncommit\n", "line 2: commit: the input ended in the middle of the dialog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := script(a, tt.script)
			assert.Equal(t, 1, r.code, "stdout:\n%s", r.out)
			assert.Contains(t, r.err, tt.want)
			cur := a.Store.Current()
			assert.Equal(t, before.Version, cur.Version, "nothing may be committed")
			assert.True(t, config.SameSettings(before, cur))
			assert.NotContains(t, r.out, "Changes committed")
		})
	}
}

func TestSSLConfigDialogCommits(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "sslconfig\nINBOUND\n1-3\n\n\n\ncommit\nenable TLS 1.3\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "GUI HTTPS method: tlsv1_1tlsv1_2")
	assert.Contains(t, r.out, "[2-3]> 1-3")
	assert.Contains(t, r.out, "Changes committed: ")
	c := a.Store.Current()
	assert.Equal(t, 2, c.Version)
	assert.Equal(t, "enable TLS 1.3", c.Comment)
	assert.Equal(t, []config.Method{config.TLS11, config.TLS12, config.TLS13}, c.SSL.Inbound.Methods)
	assert.Equal(t, []config.Method{config.TLS11, config.TLS12}, c.SSL.GUI.Methods, "GUI unchanged")

	r = script(a, "commit\n")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.out, "There is no data to commit.")
}

func TestSSLConfigBatchAndToggles(t *testing.T) {
	a := startAppliance(t)
	r := script(a, strings.Join([]string{
		"sslconfig gui methods 1-2",
		"sslconfig outbound ciphers HIGH:!aNULL",
		"sslconfig other_client_tlsv10 enable",
		"sslconfig peer_cert_fqdn enable",
		"sslconfig",
		"PEER_CERT_FQDN", "", // Enter at the sub-menu keeps it
		"PEER_CERT_X509", "enable",
		"",
		"showchanges",
		"commit batch",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "- PEER_CERT_FQDN - Configure peer certificate FQDN validation.")
	assert.Contains(t, r.out, "Peer certificate FQDN validation is currently enabled.\n\nChoose the operation you want to perform:\n- DISABLE - Disable peer certificate FQDN validation.\n[]> \n")
	assert.Contains(t, r.out, "Peer certificate X.509 validation is currently disabled.\n\nChoose the operation you want to perform:\n- ENABLE - Enable peer certificate X.509 validation.\n[]> enable\n")
	assert.Contains(t, r.out, "Peer certificate X.509 validation is now enabled")
	assert.Contains(t, r.out, "+     ciphers: HIGH:!aNULL")
	c := a.Store.Current().SSL
	assert.Equal(t, []config.Method{config.TLS12, config.TLS13}, c.GUI.Methods)
	assert.Equal(t, "HIGH:!aNULL", c.Outbound.Ciphers)
	assert.True(t, c.OtherClientTLSv10)
	assert.True(t, c.PeerCertFQDN)
	assert.True(t, c.PeerCertX509)
}

func TestSSLConfigVerify(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "sslconfig verify ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-SHA\nsslconfig\nverify\nkRSA+AESGCM\n\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "ECDHE-RSA-AES128-GCM-SHA256")
	assert.Contains(t, r.out, "Note:")
	assert.Contains(t, r.out, "AES128-GCM-SHA256")
	assert.Contains(t, r.out, "TLS v1.3 always uses: TLS_AES_256_GCM_SHA384")
}

func TestTLS13OnlySkipsCipherPrompt(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "sslconfig\ngui\n1\n\n\ncommit only 1.3\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "Only TLS v1.3 is enabled")
	assert.Equal(t, []config.Method{config.TLS13}, a.Store.Current().SSL.GUI.Methods)
}
