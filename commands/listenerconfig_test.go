package commands_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testnet"
)

// smtpExchange sends lines to an SMTP port and returns each reply's first line.
func smtpExchange(t *testing.T, port int, lines ...string) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	read := func() string {
		var first string
		for {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			if first == "" {
				first = strings.TrimSpace(line)
			}
			if len(line) < 4 || line[3] != '-' {
				return first
			}
		}
	}
	out := []string{read()}
	for _, l := range lines {
		fmt.Fprintf(conn, "%s\r\n", l)
		out = append(out, read())
	}
	return out
}

func TestListenerConfigNewPublicDialog(t *testing.T) {
	a := startAppliance(t)
	port := testnet.FreePort(t)
	r := script(a, strings.Join([]string{
		"listenerconfig", "new",
		"2",     // Public
		"LabIn", // name
		"1",     // interface
		fmt.Sprint(port),
		"lab.test, .sub.lab.test",
		"1",      // Demo certificate
		"n",      // not really: asked again
		"1", "y", // Demo after all
		"y",                        // change the default host access policy
		"20000000", "10", "4", "5", // size, connections in total and per address, recipients
		"3", // Required
		"",  // back to the main prompt
		"commit new listener",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "Currently configured listeners:")
	assert.Contains(t, r.out, `You may use "Demo", but this will not be secure.`)
	assert.Contains(t, r.out, `Do you really wish to use the "Demo" certificate? [N]> n`)
	assert.Contains(t, r.out, "Use TLS: Required")
	assert.Contains(t, r.out, "Listener LabIn created.")
	l := a.Store.Current().Listener("LabIn")
	require.NotNil(t, l)
	assert.Equal(t, config.TLSRequired, l.TLS)
	assert.Equal(t, []string{"lab.test", ".sub.lab.test"}, l.Domains)
	assert.Equal(t, int64(20000000), l.MaxMessageBytes)
	assert.Equal(t, 10, l.MaxConnections)
	assert.Equal(t, 4, l.MaxConnectionsPerIP)
	assert.Contains(t, r.out, "Maximum Concurrent Connections From a Single IP: 4")

	replies := smtpExchange(t, port, "EHLO c.test", "MAIL FROM:<a@c.test>", "QUIT")
	assert.True(t, strings.HasPrefix(replies[0], "220"))
	assert.True(t, strings.HasPrefix(replies[2], "530"), "Required refuses MAIL before STARTTLS: %v", replies)
}

func TestListenerConfigBatchAndEdit(t *testing.T) {
	a := startAppliance(t)
	port := testnet.FreePort(t)
	r := script(a, fmt.Sprintf("listenerconfig new private Relay Management %d 127.0.0.1,10.0.0.0/8 Demo\nlistenerconfig edit Relay limits 5000 2 3\ncommit relay\n", port))
	require.Equal(t, 0, r.code, r.err)
	l := a.Store.Current().Listener("Relay")
	require.NotNil(t, l)
	assert.Equal(t, 3, l.MaxConnectionsPerIP, "the per-address limit follows a lower total")
	assert.Equal(t, []string{"127.0.0.1/32", "10.0.0.0/8"}, l.RelayFrom)
	assert.Equal(t, config.TLSPreferred, l.TLS)
	replies := smtpExchange(t, port, "EHLO c.test", "MAIL FROM:<a@c.test>", "RCPT TO:<x@anywhere.test>", "RCPT TO:<y@anywhere.test>", "RCPT TO:<z@anywhere.test>")
	assert.True(t, strings.HasPrefix(replies[3], "250"), "a private listener relays for its hosts: %v", replies)
	assert.False(t, strings.HasPrefix(replies[5], "250"), "max 2 recipients: %v", replies)

	// EDIT dialog: HOSTACCESS → DEFAULT sets the TLS level, RELAYLIST narrows the relay list.
	r = script(a, "listenerconfig\nedit\n3\nhostaccess\ndefault\n\n\n\n\n1\n\nrelaylist\n192.0.2.0/24\n\n\ncommit narrow\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	l = a.Store.Current().Listener("Relay")
	assert.Equal(t, config.TLSOff, l.TLS)
	assert.Equal(t, []string{"192.0.2.0/24"}, l.RelayFrom)
	assert.True(t, strings.HasPrefix(smtpExchange(t, port)[0], "554 5.7.1"), "127.0.0.1 may no longer connect")

	r = script(a, "listenerconfig delete Relay\nlistenerconfig setup 300\ncommit gone\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Nil(t, a.Store.Current().Listener("Relay"))
	assert.Equal(t, 300, a.Store.Current().Inbound.MaxConnections)
	_, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	assert.Error(t, err, "a deleted listener stops accepting")
}

func TestListenerConfigRefusals(t *testing.T) {
	a := startAppliance(t)
	before := a.Store.Current()
	in := before.Listeners[0].Port
	tests := []struct{ script, want string }{
		{"listenerconfig\nnew\n2\nIncomingMail\n", "line 4: a listener named \"IncomingMail\" already exists"},
		{"listenerconfig\nnew\n2\n9bad\n", "is not a valid listener name"},
		{"listenerconfig\nnew\n3\n", "That value is not valid"},
		{"listenerconfig\nnew\n2\nX\n1\n70000\n", "line 6: port 70000 is out of range: use 1 to 65535"},
		{"listenerconfig\nnew\n2\nX\n1\n2600\nbad..domain\n", "is not a domain"},
		{"listenerconfig\nnew\n1\nX\n1\n2600\n10.0.0.0/33\n", "Invalid IP or IP range"},
		{"listenerconfig new public X Nowhere 2600 a.test\n", `interface "Nowhere" does not exist`},
		{"listenerconfig new public X Management 2600 a.test NoCert\n", `certificate "NoCert" does not exist`},
		{"listenerconfig edit IncomingMail tls sometimes\n", `"sometimes" is not a TLS level`},
		{"listenerconfig edit Ghost tls off\n", `listener "Ghost" does not exist`},
		{"listenerconfig edit IncomingMail limits 1 x 3\n", `"x" is not a positive number`},
		{"listenerconfig setup -1\n", "listenerconfig setup: Value must be a number from 0 to 100000, not -1"},
		{"listenerconfig edit OutgoingMail domains a.test\n", "listener OutgoingMail is private: only a public listener accepts mail for domains"},
		{"listenerconfig edit IncomingMail relay 10.0.0.0/8\n", "listener IncomingMail is public: only a private listener relays"},
		{fmt.Sprintf("listenerconfig edit OutgoingMail port %d\ncommit clash\n", in), "already used by listener IncomingMail"},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			r := script(a, tt.script)
			assert.Equal(t, 1, r.code, r.out)
			assert.Contains(t, r.err, tt.want)
			assert.True(t, config.SameSettings(before, a.Store.Current()), "nothing may change")
		})
	}
}

func TestInterfaceConfigCertificateNeedsDemoConfirmation(t *testing.T) {
	a := startAppliance(t)
	port := testnet.FreePort(t)
	require.Equal(t, 0, script(a, "certconfig new Web cn=box.example.test c=US\ninterfaceconfig edit Management certificate Web\ncommit web\n").code)
	// Choosing Demo where Web is used asks; Enter keeps every other answer.
	r := script(a, fmt.Sprintf("interfaceconfig\nedit\n1\n\n\n\n\n\n\ny\n%d\n1\ny\n\ncommit gui port\n", port))
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "Currently configured interfaces:")
	assert.Contains(t, r.out, `Do you really wish to use the "Demo" certificate? [N]> y`)
	assert.Equal(t, port, a.Store.Current().Interfaces[0].HTTPSPort)
	assert.Equal(t, config.DemoCertificate, a.Store.Current().Interfaces[0].Certificate)
	assert.NotZero(t, a.Store.Current().Interfaces[0].SSHPort, "Enter keeps the SSH port")
	assert.Contains(t, r.out, fmt.Sprintf("[%d]> \n", a.Store.Current().Interfaces[0].SSHPort), "the current SSH port is the default")

	// Keeping the Demo certificate in use asks nothing again.
	r = script(a, "interfaceconfig\nedit\nManagement\n\n\n\n\n\n\n\n\n\n\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.NotContains(t, r.out, "Do you really wish")

	r = script(a, "interfaceconfig delete Management\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "is used by listener IncomingMail, listener OutgoingMail")
	r = script(a, "interfaceconfig edit Management certificate Nope\n")
	assert.Contains(t, r.err, `certificate "Nope" does not exist`)
	r = script(a, "interfaceconfig new Lab 127.0.0.2/8 lab.example.test\ninterfaceconfig edit Lab hostname bad*name\n")
	assert.Contains(t, r.err, "line 2:")
	assert.Contains(t, r.err, "is not a valid hostname")
}
