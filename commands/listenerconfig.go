package commands

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"relaybox/config"
	"relaybox/shell"
)

const listenerconfigHelp = `Creates, edits and deletes SMTP listeners.

Dialog: listenerconfig lists "Currently configured listeners:", then
  NEW     type (Public/Private), name, interface, port, accepted domains (public) or
          relay networks (private), certificate, default host access policy
  EDIT    NAME, INTERFACE (interface and port), HOSTACCESS (DEFAULT: message size,
          connections, recipients, TLS level), RCPTACCESS (public: domains),
          RELAYLIST (private: networks), CERTIFICATE, LIMITS (idle timeout),
          LDAPACCEPT (public: the LDAP accept query that refuses unknown
          recipients at RCPT; see ldapconfig)
  DELETE  remove a listener (its sessions finish; it stops accepting)
  SETUP   global limit of concurrent inbound connections
A listener is chosen by name or number; Enter at a question without a default
goes back to the menu, and Enter elsewhere keeps the value shown.
TLS levels: 1. No 2. Preferred 3. Required 4. Preferred - Verify 5. Required - Verify.
A public listener accepts mail only for its domains (never an open relay); a private
listener accepts connections only from its relay networks.

Batch forms:
  listenerconfig new public|private NAME INTERFACE PORT DOMAINS|NETWORKS [CERTIFICATE]
  listenerconfig edit NAME tls off|preferred|required|preferred-verify|required-verify
  listenerconfig edit NAME port PORT
  listenerconfig edit NAME certificate CERTIFICATE
  listenerconfig edit NAME domains DOMAIN[,DOMAIN...]
  listenerconfig edit NAME relay CIDR[,CIDR...]
  listenerconfig edit NAME limits SIZE_BYTES RECIPIENTS CONNECTIONS [CONNECTIONS_PER_IP]
  listenerconfig edit NAME ldapaccept PROFILE.ldapaccept|none
  listenerconfig delete NAME
  listenerconfig setup MAX_CONNECTIONS
Changes are pending until commit.`

func listenerconfig() shell.Command {
	return command("listenerconfig", "Configure SMTP listeners: ports, accepted domains, relaying, certificate and TLS level.", listenerconfigHelp,
		listenerBatch, func(s *shell.Session) error {
			return loopMenu(s, func() { printListeners(s, s.Pending.Config()) }, fixed(
				menuOp{"NEW", "Create a new listener.", func() error { return newListener(s) }},
				menuOp{"EDIT", "Modify a listener.", func() error { return editListener(s) }},
				menuOp{"DELETE", "Remove a listener.", func() error { return deleteListener(s) }},
				menuOp{"SETUP", "Change global settings.", func() error {
					in := &s.Pending.Config().Inbound
					n, err := askInt(s, "Enter the maximum number of concurrent inbound connections over all listeners (0 for no global limit).", in.MaxConnections, config.InboundConnectionRange)
					if err != nil {
						return err
					}
					return in.SetMaxConnections(n)
				}},
			))
		})
}

func listenerLine(c *config.Config, l config.Listener) string {
	addr := "?"
	if ifc := c.Interface(l.Interface); ifc != nil {
		addr = ifc.Address
	}
	return fmt.Sprintf("%s (on %s, %s) SMTP TCP Port %d %s", l.Name, l.Interface, addr, l.Port, capitalize(l.Type))
}

func printListeners(s *shell.Session, c *config.Config) {
	lines := make([]string, len(c.Listeners))
	for i, l := range c.Listeners {
		lines[i] = fmt.Sprintf("%d. %s", i+1, listenerLine(c, l))
	}
	printList(s, "No listeners are configured.", "Currently configured listeners:", lines)
}

// pickListener asks for a listener by name or number; Enter goes back.
func pickListener(s *shell.Session, c *config.Config, verb string) (*config.Listener, error) {
	names, texts := make([]string, len(c.Listeners)), make([]string, len(c.Listeners))
	for i, l := range c.Listeners {
		names[i], texts[i] = l.Name, listenerLine(c, l)
	}
	i, err := pickFrom(s, fmt.Sprintf("Enter the name or number of the listener you wish to %s.", verb), numbered(names, texts), 0)
	if err != nil {
		return nil, err
	}
	return &c.Listeners[i], nil
}

// listenerNameCheck checks a listener's name at its prompt: valid, and not
// another listener's.
func listenerNameCheck(c *config.Config, current string) func(string) error {
	return func(a string) error {
		taken := ""
		if l := c.Listener(a); l != nil && !strings.EqualFold(a, current) {
			taken = l.Name
		}
		return config.CheckNewName(config.KindListener, a, taken)
	}
}

func newListener(s *shell.Session) error {
	c := s.Pending.Config()
	t, err := s.Choose("Please select the type of listener you want to create.", []string{"Private", "Public"}, 2)
	if err != nil {
		return err
	}
	l := config.NewListener("", []string{config.ListenerPrivate, config.ListenerPublic}[t], "", config.DefaultSMTPPort)
	if l.Name, err = askNew(s, `Please create a name for this listener (Ex: "InboundMail"):`, listenerNameCheck(c, "")); err != nil {
		return err
	}
	if err := askInterface(s, c, &l); err != nil {
		return err
	}
	if err := askAccess(s, &l); err != nil {
		return err
	}
	if len(c.Certificates) > 0 {
		if l.Certificate, err = chooseCertificate(s, c, "", config.DemoCertificate); err != nil {
			return err
		}
	}
	change, err := s.YesNo("Do you want to change the default host access policy?", false)
	if err != nil {
		return err
	}
	if change {
		if err := hostAccessDefault(s, c, &l, true); err != nil {
			return err
		}
	}
	if err := c.PutListener("", l); err != nil {
		return err
	}
	s.Printf("\nListener %s created.\n", l.Name)
	return nil
}

// askInterface asks the listener's interface and port.
func askInterface(s *shell.Session, c *config.Config, l *config.Listener) error {
	if len(c.Interfaces) == 0 {
		return fmt.Errorf("there are no IP interfaces: create one with interfaceconfig")
	}
	items := interfaceItems(c)
	i, err := pickFrom(s, "Please choose an IP interface for this Listener.", items, max(1, indexOf(interfaceNames(c), l.Interface)))
	if err != nil {
		return err
	}
	l.Interface = c.Interfaces[i].Name
	l.Port, err = askPort(s, "Enter the TCP port for this listener.", l.Port)
	return err
}

func interfaceNames(c *config.Config) []string {
	out := make([]string, len(c.Interfaces))
	for i, ifc := range c.Interfaces {
		out[i] = ifc.Name
	}
	return out
}

// askAccess asks the recipient access table (public) or relay list (private).
func askAccess(s *shell.Session, l *config.Listener) error {
	var err error
	if l.Type == config.ListenerPublic {
		l.Domains, err = askList(s, "Enter the domains this listener accepts mail for, separated by commas (example.com; .example.com for its subdomains).", l.Domains, config.ParseDomains)
		return err
	}
	def := l.RelayFrom
	if len(def) == 0 {
		def = config.DefaultRelayFrom
	}
	l.RelayFrom, err = askList(s, "Enter the hosts or networks allowed to relay through this listener, separated by commas (e.g. 192.0.2.0/24).", def, config.ParseNetworks)
	return err
}

// hostAccessDefault asks the default mail flow policy, as HOSTACCESS DEFAULT
// does. Turning TLS on with the Demo certificate asks for confirmation unless
// the certificate was just confirmed in the same dialog; keeping TLS on with
// the certificate in use asks nothing.
func hostAccessDefault(s *shell.Session, c *config.Config, l *config.Listener, certConfirmed bool) error {
	size, err := askInt(s, "Enter the maximum message size in bytes.", int(l.MaxMessageBytes), config.MessageSizeRange)
	if err != nil {
		return err
	}
	conns, err := askInt(s, "Enter the maximum number of concurrent connections allowed in total for this listener.", l.MaxConnections, config.ListenerConnectionRange)
	if err != nil {
		return err
	}
	perIP, err := askInt(s, "Enter the maximum number of concurrent connections allowed from a single IP address.", min(max(l.MaxConnectionsPerIP, 1), conns), config.PerIPRange(conns))
	if err != nil {
		return err
	}
	rcpts, err := askInt(s, "Enter the maximum number of recipients per message.", l.MaxRecipients, config.RecipientRange)
	if err != nil {
		return err
	}
	items := make([]string, len(config.TLSLevels))
	def := 1
	for i, lv := range config.TLSLevels {
		items[i] = lv.Label
		if lv.Value == l.TLS {
			def = i + 1
		}
	}
	lvl, err := s.Choose("Do you want to allow encrypted TLS connections?", items, def)
	if err != nil {
		return err
	}
	next := *l
	next.TLS = config.TLSLevels[lvl].Value
	if err := next.SetLimits(size, rcpts, conns, perIP); err != nil {
		return err
	}
	if next.TLS != config.TLSOff && !certConfirmed && (l.TLS == config.TLSOff || l.Certificate == "") {
		// TLS starts using the certificate now.
		keep := l.Certificate != ""
		if keep {
			if keep, err = confirmDemo(s, l.Certificate); err != nil {
				return err
			}
		}
		if !keep {
			if next.Certificate, err = chooseCertificate(s, c, "", ""); err != nil {
				return err
			}
		}
	}
	*l = next
	s.Println()
	s.Println("Default Policy Parameters")
	s.Println("==========================")
	printPolicy(s, *l)
	return nil
}

func printPolicy(s *shell.Session, l config.Listener) {
	s.Printf("Maximum Message Size: %d bytes\n", l.MaxMessageBytes)
	s.Printf("Maximum Concurrent Connections: %d\n", l.MaxConnections)
	s.Printf("Maximum Concurrent Connections From a Single IP: %d\n", l.MaxConnectionsPerIP)
	s.Printf("Maximum Recipients Per Message: %d\n", l.MaxRecipients)
	s.Printf("Idle Timeout: %s\n", time.Duration(l.IdleTimeout))
	s.Printf("Use TLS: %s\n", config.TLSLevelLabel(l.TLS))
	if l.TLS != config.TLSOff {
		s.Printf("Certificate: %s\n", l.Certificate)
	}
}

// editListener edits a copy of the listener and stores it with PutListener
// after each operation, so a refused answer leaves the listener as it was.
func editListener(s *shell.Session) error {
	c := s.Pending.Config()
	picked, err := pickListener(s, c, "edit")
	if err != nil {
		return err
	}
	name := picked.Name
	get := func() *config.Listener { return c.Listener(name) }
	edit := func(f func(l *config.Listener) error) func() error {
		return func() error {
			l := *get()
			if err := f(&l); err != nil {
				return err
			}
			if err := c.PutListener(name, l); err != nil {
				return err
			}
			name = l.Name
			return nil
		}
	}
	return loopMenu(s, func() {
		l := get()
		s.Printf("\nName: %s\nType: %s\nInterface: %s, port %d\n", l.Name, capitalize(l.Type), l.Interface, l.Port)
		if l.LDAPAccept != "" {
			s.Printf("LDAP accept query: %s\n", l.LDAPAccept)
		}
	}, func() []menuOp {
		access := menuOp{"RELAYLIST", "Modify the hosts allowed to relay.", edit(func(l *config.Listener) error { return askAccess(s, l) })}
		if get().Type == config.ListenerPublic {
			access.word, access.description = "RCPTACCESS", "Modify the Recipient Access Table."
		}
		ops := []menuOp{
			{"NAME", "Change the name of the listener.", edit(func(l *config.Listener) error {
				var err error
				l.Name, err = s.Text("Enter the new name for this listener.", l.Name, listenerNameCheck(c, l.Name))
				return err
			})},
			{"INTERFACE", "Change the interface and port.", edit(func(l *config.Listener) error { return askInterface(s, c, l) })},
			{"HOSTACCESS", "Modify the default host access policy (limits and TLS).", func() error { return hostAccess(s, c, get, edit) }},
			access,
			{"CERTIFICATE", "Choose the certificate for TLS.", edit(func(l *config.Listener) error {
				var err error
				l.Certificate, err = chooseCertificate(s, c, l.Certificate, l.Certificate)
				return err
			})},
			{"LIMITS", "Change the idle timeout.", edit(func(l *config.Listener) error {
				secs, err := askInt(s, "Enter the idle timeout in seconds (a session with no command for this long is closed).", seconds(l.IdleTimeout), config.IdleSecondsRange)
				if err != nil {
					return err
				}
				return l.SetIdleTimeout(secs)
			})},
		}
		if get().Type == config.ListenerPublic {
			ops = append(ops, menuOp{"LDAPACCEPT", "Configure an LDAP accept query: unknown recipients are refused at RCPT time.", func() error {
				return chooseLDAPAccept(s, c, get())
			}})
		}
		return ops
	})
}

// chooseLDAPAccept picks the listener's LDAP accept query, or none.
func chooseLDAPAccept(s *shell.Session, c *config.Config, l *config.Listener) error {
	items := []string{"None"}
	queries := []string{""}
	def := 1
	for _, p := range c.LDAP.Profiles {
		if p.AcceptQuery == "" {
			continue
		}
		queries = append(queries, p.QueryName())
		items = append(items, p.QueryName()+" "+p.AcceptQuery)
		if strings.EqualFold(p.QueryName(), l.LDAPAccept) {
			def = len(items)
		}
	}
	if len(items) == 1 {
		s.Println("\nThere is no LDAP accept query: create a server configuration with ldapconfig NEW.")
	}
	i, err := s.Choose("Select the LDAP accept query for this listener (recipients it does not find are refused at RCPT time with 550; while the directory cannot answer, with 451):", items, def)
	if err != nil {
		return err
	}
	return c.SetLDAPAccept(l.Name, queries[i])
}

func hostAccess(s *shell.Session, c *config.Config, get func() *config.Listener, edit func(func(*config.Listener) error) func() error) error {
	return loopMenu(s, nil, fixed(
		menuOp{"DEFAULT", "Edit the default mail flow policy.", edit(func(l *config.Listener) error { return hostAccessDefault(s, c, l, false) })},
		menuOp{"PRINT", "Display the default mail flow policy.", func() error {
			s.Println()
			printPolicy(s, *get())
			return nil
		}},
	))
}

func deleteListener(s *shell.Session) error {
	c := s.Pending.Config()
	l, err := pickListener(s, c, "delete")
	if err != nil {
		return err
	}
	name := l.Name
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the listener %q? Its open sessions finish, then it stops accepting.", name), false)
	if err != nil || !ok {
		return err
	}
	if err := c.DeleteListener(name); err != nil {
		return err
	}
	s.Printf("Listener %s deleted.\n", name)
	return nil
}

func listenerBatch(s *shell.Session, args []string) error {
	c := s.Pending.Config()
	verb := strings.ToLower(args[0])
	switch {
	case verb == "setup" && len(args) == 2:
		n, err := config.InboundConnectionRange.Parse(args[1])
		if err != nil {
			return fmt.Errorf("listenerconfig setup: %w (0: no global limit)", err)
		}
		return c.Inbound.SetMaxConnections(n)
	case verb == "new" && (len(args) == 6 || len(args) == 7):
		return batchNewListener(c, args[1:])
	case verb == "delete" && len(args) == 2:
		return c.DeleteListener(args[1])
	case verb == "edit" && len(args) == 4 && strings.EqualFold(args[2], "ldapaccept"):
		q := args[3]
		if strings.EqualFold(q, "none") {
			q = ""
		}
		return c.SetLDAPAccept(args[1], q)
	case verb == "edit" && len(args) >= 4:
		l, err := c.FindListener(args[1])
		if err != nil {
			return err
		}
		next := *l
		if err := batchEditListener(&next, strings.ToLower(args[2]), args[3:]); err != nil {
			return err
		}
		return c.PutListener(l.Name, next)
	}
	return usage("listenerconfig", "listenerconfig new|edit|delete|setup … (see help listenerconfig)")
}

// batchNewListener: listenerconfig new TYPE NAME INTERFACE PORT DOMAINS|NETWORKS [CERTIFICATE];
// with a certificate, TLS is Preferred.
func batchNewListener(c *config.Config, a []string) error {
	typ := strings.ToLower(a[0])
	if typ != config.ListenerPublic && typ != config.ListenerPrivate {
		return fmt.Errorf("listenerconfig new: %q is not a listener type: use public or private", a[0])
	}
	port, err := config.ParsePort(a[3])
	if err != nil {
		return err
	}
	l := config.NewListener(a[1], typ, a[2], port)
	what := "relay"
	if typ == config.ListenerPublic {
		what = "domains"
	}
	if err := batchEditListener(&l, what, a[4:5]); err != nil {
		return err
	}
	if len(a) == 6 {
		l.Certificate, l.TLS = a[5], config.TLSPreferred
	}
	return c.PutListener("", l)
}

// batchEditListener applies "listenerconfig edit NAME WHAT VALUE…" to a copy.
func batchEditListener(l *config.Listener, what string, v []string) error {
	var err error
	switch {
	case what == "tls" && len(v) == 1:
		l.TLS = strings.ToLower(v[0])
	case what == "port" && len(v) == 1:
		l.Port, err = config.ParsePort(v[0])
	case what == "certificate" && len(v) == 1:
		l.Certificate = v[0]
	case what == "domains":
		l.Domains, err = config.ParseDomains(splitList(strings.Join(v, ",")))
	case what == "relay":
		l.RelayFrom, err = config.ParseNetworks(splitList(strings.Join(v, ",")))
	case what == "limits" && (len(v) == 3 || len(v) == 4):
		n := make([]int, 4)
		for i, x := range v {
			if n[i], err = strconv.Atoi(x); err != nil || n[i] < 1 {
				return fmt.Errorf("listenerconfig edit limits: %q is not a positive number", x)
			}
		}
		err = l.SetLimits(n[0], n[1], n[2], n[3])
	default:
		return usage("listenerconfig", "listenerconfig edit NAME tls|port|certificate|domains|relay|limits|ldapaccept VALUE…")
	}
	return err
}
