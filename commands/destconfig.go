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
	return shell.Command{
		Name:    "destconfig",
		Summary: "Configure destination controls: outbound TLS per domain, limits, client certificate.",
		Help:    destconfigHelp,
		Run: func(s *shell.Session, args []string) error {
			c := s.Pending.Config()
			if len(args) > 0 {
				return destBatch(s, c, args)
			}
			for {
				s.Printf("\nThere are currently %d entries configured.\n", len(c.Destinations.Domains)+1)
				op, err := s.Menu([]shell.Op{
					{Word: "SETUP", Description: "Change global settings."},
					{Word: "NEW", Description: "Create a new entry."},
					{Word: "EDIT", Description: "Modify an entry."},
					{Word: "DELETE", Description: "Remove an entry."},
					{Word: "DEFAULT", Description: "Change the default."},
					{Word: "LIST", Description: "Display a summary list of all entries."},
					{Word: "DETAIL", Description: "Display details for one destination or all entries."},
					{Word: "CLEAR", Description: "Remove all entries."},
				})
				if err != nil || op == "" {
					return err
				}
				switch op {
				case "SETUP":
					err = destSetup(s, c)
				case "NEW":
					err = destNew(s, c)
				case "EDIT":
					err = destEdit(s, c)
				case "DELETE":
					var d string
					if d, err = s.Text("Enter the domain you wish to delete.", "", nil); err == nil {
						err = destDelete(c, d)
					}
				case "DEFAULT":
					err = destAsk(s, c, &c.Destinations.Default, true)
				case "LIST":
					destList(s, c)
				case "DETAIL":
					var d string
					if d, err = s.Text("Enter the domain you wish to view, ALL or DEFAULT.", "ALL", nil); err == nil {
						err = destDetail(s, c, d)
					}
				case "CLEAR":
					var ok bool
					if ok, err = s.YesNo("Are you sure you want to remove all destination entries?", false); err == nil && ok {
						c.Destinations.Domains = nil
					}
				}
				if err != nil {
					return err
				}
			}
		},
	}
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

// destAsk asks the questions of one entry; isDefault skips the "specific" gates.
func destAsk(s *shell.Session, c *config.Config, p *config.DestPolicy, isDefault bool) error {
	var err error
	if isDefault {
		if p.MaxConnections, err = askInt(s, "Enter the default maximum number of concurrent connections to a destination.", orDefault(p.MaxConnections, 500), 1, 10000); err != nil {
			return err
		}
		if p.MaxMessagesPerConnection, err = askInt(s, "Enter the maximum number of messages per connection.", orDefault(p.MaxMessagesPerConnection, 50), 1, 1000); err != nil {
			return err
		}
		i, err := s.Choose("Do you want to use TLS support?", levelItems(), levelIndex(p.TLS))
		if err != nil {
			return err
		}
		p.TLS = config.DestTLSLevels[i].Value
		return confirmOutboundCert(s, c, p.TLS)
	}
	limit, err := s.YesNo("Do you wish to configure a concurrency limit for "+p.Domain+"?", p.MaxConnections > 0)
	if err != nil {
		return err
	}
	p.MaxConnections = 0
	if limit {
		if p.MaxConnections, err = askInt(s, "Enter the max concurrency limit for \""+p.Domain+"\".", orDefault(c.Destinations.Default.MaxConnections, 500), 1, 10000); err != nil {
			return err
		}
	}
	msgs, err := s.YesNo("Do you wish to configure a maximum messages per connection limit for "+p.Domain+"?", p.MaxMessagesPerConnection > 0)
	if err != nil {
		return err
	}
	p.MaxMessagesPerConnection = 0
	if msgs {
		if p.MaxMessagesPerConnection, err = askInt(s, "Enter the maximum number of messages per connection for \""+p.Domain+"\".", orDefault(c.Destinations.Default.MaxMessagesPerConnection, 50), 1, 1000); err != nil {
			return err
		}
	}
	specific, err := s.YesNo("Do you wish to apply a specific TLS setting for this domain?", p.TLS != config.DestTLSDefault)
	if err != nil {
		return err
	}
	p.TLS = config.DestTLSDefault
	if specific {
		i, err := s.Choose("Do you want to use TLS support?", levelItems(), levelIndex(p.TLS))
		if err != nil {
			return err
		}
		p.TLS = config.DestTLSLevels[i].Value
		return confirmOutboundCert(s, c, p.TLS)
	}
	return nil
}

// confirmOutboundCert warns when TLS is chosen while the client certificate is the Demo one.
func confirmOutboundCert(s *shell.Session, c *config.Config, level string) error {
	if level == config.DestTLSNone || !strings.EqualFold(c.Destinations.Certificate, config.DemoCertificate) {
		return nil
	}
	ok, err := confirmDemo(s, c.Destinations.Certificate)
	if err == nil && !ok {
		s.Println("Choose another client certificate with destconfig SETUP.")
	}
	return err
}

func checkDestDomain(c *config.Config, isNew bool) func(string) error {
	return func(a string) error {
		if a == "" || fieldProblem(config.Listener{Domains: []string{a}}, "domains") != nil {
			return fmt.Errorf("%q is not a domain: write example.com, or .example.com for its subdomains", a)
		}
		_, err := findDest(c, a)
		if isNew && err == nil {
			return fmt.Errorf("there is already an entry for %s: use EDIT", a)
		}
		if !isNew && err != nil {
			return err
		}
		return nil
	}
}

func findDest(c *config.Config, domain string) (int, error) {
	for i, d := range c.Destinations.Domains {
		if strings.EqualFold(d.Domain, domain) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("the domain %q was not found in the destination controls table: destconfig LIST shows them", domain)
}

func destNew(s *shell.Session, c *config.Config) error {
	d, err := s.Text("Enter the domain you wish to configure.", "", checkDestDomain(c, true))
	if err != nil {
		return err
	}
	p := config.DestPolicy{Domain: d}
	if err := destAsk(s, c, &p, false); err != nil {
		return err
	}
	c.Destinations.Domains = append(c.Destinations.Domains, p)
	return nil
}

func destEdit(s *shell.Session, c *config.Config) error {
	d, err := s.Text("Enter the domain you wish to edit.", "", checkDestDomain(c, false))
	if err != nil {
		return err
	}
	i, _ := findDest(c, d)
	return destAsk(s, c, &c.Destinations.Domains[i], false)
}

func destDelete(c *config.Config, domain string) error {
	i, err := findDest(c, domain)
	if err != nil {
		return err
	}
	c.Destinations.Domains = append(c.Destinations.Domains[:i], c.Destinations.Domains[i+1:]...)
	return nil
}

func destSetup(s *shell.Session, c *config.Config) error {
	d := &c.Destinations
	use, err := s.YesNo("Do you want to offer a client certificate for outgoing TLS connections?", d.Certificate != "")
	if err != nil {
		return err
	}
	d.Certificate = ""
	if use {
		if d.Certificate, err = chooseCertificate(s, c, d.Certificate); err != nil {
			return err
		}
	}
	if d.AlertOnRequiredTLSFailure, err = s.YesNo("Do you want to send an alert when a required TLS connection fails?", d.AlertOnRequiredTLSFailure); err != nil {
		return err
	}
	if d.AlertOnRequiredTLSFailure {
		a, err := s.Text("Enter the alert recipients, separated by commas.", strings.Join(d.AlertRecipients, ", "), func(a string) error {
			if len(splitList(a)) == 0 {
				return fmt.Errorf("Please enter a value: at least one email address")
			}
			return nil
		})
		if err != nil {
			return err
		}
		d.AlertRecipients = splitList(a)
	}
	return nil
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
		i, err := findDest(c, which)
		if err != nil {
			return err
		}
		show(d.Domains[i].Domain, d.Domains[i])
	}
	cert := d.Certificate
	if cert == "" {
		cert = "none"
	}
	s.Printf("\nClient certificate for outgoing TLS: %s\nAlert when a required TLS connection fails: %s\n", cert, map[bool]string{true: "Yes", false: "No"}[d.AlertOnRequiredTLSFailure])
	return nil
}

// applyDestKV sets tls=, conns=, msgs= on an entry.
func applyDestKV(p *config.DestPolicy, kv map[string]string, isDefault bool) error {
	if v, ok := kv["tls"]; ok {
		lv := strings.ToLower(v)
		if lv == "default" && !isDefault {
			lv = config.DestTLSDefault
		} else if config.DestTLSLabel(lv) == "Default" {
			return fmt.Errorf("tls=%q is not a TLS level: use none, preferred, required, preferred-verify or required-verify%s", v, map[bool]string{true: "", false: " (or default)"}[isDefault])
		}
		p.TLS = lv
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
	verb := strings.ToLower(args[0])
	switch {
	case verb == "list" && len(args) == 1:
		destList(s, c)
		return nil
	case (verb == "new" || verb == "edit") && len(args) >= 2:
		if err := checkDestDomain(c, verb == "new")(args[1]); err != nil {
			return err
		}
		kv, err := parseKV(args[2:], "tls", "conns", "msgs")
		if err != nil {
			return err
		}
		p := config.DestPolicy{Domain: args[1]}
		i := -1
		if verb == "edit" {
			i, _ = findDest(c, args[1])
			p = c.Destinations.Domains[i]
		}
		if err := applyDestKV(&p, kv, false); err != nil {
			return err
		}
		if i < 0 {
			c.Destinations.Domains = append(c.Destinations.Domains, p)
		} else {
			c.Destinations.Domains[i] = p
		}
		return nil
	case verb == "default":
		kv, err := parseKV(args[1:], "tls", "conns", "msgs")
		if err != nil {
			return err
		}
		return applyDestKV(&c.Destinations.Default, kv, true)
	case verb == "delete" && len(args) == 2:
		return destDelete(c, args[1])
	case verb == "setup":
		kv, err := parseKV(args[1:], "certificate", "alert", "recipients")
		if err != nil {
			return err
		}
		d := &c.Destinations
		if v, ok := kv["certificate"]; ok {
			if strings.EqualFold(v, "none") {
				d.Certificate = ""
			} else if d.Certificate, err = certificateByName(c, v); err != nil {
				return err
			}
		}
		if v, ok := kv["alert"]; ok {
			if d.AlertOnRequiredTLSFailure, err = onOff("destconfig setup alert", v); err != nil {
				return err
			}
		}
		if v, ok := kv["recipients"]; ok {
			d.AlertRecipients = splitList(v)
		}
		return nil
	}
	return usage("destconfig", "destconfig list|new|edit|default|delete|setup … (see help destconfig)")
}
