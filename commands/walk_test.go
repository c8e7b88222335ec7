package commands_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/appliance"
	"relaybox/config"
	"relaybox/internal/testwebsec"
)

// writeCA writes a self-signed authority's PEM to DATA/configs/NAME.
func writeCA(t *testing.T, a *appliance.Appliance, name string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Walk Lab CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	dir := filepath.Join(a.Store.Dir(), "configs")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
}

// walkFixture is an appliance with one of everything a dialog can edit.
func walkFixture(t *testing.T) *appliance.Appliance {
	a := startAppliance(t)
	writeCA(t, a, "lab-ca.pem")
	r := script(a, strings.Join([]string{
		"certconfig new Spare cn=spare.example.test c=US",
		"certconfig ca import LabCA lab-ca.pem",
		"interfaceconfig new Lab 127.0.0.2/8 lab.example.test",
		"smtproutes new a.test mx.a.test,usedns",
		"destconfig new a.test tls=required conns=10",
		"destconfig setup alert=yes recipients=ops@example.test",
		`userconfig new bob "Bob Smith" operator Bob-Password-1`,
		"userconfig apitokens bob new walk-token",
		"sshconfig userkeys new admin " + testKeyLine(t, 1, "walk@example.test"),
		"ldapconfig new Corp host=ldap.example.test base=dc=example,dc=test",
		"certconfig new WebSec cn=websec-client.example.test c=US",
		"urllistconfig new Trusted example.com,https://docs.example.org/",
		"websecurityconfig enable url=" + testwebsec.Start(t, testwebsec.Options{NoClientAuth: true}).URL + " allowlist=Trusted certificate=WebSec",
		"commit walk fixture",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.err)
	return a
}

// walks go to every operation of every command; Enter answers everything after.
var walks = []string{
	"sslconfig", "sslconfig gui", "sslconfig inbound", "sslconfig outbound", "sslconfig verify",
	"sslconfig other_client_tlsv10", "sslconfig peer_cert_fqdn", "sslconfig peer_cert_x509",
	"commit", "clearchanges", "showchanges", "showconfig", "saveconfig", "loadconfig",
	"rollbackconfig", "rollbackconfig rollback", "rollbackconfig setup",
	"certconfig", "certconfig certificate",
	"certconfig certificate import", "certconfig certificate paste", "certconfig certificate new",
	"certconfig certificate edit", "certconfig certificate edit 1", "certconfig certificate edit Spare",
	"certconfig certificate export", "certconfig certificate export 1",
	"certconfig certificate delete", "certconfig certificate delete Spare",
	"certconfig certificate print", "certconfig certificate print 1",
	"certconfig certificate ecdsa", "certconfig certificate ecdsa 1", "certconfig certificate ecdsa Spare",
	"certconfig certificate ecdsa Spare new", "certconfig certificate ecdsa Spare paste", "certconfig certificate ecdsa Spare import",
	"certconfig certificate ecdsa 1 paste", "certconfig certificate ecdsa 1 import", "certconfig certificate ecdsa 1 delete",
	"certconfig certauthority", "certconfig certauthority custom",
	"certconfig certauthority custom import", "certconfig certauthority custom paste",
	"certconfig certauthority custom export", "certconfig certauthority custom delete",
	"certconfig certauthority custom print", "certconfig certauthority system",
	"sethostname",
	"listenerconfig", "listenerconfig new", "listenerconfig edit", "listenerconfig edit 1",
	"listenerconfig edit 1 name", "listenerconfig edit 1 interface", "listenerconfig edit 1 hostaccess",
	"listenerconfig edit 1 hostaccess default", "listenerconfig edit 1 hostaccess print",
	"listenerconfig edit IncomingMail rcptaccess", "listenerconfig edit 1 certificate", "listenerconfig edit 1 limits",
	"listenerconfig edit OutgoingMail relaylist", "listenerconfig edit 2 hostaccess default",
	"listenerconfig delete", "listenerconfig delete 1", "listenerconfig setup",
	"smtproutes", "smtproutes new", "smtproutes edit", "smtproutes edit a.test",
	"smtproutes edit a.test add", "smtproutes edit a.test remove", "smtproutes edit a.test replace",
	"smtproutes delete", "smtproutes print", "smtproutes clear",
	"destconfig", "destconfig setup", "destconfig new", "destconfig edit", "destconfig edit a.test",
	"destconfig delete", "destconfig default", "destconfig list", "destconfig detail", "destconfig clear",
	"deliveryconfig", "deliveryconfig setup", "dnsconfig", "dnsconfig setup",
	"interfaceconfig", "interfaceconfig new", "interfaceconfig edit", "interfaceconfig edit 1", "interfaceconfig edit Lab",
	"interfaceconfig delete", "interfaceconfig delete Lab",
	"status", "version", "workqueue", "tail", "grep", "tlsverify",
	"userconfig", "userconfig new", "userconfig edit", "userconfig edit 1", "userconfig edit 1 name",
	"userconfig edit 1 role", "userconfig edit 1 passwordlogin", "userconfig edit bob passwordlogin",
	"userconfig edit 1 sshkeys", "userconfig edit 1 sshkeys new", "userconfig edit 1 sshkeys delete",
	"userconfig edit 1 sshkeys delete 1", "userconfig edit 1 sshkeys print", "userconfig edit 1 sshkeys print 1", "userconfig policy",
	"userconfig edit bob sshkeys", "userconfig delete", "userconfig delete bob",
	"userconfig password", "userconfig password bob",
	"userconfig apitokens", "userconfig apitokens 1", "userconfig apitokens 1 new", "userconfig apitokens bob", "userconfig apitokens bob revoke",
	"sshconfig", "sshconfig setup", "sshconfig userkeys", "sshconfig userkeys new", "sshconfig userkeys delete", "sshconfig userkeys delete 1",
	"sshconfig userkeys print", "sshconfig userkeys print 1", "sshconfig userkeys user", "sshconfig userkeys user bob",
	"passwd", "who", "last", "health",
	"websecurityconfig", "websecuritydiagnostics", "urllistconfig", "urllistconfig new", "urllistconfig edit", "urllistconfig edit 1",
	"urllistconfig delete", "urllistconfig print", "urllistconfig print Trusted",
	"ldapconfig", "ldapconfig new", "ldapconfig setup", "ldapconfig edit", "ldapconfig edit 1", "ldapconfig edit Corp name",
	"ldapconfig edit 1 server", "ldapconfig edit 1 ldapaccept", "ldapconfig edit 1 advanced", "ldapconfig edit 1 test",
	"ldapconfig delete", "ldapconfig delete 1", "ldapconfig test", "ldapconfig test 1", "ldaptest", "ldaptest 1",
	"listenerconfig edit IncomingMail ldapaccept",
}

// explicit are menu words that are themselves the change (the state they
// name is what choosing them sets); TestToggleMenus covers them.
var explicit = map[string]bool{"ENABLE": true, "DISABLE": true}

var menuRE = regexp.MustCompile(`(?m)^Choose the operation you want to perform:\n((?:- [A-Z0-9_]+ - .*\n)+)\[\]> (.*)$`)

// TestEnterKeepsEverything walks every dialog to each of its operations and
// presses Enter at every prompt after: nothing may change and nothing may
// fail. It also checks that the walks reach every operation of every menu
// they show, so a new operation must be added to walks.
func TestEnterKeepsEverything(t *testing.T) {
	a := walkFixture(t)
	before := a.Store.Current()
	seen, typed := map[string]bool{}, map[string]bool{}
	for _, walk := range walks {
		path := strings.Fields(walk)
		t.Run(walk, func(t *testing.T) {
			r := script(a, strings.Join(path, "\n")+strings.Repeat("\n", 40))
			assert.Equal(t, 0, r.code, "stdout:\n%s", r.out)
			assert.Empty(t, r.err, "Enter must never be refused or change anything")
			assert.True(t, config.SameSettings(before, a.Store.Current()))
			for _, m := range menuRE.FindAllStringSubmatch(r.out, -1) {
				words := regexp.MustCompile(`(?m)^- ([A-Z0-9_]+) - `).FindAllStringSubmatch(m[1], -1)
				key := path[0] + "/" + words[0][1]
				for _, w := range words {
					seen[key+"/"+w[1]] = !explicit[w[1]]
				}
				typed[key+"/"+strings.ToUpper(m[2])] = true
			}
		})
	}
	for op, needed := range seen {
		if needed {
			assert.True(t, typed[op], "no walk reaches %s: add it to walks", op)
		}
	}
	walked := map[string]bool{}
	for _, w := range walks {
		walked[strings.Fields(w)[0]] = true
	}
	for _, c := range a.Session("admin").Commands {
		assert.True(t, walked[c.Name], "no walk starts %s: add it to walks", c.Name)
	}
	assert.Greater(t, len(seen), 50, "the walks see the menus")
}

// TestToggleMenus: the ENABLE/DISABLE operations change exactly their setting.
func TestToggleMenus(t *testing.T) {
	a := walkFixture(t)
	r := script(a, "certconfig\ncertauthority\ncustom\ndisable\n\nsystem\ndisable\n\n\nshowchanges\ncommit toggles\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Verification against the system authorities is currently enabled.")
	assert.Contains(t, r.out, "Uncommitted changes in: certconfig CERTAUTHORITY")
	tr := a.Store.Current().Trust
	assert.False(t, tr.Custom)
	assert.False(t, tr.System)
	r = script(a, "rollbackconfig\nsetup\ny\n\nrollbackconfig 1\n")
	assert.Contains(t, r.out, "- SETUP - Enable or disable Rollback Configuration.\n[]> \n", "disabled: no ROLLBACK")
	assert.NotContains(t, r.out, "- ROLLBACK -\n")
	assert.Contains(t, r.err, "line 5: Rollback Configuration is disabled: enable it with rollbackconfig SETUP")
}
