package appliance

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"relaybox/config"
)

// FirstStartSetting is a first-start choice the operator gave (a flag or
// an environment variable) and the value given.
type FirstStartSetting struct {
	Flag, Env, Value string
}

// IgnoredFirstStart explains, for each first-start choice given to a start
// that found a configuration already, that it was ignored and which command
// changes the setting instead.
func IgnoredFirstStart(c *config.Config, given []FirstStartSetting) []string {
	var out []string
	for _, g := range given {
		how := firstStartHow(c, g)
		out = append(out, fmt.Sprintf("%s %s (%s) was ignored: it is a first-start setting and the data directory already has configuration version %d; %s",
			g.Flag, g.Value, g.Env, c.Version, how))
	}
	return out
}

// firstStartHow says what changes a first-start setting once the appliance runs.
func firstStartHow(c *config.Config, g FirstStartSetting) string {
	switch g.Flag {
	case "--hostname":
		return fmt.Sprintf("change it with \"sethostname %s\" and commit", g.Value)
	case "--smtp-port":
		return fmt.Sprintf("move the listener with \"listenerconfig edit %s port %s\" and commit", config.IncomingListener, g.Value)
	case "--submission-port":
		return fmt.Sprintf("move the listener with \"listenerconfig edit %s port %s\" and commit", config.OutgoingListener, g.Value)
	case "--https-port":
		return fmt.Sprintf("move the GUI with \"interfaceconfig edit %s https_port %s\" and commit", config.ManagementIface, g.Value)
	case "--listen":
		return "change the address of interface Management with interfaceconfig EDIT (the dialog) and commit"
	case "--ssh-port":
		return fmt.Sprintf("move SSH with \"interfaceconfig edit %s ssh_port %s\" and commit", config.ManagementIface, g.Value)
	case "--domains":
		return fmt.Sprintf("set the domains with \"listenerconfig edit %s domains %s\" and commit", config.IncomingListener, g.Value)
	case "--resolver":
		return fmt.Sprintf("change the DNS server with \"dnsconfig setup %s\" and commit (now: %s)", g.Value, c.Delivery.Resolver)
	case "":
		if g.Env == "RELAYBOX_ADMIN_PASSWORD" {
			return "the administrator password is set on the first start only"
		}
	}
	return "change it in the shell"
}

// Summary says what a fresh appliance listens on and what it accepts, for
// the first start: the public listener takes mail for no domain until one
// is added, which is the first thing a test with swaks runs into.
func Summary(c *config.Config) []string {
	var out []string
	for _, l := range c.Listeners {
		ifc := c.Interface(l.Interface)
		if ifc == nil {
			continue
		}
		where := net.JoinHostPort(ifc.Address, strconv.Itoa(l.Port))
		switch {
		case l.Type == config.ListenerPublic && len(l.Domains) == 0:
			out = append(out, fmt.Sprintf("SMTP %s on %s: public, accepts mail for no domain yet (every RCPT gets 550): add yours with \"listenerconfig edit %s domains example.com\" and commit, or start with --domains",
				l.Name, where, l.Name))
		case l.Type == config.ListenerPublic:
			out = append(out, fmt.Sprintf("SMTP %s on %s: public, accepts mail for %s", l.Name, where, strings.Join(l.Domains, ", ")))
		default:
			out = append(out, fmt.Sprintf("SMTP %s on %s: private, relays for %s", l.Name, where, strings.Join(l.RelayFrom, ", ")))
		}
	}
	for _, ifc := range c.Interfaces {
		if ifc.HTTPSPort != 0 {
			out = append(out, fmt.Sprintf("GUI https://%s/ (interface %s)", net.JoinHostPort(ifc.Address, strconv.Itoa(ifc.HTTPSPort)), ifc.Name))
		}
		if ifc.SSHPort != 0 {
			out = append(out, fmt.Sprintf("SSH ssh -p %d %s@%s (interface %s)", ifc.SSHPort, config.DefaultAdminUser, ifc.Address, ifc.Name))
		}
	}
	return out
}
