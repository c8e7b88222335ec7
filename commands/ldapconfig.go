package commands

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"relaybox/config"
	"relaybox/mailengine/ldapcheck"
	"relaybox/shell"
)

const ldapconfigHelp = `Creates, edits, deletes and tests LDAP server profiles, each with its accept
query, and sets the LDAP global settings.

Dialog: ldapconfig lists the server profiles, then
  NEW     name, host(s) tried in order, connection (None, SSL (LDAPS) or
          StartTLS), port, anonymous or password bind (bind DN and password),
          base DN, accept query
  SETUP   the LDAP global settings: the client certificate presented to a
          server that asks for one
  EDIT    SERVER (hosts, connection, port, bind, base), LDAPACCEPT (the query),
          ADVANCED (timeout, cache times and size, connections), TEST
  DELETE  remove a profile no listener uses
  TEST    run a profile's accept query for an address (as ldaptest does)
The accept query PROFILE.ldapaccept is an LDAP filter with the recipient in it:
{a} the address, {u} its local part, {d} its domain, e.g. (mail={a}). A public
listener refuses at RCPT the recipients it does not find (listenerconfig EDIT
LDAPACCEPT). TLS follows sslconfig OTHER_CLIENT_TLSV10, PEER_CERT_X509 and
PEER_CERT_FQDN. The bind password is a secret: never echoed, shown as ********.

Batch forms:
  ldapconfig new NAME host=HOST[,HOST...] base=DN [port=N] [connection=none|ssl|starttls]
      [bind_dn=DN bind_password=PASSWORD] [query=FILTER|none] [timeout=SECONDS]
      [cache_ttl=SECONDS] [negative_ttl=SECONDS] [cache_size=N] [max_connections=N]
  ldapconfig edit NAME KEY=VALUE...   (the keys of new, and name=NEWNAME)
  ldapconfig delete NAME
  ldapconfig setup certificate=NAME|none
  ldapconfig test NAME ADDRESS
Changes are pending until commit; TEST uses the pending settings.`

const ldapconfigForm = "ldapconfig new NAME KEY=VALUE... | edit NAME KEY=VALUE... | delete NAME | setup certificate=NAME|none | test NAME ADDRESS"

// ldapKeys are the KEY=VALUE words of the new and edit batch forms.
var ldapKeys = []string{"host", "base", "port", "connection", "bind_dn", "bind_password", "query",
	"timeout", "cache_ttl", "negative_ttl", "cache_size", "max_connections", "name"}

func ldapconfig(app *App) shell.Command {
	cmd := command("ldapconfig", "Configure LDAP server profiles and accept queries that validate recipients.", ldapconfigHelp,
		func(s *shell.Session, args []string) error { return ldapBatch(s, app, args) },
		func(s *shell.Session) error {
			return loopMenu(s, func() { printLDAP(s, s.Pending.Config()) }, func() []menuOp {
				ops := []menuOp{
					{"NEW", "Create a new server configuration.", func() error { return newLDAPProfile(s) }},
					{"SETUP", "Configure LDAP options.", func() error { return ldapSetup(s) }},
				}
				if len(s.Pending.Config().LDAP.Profiles) > 0 {
					ops = append(ops,
						menuOp{"EDIT", "Modify a server configuration.", func() error { return editLDAPProfile(s, app) }},
						menuOp{"DELETE", "Remove a server configuration.", func() error { return deleteLDAPProfile(s) }},
						menuOp{"TEST", "Test a server configuration's accept query.", func() error {
							p, err := pickLDAPProfile(s, s.Pending.Config(), "test")
							if err != nil {
								return err
							}
							return ldapTestDialog(s, app, p.Name)
						}})
				}
				return ops
			})
		})
	cmd.Secrets = func(args []string) []int {
		var out []int
		for i, a := range args {
			if strings.HasPrefix(strings.ToLower(a), "bind_password=") {
				out = append(out, i)
			}
		}
		return out
	}
	return cmd
}

// ldapLine says a profile in one line.
func ldapLine(p config.LDAPProfile) string {
	bind := "anonymous bind"
	if p.BindDN != "" {
		bind = "bind " + p.BindDN
	}
	query := "no accept query"
	if p.AcceptQuery != "" {
		query = p.QueryName() + " " + p.AcceptQuery
	}
	return fmt.Sprintf("%s: %s port %d, %s, %s, base %s, %s", p.Name, strings.Join(p.Hosts, ", "), p.Port,
		config.LDAPConnectionLabel(p.Connection), bind, p.BaseDN, query)
}

func printLDAP(s *shell.Session, c *config.Config) {
	lines := make([]string, len(c.LDAP.Profiles))
	for i, p := range c.LDAP.Profiles {
		lines[i] = fmt.Sprintf("%d. %s", i+1, ldapLine(p))
	}
	printList(s, "No LDAP server configurations.", "LDAP server configurations:", lines)
	cert := c.LDAP.Certificate
	if cert == "" {
		cert = "none"
	}
	s.Printf("LDAP client certificate: %s\n", cert)
}

func pickLDAPProfile(s *shell.Session, c *config.Config, verb string) (*config.LDAPProfile, error) {
	names, texts := make([]string, len(c.LDAP.Profiles)), make([]string, len(c.LDAP.Profiles))
	for i, p := range c.LDAP.Profiles {
		names[i], texts[i] = p.Name, ldapLine(p)
	}
	i, err := pickFrom(s, fmt.Sprintf("Enter the name or number of the server configuration you wish to %s.", verb), numbered(names, texts), 0)
	if err != nil {
		return nil, err
	}
	return &c.LDAP.Profiles[i], nil
}

func ldapNameCheck(c *config.Config, current string) func(string) error {
	return func(a string) error {
		taken := ""
		if p := c.LDAPProfile(a); p != nil && !strings.EqualFold(a, current) {
			taken = p.Name
		}
		return config.CheckNewName(config.KindLDAPProfile, a, taken)
	}
}

func newLDAPProfile(s *shell.Session) error {
	c := s.Pending.Config()
	name, err := askNew(s, `Please create a name for this server configuration (Ex: "PublicLDAP"):`, ldapNameCheck(c, ""))
	if err != nil {
		return err
	}
	p := config.NewLDAPProfile(name)
	if err := askLDAPServer(s, &p); err != nil {
		return err
	}
	if err := askAcceptQuery(s, &p); err != nil {
		return err
	}
	if err := c.PutLDAPProfile("", p); err != nil {
		return err
	}
	s.Printf("\nServer configuration %s created; its accept query is %s.\n", p.Name, p.QueryName())
	return nil
}

// askLDAPServer asks the server settings: hosts, connection, port, bind, base.
func askLDAPServer(s *shell.Session, p *config.LDAPProfile) error {
	hosts, err := askList(s, "Please enter the hostname (several, separated by commas, are tried in order):", p.Hosts, config.ParseLDAPHosts)
	if err != nil {
		return err
	}
	items := make([]string, len(config.LDAPConnections))
	def := 1
	for i, k := range config.LDAPConnections {
		items[i] = k.Label
		if k.Value == p.Connection {
			def = i + 1
		}
	}
	k, err := s.Choose("Select the connection to the LDAP server:", items, def)
	if err != nil {
		return err
	}
	conn := config.LDAPConnections[k].Value
	port := p.Port
	if conn != p.Connection && (port == config.LDAPPort || port == config.LDAPSPort) {
		port = config.LDAPPort
		if conn == config.LDAPSSL {
			port = config.LDAPSPort
		}
	}
	if port, err = askPort(s, "Please enter the port number:", port); err != nil {
		return err
	}
	authDef := 1
	if p.BindDN != "" {
		authDef = 2
	}
	auth, err := s.Choose("Select the authentication method to use for this server configuration:", []string{"Anonymous", "Password based"}, authDef)
	if err != nil {
		return err
	}
	bindDN, bindPW := "", ""
	if auth == 1 {
		if bindDN, err = s.Text("Please enter the bind DN:", p.BindDN, func(a string) error { return config.CheckDN("bind DN", a) }); err != nil {
			return err
		}
		bindPW = p.BindPassword
		question := "Please enter the bind password:"
		if bindPW != "" {
			question = "Please enter the bind password (Enter keeps the current one):"
		}
		pw, err := s.Secret(question, func(a string) error {
			if a == "" && bindPW == "" {
				return fmt.Errorf("Please enter a value: the bind password of %s", bindDN)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if pw != "" {
			bindPW = pw
		}
	}
	base := p.BaseDN
	if base == "" {
		base = baseFromHost(hosts[0])
	}
	if base, err = s.Text("Please enter the base DN:", base, func(a string) error { return config.CheckDN("base DN", a) }); err != nil {
		return err
	}
	p.Hosts, p.Connection, p.Port, p.BindDN, p.BindPassword, p.BaseDN = hosts, conn, port, bindDN, bindPW, base
	return nil
}

// baseFromHost guesses the base DN from the server's domain, as AsyncOS
// does: ldap.example.com gives dc=example,dc=com.
func baseFromHost(host string) string {
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	if len(labels) > 2 {
		labels = labels[1:]
	}
	if len(labels) < 2 {
		return ""
	}
	return "dc=" + strings.Join(labels, ",dc=")
}

// askAcceptQuery asks the accept query; NONE removes it.
func askAcceptQuery(s *shell.Session, p *config.LDAPProfile) error {
	def := p.AcceptQuery
	if def == "" {
		def = "NONE"
	}
	a, err := s.Text(fmt.Sprintf("Enter the LDAP query string of %s ({a} address, {u} local part, {d} domain; NONE for no accept query):", p.QueryName()), def, func(a string) error {
		if strings.EqualFold(a, "none") {
			return nil
		}
		return config.CheckAcceptQuery(a)
	})
	if err != nil {
		return err
	}
	if strings.EqualFold(a, "none") {
		a = ""
	}
	p.AcceptQuery = a
	return nil
}

func askLDAPAdvanced(s *shell.Session, p *config.LDAPProfile) error {
	var err error
	timeout, err := askInt(s, "Please enter the timeout for connecting, binding and one query, in seconds:", seconds(p.Timeout), config.LDAPTimeoutRange)
	if err != nil {
		return err
	}
	ttl, err := askInt(s, "Please enter the cache time-to-live of an address found, in seconds (0: not cached):", seconds(p.CacheTTL), config.LDAPCacheTTLRange)
	if err != nil {
		return err
	}
	neg, err := askInt(s, "Please enter the cache time-to-live of an address not found, in seconds (0: not cached):", seconds(p.NegativeTTL), config.LDAPNegativeTTLRange)
	if err != nil {
		return err
	}
	size, err := askInt(s, "Please enter the maximum number of cache entries to retain:", p.CacheSize, config.LDAPCacheSizeRange)
	if err != nil {
		return err
	}
	conns, err := askInt(s, "Please enter the maximum number of simultaneous connections:", p.MaxConnections, config.LDAPConnectionsRange)
	if err != nil {
		return err
	}
	p.Timeout, p.CacheTTL, p.NegativeTTL, p.CacheSize, p.MaxConnections = fromSeconds(timeout), fromSeconds(ttl), fromSeconds(neg), size, conns
	return nil
}

func printLDAPProfile(s *shell.Session, p config.LDAPProfile) {
	bind := "anonymous"
	if p.BindDN != "" {
		bind = p.BindDN + " (password " + config.MaskedSecret + ")"
	}
	query := "none"
	if p.AcceptQuery != "" {
		query = p.QueryName() + ": " + p.AcceptQuery
	}
	s.Printf("\nName: %s\nHostname: %s Port %d\nConnection: %s\nBind: %s\nBase: %s\nAccept query: %s\n", p.Name, strings.Join(p.Hosts, ", "), p.Port,
		config.LDAPConnectionLabel(p.Connection), bind, p.BaseDN, query)
	s.Printf("Timeout: %s, cache %s found / %s not found, %d entries, %d connections\n", time.Duration(p.Timeout),
		time.Duration(p.CacheTTL), time.Duration(p.NegativeTTL), p.CacheSize, p.MaxConnections)
}

// editLDAPProfile edits a copy of the profile and stores it with
// PutLDAPProfile after each operation, so a refusal changes nothing.
func editLDAPProfile(s *shell.Session, app *App) error {
	c := s.Pending.Config()
	picked, err := pickLDAPProfile(s, c, "edit")
	if err != nil {
		return err
	}
	name := picked.Name
	edit := func(f func(p *config.LDAPProfile) error) func() error {
		return func() error {
			p := *c.LDAPProfile(name)
			p.Hosts = append([]string(nil), p.Hosts...)
			if err := f(&p); err != nil {
				return err
			}
			if err := c.PutLDAPProfile(name, p); err != nil {
				return err
			}
			name = p.Name
			return nil
		}
	}
	return loopMenu(s, func() { printLDAPProfile(s, *c.LDAPProfile(name)) }, fixed(
		menuOp{"NAME", "Change the name of the server configuration.", edit(func(p *config.LDAPProfile) error {
			var err error
			p.Name, err = s.Text("Enter the new name for this server configuration.", p.Name, ldapNameCheck(c, p.Name))
			return err
		})},
		menuOp{"SERVER", "Change the hosts, connection, port, bind and base.", edit(func(p *config.LDAPProfile) error { return askLDAPServer(s, p) })},
		menuOp{"LDAPACCEPT", "Configure whether a recipient address should be accepted or refused.", edit(func(p *config.LDAPProfile) error { return askAcceptQuery(s, p) })},
		menuOp{"ADVANCED", "Change the timeout, the cache and the connections.", edit(func(p *config.LDAPProfile) error { return askLDAPAdvanced(s, p) })},
		menuOp{"TEST", "Test the accept query.", func() error { return ldapTestDialog(s, app, name) }},
	))
}

func deleteLDAPProfile(s *shell.Session) error {
	c := s.Pending.Config()
	p, err := pickLDAPProfile(s, c, "delete")
	if err != nil {
		return err
	}
	name := p.Name
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the server configuration %q?", name), false)
	if err != nil || !ok {
		return err
	}
	if err := c.DeleteLDAPProfile(name); err != nil {
		return err
	}
	s.Printf("Server configuration %s deleted.\n", name)
	return nil
}

func ldapSetup(s *shell.Session) error {
	c := s.Pending.Config()
	set, err := s.YesNo("Do you want to set a client certificate for LDAP connections (presented when the server asks for one)?", c.LDAP.Certificate != "")
	if err != nil {
		return err
	}
	name := ""
	if set {
		if name, err = chooseCertificate(s, c, c.LDAP.Certificate, c.LDAP.Certificate); err != nil {
			return err
		}
	}
	return c.SetLDAPCertificate(name)
}

// ldapTestDialog asks an address and runs the profile's accept query for it.
func ldapTestDialog(s *shell.Session, app *App, profile string) error {
	addr, err := askNew(s, "Address to use in LDAP query:", func(a string) error { return config.CheckEmail(a) })
	if err != nil {
		return err
	}
	return ldapRunTest(s, app, profile, addr)
}

func ldapRunTest(s *shell.Session, app *App, query, addr string) error {
	if app.LDAP == nil {
		return fmt.Errorf("LDAP tests are not available in this shell")
	}
	s.Println()
	_, err := app.LDAP.Test(s.Context(), s.Pending.Config(), query, addr, func(format string, a ...any) { s.Printf(format+"\n", a...) })
	if errors.Is(err, ldapcheck.ErrNoAnswer) {
		return nil // the report said what failed and what to change
	}
	return err
}

func ldapBatch(s *shell.Session, app *App, args []string) error {
	c := s.Pending.Config()
	verb := strings.ToLower(args[0])
	switch {
	case verb == "new" && len(args) >= 2:
		kv, err := parseKV(args[2:], ldapKeys[:len(ldapKeys)-1]...)
		if err != nil {
			return fmt.Errorf("ldapconfig new: %w", err)
		}
		p := config.NewLDAPProfile(args[1])
		if err := applyLDAPKV(&p, kv, true); err != nil {
			return err
		}
		return c.PutLDAPProfile("", p)
	case verb == "edit" && len(args) >= 3:
		old, err := c.FindLDAPProfile(args[1])
		if err != nil {
			return err
		}
		kv, err := parseKV(args[2:], ldapKeys...)
		if err != nil {
			return fmt.Errorf("ldapconfig edit: %w", err)
		}
		p := *old
		p.Hosts = append([]string(nil), old.Hosts...)
		if err := applyLDAPKV(&p, kv, false); err != nil {
			return err
		}
		return c.PutLDAPProfile(old.Name, p)
	case verb == "delete" && len(args) == 2:
		return c.DeleteLDAPProfile(args[1])
	case verb == "setup" && len(args) == 2:
		kv, err := parseKV(args[1:], "certificate")
		if err != nil {
			return fmt.Errorf("ldapconfig setup: %w", err)
		}
		name := kv["certificate"]
		if strings.EqualFold(name, "none") {
			name = ""
		}
		return c.SetLDAPCertificate(name)
	case verb == "test" && len(args) == 3:
		if err := config.CheckEmail(args[2]); err != nil {
			return err
		}
		if _, err := c.FindLDAPProfile(args[1]); err != nil {
			return err
		}
		return ldapRunTest(s, app, args[1], args[2])
	}
	return usage("ldapconfig", ldapconfigForm)
}

// applyLDAPKV sets the batch form's KEY=VALUE settings on p; a new profile
// needs host and base.
func applyLDAPKV(p *config.LDAPProfile, kv map[string]string, isNew bool) error {
	if isNew {
		for _, k := range []string{"host", "base"} {
			if _, ok := kv[k]; !ok {
				return fmt.Errorf("ldapconfig new: %s= is missing: a profile needs host=HOST and base=DN", k)
			}
		}
	}
	if v, ok := kv["connection"]; ok {
		conn := strings.ToLower(v)
		if conn != p.Connection && (p.Port == config.LDAPPort || p.Port == config.LDAPSPort) {
			p.Port = map[bool]int{true: config.LDAPSPort, false: config.LDAPPort}[conn == config.LDAPSSL]
		}
		p.Connection = conn
	}
	var err error
	for key, to := range map[string]*string{"name": &p.Name, "base": &p.BaseDN, "bind_dn": &p.BindDN, "query": &p.AcceptQuery} {
		if v, ok := kv[key]; ok {
			*to = v
		}
	}
	if strings.EqualFold(p.AcceptQuery, "none") {
		p.AcceptQuery = ""
	}
	if v, ok := kv["bind_password"]; ok {
		if err := checkBatchSecret("bind password", v); err != nil {
			return err
		}
		p.BindPassword = v
	}
	if v, ok := kv["bind_dn"]; ok && v == "" {
		p.BindPassword = ""
	}
	if v, ok := kv["host"]; ok {
		if p.Hosts, err = config.ParseLDAPHosts(splitList(v)); err != nil {
			return err
		}
	}
	if v, ok := kv["port"]; ok {
		if p.Port, err = config.ParsePort(v); err != nil {
			return err
		}
	}
	for key, d := range map[string]struct {
		to *config.Duration
		r  config.Range
	}{"timeout": {&p.Timeout, config.LDAPTimeoutRange}, "cache_ttl": {&p.CacheTTL, config.LDAPCacheTTLRange}, "negative_ttl": {&p.NegativeTTL, config.LDAPNegativeTTLRange}} {
		if v, ok := kv[key]; ok {
			n, err := d.r.Parse(v)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			*d.to = fromSeconds(n)
		}
	}
	for key, d := range map[string]struct {
		to *int
		r  config.Range
	}{"cache_size": {&p.CacheSize, config.LDAPCacheSizeRange}, "max_connections": {&p.MaxConnections, config.LDAPConnectionsRange}} {
		if v, ok := kv[key]; ok {
			n, err := d.r.Parse(v)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			*d.to = n
		}
	}
	return nil
}
