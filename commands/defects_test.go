package commands_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testnet"
)

// TestSetHostnameNeedsFQDN: "bad" and "1.1.1.1" are no host names (the
// reference's negative tests), in the dialog and the batch form.
func TestSetHostnameNeedsFQDN(t *testing.T) {
	a := startAppliance(t)
	for _, tt := range []struct{ name, want string }{
		{"bad", `"bad" is not a valid hostname: it has no domain; use a fully qualified domain name such as mail.example.com`},
		{"1.1.1.1", `"1.1.1.1" is not a valid hostname: it is an IP address`},
		{"bad*.com.too", `"bad*.com.too" is not a valid hostname`},
	} {
		r := script(a, "sethostname "+tt.name+"\n")
		assert.Equal(t, 1, r.code, tt.name)
		assert.Contains(t, r.err, "line 1: "+tt.want)
		r = script(a, "sethostname\n"+tt.name+"\n")
		assert.Contains(t, r.err, "line 2: "+tt.want)
	}
	r := script(a, "sethostname\n\nsethostname new.example.test\ncommit rename\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Enter the hostname.\n[box.example.test]> \n")
	assert.Equal(t, "new.example.test", a.Store.Current().Hostname)
}

// TestNameOrNumber: "Enter the name or number of the listener" takes both.
func TestNameOrNumber(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "listenerconfig\nedit\noutgoingmail\nname\nRelay\n\ndelete\nINCOMINGMAIL\nn\nedit\n7\n")
	assert.Contains(t, r.out, "Enter the name or number of the listener you wish to edit.\n1. IncomingMail")
	assert.Contains(t, r.out, "Name: Relay\n")
	assert.Contains(t, r.out, `Are you sure you want to delete the listener "IncomingMail"?`)
	assert.Contains(t, r.err, `line 11: That value is not valid: "7" is not in the list; enter one of its numbers or names, or press Enter to go back`)
}

// TestControlCharactersNeverStoredRaw: names with control characters are
// refused; a commit comment is stored escaped, so rollbackconfig shows it
// to another admin without driving their terminal.
func TestControlCharactersNeverStoredRaw(t *testing.T) {
	a := startAppliance(t)
	writeCA(t, a, "ca.pem")
	for _, line := range []string{
		"listenerconfig new public \"Evil\x1b[2J\" Management 2600 a.test",
		"certconfig new \"x\x07\" cn=x.example.test c=US",
		"certconfig ca import \"ca\x1b]0;pwned\x07\" ca.pem",
		"interfaceconfig new \"If\x00\" 127.0.0.3/8 lab.example.test",
	} {
		r := script(a, line+"\n")
		assert.Equal(t, 1, r.code, "%q", line)
		assert.Contains(t, r.err, "is not a valid", "%q", line)
		assert.NotRegexp(t, "[\x00-\x08\x0b-\x1f\x7f]", r.err, "the refusal shows the name escaped")
	}
	r := script(a, "listenerconfig\nnew\n2\nEvil\x1b[2J\n")
	assert.Contains(t, r.err, `line 4: "Evil\x1b[2J" is not a valid listener name`)

	r = script(a, "sethostname other.example.test\ncommit\nred \x1b[31malert\x1b[0m \u202egnp.exe\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, `red \x1b[31malert\x1b[0m \u202egnp.exe`, a.Store.Current().Comment)
	r = script(a, "rollbackconfig\nrollback\n\n\nstatus\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, `admin: red \x1b[31malert\x1b[0m \u202egnp.exe (committed now)`)
	assert.NotContains(t, r.out, "\x1b")
	assert.NotContains(t, r.out, "\u202e")
}

// TestSMTPRoutesPrintOnce: PRINT shows the table once; the menu shows a count.
func TestSMTPRoutesPrintOnce(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "smtproutes new a.test mx.a.test\nsmtproutes\nprint\n\nsmtproutes print\nclearchanges confirm\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, 2, strings.Count(r.out, "a.test => mx.a.test"), "once for PRINT, once for the batch form:\n%s", r.out)
	assert.Equal(t, 2, strings.Count(r.out, "There are currently 1 routes configured."))
}

// TestGrepSPECForm: grep "PATTERN" mail_logs, as SPEC writes it.
func TestGrepSPECForm(t *testing.T) {
	a := startAppliance(t)
	smtpExchange(t, a.Store.Current().Listeners[0].Port, "QUIT")
	r := script(a, "grep \"New SMTP ICID\" mail_logs\ngrep -c \"new smtp icid\" -i mail_logs\ngrep -e \"New SMTP ICID\" -c mail_logs\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Info: New SMTP ICID")
	assert.Regexp(t, `-i mail_logs\n[1-9]\d*\n`, r.out)
	r = script(a, "grep mail_logs\n")
	assert.Contains(t, r.err, `line 1: Unable to grep: missing the regular expression; for example: grep "TLS" mail_logs`)
}

// TestTimesCarryTheirZone: "Changes committed:" and the other printed times
// end with the time zone, as AsyncOS prints them ("… 2026 CEST").
func TestTimesCarryTheirZone(t *testing.T) {
	a := startAppliance(t)
	zone := time.Now().Format("MST")
	stampRE := `\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} ` + regexp.QuoteMeta(zone)
	r := script(a, "sethostname other.example.test\ncommit zone\nstatus\nrollbackconfig\nrollback\n\n\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Regexp(t, `Changes committed: `+stampRE+`\n`, r.out)
	assert.Regexp(t, `Status as of: +`+stampRE+`\n`, r.out)
	assert.Regexp(t, `Up since: +`+stampRE+` \(`, r.out)
	assert.Regexp(t, `\(committed `+stampRE+` by admin`, r.out)
	assert.Regexp(t, `\n2\. `+stampRE+`, admin: zone`, r.out)
}

// TestRenamingAnInterfaceCarriesItsName: the listeners and the delivery
// setting on an interface follow its new name, so the commit is valid.
func TestRenamingAnInterfaceCarriesItsName(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "deliveryconfig setup interface=Management\ninterfaceconfig\nedit\nManagement\nMgmt\n\n\n\n\n\n\n\n\n\ncommit rename\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	c := a.Store.Current()
	assert.Equal(t, "Mgmt", c.Interfaces[0].Name)
	for _, l := range c.Listeners {
		assert.Equal(t, "Mgmt", l.Interface)
	}
	assert.Equal(t, "Mgmt", c.Delivery.Interface)
}

// TestListenerHostAccessEnterKeepsTLS is the reported case: EDIT HOSTACCESS
// DEFAULT with Enter everywhere, on a listener using the Demo certificate.
func TestListenerHostAccessEnterKeepsTLS(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "listenerconfig\nedit\n1\nhostaccess\ndefault\n\n\n\n\n\n\n\n\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "Use TLS: Preferred\nCertificate: Demo\n")
	assert.NotContains(t, r.out, "Do you really wish")

	// Turning TLS on with the Demo certificate still asks.
	port := testnet.FreePort(t)
	r = script(a, fmt.Sprintf("listenerconfig new public Lab Management %d lab.test\nlistenerconfig edit Lab certificate Demo\nlistenerconfig\nedit\nLab\nhostaccess\ndefault\n\n\n\n\n2\ny\n\n\n\ncommit lab\n", port))
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, `Do you really wish to use the "Demo" certificate? [N]> y`)
	assert.Equal(t, config.TLSPreferred, a.Store.Current().Listener("Lab").TLS)
}
