package webui_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/internal/testnet"
	"relaybox/shell"
)

// shellSays runs one batch line in a console session of admin and returns
// what it printed: the shell's own message for a refused edit. The session
// is dropped unsaved, so nothing it did stays.
func (b *box) shellSays(t *testing.T, line string) string {
	t.Helper()
	var out bytes.Buffer
	opts := b.a.Session("admin")
	opts.In, opts.Out, opts.Err = strings.NewReader(line+"\n"), &out, &out
	shell.Run(context.Background(), opts)
	return out.String()
}

// pending is the client's pending configuration as GET /api/v1/config/pending shows it.
func (w *browser) pending() map[string]any {
	w.t.Helper()
	r := w.get("/api/v1/config/pending")
	require.Equal(w.t, http.StatusOK, r.code, r.body)
	return r.json(w.t)["config"].(map[string]any)
}

// pendingText is the pending configuration as JSON text, to compare before and after.
func (w *browser) pendingText() string {
	w.t.Helper()
	b, err := json.Marshal(w.pending())
	require.NoError(w.t, err)
	return string(b)
}

// named finds the object named name (its "name" field) in a section of the pending configuration.
func named(t *testing.T, cfg map[string]any, section, name string) map[string]any {
	t.Helper()
	list, _ := cfg[section].([]any)
	for _, x := range list {
		if m := x.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}

func (w *browser) etag(path string) string {
	w.t.Helper()
	r := w.get(path)
	require.Equal(w.t, http.StatusOK, r.code, r.body)
	require.NotEmpty(w.t, r.header.Get("ETag"))
	return r.header.Get("ETag")
}

// TestAPINetworkEdits: each field of a listener, an interface and the
// destination controls' DEFAULT and SETUP that the API edits shows in the
// pending configuration as the shell would store it.
func TestAPINetworkEdits(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)
	b.shell(t, "ldapconfig new Known host=127.0.0.1 base=dc=example,dc=com\ncommit ldap profile\n")
	r := w.api("POST", "/api/v1/certificates", w.etag("/api/v1/certificates"), map[string]any{"name": "Api", "common_name": "api.example.test", "country": "DE", "key": "ecdsa256"})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	port, https := testnet.FreePort(t), testnet.FreePort(t)
	r = w.api("POST", "/api/v1/interfaces", w.etag("/api/v1/interfaces"), `{"name": "Second", "address": "127.0.0.2", "netmask": 8, "hostname": "second.example.test"}`)
	require.Equal(t, http.StatusCreated, r.code, r.body)

	section := func(cfg map[string]any, s, name string) map[string]any {
		if s == "destinations" || s == "inbound" {
			return cfg[s].(map[string]any)
		}
		return named(t, cfg, s, name)
	}
	tests := []struct {
		name, list, path, body string
		section, object        string
		want                   map[string]any
	}{
		{"listener port", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"port": ` + itoa(port) + `}`, "listeners", "IncomingMail", map[string]any{"port": float64(port)}},
		{"listener domains", "/api/v1/listeners", "/api/v1/listeners/incomingmail", `{"domains": ["a.test", ".b.test"]}`, "listeners", "IncomingMail", map[string]any{"domains": []any{"a.test", ".b.test"}}},
		{"listener relay_from", "/api/v1/listeners", "/api/v1/listeners/OutgoingMail", `{"relay_from": ["192.0.2.7", "10.0.0.0/8"]}`, "listeners", "OutgoingMail", map[string]any{"relay_from": []any{"192.0.2.7/32", "10.0.0.0/8"}}},
		{"listener tls", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"tls": "Required"}`, "listeners", "IncomingMail", map[string]any{"tls": "required"}},
		{"listener certificate", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"certificate": "api"}`, "listeners", "IncomingMail", map[string]any{"certificate": "Api"}},
		{"listener limits", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"max_message_bytes": 2048, "max_recipients": 7, "max_connections": 9, "max_connections_per_ip": 3}`, "listeners", "IncomingMail",
			map[string]any{"max_message_bytes": float64(2048), "max_recipients": float64(7), "max_connections": float64(9), "max_connections_per_ip": float64(3)}},
		{"listener total lowers per-IP", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"max_connections": 2}`, "listeners", "IncomingMail",
			map[string]any{"max_connections": float64(2), "max_connections_per_ip": float64(2), "max_recipients": float64(7)}},
		{"listener idle timeout", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"idle_timeout_seconds": 90}`, "listeners", "IncomingMail", map[string]any{"idle_timeout": "1m30s"}},
		{"listener ldap accept", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"ldap_accept": "known.ldapaccept"}`, "listeners", "IncomingMail", map[string]any{"ldap_accept": "Known.ldapaccept"}},
		{"listener ldap accept none", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"ldap_accept": "none"}`, "listeners", "IncomingMail", map[string]any{"ldap_accept": nil}},
		{"listener ldap accept again", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"ldap_accept": "Known.ldapaccept"}`, "listeners", "IncomingMail", map[string]any{"ldap_accept": "Known.ldapaccept"}},
		{"listener interface", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"interface": "second"}`, "listeners", "IncomingMail", map[string]any{"interface": "Second", "port": float64(port)}},
		{"listener rename keeps its settings", "/api/v1/listeners", "/api/v1/listeners/incomingmail", `{"name": "Inbound"}`, "listeners", "Inbound",
			map[string]any{"name": "Inbound", "interface": "Second", "port": float64(port), "domains": []any{"a.test", ".b.test"}, "ldap_accept": "Known.ldapaccept", "idle_timeout": "1m30s"}},
		{"listener rename and interface back", "/api/v1/listeners", "/api/v1/listeners/Inbound", `{"name": "IncomingMail", "interface": "Management"}`, "listeners", "IncomingMail",
			map[string]any{"name": "IncomingMail", "interface": "Management", "port": float64(port)}},
		{"listener rename then moved again", "/api/v1/listeners", "/api/v1/listeners/IncomingMail", `{"name": "Inbound", "interface": "Second"}`, "listeners", "Inbound", map[string]any{"interface": "Second"}},
		{"inbound limit", "/api/v1/inbound", "/api/v1/inbound", `{"max_connections": 300}`, "inbound", "", map[string]any{"max_connections": float64(300)}},
		{"inbound no limit", "/api/v1/inbound", "/api/v1/inbound", `{"max_connections": 0}`, "inbound", "", map[string]any{"max_connections": float64(0)}},
		{"interface address and netmask", "/api/v1/interfaces", "/api/v1/interfaces/Second", `{"address": "127.0.0.3", "netmask": 16}`, "interfaces", "Second", map[string]any{"address": "127.0.0.3", "netmask": float64(16)}},
		{"interface IPv6", "/api/v1/interfaces", "/api/v1/interfaces/second", `{"address": "::1", "netmask": 128}`, "interfaces", "Second", map[string]any{"address": "::1", "netmask": float64(128)}},
		{"interface rename", "/api/v1/interfaces", "/api/v1/interfaces/Second", `{"name": "Third", "address": "127.0.0.2", "netmask": 8}`, "interfaces", "Third", map[string]any{"name": "Third", "hostname": "second.example.test"}},
		{"interface hostname", "/api/v1/interfaces", "/api/v1/interfaces/Management", `{"hostname": "gui.example.test"}`, "interfaces", "Management", map[string]any{"hostname": "gui.example.test"}},
		{"interface https port", "/api/v1/interfaces", "/api/v1/interfaces/Management", `{"https_port": ` + itoa(https) + `}`, "interfaces", "Management", map[string]any{"https_port": float64(https)}},
		{"interface ssh off", "/api/v1/interfaces", "/api/v1/interfaces/Management", `{"ssh_port": 0}`, "interfaces", "Management", map[string]any{"ssh_port": float64(0)}},
		{"interface certificate", "/api/v1/interfaces", "/api/v1/interfaces/management", `{"certificate": "api"}`, "interfaces", "Management", map[string]any{"certificate": "Api"}},
		{"destination DEFAULT", "/api/v1/destinations", "/api/v1/destinations/DEFAULT", `{"tls": "Preferred", "max_connections": 20, "max_messages_per_connection": 5}`, "destinations", "",
			map[string]any{"default": map[string]any{"tls": "preferred", "max_connections": float64(20), "max_messages_per_connection": float64(5)}}},
		{"destination DEFAULT one field", "/api/v1/destinations", "/api/v1/destinations/default", `{"max_connections": 30}`, "destinations", "",
			map[string]any{"default": map[string]any{"tls": "preferred", "max_connections": float64(30), "max_messages_per_connection": float64(5)}}},
		{"destination SETUP", "/api/v1/destinations", "/api/v1/destinations/SETUP", `{"certificate": "api", "alert_on_required_tls_failure": true, "alert_recipients": ["ops@example.test"]}`, "destinations", "",
			map[string]any{"certificate": "Api", "alert_on_required_tls_failure": true, "alert_recipients": []any{"ops@example.test"}}},
		{"destination SETUP no certificate", "/api/v1/destinations", "/api/v1/destinations/SETUP", `{"certificate": "none"}`, "destinations", "",
			map[string]any{"certificate": "", "alert_on_required_tls_failure": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := w.etag(tt.list)
			r := w.api("PUT", tt.path, tag, tt.body)
			require.Equal(t, http.StatusOK, r.code, r.body)
			assert.NotEqual(t, tag, r.header.Get("ETag"), "a new ETag")
			assert.Equal(t, r.header.Get("ETag"), w.etag(tt.list), "the answer's ETag is the resource's")
			got := section(w.pending(), tt.section, tt.object)
			require.NotNil(t, got)
			for k, v := range tt.want {
				assert.Equal(t, v, got[k], k)
			}
		})
	}
	cfg := w.pending()
	assert.Nil(t, named(t, cfg, "listeners", "IncomingMail"), "renamed, not copied")
	assert.Len(t, cfg["listeners"], 2, "renamed, not copied")
	assert.Equal(t, "Third", named(t, cfg, "listeners", "Inbound")["interface"], "a renamed interface is renamed in its listener")
	assert.Nil(t, named(t, cfg, "interfaces", "Second"))
	cur := b.a.Store.Current()
	assert.NotEqual(t, port, cur.Listener("IncomingMail").Port, "pending until commit")
	assert.Nil(t, cur.Listener("Inbound"), "pending until commit")
	assert.Equal(t, "box.example.test", cur.Interface("Management").Hostname, "pending until commit")
}

// TestAPINetworkEditsRefused: a value the shell refuses is refused with the
// shell's message (the same line in a console session says it) and 422,
// and nothing changes: the pending configuration and the ETag stay.
func TestAPINetworkEditsRefused(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)
	b.shell(t, "ldapconfig new Known host=127.0.0.1 base=dc=example,dc=com\ncommit ldap profile\n")
	b.shell(t, "interfaceconfig new Second 127.0.0.2/8 second.example.test\ncommit interface\n")
	cur := b.a.Store.Current()
	outPort, https := itoa(cur.Listener("OutgoingMail").Port), itoa(cur.Interface("Management").HTTPSPort)
	const listeners, interfaces, dests, inbound = "/api/v1/listeners", "/api/v1/interfaces", "/api/v1/destinations", "/api/v1/inbound"
	tests := []struct {
		name, list, path, body string
		shell                  string // the same edit in the shell; "" when it has no batch form
		want                   string // the message, when there is no shell line
	}{
		{"port 0", listeners, "/api/v1/listeners/IncomingMail", `{"port": 0}`, "listenerconfig edit IncomingMail port 0", ""},
		{"port 70000", listeners, "/api/v1/listeners/IncomingMail", `{"port": 70000}`, "listenerconfig edit IncomingMail port 70000", ""},
		{"port of another listener", listeners, "/api/v1/listeners/IncomingMail", `{"port": ` + outPort + `}`, "listenerconfig edit IncomingMail port " + outPort, ""},
		{"bad TLS word", listeners, "/api/v1/listeners/IncomingMail", `{"tls": "sometimes"}`, "listenerconfig edit IncomingMail tls sometimes", ""},
		{"unknown certificate", listeners, "/api/v1/listeners/IncomingMail", `{"certificate": "Nope"}`, "listenerconfig edit IncomingMail certificate Nope", ""},
		{"bad domain", listeners, "/api/v1/listeners/IncomingMail", `{"domains": ["a..test"]}`, "listenerconfig edit IncomingMail domains a..test", ""},
		{"no domain", listeners, "/api/v1/listeners/IncomingMail", `{"domains": []}`, "", "A Recipient Access Table address can be one of the following: a domain (example.com) or a partial domain (.example.com); enter at least one"},
		{"bad network", listeners, "/api/v1/listeners/OutgoingMail", `{"relay_from": ["300.1.1.1"]}`, "listenerconfig edit OutgoingMail relay 300.1.1.1", ""},
		{"private listener given domains", listeners, "/api/v1/listeners/OutgoingMail", `{"domains": ["a.test"]}`, "listenerconfig edit OutgoingMail domains a.test", ""},
		{"public listener given relay_from", listeners, "/api/v1/listeners/IncomingMail", `{"relay_from": ["10.0.0.0/8"]}`, "listenerconfig edit IncomingMail relay 10.0.0.0/8", ""},
		{"per-IP above the total", listeners, "/api/v1/listeners/IncomingMail", `{"max_message_bytes": 2048, "max_recipients": 7, "max_connections": 5, "max_connections_per_ip": 6}`,
			"listenerconfig edit IncomingMail limits 2048 7 5 6", ""},
		{"per-IP 0", listeners, "/api/v1/listeners/IncomingMail", `{"max_connections": 5, "max_connections_per_ip": 0}`, "", "Value must be a number from 1 to 5, not 0"},
		{"message size too small", listeners, "/api/v1/listeners/IncomingMail", `{"max_message_bytes": 10, "max_recipients": 100, "max_connections": 50}`, "listenerconfig edit IncomingMail limits 10 100 50", ""},
		{"idle timeout too short", listeners, "/api/v1/listeners/IncomingMail", `{"idle_timeout_seconds": 1}`, "", "Value must be a number from 5 to 86400, not 1"},
		{"ldap accept on a private listener", listeners, "/api/v1/listeners/OutgoingMail", `{"ldap_accept": "Known.ldapaccept"}`, "listenerconfig edit OutgoingMail ldapaccept Known.ldapaccept", ""},
		{"unknown ldap accept", listeners, "/api/v1/listeners/IncomingMail", `{"ldap_accept": "Nope.ldapaccept"}`, "listenerconfig edit IncomingMail ldapaccept Nope.ldapaccept", ""},
		{"a refused field keeps the good ones out", listeners, "/api/v1/listeners/IncomingMail", `{"tls": "required", "port": 0}`, "listenerconfig edit IncomingMail port 0", ""},
		{"a refused field undoes the LDAP accept query", listeners, "/api/v1/listeners/IncomingMail", `{"ldap_accept": "Known.ldapaccept", "idle_timeout_seconds": 1}`, "", "Value must be a number from 5 to 86400, not 1"},
		{"unknown listener", listeners, "/api/v1/listeners/Nobody", `{"port": 2600}`, "listenerconfig edit Nobody port 2600", ""},
		// The dialog's NAME and INTERFACE have no batch form: the shell lines are the dialog's answers.
		{"rename to another listener's name", listeners, "/api/v1/listeners/IncomingMail", `{"name": "OutgoingMail"}`, "listenerconfig\nEDIT\nIncomingMail\nNAME\nOutgoingMail", ""},
		{"rename to a bad name", listeners, "/api/v1/listeners/IncomingMail", `{"name": "a b"}`, "listenerconfig\nEDIT\nIncomingMail\nNAME\na b", ""},
		{"rename to nothing", listeners, "/api/v1/listeners/IncomingMail", `{"name": ""}`, "", `"" is not a valid listener name: start with a letter, then up to 63 letters, digits, '_', '-' or '.'`},
		{"move to an unknown interface", listeners, "/api/v1/listeners/IncomingMail", `{"interface": "Nowhere"}`, "listenerconfig new public X1 Nowhere 2998 c.test", ""},
		{"move onto a port taken there", listeners, "/api/v1/listeners/IncomingMail", `{"interface": "Management", "port": ` + outPort + `}`, "listenerconfig edit IncomingMail port " + outPort, ""},
		{"a refused move keeps the rename out", listeners, "/api/v1/listeners/IncomingMail", `{"name": "Inbound", "interface": "Nowhere"}`, "listenerconfig new public X1 Nowhere 2998 c.test", ""},
		{"global limit above the range", inbound, inbound, `{"max_connections": 100001}`, "listenerconfig setup 100001", ""},
		{"global limit negative", inbound, inbound, `{"max_connections": -1}`, "listenerconfig setup -1", ""},
		{"bad address", interfaces, "/api/v1/interfaces/Second", `{"address": "300.1.1.1"}`, "interfaceconfig\nEDIT\nSecond\n\n300.1.1.1", ""},
		{"netmask out of range", interfaces, "/api/v1/interfaces/Second", `{"netmask": 33}`, "", "netmask /33 is out of range for 127.0.0.2: use 0 to 32"},
		{"interface rename to a taken name", interfaces, "/api/v1/interfaces/Management", `{"name": "Second"}`, "interfaceconfig new Second 127.0.0.9/8 x.example.test", ""},
		{"interface rename to a bad name", interfaces, "/api/v1/interfaces/Management", `{"name": "9x"}`, "interfaceconfig\nEDIT\nManagement\n9x", ""},
		{"https port 70000", interfaces, "/api/v1/interfaces/Management", `{"https_port": 70000}`, "interfaceconfig edit Management https_port 70000", ""},
		{"ssh port on the https port", interfaces, "/api/v1/interfaces/Management", `{"ssh_port": ` + https + `}`, "interfaceconfig edit Management ssh_port " + https, ""},
		{"bad hostname", interfaces, "/api/v1/interfaces/Management", `{"hostname": "bad_host"}`, "interfaceconfig edit Management hostname bad_host", ""},
		{"interface unknown certificate", interfaces, "/api/v1/interfaces/Management", `{"certificate": "Nope"}`, "interfaceconfig edit Management certificate Nope", ""},
		{"unknown interface", interfaces, "/api/v1/interfaces/Nowhere", `{"hostname": "a.example.test"}`, "interfaceconfig edit Nowhere hostname a.example.test", ""},
		{"DEFAULT max_connections 20000", dests, "/api/v1/destinations/DEFAULT", `{"max_connections": 20000}`, "destconfig default conns=20000", ""},
		{"DEFAULT max_connections 0", dests, "/api/v1/destinations/DEFAULT", `{"max_connections": 0}`, "", "Value must be a number from 1 to 10000, not 0"},
		{"DEFAULT messages 5000", dests, "/api/v1/destinations/DEFAULT", `{"max_messages_per_connection": 5000}`, "destconfig default msgs=5000", ""},
		{"DEFAULT follows nothing", dests, "/api/v1/destinations/DEFAULT", `{"tls": "default"}`, "destconfig default tls=default", ""},
		{"SETUP unknown certificate", dests, "/api/v1/destinations/SETUP", `{"certificate": "Nope"}`, "destconfig setup certificate=Nope", ""},
		{"SETUP alert without recipients", dests, "/api/v1/destinations/SETUP", `{"alert_on_required_tls_failure": true}`, "destconfig setup alert=yes", ""},
		{"SETUP bad recipient", dests, "/api/v1/destinations/SETUP", `{"alert_recipients": ["nobody"]}`, "destconfig setup recipients=nobody", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusedLikeTheShell(t, b, w, "PUT", tt.path, tt.list, tt.body, tt.shell, tt.want)
		})
	}
	assert.False(t, w.get("/api/v1/config/pending").json(t)["changed"].(bool))
}

// refusedLikeTheShell sends a write the box must refuse: 422 with the
// message the shell gives for the same edit (shell, a batch line or dialog
// answers) or, without one, want; the pending configuration and the ETag
// of list stay as they were.
func refusedLikeTheShell(t *testing.T, b *box, w *browser, method, path, list, body, shell, want string) {
	t.Helper()
	before, tag := w.pendingText(), w.etag(list)
	r := w.api(method, path, tag, body)
	require.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
	msg, _ := r.json(t)["error"].(string)
	require.NotEmpty(t, msg)
	if shell != "" {
		assert.Contains(t, b.shellSays(t, shell), msg, "the shell's message")
	} else {
		assert.Equal(t, want, msg)
	}
	assert.Equal(t, before, w.pendingText(), "nothing changed")
	assert.Equal(t, tag, w.etag(list), "the ETag stays")
}

// networkWrites are the new endpoints' writes with a body each accepts.
var networkWrites = []struct{ method, path, list, body string }{
	{"POST", "/api/v1/listeners", "/api/v1/listeners", `{"type": "private", "name": "Relay2", "interface": "Management", "port": 2999, "relay_from": ["192.0.2.0/24"]}`},
	{"PUT", "/api/v1/listeners/IncomingMail", "/api/v1/listeners", `{"tls": "required"}`},
	{"DELETE", "/api/v1/listeners/OutgoingMail", "/api/v1/listeners", ``},
	{"PUT", "/api/v1/interfaces/Management", "/api/v1/interfaces", `{"hostname": "gui.example.test"}`},
	{"PUT", "/api/v1/destinations/DEFAULT", "/api/v1/destinations", `{"max_connections": 20}`},
	{"PUT", "/api/v1/destinations/SETUP", "/api/v1/destinations", `{"certificate": "Demo"}`},
	{"POST", "/api/v1/interfaces", "/api/v1/interfaces", `{"name": "Second", "address": "127.0.0.2", "netmask": 8, "hostname": "second.example.test"}`},
	{"PUT", "/api/v1/interfaces/Second", "/api/v1/interfaces", `{"address": "127.0.0.3", "netmask": 16}`},
	{"DELETE", "/api/v1/interfaces/Second", "/api/v1/interfaces", ``},
	{"PUT", "/api/v1/listeners/IncomingMail", "/api/v1/listeners", `{"name": "Inbound", "interface": "management"}`},
	{"PUT", "/api/v1/inbound", "/api/v1/inbound", `{"max_connections": 300}`},
}

// TestAPINetworkWritesNeedIfMatch: without If-Match 428, with a stale one
// 412, and an unknown field 400; none of them changes anything.
func TestAPINetworkWritesNeedIfMatch(t *testing.T) {
	t.Parallel()
	_, w := startAPIClient(t)
	for _, e := range networkWrites {
		t.Run(e.method+" "+e.path, func(t *testing.T) {
			before, tag := w.pendingText(), w.etag(e.list)
			r := w.api(e.method, e.path, "", e.body)
			assert.Equal(t, http.StatusPreconditionRequired, r.code, r.body)
			assert.Contains(t, r.json(t)["error"], "If-Match is required")
			r = w.api(e.method, e.path, `"stale"`, e.body)
			assert.Equal(t, http.StatusPreconditionFailed, r.code, r.body)
			assert.Equal(t, tag, r.header.Get("ETag"), "412 says the current ETag")
			if e.body != "" {
				r = w.api(e.method, e.path, tag, strings.Replace(e.body, "{", `{"bogus": 1, `, 1))
				assert.Equal(t, http.StatusBadRequest, r.code, r.body)
				assert.Contains(t, r.json(t)["error"], `unknown field "bogus"`)
			}
			assert.Equal(t, before, w.pendingText(), "nothing changed")
			assert.Equal(t, tag, w.etag(e.list))
			// With the right ETag the same write is made.
			r = w.api(e.method, e.path, tag, e.body)
			assert.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.code, r.body)
			assert.NotEqual(t, before, w.pendingText())
		})
	}
}

// TestAPIListenerNewAndDelete: listenerconfig new and delete through the
// API, their refusals with the shell's messages, and a commit that has them.
func TestAPIListenerNewAndDelete(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)
	cur := b.a.Store.Current()
	inPort := itoa(cur.Listener("IncomingMail").Port)
	pub, priv := testnet.FreePort(t), testnet.FreePort(t)

	r := w.api("POST", "/api/v1/listeners", w.etag("/api/v1/listeners"), map[string]any{"type": "Public", "name": "Inbound2", "interface": "management", "port": pub, "domains": []string{"c.test"}, "certificate": "demo"})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	l := named(t, w.pending(), "listeners", "Inbound2")
	require.NotNil(t, l, "created")
	want := map[string]any{"type": "public", "interface": "Management", "port": float64(pub), "domains": []any{"c.test"}, "certificate": "Demo", "tls": "preferred",
		"max_connections": float64(50), "max_recipients": float64(100)}
	for k, v := range want {
		assert.Equal(t, v, l[k], k)
	}
	r = w.api("POST", "/api/v1/listeners", r.header.Get("ETag"), map[string]any{"type": "private", "name": "Relay2", "interface": "Management", "port": priv, "relay_from": []string{"192.0.2.7"}})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	l = named(t, w.pending(), "listeners", "Relay2")
	require.NotNil(t, l)
	assert.Equal(t, []any{"192.0.2.7/32"}, l["relay_from"])
	assert.Equal(t, "off", l["tls"], "no certificate: TLS off, as listenerconfig new")

	tests := []struct {
		name, body, shell, want string
	}{
		{"duplicate name", `{"type": "public", "name": "incomingmail", "interface": "Management", "port": 2998, "domains": ["c.test"]}`, "listenerconfig new public incomingmail Management 2998 c.test", ""},
		{"bad type", `{"type": "both", "name": "X1", "interface": "Management", "port": 2998, "domains": ["c.test"]}`, "", `"both" is not a listener type: use public or private`},
		{"bad name", `{"type": "public", "name": "a b", "interface": "Management", "port": 2998, "domains": ["c.test"]}`, "listenerconfig new public \"a b\" Management 2998 c.test", ""},
		{"unknown interface", `{"type": "public", "name": "X1", "interface": "Nowhere", "port": 2998, "domains": ["c.test"]}`, "listenerconfig new public X1 Nowhere 2998 c.test", ""},
		{"port taken", `{"type": "public", "name": "X1", "interface": "Management", "port": ` + inPort + `, "domains": ["c.test"]}`, "listenerconfig new public X1 Management " + inPort + " c.test", ""},
		{"port 0", `{"type": "public", "name": "X1", "interface": "Management", "port": 0, "domains": ["c.test"]}`, "listenerconfig new public X1 Management 0 c.test", ""},
		{"no domains", `{"type": "public", "name": "X1", "interface": "Management", "port": 2998}`, "",
			"A Recipient Access Table address can be one of the following: a domain (example.com) or a partial domain (.example.com); enter at least one"},
		{"bad domain", `{"type": "public", "name": "X1", "interface": "Management", "port": 2998, "domains": ["a..test"]}`, "listenerconfig new public X1 Management 2998 a..test", ""},
		{"private given domains", `{"type": "private", "name": "X1", "interface": "Management", "port": 2998, "domains": ["c.test"], "relay_from": ["10.0.0.0/8"]}`, "",
			"listener X1 is private: only a public listener accepts mail for domains; a private one relays for the hosts in relay_from (listenerconfig edit X1 relay CIDR,…)"},
		{"private without networks", `{"type": "private", "name": "X1", "interface": "Management", "port": 2998}`, "", "Please enter a value: the networks allowed to relay, e.g. 127.0.0.0/8"},
		{"unknown certificate", `{"type": "public", "name": "X1", "interface": "Management", "port": 2998, "domains": ["c.test"], "certificate": "Nope"}`, "listenerconfig new public X1 Management 2998 c.test Nope", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusedLikeTheShell(t, b, w, "POST", "/api/v1/listeners", "/api/v1/listeners", tt.body, tt.shell, tt.want)
		})
	}

	before, tag := w.pendingText(), w.etag("/api/v1/listeners")
	r = w.api("DELETE", "/api/v1/listeners/Nobody", tag, nil)
	assert.Equal(t, http.StatusNotFound, r.code, r.body)
	assert.Contains(t, b.shellSays(t, "listenerconfig delete Nobody"), r.json(t)["error"], "the shell's message")
	assert.Equal(t, before, w.pendingText(), "nothing changed")
	r = w.api("DELETE", "/api/v1/listeners/relay2", tag, nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.NotContains(t, r.body, `"Relay2"`)
	assert.Nil(t, named(t, w.pending(), "listeners", "Relay2"), "deleted")

	// An edit, and commit: the committed configuration has them all.
	r = w.api("PUT", "/api/v1/listeners/Inbound2", r.header.Get("ETag"), `{"max_connections": 20, "max_connections_per_ip": 4, "idle_timeout_seconds": 120}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	r = w.api("PUT", "/api/v1/destinations/DEFAULT", w.etag("/api/v1/destinations"), `{"max_connections": 40}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	r = w.api("PUT", "/api/v1/interfaces/Management", w.etag("/api/v1/interfaces"), `{"hostname": "gui.example.test"}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	r = w.api("POST", "/api/v1/commit", w.etag("/api/v1/config/pending"), map[string]string{"comment": "API: listeners"})
	require.Equal(t, http.StatusOK, r.code, r.body)
	cur = b.a.Store.Current()
	assert.Equal(t, "API: listeners", cur.Comment)
	in2 := cur.Listener("Inbound2")
	require.NotNil(t, in2, "the new listener is committed")
	assert.Equal(t, pub, in2.Port)
	assert.Equal(t, 20, in2.MaxConnections)
	assert.Equal(t, 4, in2.MaxConnectionsPerIP)
	assert.Equal(t, 2*time.Minute, time.Duration(in2.IdleTimeout))
	assert.Nil(t, cur.Listener("Relay2"))
	assert.Equal(t, 40, cur.Destinations.Default.MaxConnections)
	assert.Equal(t, "gui.example.test", cur.Interface("Management").Hostname)

	// Deleting a committed listener, committed.
	r = w.api("DELETE", "/api/v1/listeners/Inbound2", w.etag("/api/v1/listeners"), nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	r = w.api("POST", "/api/v1/commit", w.etag("/api/v1/config/pending"), map[string]string{"comment": "API: delete Inbound2"})
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Nil(t, b.a.Store.Current().Listener("Inbound2"))
	assert.NotNil(t, b.a.Store.Current().Listener("IncomingMail"))
}

// TestAPIInterfaceNewAndDelete: interfaceconfig new and delete through the
// API, their refusals with the shell's messages (the batch form's, or the
// dialog's where the batch form reads ADDRESS/PREFIX as one word), and a
// delete refused while a listener uses the interface.
func TestAPIInterfaceNewAndDelete(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)
	https := testnet.FreePort(t)

	r := w.api("POST", "/api/v1/interfaces", w.etag("/api/v1/interfaces"), map[string]any{"name": "Second", "address": "127.0.0.2", "netmask": 8, "hostname": "second.example.test"})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	i := named(t, w.pending(), "interfaces", "Second")
	require.NotNil(t, i, "created")
	for k, v := range map[string]any{"address": "127.0.0.2", "netmask": float64(8), "hostname": "second.example.test", "https_port": float64(0), "ssh_port": float64(0)} {
		assert.Equal(t, v, i[k], k)
	}
	r = w.api("POST", "/api/v1/interfaces", r.header.Get("ETag"), map[string]any{"name": "Web", "address": "127.0.0.5", "hostname": "web.example.test", "https_port": https, "certificate": "demo"})
	require.Equal(t, http.StatusCreated, r.code, r.body)
	i = named(t, w.pending(), "interfaces", "Web")
	require.NotNil(t, i)
	for k, v := range map[string]any{"address": "127.0.0.5", "netmask": float64(24), "https_port": float64(https), "certificate": "Demo"} {
		assert.Equal(t, v, i[k], k)
	}
	// Committed, so that a console session (the shell's messages) sees them too.
	r = w.api("POST", "/api/v1/commit", w.etag("/api/v1/config/pending"), map[string]string{"comment": "API: interfaces"})
	require.Equal(t, http.StatusOK, r.code, r.body)
	cur := b.a.Store.Current()
	require.NotNil(t, cur.Interface("Second"), "committed")
	assert.Equal(t, "127.0.0.2", cur.Interface("Second").Address)
	assert.Equal(t, https, cur.Interface("Web").HTTPSPort)

	tests := []struct {
		name, body, shell, want string
	}{
		{"duplicate name", `{"name": "second", "address": "127.0.0.4", "netmask": 8, "hostname": "x.example.test"}`, "interfaceconfig new second 127.0.0.4/8 x.example.test", ""},
		{"bad name", `{"name": "9x", "address": "127.0.0.4", "netmask": 8, "hostname": "x.example.test"}`, "interfaceconfig new 9x 127.0.0.4/8 x.example.test", ""},
		{"bad address", `{"name": "X1", "address": "300.1.1.1", "netmask": 8, "hostname": "x.example.test"}`, "interfaceconfig\nNEW\nX1\n300.1.1.1", ""},
		{"netmask out of range", `{"name": "X1", "address": "127.0.0.4", "netmask": 33, "hostname": "x.example.test"}`, "", "netmask /33 is out of range for 127.0.0.4: use 0 to 32"},
		{"bad hostname", `{"name": "X1", "address": "127.0.0.4", "netmask": 8, "hostname": "bad_host"}`, "interfaceconfig new X1 127.0.0.4/8 bad_host", ""},
		{"https port 70000", `{"name": "X1", "address": "127.0.0.4", "netmask": 8, "hostname": "x.example.test", "https_port": 70000, "certificate": "Demo"}`, "interfaceconfig new X1 127.0.0.4/8 x.example.test 70000 Demo", ""},
		{"unknown certificate", `{"name": "X1", "address": "127.0.0.4", "netmask": 8, "hostname": "x.example.test", "https_port": 8444, "certificate": "Nope"}`, "interfaceconfig new X1 127.0.0.4/8 x.example.test 8444 Nope", ""},
		{"https without a certificate", `{"name": "X1", "address": "127.0.0.4", "netmask": 8, "hostname": "x.example.test", "https_port": 8444}`, "", "no certificate is chosen: choose one listed by certconfig"},
		{"https port of another service", `{"name": "X1", "address": "127.0.0.5", "netmask": 8, "hostname": "x.example.test", "https_port": ` + itoa(https) + `, "certificate": "Demo"}`,
			"interfaceconfig new X1 127.0.0.5/8 x.example.test " + itoa(https) + " Demo", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refusedLikeTheShell(t, b, w, "POST", "/api/v1/interfaces", "/api/v1/interfaces", tt.body, tt.shell, tt.want)
		})
	}

	for _, tt := range []struct {
		name, path string
		code       int
		shell      string
	}{
		{"unknown", "/api/v1/interfaces/Nowhere", http.StatusNotFound, "interfaceconfig delete Nowhere"},
		{"in use by a listener", "/api/v1/interfaces/management", http.StatusConflict, "interfaceconfig delete Management"},
	} {
		t.Run("delete "+tt.name, func(t *testing.T) {
			before, tag := w.pendingText(), w.etag("/api/v1/interfaces")
			r := w.api("DELETE", tt.path, tag, nil)
			require.Equal(t, tt.code, r.code, r.body)
			msg, _ := r.json(t)["error"].(string)
			require.NotEmpty(t, msg)
			assert.Contains(t, b.shellSays(t, tt.shell), msg, "the shell's message")
			assert.Equal(t, before, w.pendingText(), "nothing changed")
			assert.Equal(t, tag, w.etag("/api/v1/interfaces"))
		})
	}
	r = w.api("DELETE", "/api/v1/interfaces/Management", w.etag("/api/v1/interfaces"), nil)
	assert.Contains(t, r.json(t)["error"], "interface Management is used by listener IncomingMail, listener OutgoingMail: move or delete them first")
	r = w.api("DELETE", "/api/v1/interfaces/web", w.etag("/api/v1/interfaces"), nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.NotContains(t, r.body, `"Web"`)
	assert.Nil(t, named(t, w.pending(), "interfaces", "Web"), "deleted")

	r = w.api("POST", "/api/v1/commit", w.etag("/api/v1/config/pending"), map[string]string{"comment": "API: delete Web"})
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Nil(t, b.a.Store.Current().Interface("Web"), "the delete is committed")
	assert.NotNil(t, b.a.Store.Current().Interface("Second"))
}

// smtpBanner dials an SMTP listener and returns its first line, the 220 greeting.
func smtpBanner(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err, "nothing listens on %s", addr)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return line
}

// TestAPIListenerRenameAndMoveCommitted: a listener renamed and moved to an
// interface the API created, committed: the committed configuration has it
// under its new name on the new interface, the engine greets on the new
// address and port, and the interface cannot be deleted while it is used.
func TestAPIListenerRenameAndMoveCommitted(t *testing.T) {
	t.Parallel()
	b, w := startAPIClient(t)
	port := testnet.FreePort(t)
	old := b.a.Store.Current().Listener("IncomingMail")
	assert.Contains(t, smtpBanner(t, "127.0.0.1:"+itoa(old.Port)), "220 ", "the listener before")

	r := w.api("POST", "/api/v1/interfaces", w.etag("/api/v1/interfaces"), `{"name": "Second", "address": "127.0.0.2", "netmask": 8, "hostname": "second.example.test"}`)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	r = w.api("PUT", "/api/v1/listeners/IncomingMail", w.etag("/api/v1/listeners"), `{"name": "Inbound", "interface": "second", "port": `+itoa(port)+`}`)
	require.Equal(t, http.StatusOK, r.code, r.body)
	assert.Equal(t, r.header.Get("ETag"), w.etag("/api/v1/listeners"), "the answer is the listeners section, with its ETag")
	var section []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.body), &section))
	var names []any
	for _, l := range section {
		names = append(names, l["name"])
	}
	assert.ElementsMatch(t, []any{"Inbound", "OutgoingMail"}, names)

	r = w.api("POST", "/api/v1/commit", w.etag("/api/v1/config/pending"), map[string]string{"comment": "API: move IncomingMail"})
	require.Equal(t, http.StatusOK, r.code, r.body)
	cur := b.a.Store.Current()
	assert.Nil(t, cur.Listener("IncomingMail"), "renamed")
	l := cur.Listener("Inbound")
	require.NotNil(t, l, "the committed configuration has the new name")
	assert.Equal(t, "Second", l.Interface)
	assert.Equal(t, port, l.Port)
	assert.Equal(t, old.Domains, l.Domains, "its settings go with it")
	assert.Equal(t, old.MaxConnections, l.MaxConnections)

	assert.Contains(t, smtpBanner(t, "127.0.0.2:"+itoa(port)), "220 ", "the engine listens on the new interface")
	_, err := net.DialTimeout("tcp", "127.0.0.1:"+itoa(port), time.Second)
	assert.Error(t, err, "and not on the old interface's address")

	before, tag := w.pendingText(), w.etag("/api/v1/interfaces")
	r = w.api("DELETE", "/api/v1/interfaces/Second", tag, nil)
	assert.Equal(t, http.StatusConflict, r.code, r.body)
	assert.Contains(t, b.shellSays(t, "interfaceconfig delete Second"), r.json(t)["error"], "the shell's message")
	assert.Contains(t, r.json(t)["error"], "interface Second is used by listener Inbound")
	assert.Equal(t, before, w.pendingText(), "nothing changed")
}

// guiRefuses posts a form that is refused: the page again with the message
// and code, and nothing changed.
func guiRefuses(t *testing.T, w *browser, path string, form url.Values, code int, msg string) {
	t.Helper()
	before := w.pendingText()
	r := w.post(path, form)
	assert.Equal(t, code, r.code, r.body)
	assert.Contains(t, r.body, html.EscapeString(msg))
	assert.Contains(t, r.body, `<form method="post"`, "the page again, with its forms")
	assert.Equal(t, before, w.pendingText(), "nothing changed")
}

// TestNetworkForms: each form of the Listeners, IP Interfaces and
// Destination Controls pages changes the pending configuration; a bad one
// shows the page again with the message and 422.
func TestNetworkForms(t *testing.T) {
	t.Parallel()
	b := startBox(t, adminPass)
	w := b.browser(t)
	require.Equal(t, http.StatusSeeOther, w.login("admin", adminPass).code)
	port, newPort := testnet.FreePort(t), testnet.FreePort(t)
	https := b.a.Store.Current().Interface("Management").HTTPSPort // the page's own: moving it is the API test's
	listenerForm := url.Values{"port": {itoa(port)}, "domains": {"a.test, .b.test"}, "tls": {"required"}, "certificate": {"Demo"},
		"max_message_bytes": {"4096"}, "max_recipients": {"8"}, "max_connections": {"9"}, "max_connections_per_ip": {"3"}, "idle_timeout_seconds": {"60"}, "ldap_accept": {""}}
	with := func(v url.Values, k, x string) url.Values {
		c := url.Values{}
		for key, vals := range v {
			c[key] = vals
		}
		c.Set(k, x)
		return c
	}

	t.Run("listener edit", func(t *testing.T) {
		r := w.post("/listeners/IncomingMail", listenerForm)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		l := named(t, w.pending(), "listeners", "IncomingMail")
		for k, v := range map[string]any{"port": float64(port), "domains": []any{"a.test", ".b.test"}, "tls": "required", "max_message_bytes": float64(4096),
			"max_recipients": float64(8), "max_connections": float64(9), "max_connections_per_ip": float64(3), "idle_timeout": "1m0s"} {
			assert.Equal(t, v, l[k], k)
		}
		page := w.get("/listeners")
		assert.Contains(t, page.body, "Listener IncomingMail changed (pending until you commit).")
		assert.Contains(t, page.body, `value="a.test, .b.test"`)
		r = w.post("/listeners/OutgoingMail", url.Values{"relay_from": {"192.0.2.0/24 10.1.2.3"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		assert.Equal(t, []any{"192.0.2.0/24", "10.1.2.3/32"}, named(t, w.pending(), "listeners", "OutgoingMail")["relay_from"])
	})
	t.Run("listener edit refused", func(t *testing.T) {
		guiRefuses(t, w, "/listeners/IncomingMail", with(listenerForm, "port", "0"), http.StatusUnprocessableEntity, `port 0 is out of range: use 1 to 65535`)
		guiRefuses(t, w, "/listeners/IncomingMail", with(listenerForm, "port", "x"), http.StatusUnprocessableEntity, `"x" is not a port: use a number from 1 to 65535`)
		guiRefuses(t, w, "/listeners/IncomingMail", with(listenerForm, "max_connections_per_ip", "10"), http.StatusUnprocessableEntity, "Value must be a number from 1 to 9, not 10")
		guiRefuses(t, w, "/listeners/IncomingMail", with(listenerForm, "max_recipients", "many"), http.StatusUnprocessableEntity, `Value must be a number from 1 to 100000, not "many"`)
		guiRefuses(t, w, "/listeners/IncomingMail", with(listenerForm, "tls", "sometimes"), http.StatusUnprocessableEntity, `"sometimes" is not a TLS level`)
		guiRefuses(t, w, "/listeners/OutgoingMail", url.Values{"domains": {"a.test"}}, http.StatusUnprocessableEntity, "listener OutgoingMail is private: only a public listener accepts mail for domains")
	})
	t.Run("listener new and delete", func(t *testing.T) {
		r := w.post("/listeners", url.Values{"type": {"public"}, "name": {"Inbound2"}, "interface": {"Management"}, "port": {itoa(newPort)}, "domains": {"c.test"}, "relay_from": {""}, "certificate": {""}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		l := named(t, w.pending(), "listeners", "Inbound2")
		require.NotNil(t, l)
		assert.Equal(t, []any{"c.test"}, l["domains"])
		assert.Equal(t, "off", l["tls"])
		page := w.get("/listeners")
		assert.Contains(t, page.body, `id="listener-Inbound2"`)
		assert.Contains(t, page.body, "Listener Inbound2 created (pending until you commit).")

		guiRefuses(t, w, "/listeners", url.Values{"type": {"public"}, "name": {"inbound2"}, "interface": {"Management"}, "port": {"2998"}, "domains": {"c.test"}},
			http.StatusUnprocessableEntity, `a listener named "inbound2" already exists: choose another name`)
		guiRefuses(t, w, "/listeners", url.Values{"type": {"private"}, "name": {"X1"}, "interface": {"Management"}, "port": {"2998"}, "domains": {"c.test"}, "relay_from": {"10.0.0.0/8"}},
			http.StatusUnprocessableEntity, "listener X1 is private: only a public listener accepts mail for domains")
		guiRefuses(t, w, "/listeners", url.Values{"type": {"public"}, "name": {"X1"}, "interface": {"Management"}, "port": {""}, "domains": {"c.test"}},
			http.StatusUnprocessableEntity, `"" is not a port: use a number from 1 to 65535`)

		r = w.post("/listeners/Inbound2/delete", nil)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		assert.Nil(t, named(t, w.pending(), "listeners", "Inbound2"))
		assert.NotContains(t, w.get("/listeners").body, `id="listener-Inbound2"`)
		guiRefuses(t, w, "/listeners/Inbound2/delete", nil, http.StatusNotFound, `listener "Inbound2" does not exist: choose one listed by listenerconfig`)
	})
	t.Run("interface", func(t *testing.T) {
		r := w.post("/interfaces/Management", url.Values{"hostname": {"gui.example.test"}, "https_port": {itoa(https)}, "ssh_port": {"0"}, "certificate": {"Demo"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		i := named(t, w.pending(), "interfaces", "Management")
		assert.Equal(t, "gui.example.test", i["hostname"])
		assert.Equal(t, float64(https), i["https_port"])
		assert.Equal(t, float64(0), i["ssh_port"])
		assert.Contains(t, w.get("/interfaces").body, "<td>off</td>", "SSH off")
		guiRefuses(t, w, "/interfaces/Management", url.Values{"ssh_port": {"70000"}}, http.StatusUnprocessableEntity, "port 70000 is out of range: use 1 to 65535")
		guiRefuses(t, w, "/interfaces/Management", url.Values{"hostname": {"bad_host"}}, http.StatusUnprocessableEntity, `"bad_host"`)
		guiRefuses(t, w, "/interfaces/Management", url.Values{"certificate": {"Nope"}}, http.StatusUnprocessableEntity, `certificate "Nope" does not exist`)
	})
	t.Run("interface new, edit and delete", func(t *testing.T) {
		r := w.post("/interfaces", url.Values{"name": {"Second"}, "address": {"127.0.0.2"}, "netmask": {"8"}, "hostname": {"second.example.test"}, "https_port": {""}, "certificate": {""}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		i := named(t, w.pending(), "interfaces", "Second")
		require.NotNil(t, i)
		assert.Equal(t, "127.0.0.2", i["address"])
		assert.Equal(t, float64(8), i["netmask"])
		page := w.get("/interfaces")
		assert.Contains(t, page.body, `id="interface-Second"`)
		assert.Contains(t, page.body, "Interface Second created (pending until you commit).")
		guiRefuses(t, w, "/interfaces", url.Values{"name": {"second"}, "address": {"127.0.0.4"}, "netmask": {"8"}, "hostname": {"x.example.test"}},
			http.StatusUnprocessableEntity, `named "second" already exists: choose another name`)
		guiRefuses(t, w, "/interfaces", url.Values{"name": {"X1"}, "address": {"300.1.1.1"}, "netmask": {"8"}, "hostname": {"x.example.test"}},
			http.StatusUnprocessableEntity, `"300.1.1.1" is not an IP address`)
		guiRefuses(t, w, "/interfaces", url.Values{"name": {"X1"}, "address": {"127.0.0.4"}, "netmask": {"x"}, "hostname": {"x.example.test"}},
			http.StatusUnprocessableEntity, `Value must be a number from 0 to 32, not "x"`)

		r = w.post("/interfaces/Second", url.Values{"address": {"127.0.0.3"}, "netmask": {"16"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		i = named(t, w.pending(), "interfaces", "Second")
		assert.Equal(t, "127.0.0.3", i["address"])
		assert.Equal(t, float64(16), i["netmask"])
		guiRefuses(t, w, "/interfaces/Second", url.Values{"netmask": {"33"}}, http.StatusUnprocessableEntity, "netmask /33 is out of range for 127.0.0.3: use 0 to 32")
		guiRefuses(t, w, "/interfaces/Second", url.Values{"name": {"Management"}}, http.StatusUnprocessableEntity, `named "Management" already exists: choose another name`)

		r = w.post("/interfaces", url.Values{"name": {"Spare"}, "address": {"127.0.0.4"}, "netmask": {"8"}, "hostname": {"spare.example.test"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		r = w.post("/interfaces/Spare/delete", nil)
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		assert.Nil(t, named(t, w.pending(), "interfaces", "Spare"))
		assert.NotContains(t, w.get("/interfaces").body, `id="interface-Spare"`)
		guiRefuses(t, w, "/interfaces/Spare/delete", nil, http.StatusNotFound, `interface "Spare" does not exist: choose one listed by interfaceconfig`)
		guiRefuses(t, w, "/interfaces/Management/delete", nil, http.StatusConflict, "interface Management is used by listener IncomingMail")
	})
	t.Run("listener rename and move", func(t *testing.T) {
		r := w.post("/listeners/OutgoingMail", url.Values{"name": {"Relay"}, "interface": {"Second"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		assert.Nil(t, named(t, w.pending(), "listeners", "OutgoingMail"))
		l := named(t, w.pending(), "listeners", "Relay")
		require.NotNil(t, l)
		assert.Equal(t, "Second", l["interface"])
		assert.Equal(t, []any{"192.0.2.0/24", "10.1.2.3/32"}, l["relay_from"], "its settings go with it")
		page := w.get("/listeners")
		assert.Contains(t, page.body, "Listener OutgoingMail renamed to Relay and changed (pending until you commit).")
		assert.Contains(t, page.body, `id="listener-form-Relay"`)
		guiRefuses(t, w, "/listeners/Relay", url.Values{"name": {"IncomingMail"}}, http.StatusUnprocessableEntity, `a listener named "IncomingMail" already exists: choose another name`)
		guiRefuses(t, w, "/listeners/Relay", url.Values{"interface": {"Nowhere"}}, http.StatusUnprocessableEntity, `interface "Nowhere" does not exist: choose one listed by interfaceconfig`)
		guiRefuses(t, w, "/interfaces/Second/delete", nil, http.StatusConflict, "interface Second is used by listener Relay: move or delete them first")
	})
	t.Run("inbound SETUP", func(t *testing.T) {
		r := w.post("/inbound", url.Values{"max_connections": {"300"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		assert.Equal(t, float64(300), w.pending()["inbound"].(map[string]any)["max_connections"])
		page := w.get("/listeners")
		assert.Contains(t, page.body, "Listeners SETUP saved (pending until you commit).")
		assert.Contains(t, page.body, `name="max_connections" size="7" value="300"`)
		guiRefuses(t, w, "/inbound", url.Values{"max_connections": {"100001"}}, http.StatusUnprocessableEntity, "Value must be a number from 0 to 100000, not 100001")
		guiRefuses(t, w, "/inbound", url.Values{"max_connections": {"many"}}, http.StatusUnprocessableEntity, `Value must be a number from 0 to 100000, not "many"`)
	})
	t.Run("destination DEFAULT", func(t *testing.T) {
		r := w.post("/destinations/DEFAULT", url.Values{"tls": {"required"}, "max_connections": {"25"}, "max_messages_per_connection": {"7"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		d := w.pending()["destinations"].(map[string]any)["default"].(map[string]any)
		assert.Equal(t, map[string]any{"tls": "required", "max_connections": float64(25), "max_messages_per_connection": float64(7)}, d)
		assert.Contains(t, w.get("/destinations").body, "Destination controls DEFAULT saved (pending until you commit).")
		guiRefuses(t, w, "/destinations/DEFAULT", url.Values{"max_connections": {"20000"}}, http.StatusUnprocessableEntity, "Value must be a number from 1 to 10000, not 20000")
		guiRefuses(t, w, "/destinations/DEFAULT", url.Values{"max_connections": {"ten"}}, http.StatusUnprocessableEntity, `Value must be a number from 1 to 10000, not "ten"`)
		guiRefuses(t, w, "/destinations/DEFAULT", url.Values{"tls": {"default"}}, http.StatusUnprocessableEntity, `"default" is not a TLS level`)
	})
	t.Run("destination SETUP", func(t *testing.T) {
		r := w.post("/destinations/SETUP", url.Values{"certificate": {"Demo"}, "alert": {"yes"}, "alert_recipients": {"ops@example.test, tls@example.test"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		d := w.pending()["destinations"].(map[string]any)
		assert.Equal(t, "Demo", d["certificate"])
		assert.Equal(t, true, d["alert_on_required_tls_failure"])
		assert.Equal(t, []any{"ops@example.test", "tls@example.test"}, d["alert_recipients"])
		assert.Contains(t, w.get("/destinations").body, "yes, to ops@example.test, tls@example.test")
		guiRefuses(t, w, "/destinations/SETUP", url.Values{"certificate": {"Nope"}}, http.StatusUnprocessableEntity, `certificate "Nope" does not exist`)
		guiRefuses(t, w, "/destinations/SETUP", url.Values{"alert_recipients": {"nobody"}}, http.StatusUnprocessableEntity, `"nobody" is not an email address`)
	})
	t.Run("commit", func(t *testing.T) {
		r := w.post("/changes/commit", url.Values{"comment": {"GUI: network"}})
		require.Equal(t, http.StatusSeeOther, r.code, r.body)
		cur := b.a.Store.Current()
		assert.Equal(t, port, cur.Listener("IncomingMail").Port)
		assert.Equal(t, []string{"a.test", ".b.test"}, cur.Listener("IncomingMail").Domains)
		assert.Equal(t, 25, cur.Destinations.Default.MaxConnections)
		assert.Equal(t, "Demo", cur.Destinations.Certificate)
		assert.Equal(t, "gui.example.test", cur.Interface("Management").Hostname)
		assert.Equal(t, 300, cur.Inbound.MaxConnections)
		assert.Nil(t, cur.Listener("OutgoingMail"))
		require.NotNil(t, cur.Listener("Relay"))
		assert.Equal(t, "Second", cur.Listener("Relay").Interface)
		assert.Equal(t, "127.0.0.3", cur.Interface("Second").Address)
	})
}
