package commands

import (
	"fmt"
	"net/netip"
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
          RELAYLIST (private: networks), CERTIFICATE, LIMITS (idle timeout)
  DELETE  remove a listener (its sessions finish; it stops accepting)
  SETUP   global limit of concurrent inbound connections
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
  listenerconfig delete NAME
  listenerconfig setup MAX_CONNECTIONS
Changes are pending until commit.`

func listenerconfig() shell.Command {
	return shell.Command{
		Name:    "listenerconfig",
		Summary: "Configure SMTP listeners: ports, accepted domains, relaying, certificate and TLS level.",
		Help:    listenerconfigHelp,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 0 {
				return listenerBatch(s, args)
			}
			for {
				c := s.Pending.Config()
				printListeners(s, c)
				op, err := s.Menu([]shell.Op{
					{Word: "NEW", Description: "Create a new listener."},
					{Word: "EDIT", Description: "Modify a listener."},
					{Word: "DELETE", Description: "Remove a listener."},
					{Word: "SETUP", Description: "Change global settings."},
				})
				if err != nil || op == "" {
					return err
				}
				switch op {
				case "NEW":
					err = newListener(s)
				case "EDIT":
					err = editListener(s)
				case "DELETE":
					err = deleteListener(s)
				case "SETUP":
					c.Inbound.MaxConnections, err = askInt(s, "Enter the maximum number of concurrent inbound connections over all listeners (0 for no global limit).", c.Inbound.MaxConnections, 0, 100000)
				}
				if err != nil {
					return err
				}
			}
		},
	}
}

func listenerLine(c *config.Config, l config.Listener) string {
	addr := "?"
	if ifc := c.Interface(l.Interface); ifc != nil {
		addr = ifc.Address
	}
	return fmt.Sprintf("%s (on %s, %s) SMTP TCP Port %d %s", l.Name, l.Interface, addr, l.Port, capitalize(l.Type))
}

func printListeners(s *shell.Session, c *config.Config) {
	s.Println()
	if len(c.Listeners) == 0 {
		s.Println("No listeners are configured.")
		return
	}
	s.Println("Currently configured listeners:")
	for i, l := range c.Listeners {
		s.Printf("%d. %s\n", i+1, listenerLine(c, l))
	}
}

func pickListener(s *shell.Session, c *config.Config, verb string) (int, error) {
	if len(c.Listeners) == 0 {
		return 0, fmt.Errorf("there are no listeners: create one with NEW")
	}
	items := make([]string, len(c.Listeners))
	for i, l := range c.Listeners {
		items[i] = listenerLine(c, l)
	}
	return s.Choose(fmt.Sprintf("Enter the name or number of the listener you wish to %s.", verb), items, 0)
}

func interfaceItems(c *config.Config) []string {
	items := make([]string, len(c.Interfaces))
	for i, ifc := range c.Interfaces {
		items[i] = fmt.Sprintf("%s (%s/%d: %s)", ifc.Name, ifc.Address, ifc.Netmask, ifc.Hostname)
	}
	return items
}

func checkName(kind string, taken func(string) bool) func(string) error {
	return func(a string) error {
		switch {
		case a == "":
			return fmt.Errorf("Please enter a value.")
		case !validName(a):
			return fmt.Errorf("%q is not a valid %s name: start with a letter, then letters, digits, '_', '-' or '.'", a, kind)
		case taken(a):
			return fmt.Errorf("a %s named %q already exists: choose another name", kind, a)
		}
		return nil
	}
}

func validName(a string) bool {
	if a == "" || len(a) > 64 || !(a[0] >= 'A' && a[0] <= 'Z' || a[0] >= 'a' && a[0] <= 'z') {
		return false
	}
	return strings.Trim(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == ""
}

func checkPort(a string) error {
	n, err := strconv.Atoi(a)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("Value must be a TCP port from 1 to 65535")
	}
	return nil
}

func checkDomains(a string) error {
	if len(splitList(a)) == 0 {
		return fmt.Errorf("A Recipient Access Table address can be one of the following: a domain (example.com) or a partial domain (.example.com); enter at least one")
	}
	t := config.Listener{Domains: splitList(a)}
	return fieldProblem(t, "domains")
}

func checkNetworks(a string) error {
	nets := splitList(a)
	if len(nets) == 0 {
		return fmt.Errorf("Please enter a value: the networks allowed to relay, e.g. 127.0.0.0/8")
	}
	for _, n := range nets {
		if _, err := netip.ParsePrefix(n); err != nil {
			if _, err := netip.ParseAddr(n); err != nil {
				return fmt.Errorf("Invalid IP or IP range %q: write an address or a CIDR network such as 192.0.2.0/24", n)
			}
		}
	}
	return nil
}

// normalizeNetworks turns bare addresses into host networks.
func normalizeNetworks(nets []string) []string {
	out := make([]string, len(nets))
	for i, n := range nets {
		if a, err := netip.ParseAddr(n); err == nil {
			n = netip.PrefixFrom(a, a.BitLen()).String()
		}
		out[i] = n
	}
	return out
}

// fieldProblem validates one listener field through the config validator.
func fieldProblem(l config.Listener, field string) error {
	c := &config.Config{Listeners: []config.Listener{l}}
	for _, e := range unwrapAll(config.Validate(c)) {
		if p, ok := e.(config.Problem); ok && strings.HasSuffix(p.Path, "."+field) {
			return fmt.Errorf("%s", p.Message)
		}
	}
	return nil
}

func newListener(s *shell.Session) error {
	c := s.Pending.Config()
	l := config.NewListener("", "", "", 0)
	t, err := s.Choose("Please select the type of listener you want to create.", []string{"Private", "Public"}, 2)
	if err != nil {
		return err
	}
	l.Type = []string{config.ListenerPrivate, config.ListenerPublic}[t]
	if l.Name, err = s.Text(`Please create a name for this listener (Ex: "InboundMail"):`, "", checkName("listener", func(n string) bool { return c.Listener(n) != nil })); err != nil {
		return err
	}
	if len(c.Interfaces) == 0 {
		return fmt.Errorf("there are no IP interfaces: create one with interfaceconfig")
	}
	i, err := s.Choose("Please choose an IP interface for this Listener.", interfaceItems(c), 1)
	if err != nil {
		return err
	}
	l.Interface = c.Interfaces[i].Name
	if l.Port, err = askPort(s, "Enter the TCP port for this listener.", 25); err != nil {
		return err
	}
	if err := askAccess(s, &l); err != nil {
		return err
	}
	if len(c.Certificates) > 0 {
		if l.Certificate, err = chooseCertificate(s, c, config.DemoCertificate); err != nil {
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
	c.Listeners = append(c.Listeners, l)
	s.Printf("\nListener %s created.\n", l.Name)
	return nil
}

func askPort(s *shell.Session, q string, def int) (int, error) {
	var port int
	_, err := s.Text(q, strconv.Itoa(def), func(a string) error {
		if err := checkPort(a); err != nil {
			return err
		}
		port, _ = strconv.Atoi(a)
		return nil
	})
	return port, err
}

// askAccess asks the recipient access table (public) or relay list (private).
func askAccess(s *shell.Session, l *config.Listener) error {
	if l.Type == config.ListenerPublic {
		a, err := s.Text("Enter the domains this listener accepts mail for, separated by commas (example.com; .example.com for its subdomains).", strings.Join(l.Domains, ", "), checkDomains)
		if err != nil {
			return err
		}
		l.Domains = splitList(a)
		return nil
	}
	def := strings.Join(l.RelayFrom, ", ")
	if def == "" {
		def = "127.0.0.0/8, ::1/128"
	}
	a, err := s.Text("Enter the hosts or networks allowed to relay through this listener, separated by commas (e.g. 192.0.2.0/24).", def, checkNetworks)
	if err != nil {
		return err
	}
	l.RelayFrom = normalizeNetworks(splitList(a))
	return nil
}

// hostAccessDefault asks the default mail flow policy, as HOSTACCESS DEFAULT
// does. Turning TLS on with the Demo certificate asks for confirmation unless
// the certificate was just confirmed in the same dialog.
func hostAccessDefault(s *shell.Session, c *config.Config, l *config.Listener, certConfirmed bool) error {
	size, err := askInt(s, "Enter the maximum message size in bytes.", int(l.MaxMessageBytes), 1024, 1<<30)
	if err != nil {
		return err
	}
	conns, err := askInt(s, "Enter the maximum number of concurrent connections allowed in total for this listener.", l.MaxConnections, 1, 100000)
	if err != nil {
		return err
	}
	perIP, err := askInt(s, "Enter the maximum number of concurrent connections allowed from a single IP address.", min(max(l.MaxConnectionsPerIP, 1), conns), 1, conns)
	if err != nil {
		return err
	}
	rcpts, err := askInt(s, "Enter the maximum number of recipients per message.", l.MaxRecipients, 1, 100000)
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
	level := config.TLSLevels[lvl].Value
	if level != config.TLSOff {
		keep := l.Certificate != ""
		if keep && !certConfirmed {
			if keep, err = confirmDemo(s, l.Certificate); err != nil {
				return err
			}
		}
		if !keep {
			if l.Certificate, err = chooseCertificate(s, c, ""); err != nil {
				return err
			}
		}
	}
	l.MaxMessageBytes, l.MaxConnections, l.MaxConnectionsPerIP, l.MaxRecipients, l.TLS = int64(size), conns, perIP, rcpts, level
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

func editListener(s *shell.Session) error {
	c := s.Pending.Config()
	i, err := pickListener(s, c, "edit")
	if err != nil {
		return err
	}
	l := &c.Listeners[i]
	for {
		s.Printf("\nName: %s\nType: %s\nInterface: %s, port %d\n", l.Name, capitalize(l.Type), l.Interface, l.Port)
		ops := []shell.Op{
			{Word: "NAME", Description: "Change the name of the listener."},
			{Word: "INTERFACE", Description: "Change the interface and port."},
			{Word: "HOSTACCESS", Description: "Modify the default host access policy (limits and TLS)."},
		}
		if l.Type == config.ListenerPublic {
			ops = append(ops, shell.Op{Word: "RCPTACCESS", Description: "Modify the Recipient Access Table."})
		} else {
			ops = append(ops, shell.Op{Word: "RELAYLIST", Description: "Modify the hosts allowed to relay."})
		}
		ops = append(ops,
			shell.Op{Word: "CERTIFICATE", Description: "Choose the certificate for TLS."},
			shell.Op{Word: "LIMITS", Description: "Change the idle timeout."})
		op, err := s.Menu(ops)
		if err != nil || op == "" {
			return err
		}
		switch op {
		case "NAME":
			old := l.Name
			l.Name, err = s.Text("Enter the new name for this listener.", l.Name, checkName("listener", func(n string) bool {
				return !strings.EqualFold(n, old) && c.Listener(n) != nil
			}))
		case "INTERFACE":
			var j int
			if j, err = s.Choose("Please choose an IP interface for this Listener.", interfaceItems(c), ifaceIndex(c, l.Interface)+1); err == nil {
				l.Interface = c.Interfaces[j].Name
				l.Port, err = askPort(s, "Enter the TCP port for this listener.", l.Port)
			}
		case "HOSTACCESS":
			err = hostAccess(s, c, l)
		case "RCPTACCESS", "RELAYLIST":
			err = askAccess(s, l)
		case "CERTIFICATE":
			l.Certificate, err = chooseCertificate(s, c, l.Certificate)
		case "LIMITS":
			var secs int
			if secs, err = askInt(s, "Enter the idle timeout in seconds (a session with no command for this long is closed).", int(time.Duration(l.IdleTimeout)/time.Second), 5, 86400); err == nil {
				l.IdleTimeout = config.Duration(time.Duration(secs) * time.Second)
			}
		}
		if err != nil {
			return err
		}
	}
}

func ifaceIndex(c *config.Config, name string) int {
	for i, ifc := range c.Interfaces {
		if strings.EqualFold(ifc.Name, name) {
			return i
		}
	}
	return 0
}

func hostAccess(s *shell.Session, c *config.Config, l *config.Listener) error {
	for {
		op, err := s.Menu([]shell.Op{
			{Word: "DEFAULT", Description: "Edit the default mail flow policy."},
			{Word: "PRINT", Description: "Display the default mail flow policy."},
		})
		if err != nil || op == "" {
			return err
		}
		if op == "PRINT" {
			s.Println()
			printPolicy(s, *l)
			continue
		}
		if err := hostAccessDefault(s, c, l, false); err != nil {
			return err
		}
	}
}

func deleteListener(s *shell.Session) error {
	c := s.Pending.Config()
	i, err := pickListener(s, c, "delete")
	if err != nil {
		return err
	}
	name := c.Listeners[i].Name
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the listener %q? Its open sessions finish, then it stops accepting.", name), false)
	if err != nil || !ok {
		return err
	}
	c.Listeners = append(c.Listeners[:i], c.Listeners[i+1:]...)
	s.Printf("Listener %s deleted.\n", name)
	return nil
}

func listenerBatch(s *shell.Session, args []string) error {
	c := s.Pending.Config()
	verb := strings.ToLower(args[0])
	switch {
	case verb == "setup" && len(args) == 2:
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 {
			return fmt.Errorf("listenerconfig setup: %q is not a connection count: use 0 (no global limit) or a positive number", args[1])
		}
		c.Inbound.MaxConnections = n
		return nil
	case verb == "new" && (len(args) == 6 || len(args) == 7):
		return batchNewListener(c, args[1:])
	case verb == "delete" && len(args) == 2:
		for i, l := range c.Listeners {
			if strings.EqualFold(l.Name, args[1]) {
				c.Listeners = append(c.Listeners[:i], c.Listeners[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("listener %q does not exist: listenerconfig lists them", args[1])
	case verb == "edit" && len(args) >= 4:
		l := c.Listener(args[1])
		if l == nil {
			return fmt.Errorf("listener %q does not exist: listenerconfig lists them", args[1])
		}
		return batchEditListener(c, l, strings.ToLower(args[2]), args[3:])
	}
	return usage("listenerconfig", "listenerconfig new|edit|delete|setup … (see help listenerconfig)")
}

func batchNewListener(c *config.Config, a []string) error {
	typ := strings.ToLower(a[0])
	if typ != config.ListenerPublic && typ != config.ListenerPrivate {
		return fmt.Errorf("listenerconfig new: %q is not a listener type: use public or private", a[0])
	}
	if err := checkName("listener", func(n string) bool { return c.Listener(n) != nil })(a[1]); err != nil {
		return err
	}
	ifc := c.Interface(a[2])
	if ifc == nil {
		return fmt.Errorf("interface %q does not exist: interfaceconfig lists them", a[2])
	}
	if err := checkPort(a[3]); err != nil {
		return err
	}
	port, _ := strconv.Atoi(a[3])
	l := config.NewListener(a[1], typ, ifc.Name, port)
	if typ == config.ListenerPublic {
		if err := checkDomains(a[4]); err != nil {
			return err
		}
		l.Domains = splitList(a[4])
	} else {
		if err := checkNetworks(a[4]); err != nil {
			return err
		}
		l.RelayFrom = normalizeNetworks(splitList(a[4]))
	}
	if len(a) == 6 {
		name, err := certificateByName(c, a[5])
		if err != nil {
			return err
		}
		l.Certificate = name
		l.TLS = config.TLSPreferred
	}
	c.Listeners = append(c.Listeners, l)
	return nil
}

func batchEditListener(c *config.Config, l *config.Listener, what string, v []string) error {
	switch {
	case what == "tls" && len(v) == 1:
		lv := strings.ToLower(v[0])
		for _, x := range config.TLSLevels {
			if x.Value == lv {
				if lv != config.TLSOff && c.Certificate(l.Certificate) == nil {
					return fmt.Errorf("listener %s has no certificate: set one first with listenerconfig edit %s certificate NAME", l.Name, l.Name)
				}
				l.TLS = lv
				return nil
			}
		}
		return fmt.Errorf("%q is not a TLS level: use off, preferred, required, preferred-verify or required-verify", v[0])
	case what == "port" && len(v) == 1:
		if err := checkPort(v[0]); err != nil {
			return err
		}
		l.Port, _ = strconv.Atoi(v[0])
	case what == "certificate" && len(v) == 1:
		name, err := certificateByName(c, v[0])
		if err != nil {
			return err
		}
		l.Certificate = name
	case what == "domains":
		a := strings.Join(v, ",")
		if err := checkDomains(a); err != nil {
			return err
		}
		l.Domains = splitList(a)
	case what == "relay":
		a := strings.Join(v, ",")
		if err := checkNetworks(a); err != nil {
			return err
		}
		l.RelayFrom = normalizeNetworks(splitList(a))
	case what == "limits" && (len(v) == 3 || len(v) == 4):
		n := make([]int, len(v))
		for i, x := range v {
			var err error
			if n[i], err = strconv.Atoi(x); err != nil || n[i] < 1 {
				return fmt.Errorf("listenerconfig edit limits: %q is not a positive number", x)
			}
		}
		l.MaxMessageBytes, l.MaxRecipients, l.MaxConnections = int64(n[0]), n[1], n[2]
		l.MaxConnectionsPerIP = min(l.MaxConnectionsPerIP, l.MaxConnections)
		if len(n) == 4 {
			l.MaxConnectionsPerIP = n[3]
		}
	default:
		return usage("listenerconfig", "listenerconfig edit NAME tls|port|certificate|domains|relay|limits VALUE…")
	}
	return nil
}
