package commands_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "saveconfig unmasked base.yaml\nsaveconfig mask masked.yaml\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "The file base.yaml has been saved")
	path := filepath.Join(a.Store.Dir(), "configs", "base.yaml")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	require.Equal(t, 0, script(a, "sethostname changed.example.test\ncommit rename\n").code)
	require.Equal(t, "changed.example.test", a.Store.Current().Hostname)

	r = script(a, "loadconfig base.yaml\nshowchanges\ncommit restore\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Values have been loaded.")
	assert.Contains(t, r.out, "- hostname: changed.example.test")
	assert.Contains(t, r.out, "+ hostname: box.example.test")
	assert.Equal(t, "box.example.test", a.Store.Current().Hostname)
	assert.Equal(t, 3, a.Store.Current().Version)

	r = script(a, "loadconfig masked.yaml\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "masked passphrases and cannot be loaded")
}

func TestLoadConfigRefusals(t *testing.T) {
	a := startAppliance(t)
	dir := filepath.Join(a.Store.Dir(), "configs")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	good, err := a.Store.Current().Encode()
	require.NoError(t, err)
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	write("junk.yaml", "this is: [not valid")
	write("invalid.yaml", strings.Replace(string(good), "port: ", "port: 99999 #", 1))
	write("unknown.yaml", string(good)+"surprise: 1\n")
	write("empty.yaml", "")
	tests := []struct{ script, want string }{
		{"loadconfig junk.yaml\n", "Parsing failed"},
		{"loadconfig invalid.yaml\n", "out of range"},
		{"loadconfig unknown.yaml\n", "field surprise not found"},
		{"loadconfig empty.yaml\n", "No data to load"},
		{"loadconfig missing.yaml\n", `the file "missing.yaml" does not exist`},
		{"loadconfig ../config.yaml\n", "is not a valid file name"},
		{"loadconfig\n1\nschema: 1\nhostname: x\n.\n", "is not valid"},
	}
	before := a.Store.Current()
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			r := script(a, tt.script)
			assert.Equal(t, 1, r.code, r.out)
			assert.Contains(t, r.err, tt.want)
			assert.True(t, config.SameSettings(before, a.Store.Current()))
		})
	}
}

func TestLoadConfigPaste(t *testing.T) {
	a := startAppliance(t)
	c := a.Store.Current().Clone()
	c.Hostname = "pasted.example.test"
	doc, err := c.Encode()
	require.NoError(t, err)
	r := script(a, "loadconfig\n1\n"+string(doc)+".\ncommit pasted\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, "pasted.example.test", a.Store.Current().Hostname)
}

func TestRollback(t *testing.T) {
	a := startAppliance(t)
	require.Equal(t, 0, script(a, "sslconfig inbound methods 1\ncommit v2\n").code)
	require.Equal(t, 0, script(a, "sslconfig inbound methods 1-2\ncommit v3\n").code)
	// The dialog speaks versions, as the batch form does: 1 is version 1.
	r := script(a, "rollbackconfig\nrollback\n1\ny\nn\n\nshowchanges\ncommit back to v1\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Rollback Configuration: Enabled")
	assert.Regexp(t, `\n3\. [^\n]*, admin: v3 \(committed now\)\n2\. [^\n]*, admin: v2\n1\. [^\n]*, system: first start\n\[\]> 1\n`, r.out)
	assert.Contains(t, r.out, "Do you want to roll back the configuration to version 1? [Y]> y")
	assert.Contains(t, r.out, "Version 1 is now pending")
	c := a.Store.Current()
	assert.Equal(t, 4, c.Version)
	assert.Equal(t, []config.Method{config.TLS11, config.TLS12}, c.SSL.Inbound.Methods)

	r = script(a, "rollbackconfig 2 commit\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, []config.Method{config.TLS13}, a.Store.Current().SSL.Inbound.Methods)
	assert.Equal(t, "rollback to version 2", a.Store.Current().Comment)

	r = script(a, "rollbackconfig 999\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "version 999 is not in the history")
	r = script(a, "rollbackconfig\nrollback\n77\n")
	assert.Contains(t, r.err, `That value is not valid: "77" is not in the list`)
}

func TestClearChangesAndShowChanges(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "showchanges\nsethostname x.example.test\nshowchanges\nclearchanges\ny\nshowchanges\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Equal(t, 2, strings.Count(r.out, "There are no uncommitted changes."))
	assert.Contains(t, r.out, "Uncommitted changes in: hostname")
	assert.Contains(t, r.out, "Changes cleared.")
}

func TestSetHostnameRefusesBadNames(t *testing.T) {
	a := startAppliance(t)
	for _, bad := range []string{"bad*.com", "-lead.example", "two words"} {
		r := script(a, "sethostname\n"+bad+"\n")
		assert.Equal(t, 1, r.code, bad)
		assert.Contains(t, r.err, "is not a valid hostname", bad)
	}
	r := script(a, "sethostname a b\n")
	assert.Contains(t, r.err, "Invalid arguments")
}

func TestShowConfigMasksSecrets(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "showconfig\n\nshowconfig unmasked\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "1. Mask passphrases")
	assert.Contains(t, r.out, "password_hash: '********'")
	assert.Contains(t, r.out, "password_hash: $2a$")
	assert.NotContains(t, r.out, "PRIVATE KEY")
}

func TestStatusAndVersion(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "status\nversion\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Configuration version:   1")
	assert.Contains(t, r.out, "IncomingMail")
	assert.Contains(t, r.out, "TLSv1.1-TLSv1.2")
	assert.Contains(t, r.out, "https  Management")
	assert.Contains(t, r.out, "Outbound connections:    0 open, 0 of them idle")
}

func TestWorkqueueCountsMessages(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "workqueue status\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Messages in work queue:  0")
	port := a.Store.Current().Listeners[0].Port
	replies := smtpExchange(t, port, "EHLO c.test", "MAIL FROM:<a@c.test>", "RCPT TO:<b@example.test>", "DATA", "Subject: q\r\n\r\nhello\r\n.")
	require.True(t, strings.HasPrefix(replies[5], "250"), "%v", replies)
	r = script(a, "workqueue\nstatus\n")
	require.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "Messages in work queue:  1")
	assert.Contains(t, r.out, "Oldest message:")
	assert.Contains(t, r.out, "Messages in queue:       1")
	r = script(a, "workqueue flush\n")
	assert.Contains(t, r.err, "Invalid arguments")
}
