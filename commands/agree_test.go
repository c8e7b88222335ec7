package commands_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

// TestDialogAndBatchEditAlike: a dialog and its batch form make the same
// edit, because both call the same mutation function in config. Each side
// ends with showchanges, and the two diffs must be the same.
func TestDialogAndBatchEditAlike(t *testing.T) {
	a := walkFixture(t)
	tests := []struct{ name, dialog, batch string }{
		{"new private listener", "listenerconfig\nnew\n1\nRelay\n1\n2600\n10.0.0.0/8, 127.0.0.1\n1\ny\ny\n\n\n\n\n2\n\n",
			"listenerconfig new private Relay Management 2600 10.0.0.0/8,127.0.0.1 Demo"},
		{"listener TLS level", "listenerconfig\nedit\nIncomingMail\nhostaccess\ndefault\n\n\n\n\n3\n\n\n\n",
			"listenerconfig edit IncomingMail tls required"},
		{"listener limits", "listenerconfig\nedit\n1\nhostaccess\ndefault\n20000\n7\n3\n9\n\n\n\n\n",
			"listenerconfig edit IncomingMail limits 20000 9 7 3"},
		{"relay list", "listenerconfig\nedit\nOutgoingMail\nrelaylist\n192.0.2.1, 10.0.0.0/8\n\n\n",
			"listenerconfig edit OutgoingMail relay 192.0.2.1,10.0.0.0/8"},
		{"recipient domains", "listenerconfig\nedit\nIncomingMail\nrcptaccess\nb.test, .c.test\n\n\n",
			"listenerconfig edit IncomingMail domains b.test,.c.test"},
		{"listener certificate", "listenerconfig\nedit\nIncomingMail\ncertificate\nSpare\n\n\n",
			"listenerconfig edit IncomingMail certificate spare"},
		{"global inbound limit", "listenerconfig\nsetup\n300\n\n", "listenerconfig setup 300"},
		{"new interface", "interfaceconfig\nnew\nLab2\n127.0.0.3\n8\nlab2.example.test\nn\nn\n\n",
			"interfaceconfig new Lab2 127.0.0.3/8 lab2.example.test"},
		{"interface hostname", "interfaceconfig\nedit\nLab\n\n\n\nnew.example.test\n\n\n\n",
			"interfaceconfig edit Lab hostname new.example.test"},
		{"SSH limits", "sshconfig\nsetup\n20\n30\n600\n\n", "sshconfig setup max_sessions=20 login_grace=30 idle_timeout=600"},
		{"lock-out policy", "userconfig\npolicy\n\n\n\n4\n120\n\n", "userconfig policy lockout_after=4 lockout_seconds=120"},
		{"interface SSH port", "interfaceconfig\nedit\nLab\n\n\n\n\ny\n2299\n\n\n",
			"interfaceconfig edit Lab ssh_port 2299"},
		{"route", "smtproutes\nnew\nb.test\nusedns, mx.b.test:2525\n\n", "smtproutes new b.test usedns,mx.b.test:2525"},
		{"route delete", "smtproutes\ndelete\nA.TEST\n\n", "smtproutes delete a.test"},
		{"destination", "destconfig\nnew\nb.test\ny\n10\nn\ny\n3\n\n", "destconfig new b.test conns=10 tls=required"},
		{"destination edit", "destconfig\nedit\na.test\nn\ny\n7\nn\n\n", "destconfig edit a.test conns=0 msgs=7 tls=default"},
		{"destination default", "destconfig\ndefault\n200\n20\n2\n\n", "destconfig default conns=200 msgs=20 tls=preferred"},
		{"client certificate", "destconfig\nsetup\ny\nSpare\ny\n\n\n", "destconfig setup certificate=spare"},
		{"delivery", "deliveryconfig\nsetup\n2\n50\n\n", "deliveryconfig setup interface=management concurrency=50"},
		{"hostname", "sethostname\nnew.example.test\n", "sethostname new.example.test"},
		{"toggle", "sslconfig\npeer_cert_fqdn\nenable\n\n", "sslconfig peer_cert_fqdn enable"},
		{"authority", "certconfig\ncertauthority\ncustom\nimport\nLab2\nlab-ca.pem\n\n\n\n", "certconfig ca import Lab2 lab-ca.pem"},
		{"authority delete", "certconfig\ncertauthority\ncustom\ndelete\nlabca\n\n\n\n", "certconfig ca delete LabCA"},
		{"LDAP profile", "ldapconfig\nnew\nDir\nldap.b.test\n2\n\n1\n\n\n\n", "ldapconfig new Dir host=ldap.b.test connection=ssl base=dc=b,dc=test"},
		{"LDAP advanced", "ldapconfig\nedit\nCorp\nadvanced\n5\n\n\n\n3\n\n\n", "ldapconfig edit Corp timeout=5 max_connections=3"},
		{"LDAP client certificate", "ldapconfig\nsetup\ny\nSpare\n\n", "ldapconfig setup certificate=spare"},
		{"listener LDAP accept", "listenerconfig\nedit\nIncomingMail\nldapaccept\n2\n\n\n", "listenerconfig edit IncomingMail ldapaccept Corp.ldapaccept"},
		{"web security", "websecurityconfig\n\nhttps://ws2.example.test/x\nn\ny\nSpare\ny\n",
			"websecurityconfig url=https://ws2.example.test/x allowlist=none certificate=spare tracking=yes"},
		{"web security off", "websecurityconfig\ny\n", "websecurityconfig disable"},
		{"URL list", "urllistconfig\nnew\nMore\nb.example, https://c.example/x\n\n", "urllistconfig new More b.example,https://c.example/x"},
		{"URL list edit", "urllistconfig\nedit\nTrusted\nTrusted2\nexample.net\n\n", "urllistconfig edit trusted name=Trusted2 entries=example.net"},
	}
	diff := func(t *testing.T, text string) string {
		r := script(a, text+"\nshowchanges\nclearchanges confirm\n")
		require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
		_, d, ok := strings.Cut(r.out, "> showchanges\n")
		require.True(t, ok)
		d, _, _ = strings.Cut(d, "> clearchanges confirm")
		require.Contains(t, d, "Uncommitted changes in:", "the edit changed nothing")
		return d
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, diff(t, tt.dialog), diff(t, tt.batch))
		})
	}
}

// TestOneRuleOneMessage: a prompt, a batch form and commit refuse a value
// with the message of the one checker in config, at the line that has it.
func TestOneRuleOneMessage(t *testing.T) {
	a := walkFixture(t)
	before := a.Store.Current()
	_, portErr := config.ParsePort("70000")
	tests := []struct {
		name          string
		dialog, batch string
		want          error
	}{
		{"listener port", "listenerconfig\nnew\n2\nX\n1\n70000\n", "listenerconfig new public X Management 70000 a.test", portErr},
		{"listener port edit", "listenerconfig\nedit\n1\ninterface\n1\n70000\n", "listenerconfig edit IncomingMail port 70000", portErr},
		{"listener domain", "listenerconfig\nnew\n2\nX\n1\n2600\nbad..domain\n", "listenerconfig new public X Management 2600 bad..domain", config.CheckDomain("bad..domain")},
		{"route domain", "smtproutes\nnew\nbad..domain\n", "smtproutes new bad..domain mx.a.test", config.CheckDomain("bad..domain")},
		{"destination domain", "destconfig\nnew\nbad..domain\n", "destconfig new bad..domain", config.CheckDomain("bad..domain")},
		{"relay network", "listenerconfig\nnew\n1\nX\n1\n2600\n10.0.0.0/33\n", "listenerconfig new private X Management 2600 10.0.0.0/33", config.CheckNetwork("10.0.0.0/33")},
		{"listener name", "listenerconfig\nnew\n2\n9bad\n", "listenerconfig new public 9bad Management 2600 a.test", config.CheckName(config.KindListener, "9bad")},
		{"interface name", "interfaceconfig\nnew\n9bad\n", "interfaceconfig new 9bad 127.0.0.3/8 lab.example.test", config.CheckName(config.KindInterface, "9bad")},
		{"certificate name", "certconfig\ncertificate\nnew\n9bad\n", "certconfig new 9bad cn=x.example.test c=US", config.CheckName(config.KindCertificate, "9bad")},
		{"authority name", "certconfig\ncertauthority\ncustom\nimport\n9bad\n", "certconfig ca import 9bad lab-ca.pem", config.CheckName(config.KindAuthority, "9bad")},
		{"hostname", "sethostname\nbad\n", "sethostname bad", config.CheckHostname("bad")},
		{"interface hostname", "interfaceconfig\nnew\nLab2\n127.0.0.3\n8\n1.1.1.1\n", "interfaceconfig new Lab2 127.0.0.3/8 1.1.1.1", config.CheckHostname("1.1.1.1")},
		{"SSH sessions", "sshconfig\nsetup\n0\n", "sshconfig setup max_sessions=0", config.SSHSessionsRange.Check(0)},
		{"lock-out time", "userconfig\npolicy\n\n\n\n\n5\n", "userconfig policy lockout_seconds=5", config.LockoutSecondsRange.Check(5)},
		{"interface hostname edit", "interfaceconfig\nedit\nLab\n\n\n\nbad*name\n", "interfaceconfig edit Lab hostname bad*name", config.CheckHostname("bad*name")},
		{"per-address limit", "listenerconfig\nedit\n1\nhostaccess\ndefault\n\n5\n6\n", "listenerconfig edit IncomingMail limits 4000 2 5 6", config.PerIPRange(5).Check(6)},
		{"alert recipient", "destconfig\nsetup\nn\ny\nops\n", "destconfig setup recipients=ops", config.CheckEmail("ops")},
		{"route host", "smtproutes\nnew\nb.test\nmx.b.test:0\n", "smtproutes new b.test mx.b.test:0", config.CheckRouteHost("mx.b.test:0")},
		{"idle timeout", "listenerconfig\nedit\n1\nlimits\n1\n", "", config.IdleSecondsRange.Check(1)},
		{"LDAP base DN", "ldapconfig\nnew\nX\nldap.b.test\n\n\n\nnotadn\n", "ldapconfig new X host=ldap.b.test base=notadn", config.CheckDN("base DN", "notadn")},
		{"LDAP accept query", "ldapconfig\nnew\nX\nldap.b.test\n\n\n\n\n(uid=x)\n", "ldapconfig new X host=ldap.b.test base=dc=b query=(uid=x)", config.CheckAcceptQuery("(uid=x)")},
		{"LDAP timeout", "ldapconfig\nedit\nCorp\nadvanced\n0\n", "", config.LDAPTimeoutRange.Check(0)},
		{"web security URL", "websecurityconfig\n\nhttp://ws.example.test/\n", "websecurityconfig url=http://ws.example.test/", config.CheckServiceURL("http://ws.example.test/")},
		{"URL list entry", "urllistconfig\nnew\nL\nexample.com, not..a..domain\n", "urllistconfig new L example.com,not..a..domain", func() error {
			_, err := config.ParseURLListEntries([]string{"not..a..domain"})
			return err
		}()},
		{"URL list name", "urllistconfig\nnew\n9bad\n", "urllistconfig new 9bad example.com", config.CheckName(config.KindURLList, "9bad")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.want)
			lines := strings.Count(tt.dialog, "\n")
			r := script(a, tt.dialog)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.err, "line "+strconv.Itoa(lines)+": "+tt.want.Error(), "the dialog refuses the answer with the checker's message")
			if tt.batch != "" {
				r = script(a, tt.batch+"\n")
				assert.Equal(t, 1, r.code)
				assert.Contains(t, r.err, "line 1: "+tt.want.Error(), "the batch form refuses the line with the checker's message")
			}
			assert.True(t, config.SameSettings(before, a.Store.Current()))
		})
	}
}
