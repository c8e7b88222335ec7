// Package commands implements the appliance commands (sslconfig, commit,
// showconfig, …), one file each, on top of the shell's prompts and the
// session's pending configuration. The command files share prompts.go
// (prompts, pickers, menu loops), files.go (DATA/configs) and this file, never
// each other; every edit they make is a mutation function of package config.
package commands

import (
	"context"
	"time"

	"relaybox/config"
	"relaybox/mailengine"
	"relaybox/shell"
)

// Engine is what the commands need of the running engine.
type Engine interface {
	config.Applier
	Status() mailengine.Status
}

// App is the appliance the commands act on.
type App struct {
	Store    *config.Store
	Engine   Engine
	Version  string // "relaybox 0.1.0 (commit abc, go1.26.8)"
	Certs    Certs
	Log      MailLogs
	Queue    Queue
	Verifier Verifier
	Outbound Outbound
	// WebSecurity tests the connection to the web security service.
	WebSecurity WebSecurityDiagnoser
	// LDAP runs accept queries step by step (ldaptest, ldapconfig TEST).
	LDAP LDAPTester
	// Sessions is the registry of shell sessions (who, last).
	Sessions Sessions
	// HostKeys are the SSH host keys' fingerprints ("ssh-ed25519
	// SHA256:…"), which status shows so that a first login can be checked.
	HostKeys []string
}

// LDAPTester runs the accept query named query (a profile's
// "PROFILE.ldapaccept", or the profile's name) for addr under c and reports
// each step (ldapcheck.Checker.Test); found says whether it matched. An
// error other than ldapcheck.ErrNoAnswer (which the report has explained)
// means the test could not run: no such query, a certificate missing.
type LDAPTester interface {
	Test(ctx context.Context, c *config.Config, query, addr string, report func(format string, args ...any)) (found bool, err error)
}

// SessionInfo is one open shell session.
type SessionInfo struct {
	User string
	// From is where the session comes from: the client's address for SSH,
	// "" on the console and the control socket.
	From  string
	Kind  string // "console", "ssh" or "socket"
	Since time.Time
	Idle  time.Duration
}

// LoginRecord is one login, open or ended.
type LoginRecord struct {
	User, From, Kind string
	Login            time.Time
	Logout           time.Time // zero: still logged in
}

// Sessions reports who is logged in and the recent logins.
type Sessions interface {
	// Who lists the open sessions, this one included.
	Who() []SessionInfo
	// Last lists the recent logins, open and ended, in any order.
	Last() []LoginRecord
}

// Outbound reports the delivery engine's connections.
type Outbound interface {
	OutboundConnections() (open, idle int)
}

// All returns every command, bound to app.
func All(app *App) []shell.Command {
	return []shell.Command{
		sslconfig(),
		commit(app),
		clearchanges(),
		showchanges(),
		showconfig(app),
		saveconfig(app),
		loadconfig(app),
		rollbackconfig(app),
		certconfig(app),
		sethostname(),
		userconfig(),
		sshconfig(),
		passwd(app),
		who(app),
		last(app),
		listenerconfig(),
		smtproutes(),
		destconfig(),
		deliveryconfig(),
		dnsconfig(),
		interfaceconfig(),
		status(app),
		health(app),
		tail(app),
		grep(app),
		workqueue(app),
		tlsverify(app),
		websecurityconfig(),
		urllistconfig(),
		websecuritydiagnostics(app),
		ldapconfig(app),
		ldaptest(app),
		version(app),
	}
}
