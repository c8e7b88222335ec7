package commands

import (
	"fmt"
	"strconv"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

const destconfigHelp = `Destination controls: the TLS level, concurrency and messages per connection
for each destination domain, a DEFAULT for every other domain, and (SETUP) the
client certificate for outbound TLS and the alert on required-TLS failures.

TLS levels: 1. No  2. Preferred  3. Required  4. Preferred (Verify)  5. Required (Verify)
A domain without its own level follows DEFAULT ("Default").

Batch forms:
  destconfig list
  destconfig new DOMAIN [tls=LEVEL] [conns=N] [msgs=N]       (LEVEL: none, preferred, required, preferred-verify, required-verify, default)
  destconfig edit DOMAIN [tls=LEVEL] [conns=N] [msgs=N]
  destconfig default [tls=LEVEL] [conns=N] [msgs=N]
  destconfig delete DOMAIN
  destconfig setup [certificate=NAME|none] [alert=yes|no] [recipients=ADDR[,ADDR…]]
Changes are pending until commit.`

func destconfig() shell.Command {
	return command("destconfig", "Configure destination controls: outbound TLS per domain, limits, client certificate.", destconfigHelp,
		func(s *shell.Session, args []string) error { return destBatch(s, s.Pending.Config(), args) },
		func(s *shell.Session) error {
			c := s.Pending.Config()
			d := &c.Destinations
			return loopMenu(s, func() { s.Printf("\nThere are currently %d entries configured.\n", len(d.Domains)+1) }, fixed(
				menuOp{"SETUP", "Change global settings.", func() error { return destSetup(s, c) }},
				menuOp{"NEW", "Create a new entry.", func() error {
					domain, err := askNew(s, "Enter the domain you wish to configure.", d.CheckNewDestination)
					if err != nil {
						return err
					}
					return destEntry(s, c, "", config.NewDestination(domain))
				}},
				menuOp{"EDIT", "Modify an entry.", func() error {
					p, err := askDestination(s, d, "Enter the domain you wish to edit.")
					if err != nil {
						return err
					}
					return destEntry(s, c, p.Domain, *p)
				}},
				menuOp{"DELETE", "Remove an entry.", func() error {
					p, err := askDestination(s, d, "Enter the domain you wish to delete.")
					if err != nil {
						return err
					}
					return d.DeleteDestination(p.Domain)
				}},
				menuOp{"DEFAULT", "Change the default.", func() error { return destDefault(s, c) }},
				menuOp{"LIST", "Display a summary list of all entries.", func() error { destList(s, c); return nil }},
				menuOp{"DETAIL", "Display details for one destination or all entries.", func() error {
					which, err := s.Text("Enter the domain you wish to view, ALL or DEFAULT.", "ALL", nil)
					if err != nil {
						return err
					}
					return destDetail(s, c, which)
				}},
				menuOp{"CLEAR", "Remove all entries.", func() error {
					ok, err := s.YesNo("Are you sure you want to remove all destination entries?", false)
					if err == nil && ok {
						d.Domains = nil
					}
					return err
				}},
			))
		})
}

// askDestination asks for an existing entry's domain; Enter goes back.
func askDestination(s *shell.Session, d *config.Destinations, question string) (*config.DestPolicy, error) {
	return askExisting(s, question, d.FindDestination)
}

func levelItems() []string {
	items := make([]string, len(config.DestTLSLevels))
	for i, l := range config.DestTLSLevels {
		items[i] = l.Label
	}
	return items
}

func levelIndex(level string) int {
	for i, l := range config.DestTLSLevels {
		if l.Value == level {
			return i + 1
		}
	}
	return 1
}

// askLevel asks a TLS level, current as the default. Choosing TLS while the
// client certificate is the Demo one warns, unless TLS was already on.
func askLevel(s *shell.Session, c *config.Config, current string) (string, error) {
	i, err := s.Choose("Do you want to use TLS support?", levelItems(), levelIndex(current))
	if err != nil {
		return "", err
	}
	level := config.DestTLSLevels[i].Value
	if level != config.DestTLSNone && level != current && strings.EqualFold(c.Destinations.Certificate, config.DemoCertificate) {
		ok, err := confirmDemo(s, c.Destinations.Certificate)
		if err != nil {
			return "", err
		}
		if !ok {
			s.Println("Choose another client certificate with destconfig SETUP.")
		}
	}
	return level, nil
}

// destDefault asks the DEFAULT entry's settings.
func destDefault(s *shell.Session, c *config.Config) error {
	p := c.Destinations.Default
	var err error
	if p.MaxConnections, err = askInt(s, "Enter the default maximum number of concurrent connections to a destination.", p.MaxConnections, config.DestConnectionRange); err != nil {
		return err
	}
	if p.MaxMessagesPerConnection, err = askInt(s, "Enter the maximum number of messages per connection.", p.MaxMessagesPerConnection, config.DestMessageRange); err != nil {
		return err
	}
	if p.TLS, err = askLevel(s, c, p.TLS); err != nil {
		return err
	}
	return c.Destinations.SetDefault(p)
}

// destEntry asks a domain entry's settings, each behind its "specific" gate
// (a no follows DEFAULT), and stores it in place of old ("" adds it).
func destEntry(s *shell.Session, c *config.Config, old string, p config.DestPolicy) error {
	def := c.Destinations.Default
	limit := func(what string, v *int, fallback int, r config.Range) error {
		on, err := s.YesNo(fmt.Sprintf("Do you wish to configure a %s for %s?", what, p.Domain), *v > 0)
		if err != nil || !on {
			*v = 0
			return err
		}
		*v, err = askInt(s, fmt.Sprintf("Enter the %s for %q.", what, p.Domain), orDefault(*v, fallback), r)
		return err
	}
	if err := limit("concurrency limit", &p.MaxConnections, def.MaxConnections, config.DestConnectionRange); err != nil {
		return err
	}
	if err := limit("maximum messages per connection limit", &p.MaxMessagesPerConnection, def.MaxMessagesPerConnection, config.DestMessageRange); err != nil {
		return err
	}
	specific, err := s.YesNo("Do you wish to apply a specific TLS setting for this domain?", p.TLS != config.DestTLSDefault)
	if err != nil {
		return err
	}
	if !specific {
		p.TLS = config.DestTLSDefault
	} else if p.TLS, err = askLevel(s, c, p.TLS); err != nil {
		return err
	}
	return c.Destinations.PutDestination(old, p)
}

func destSetup(s *shell.Session, c *config.Config) error {
	d := &c.Destinations
	use, err := s.YesNo("Do you want to offer a client certificate for outgoing TLS connections?", d.Certificate != "")
	if err != nil {
		return err
	}
	cert := ""
	if use {
		if cert, err = chooseCertificate(s, c, d.Certificate, d.Certificate); err != nil {
			return err
		}
	}
	alert, err := s.YesNo("Do you want to send an alert when a required TLS connection fails?", d.AlertOnRequiredTLSFailure)
	if err != nil {
		return err
	}
	recipients := d.AlertRecipients
	if alert {
		if recipients, err = askList(s, "Enter the alert recipients, separated by commas.", d.AlertRecipients, parseRecipients); err != nil {
			return err
		}
	}
	if err := d.SetAlert(alert, recipients); err != nil {
		return err
	}
	return c.SetClientCertificate(cert)
}

func parseRecipients(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("Please enter a value: at least one email address receives the alert")
	}
	for _, a := range list {
		if err := config.CheckEmail(a); err != nil {
			return nil, err
		}
	}
	return list, nil
}

func destLine(p config.DestPolicy) string {
	conns, msgs := "Default", "Default"
	if p.MaxConnections > 0 {
		conns = strconv.Itoa(p.MaxConnections)
	}
	if p.MaxMessagesPerConnection > 0 {
		msgs = strconv.Itoa(p.MaxMessagesPerConnection)
	}
	return fmt.Sprintf("%-28s %-20s %-12s %s", p.Domain, config.DestTLSLabel(p.TLS), conns, msgs)
}

func destList(s *shell.Session, c *config.Config) {
	s.Println()
	s.Printf("%-28s %-20s %-12s %s\n", "Domain", "TLS", "Concurrency", "Messages/connection")
	def := c.Destinations.Default
	s.Printf("%-28s %-20s %-12d %d\n", "Default", config.DestTLSLabel(def.TLS), def.MaxConnections, def.MaxMessagesPerConnection)
	for _, p := range c.Destinations.Domains {
		s.Println(destLine(p))
	}
}

func destDetail(s *shell.Session, c *config.Config, which string) error {
	d := c.Destinations
	show := func(name string, p config.DestPolicy) {
		eff := d.DestinationFor(name)
		if strings.EqualFold(name, "Default") {
			eff = d.Default
		}
		s.Printf("\n%s\n  TLS: %s (in effect: %s)\n  Maximum concurrent connections: %d\n  Maximum messages per connection: %d\n",
			name, config.DestTLSLabel(p.TLS), config.DestTLSLabel(eff.TLS), eff.MaxConnections, eff.MaxMessagesPerConnection)
	}
	switch strings.ToUpper(which) {
	case "DEFAULT":
		show("Default", d.Default)
	case "ALL":
		show("Default", d.Default)
		for _, p := range d.Domains {
			show(p.Domain, p)
		}
	default:
		p, err := d.FindDestination(which)
		if err != nil {
			return err
		}
		show(p.Domain, *p)
	}
	cert := d.Certificate
	if cert == "" {
		cert = "none"
	}
	s.Printf("\nClient certificate for outgoing TLS: %s\nAlert when a required TLS connection fails: %s\n", cert, map[bool]string{true: "Yes", false: "No"}[d.AlertOnRequiredTLSFailure])
	return nil
}

// applyDestKV sets tls=, conns=, msgs= on a copy of an entry.
func applyDestKV(p *config.DestPolicy, kv map[string]string, isDefault bool) error {
	if v, ok := kv["tls"]; ok {
		p.TLS = strings.ToLower(v)
		if p.TLS == "default" && !isDefault {
			p.TLS = config.DestTLSDefault
		}
		if err := config.CheckDestTLSLevel(p.TLS, isDefault); err != nil {
			return fmt.Errorf("tls=%w", err)
		}
	}
	for key, dst := range map[string]*int{"conns": &p.MaxConnections, "msgs": &p.MaxMessagesPerConnection} {
		if v, ok := kv[key]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || (isDefault && n == 0) {
				return fmt.Errorf("%s=%q is not a valid number", key, v)
			}
			*dst = n
		}
	}
	return nil
}

func destBatch(s *shell.Session, c *config.Config, args []string) error {
	d := &c.Destinations
	verb := strings.ToLower(args[0])
	switch {
	case verb == "list" && len(args) == 1:
		destList(s, c)
		return nil
	case (verb == "new" || verb == "edit") && len(args) >= 2:
		p, old := config.NewDestination(args[1]), ""
		if verb == "new" {
			if err := d.CheckNewDestination(args[1]); err != nil {
				return err
			}
		} else {
			found, err := d.FindDestination(args[1])
			if err != nil {
				return err
			}
			p, old = *found, found.Domain
		}
		kv, err := parseKV(args[2:], "tls", "conns", "msgs")
		if err != nil {
			return err
		}
		if err := applyDestKV(&p, kv, false); err != nil {
			return err
		}
		return d.PutDestination(old, p)
	case verb == "default":
		kv, err := parseKV(args[1:], "tls", "conns", "msgs")
		if err != nil {
			return err
		}
		p := d.Default
		if err := applyDestKV(&p, kv, true); err != nil {
			return err
		}
		return d.SetDefault(p)
	case verb == "delete" && len(args) == 2:
		return d.DeleteDestination(args[1])
	case verb == "setup":
		kv, err := parseKV(args[1:], "certificate", "alert", "recipients")
		if err != nil {
			return err
		}
		cert, alert, recipients := d.Certificate, d.AlertOnRequiredTLSFailure, []string(nil)
		if v, ok := kv["certificate"]; ok {
			cert = v
			if strings.EqualFold(v, "none") {
				cert = ""
			}
		}
		if v, ok := kv["alert"]; ok {
			if alert, err = onOff("destconfig setup alert", v); err != nil {
				return err
			}
		}
		if v, ok := kv["recipients"]; ok {
			recipients = splitList(v)
		}
		next := *c
		if err := next.SetClientCertificate(cert); err != nil {
			return err
		}
		if err := next.Destinations.SetAlert(alert, recipients); err != nil {
			return err
		}
		c.Destinations = next.Destinations
		return nil
	}
	return usage("destconfig", "destconfig list|new|edit|default|delete|setup … (see help destconfig)")
}
