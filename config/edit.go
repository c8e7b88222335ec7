package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The mutation functions below are the one place each edit is written: the
// dialogs and the batch forms of package commands both call them. Each
// checks the object it stores with the same rules Validate applies (what
// only the whole document can tell, such as two services on one port, is
// left to commit) and leaves the configuration unchanged when it refuses.

// AutoInterface is the delivery interface that lets the system choose.
const AutoInterface = "Auto"

// named is an object identified by a name or domain, case-insensitively.
type named interface{ key() string }

func (l Listener) key() string    { return l.Name }
func (i Interface) key() string   { return i.Name }
func (c Certificate) key() string { return c.Name }
func (c CA) key() string          { return c.Name }
func (r Route) key() string       { return r.Domain }
func (p DestPolicy) key() string  { return p.Domain }

// keys lists the keys of list, without the one at skip (-1: none).
func keys[T named](list []T, skip int) []string {
	var out []string
	for i, x := range list {
		if i != skip {
			out = append(out, x.key())
		}
	}
	return out
}

func find[T named](list []T, key string) int {
	return slices.IndexFunc(list, func(x T) bool { return strings.EqualFold(x.key(), key) })
}

// put stores x at i, or appends it when i < 0.
func put[T any](list []T, i int, x T) []T {
	if i < 0 {
		return append(list, x)
	}
	list[i] = x
	return list
}

// slot finds the entry named old; "" means a new one (-1).
func slot[T named](list []T, kind, old string, notFound func(kind, name string) error) (int, error) {
	if old == "" {
		return -1, nil
	}
	if i := find(list, old); i >= 0 {
		return i, nil
	}
	return -1, notFound(kind, old)
}

// remove deletes the entry named name from *list.
func remove[T named](list *[]T, kind, name string, notFound func(kind, name string) error) error {
	i, err := slot(*list, kind, name, notFound)
	if err == nil {
		*list = slices.Delete(*list, i, i+1)
	}
	return err
}

func errNotFound(kind, name string) error {
	lists := map[string]string{KindListener: "listenerconfig", KindInterface: "interfaceconfig", KindCertificate: "certconfig", KindAuthority: "certconfig CERTAUTHORITY", KindUser: "userconfig"}
	return fmt.Errorf("%s %q does not exist: choose one listed by %s", kind, name, lists[kind])
}

// FindListener returns the listener with that name.
func (c *Config) FindListener(name string) (*Listener, error) {
	if l := c.Listener(name); l != nil {
		return l, nil
	}
	return nil, errNotFound(KindListener, name)
}

// FindInterface returns the interface with that name.
func (c *Config) FindInterface(name string) (*Interface, error) {
	if i := c.Interface(name); i != nil {
		return i, nil
	}
	return nil, errNotFound(KindInterface, name)
}

// FindCertificate returns the certificate with that name.
func (c *Config) FindCertificate(name string) (*Certificate, error) {
	if cert := c.Certificate(name); cert != nil {
		return cert, nil
	}
	return nil, errNotFound(KindCertificate, name)
}

// SetHostname sets the appliance's host name.
func (c *Config) SetHostname(h string) error {
	if err := CheckHostname(h); err != nil {
		return err
	}
	c.Hostname = h
	return nil
}

// PutListener stores l in place of the listener named old ("" adds it).
// Interface and certificate names are stored as those objects spell them.
func (c *Config) PutListener(old string, l Listener) error {
	i, err := slot(c.Listeners, KindListener, old, errNotFound)
	if err != nil {
		return err
	}
	v := &validator{bare: true}
	v.listener(c, "", l, keys(c.Listeners, i))
	if err := v.err(); err != nil {
		return err
	}
	l.Interface = c.Interface(l.Interface).Name
	if cert := c.Certificate(l.Certificate); cert != nil {
		l.Certificate = cert.Name
	}
	trial := *c
	trial.Listeners = put(slices.Clone(c.Listeners), i, l)
	if err := portClashOf(&trial, func(what string) bool { return what == "listener "+l.Name }); err != nil {
		return err
	}
	c.Listeners = trial.Listeners
	return nil
}

// DeleteListener removes a listener: its sessions finish, it stops accepting.
func (c *Config) DeleteListener(name string) error {
	return remove(&c.Listeners, KindListener, name, errNotFound)
}

// SetLimits sets a listener's limits; perIP 0 keeps its per-address limit,
// lowered to the new total when needed.
func (l *Listener) SetLimits(size, recipients, connections, perIP int) error {
	if perIP == 0 {
		perIP = min(l.MaxConnectionsPerIP, connections)
	}
	n := *l
	n.MaxMessageBytes, n.MaxRecipients, n.MaxConnections, n.MaxConnectionsPerIP = int64(size), recipients, connections, perIP
	v := &validator{bare: true}
	v.add("", MessageSizeRange.Check(size))
	v.add("", RecipientRange.Check(recipients))
	v.add("", ListenerConnectionRange.Check(connections))
	v.add("", PerIPRange(connections).Check(perIP))
	if err := v.err(); err != nil {
		return err
	}
	*l = n
	return nil
}

// SetIdleTimeout sets how long a session may stay silent.
func (l *Listener) SetIdleTimeout(seconds int) error {
	if err := IdleSecondsRange.Check(seconds); err != nil {
		return err
	}
	l.IdleTimeout = Duration(time.Duration(seconds) * time.Second)
	return nil
}

// SetMaxConnections sets the global cap of inbound connections (0: none).
func (in *Inbound) SetMaxConnections(n int) error {
	if err := InboundConnectionRange.Check(n); err != nil {
		return err
	}
	in.MaxConnections = n
	return nil
}

// ParseDomains reads a listener's recipient access table: at least one domain.
func ParseDomains(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("A Recipient Access Table address can be one of the following: a domain (example.com) or a partial domain (.example.com); enter at least one")
	}
	for _, d := range list {
		if err := CheckDomain(d); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// ParseNetworks reads a private listener's relay list: at least one network,
// addresses becoming host networks.
func ParseNetworks(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("Please enter a value: the networks allowed to relay, e.g. 127.0.0.0/8")
	}
	out := make([]string, len(list))
	for i, n := range list {
		var err error
		if out[i], err = ParseNetwork(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PutInterface stores ifc in place of the interface named old ("" adds it).
// A new name is carried to the listeners and the delivery setting that use it.
func (c *Config) PutInterface(old string, ifc Interface) error {
	i, err := slot(c.Interfaces, KindInterface, old, errNotFound)
	if err != nil {
		return err
	}
	v := &validator{bare: true}
	v.iface(c, "", ifc, keys(c.Interfaces, i))
	if err := v.err(); err != nil {
		return err
	}
	if cert := c.Certificate(ifc.Certificate); cert != nil {
		ifc.Certificate = cert.Name
	}
	trial := *c
	trial.Interfaces = put(slices.Clone(c.Interfaces), i, ifc)
	if err := portClashOf(&trial, func(what string) bool { return strings.HasSuffix(what, " on interface "+ifc.Name) }); err != nil {
		return err
	}
	if i >= 0 && ifc.Name != c.Interfaces[i].Name {
		for j := range c.Listeners {
			if strings.EqualFold(c.Listeners[j].Interface, old) {
				c.Listeners[j].Interface = ifc.Name
			}
		}
		if strings.EqualFold(c.Delivery.Interface, old) {
			c.Delivery.Interface = ifc.Name
		}
	}
	c.Interfaces = put(c.Interfaces, i, ifc)
	return nil
}

// InterfaceUsers names what uses an interface.
func (c *Config) InterfaceUsers(name string) []string {
	var out []string
	for _, l := range c.Listeners {
		if strings.EqualFold(l.Interface, name) {
			out = append(out, "listener "+l.Name)
		}
	}
	if strings.EqualFold(c.Delivery.Interface, name) {
		out = append(out, "deliveryconfig (the delivery interface)")
	}
	return out
}

// DeleteInterface removes an interface that nothing uses.
func (c *Config) DeleteInterface(name string) error {
	i, err := slot(c.Interfaces, KindInterface, name, errNotFound)
	if err != nil {
		return err
	}
	if users := c.InterfaceUsers(name); len(users) > 0 {
		return fmt.Errorf("interface %s is used by %s: move or delete them first (listenerconfig, deliveryconfig)", c.Interfaces[i].Name, strings.Join(users, ", "))
	}
	return remove(&c.Interfaces, KindInterface, name, errNotFound)
}

// CertificateUsers names every place a certificate is used.
func (c *Config) CertificateUsers(name string) []string {
	var out []string
	for _, l := range c.Listeners {
		if strings.EqualFold(l.Certificate, name) && l.TLS != TLSOff {
			out = append(out, "listener "+l.Name+" (inbound TLS)")
		}
	}
	for _, ifc := range c.Interfaces {
		if strings.EqualFold(ifc.Certificate, name) && ifc.HTTPSPort != 0 {
			out = append(out, "interface "+ifc.Name+" (HTTPS)")
		}
	}
	if strings.EqualFold(c.Destinations.Certificate, name) {
		out = append(out, "destination controls (outbound TLS client certificate)")
	}
	if strings.EqualFold(c.LDAP.Certificate, name) {
		out = append(out, "the LDAP global settings (client certificate)")
	}
	if c.WebSecurity.Certificate != "" && strings.EqualFold(c.WebSecurity.Certificate, name) {
		out = append(out, "websecurityconfig (the web security client certificate)")
	}
	return out
}

// PutCertificate adds a certificate, or replaces the one with its name.
func (c *Config) PutCertificate(cert Certificate) error {
	i := find(c.Certificates, cert.Name)
	v := &validator{bare: true}
	v.certificate("", cert, keys(c.Certificates, i))
	if err := v.err(); err != nil {
		return err
	}
	if i >= 0 {
		cert.Name = c.Certificates[i].Name
	}
	c.Certificates = put(c.Certificates, i, cert)
	return nil
}

// DeleteCertificate removes a certificate that nothing uses.
func (c *Config) DeleteCertificate(name string) error {
	i, err := slot(c.Certificates, KindCertificate, name, errNotFound)
	if err != nil {
		return err
	}
	name = c.Certificates[i].Name
	if uses := c.CertificateUsers(name); len(uses) > 0 {
		return fmt.Errorf("certificate %q is in use by %s: choose another certificate there first (listenerconfig, interfaceconfig, destconfig, ldapconfig SETUP, websecurityconfig)", name, strings.Join(uses, ", "))
	}
	return remove(&c.Certificates, KindCertificate, name, errNotFound)
}

// AddAuthority adds a custom authority (its PEM already parsed by the caller).
func (t *Trust) AddAuthority(ca CA) error {
	v := &validator{bare: true}
	v.authority("", ca, keys(t.CustomCAs, -1))
	if err := v.err(); err != nil {
		return err
	}
	t.CustomCAs = append(t.CustomCAs, ca)
	return nil
}

// DeleteAuthority removes a custom authority.
func (t *Trust) DeleteAuthority(name string) error {
	return remove(&t.CustomCAs, KindAuthority, name, errNotFound)
}

func errNoRoute(_, domain string) error {
	return fmt.Errorf("The route %q does not appear to be in the routing table: smtproutes print lists them", domain)
}

// ParseRouteHosts reads a route's destinations: at least one host,
// host:port, [host] or [host]:port (no MX lookup), or USEDNS (spelled in
// capitals); or /dev/null alone (the mail is thrown away).
func ParseRouteHosts(hosts []string) ([]string, error) {
	if len(hosts) == 0 {
		return nil, fmt.Errorf("Please enter a value: host, host:port, [host], USEDNS or /dev/null")
	}
	if slices.Contains(hosts, RouteDiscard) && len(hosts) > 1 {
		return nil, fmt.Errorf("/dev/null throws the mail away: give it alone, not beside other destinations")
	}
	out := slices.Clone(hosts)
	for i, h := range out {
		if err := CheckRouteHost(h); err != nil {
			return nil, err
		}
		if strings.EqualFold(h, UseDNS) {
			out[i] = UseDNS
		}
	}
	return out, nil
}

// CheckNewRoute checks a domain for a new route.
func (c *Config) CheckNewRoute(domain string) error {
	v := &validator{bare: true}
	v.route("", Route{Domain: domain, Hosts: []string{UseDNS}}, keys(c.Routes, -1))
	return v.err()
}

// AddRoute adds a static route.
func (c *Config) AddRoute(r Route) error {
	v := &validator{bare: true}
	v.route("", r, keys(c.Routes, -1))
	if err := v.err(); err != nil {
		return err
	}
	c.Routes = append(c.Routes, r)
	return nil
}

// FindRoute returns the route for a domain.
func (c *Config) FindRoute(domain string) (*Route, error) {
	i, err := slot(c.Routes, "route", domain, errNoRoute)
	if err != nil {
		return nil, err
	}
	return &c.Routes[i], nil
}

// DeleteRoute removes a route.
func (c *Config) DeleteRoute(domain string) error {
	return remove(&c.Routes, "route", domain, errNoRoute)
}

// Ways to edit a route's destinations (smtproutes EDIT).
const (
	RouteAdd     = "ADD"
	RouteRemove  = "REMOVE"
	RouteReplace = "REPLACE"
)

// EditHosts adds, removes or replaces a route's destinations.
func (r *Route) EditHosts(how string, hosts []string) error {
	hosts, err := ParseRouteHosts(hosts)
	if err != nil {
		return err
	}
	switch how {
	case RouteAdd:
		r.Hosts = append(r.Hosts, hosts...)
	case RouteReplace:
		r.Hosts = hosts
	case RouteRemove:
		kept := slices.DeleteFunc(slices.Clone(r.Hosts), func(h string) bool {
			return slices.ContainsFunc(hosts, func(x string) bool { return strings.EqualFold(x, h) })
		})
		if len(kept) == 0 {
			return fmt.Errorf("a route needs at least one destination: use DELETE to remove the route")
		}
		r.Hosts = kept
	default:
		return fmt.Errorf("%q is not a way to edit a route: use ADD, REMOVE or REPLACE", how)
	}
	return nil
}

func errNoDestination(_, domain string) error {
	return fmt.Errorf("the domain %q was not found in the destination controls table: destconfig LIST shows them", domain)
}

// FindDestination returns a domain's own destination controls entry.
func (d *Destinations) FindDestination(domain string) (*DestPolicy, error) {
	i, err := slot(d.Domains, "destination", domain, errNoDestination)
	if err != nil {
		return nil, err
	}
	return &d.Domains[i], nil
}

// CheckNewDestination checks a domain for a new entry.
func (d *Destinations) CheckNewDestination(domain string) error {
	v := &validator{bare: true}
	v.destination("", NewDestination(domain), false, keys(d.Domains, -1))
	return v.err()
}

// PutDestination stores p in place of the entry for old ("" adds it).
func (d *Destinations) PutDestination(old string, p DestPolicy) error {
	i, err := slot(d.Domains, "destination", old, errNoDestination)
	if err != nil {
		return err
	}
	v := &validator{bare: true}
	v.destination("", p, false, keys(d.Domains, i))
	if err := v.err(); err != nil {
		return err
	}
	d.Domains = put(d.Domains, i, p)
	return nil
}

// SetDefault sets the DEFAULT entry.
func (d *Destinations) SetDefault(p DestPolicy) error {
	p.Domain = ""
	v := &validator{bare: true}
	v.destination("", p, true, nil)
	if err := v.err(); err != nil {
		return err
	}
	d.Default = p
	return nil
}

// DeleteDestination removes a domain's entry.
func (d *Destinations) DeleteDestination(domain string) error {
	return remove(&d.Domains, "destination", domain, errNoDestination)
}

// SetClientCertificate sets the certificate offered on outbound TLS ("" for none).
func (c *Config) SetClientCertificate(name string) error {
	if name == "" {
		c.Destinations.Certificate = ""
		return nil
	}
	cert, err := c.FindCertificate(name)
	if err != nil {
		return err
	}
	c.Destinations.Certificate = cert.Name
	return nil
}

// SetAlert sets the alert on required-TLS failures and its recipients (kept when nil).
func (d *Destinations) SetAlert(on bool, recipients []string) error {
	if recipients == nil {
		recipients = d.AlertRecipients
	}
	for _, a := range recipients {
		if err := CheckEmail(a); err != nil {
			return err
		}
	}
	if on && len(recipients) == 0 {
		return fmt.Errorf("Please enter a value: at least one email address receives the alert")
	}
	d.AlertOnRequiredTLSFailure, d.AlertRecipients = on, recipients
	return nil
}

// SetDeliveryInterface sets the source of outbound connections: Auto or an interface.
func (c *Config) SetDeliveryInterface(name string) error {
	if err := c.checkDeliveryInterface(name); err != nil {
		return err
	}
	c.Delivery.Interface = AutoInterface
	if ifc := c.Interface(name); ifc != nil && !strings.EqualFold(name, AutoInterface) {
		c.Delivery.Interface = ifc.Name
	}
	return nil
}

// SetMaxConnections sets the system-wide cap of outbound connections.
func (d *Delivery) SetMaxConnections(n int) error {
	if err := DeliveryConnectionRange.Check(n); err != nil {
		return err
	}
	d.MaxConnections = n
	return nil
}

// SetResolver chooses the DNS resolver of delivery (dnsconfig): "system" or
// a DNS server as IP or IP:port.
func (c *Config) SetResolver(r string) error {
	r, err := ParseResolver(r)
	if err != nil {
		return err
	}
	c.Delivery.Resolver = r
	return nil
}
