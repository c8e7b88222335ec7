// Package commands implements the appliance commands (sslconfig, commit,
// showconfig, …), one file each, on top of the shell's prompts and the
// session's pending configuration.
package commands

import (
	"fmt"
	"strings"
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
		listenerconfig(),
		smtproutes(),
		destconfig(),
		deliveryconfig(),
		interfaceconfig(),
		status(app),
		tail(app),
		grep(app),
		workqueue(app),
		tlsverify(app),
		version(app),
	}
}

// TimeFormat is how the appliance prints times, as in "Changes committed: Wed Jan 17 21:09:12 2024".
const TimeFormat = "Mon Jan _2 15:04:05 2006"

func stamp(t time.Time) string { return t.Local().Format(TimeFormat) }

// usage is the error for a batch form that does not parse.
func usage(cmd, form string) error {
	return fmt.Errorf("Invalid arguments when processing: %s; usage: %s (see help %s)", cmd, form, cmd)
}

func enableWord(b bool) string {
	if b {
		return "Enabled"
	}
	return "Disabled"
}

// onOff parses enable/disable in a batch form.
func onOff(cmd, word string) (bool, error) {
	switch strings.ToLower(word) {
	case "enable", "on", "yes":
		return true, nil
	case "disable", "off", "no":
		return false, nil
	}
	return false, fmt.Errorf("%s: %q is neither enable nor disable", cmd, word)
}
