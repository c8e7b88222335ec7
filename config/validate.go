package config

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"relaybox/cipherstring"
)

// Problem is one validation finding, located by its path in the document
// (empty when a mutation function reports on the object it was given).
type Problem struct {
	Path    string
	Message string
}

func (p Problem) Error() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Validate checks the whole document and reports every problem at once
// (joined with errors.Join), each naming where it is and how to fix it.
func Validate(c *Config) error {
	v := &validator{}
	v.check(c.Schema == SchemaVersion, "schema", "must be %d", SchemaVersion)
	v.add("hostname", CheckHostname(c.Hostname))
	v.service("ssl.gui", c.SSL.GUI)
	v.service("ssl.inbound", c.SSL.Inbound)
	v.service("ssl.outbound", c.SSL.Outbound)
	for i, cert := range c.Certificates {
		v.certificate(fmt.Sprintf("certificates[%d]", i), cert, keys(c.Certificates[:i], -1))
	}
	for i, ca := range c.Trust.CustomCAs {
		v.authority(fmt.Sprintf("trust.custom_cas[%d]", i), ca, keys(c.Trust.CustomCAs[:i], -1))
	}
	for i, ifc := range c.Interfaces {
		v.iface(c, fmt.Sprintf("interfaces[%d]", i), ifc, keys(c.Interfaces[:i], -1))
	}
	for i, l := range c.Listeners {
		v.listener(c, fmt.Sprintf("listeners[%d]", i), l, keys(c.Listeners[:i], -1))
	}
	v.ports(c)
	v.add("inbound.max_connections", InboundConnectionRange.Check(c.Inbound.MaxConnections))
	for i, r := range c.Routes {
		v.route(fmt.Sprintf("routes[%d]", i), r, keys(c.Routes[:i], -1))
	}
	v.destinations(c)
	v.delivery(c)
	v.users(c)
	v.fields("ssh", c.SSH.problems())
	v.webSecurityAll(c)
	v.ldap(c)
	return v.err()
}

// validator collects problems. A bare one (used by the mutation functions,
// which check one object) drops the paths: the messages name the input.
type validator struct {
	problems []error
	bare     bool
}

func (v *validator) add(path string, err error) {
	if err == nil {
		return
	}
	if v.bare {
		path = ""
	}
	v.problems = append(v.problems, Problem{Path: path, Message: err.Error()})
}

func (v *validator) check(ok bool, path, format string, args ...any) {
	if !ok {
		v.add(path, fmt.Errorf(format, args...))
	}
}

// fieldProblem is a setting out of range, named by its YAML field.
type fieldProblem struct {
	field string
	err   error
}

// collect keeps the problems that are problems.
func collect(all ...fieldProblem) []fieldProblem {
	var out []fieldProblem
	for _, p := range all {
		if p.err != nil {
			out = append(out, p)
		}
	}
	return out
}

// joinProblems is one error naming each field (under section, when given).
func joinProblems(section string, ps []fieldProblem) error {
	var errs []error
	for _, p := range ps {
		path := p.field
		if section != "" {
			path = section + "." + p.field
		}
		errs = append(errs, fmt.Errorf("%s: %w", path, p.err))
	}
	return errors.Join(errs...)
}

// fields adds a section's field problems.
func (v *validator) fields(section string, ps []fieldProblem) {
	for _, p := range ps {
		v.add(section+"."+p.field, p.err)
	}
}

func (v *validator) err() error { return errors.Join(v.problems...) }

// ServiceProblems checks one service's methods and cipher string; sslconfig
// uses it to refuse an answer at the prompt.
func ServiceProblems(path string, s Service) error {
	v := &validator{}
	v.service(path, s)
	return v.err()
}

func (v *validator) service(path string, s Service) {
	if len(s.Methods) == 0 {
		v.check(false, path+".methods", "no TLS method enabled: enable at least one, e.g. TLS v1.2")
		return
	}
	for _, m := range s.Methods {
		v.check(m.Version() != 0, path+".methods", "%q is not a TLS method: use TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3", m)
	}
	sorted := SortMethods(s.Methods)
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Version()-sorted[i-1].Version() != 1 && sorted[i].Version() != 0 && sorted[i-1].Version() != 0 {
			v.check(false, path+".methods", "TLS protocols can be enabled only in sequence: %s and %s leave a gap", sorted[i-1], sorted[i])
		}
	}
	v.check(!s.Renegotiation, path+".renegotiation", "TLS renegotiation cannot be enabled: the TLS stack refuses renegotiation; set it to false")
	res, err := Offered(s.Ciphers)
	if err != nil {
		v.add(path+".ciphers", err)
		return
	}
	lo, _ := VersionRange(s.Methods)
	if lo == 0 || lo > tls.VersionTLS12 {
		return // TLS 1.3 only: the cipher string does not apply
	}
	usable := 0
	for ver := lo; ver <= tls.VersionTLS12; ver++ {
		if !hasMethod(s.Methods, ver) {
			continue
		}
		usable += len(res.UsableAt(ver))
	}
	v.check(usable > 0, path+".ciphers",
		"%q selects no cipher suite usable with %s: widen it (e.g. add HIGH) or enable only TLS v1.3",
		s.Ciphers, strings.Join(methodLabels(s.Methods, tls.VersionTLS12), ", "))
}

func hasMethod(ms []Method, ver uint16) bool {
	for _, m := range ms {
		if m.Version() == ver {
			return true
		}
	}
	return false
}

func methodLabels(ms []Method, max uint16) []string {
	var out []string
	for _, m := range SortMethods(ms) {
		if m.Version() <= max {
			out = append(out, m.Label())
		}
	}
	return out
}

// name checks a name and that none of others has it.
func (v *validator) name(path, kind, name string, others []string) {
	if err := CheckName(kind, name); err != nil {
		v.add(path, err)
		return
	}
	v.add(path, nameClash(kind, name, others))
}

func (v *validator) certificate(path string, cert Certificate, others []string) {
	v.name(path+".name", KindCertificate, cert.Name, others)
	block, _ := pem.Decode([]byte(cert.PEM))
	v.check(block != nil && block.Type == "CERTIFICATE", path+".pem", "certificate %q holds no PEM CERTIFICATE block", cert.Name)
	v.check(keyRefRE.MatchString(cert.Key), path+".key", "certificate %q has no valid key reference (64 hex digits)", cert.Name)
	if cert.ECDSAPEM != "" || cert.ECDSAKey != "" || cert.ECDSACSR != "" {
		twin, _ := pem.Decode([]byte(cert.ECDSAPEM))
		v.check(twin != nil && twin.Type == "CERTIFICATE", path+".ecdsa_pem", "the ECDSA twin of certificate %q holds no PEM CERTIFICATE block: remove ecdsa_pem and ecdsa_key, or make the twin again", cert.Name)
		v.check(keyRefRE.MatchString(cert.ECDSAKey), path+".ecdsa_key", "the ECDSA twin of certificate %q has no valid key reference (64 hex digits)", cert.Name)
	}
}

func (v *validator) authority(path string, ca CA, others []string) {
	v.name(path+".name", KindAuthority, ca.Name, others)
	block, _ := pem.Decode([]byte(ca.PEM))
	v.check(block != nil && block.Type == "CERTIFICATE", path+".pem", "custom authority %q holds no PEM CERTIFICATE block", ca.Name)
}

func (v *validator) iface(c *Config, path string, ifc Interface, others []string) {
	v.name(path+".name", KindInterface, ifc.Name, others)
	v.add(path+".address", CheckAddress(ifc.Address))
	if CheckAddress(ifc.Address) == nil {
		v.add(path+".netmask", CheckNetmask(ifc.Address, ifc.Netmask))
	}
	v.add(path+".hostname", CheckHostname(ifc.Hostname))
	if ifc.HTTPSPort != 0 {
		v.add(path+".https_port", CheckPort(ifc.HTTPSPort))
		v.add(path+".certificate", c.checkCertificate(ifc.Certificate))
	}
	if ifc.SSHPort != 0 {
		v.add(path+".ssh_port", CheckPort(ifc.SSHPort))
	}
}

// ports reports two services on one address and port.
func (v *validator) ports(c *Config) {
	seen := map[string]string{}
	for _, pc := range portClaims(c) {
		if other, ok := seen[pc.key]; ok {
			v.check(false, pc.path, "port %d on %s is already used by %s: choose another port", pc.port, pc.addr, other)
			continue
		}
		seen[pc.key] = pc.what
	}
}

// portClaim is one service listening on an address and port.
type portClaim struct {
	key, addr  string
	port       int
	path, what string
}

// portClaims lists every service's address and port: HTTPS and SSH of each
// interface, then each listener.
func portClaims(c *Config) []portClaim {
	var out []portClaim
	claim := func(addr string, port int, path, what string) {
		if port != 0 {
			out = append(out, portClaim{key: fmt.Sprintf("%s:%d", addr, port), addr: addr, port: port, path: path, what: what})
		}
	}
	for i, ifc := range c.Interfaces {
		path := fmt.Sprintf("interfaces[%d]", i)
		claim(ifc.Address, ifc.HTTPSPort, path+".https_port", "HTTPS on interface "+ifc.Name)
		claim(ifc.Address, ifc.SSHPort, path+".ssh_port", "SSH on interface "+ifc.Name)
	}
	for i, l := range c.Listeners {
		if ifc := c.Interface(l.Interface); ifc != nil {
			claim(ifc.Address, l.Port, fmt.Sprintf("listeners[%d].port", i), "listener "+l.Name)
		}
	}
	return out
}

// portClashOf says which other service already has a port that one of
// mine (a service of the object just edited) wants, naming the other one:
// the edit is refused at its line, not at commit with a document path.
func portClashOf(c *Config, mine func(what string) bool) error {
	claims := portClaims(c)
	for _, a := range claims {
		if !mine(a.what) {
			continue
		}
		for _, b := range claims {
			if b.key == a.key && b.what != a.what {
				return fmt.Errorf("port %d on %s is already used by %s: choose another port", a.port, a.addr, b.what)
			}
		}
	}
	return nil
}

func (v *validator) listener(c *Config, path string, l Listener, others []string) {
	v.name(path+".name", KindListener, l.Name, others)
	v.check(l.Type == ListenerPublic || l.Type == ListenerPrivate, path+".type", "%q is not a listener type: use public or private", l.Type)
	_, err := c.FindInterface(l.Interface)
	v.add(path+".interface", err)
	v.add(path+".port", CheckPort(l.Port))
	v.add(path+".tls", CheckTLSLevel(l.TLS))
	if l.TLS != TLSOff {
		v.add(path+".certificate", c.checkCertificate(l.Certificate))
	}
	// A list the listener's type does not use would be stored and shown
	// but change nothing: refused, whichever front end sets it.
	v.check(l.Type != ListenerPrivate || len(l.Domains) == 0, path+".domains",
		"listener %s is private: only a public listener accepts mail for domains; a private one relays for the hosts in relay_from (listenerconfig edit %s relay CIDR,…)", l.Name, l.Name)
	v.check(l.Type != ListenerPublic || len(l.RelayFrom) == 0, path+".relay_from",
		"listener %s is public: only a private listener relays for the hosts in relay_from; a public one accepts mail for its domains (listenerconfig edit %s domains DOMAIN,…)", l.Name, l.Name)
	for _, d := range l.Domains {
		v.add(path+".domains", CheckDomain(d))
	}
	for _, n := range l.RelayFrom {
		v.add(path+".relay_from", CheckNetwork(n))
	}
	v.add(path+".max_message_bytes", MessageSizeRange.Check(int(l.MaxMessageBytes)))
	v.add(path+".max_recipients", RecipientRange.Check(l.MaxRecipients))
	v.add(path+".max_connections", ListenerConnectionRange.Check(l.MaxConnections))
	v.add(path+".max_connections_per_ip", PerIPRange(l.MaxConnections).Check(l.MaxConnectionsPerIP))
	v.add(path+".idle_timeout", IdleSecondsRange.Check(int(time.Duration(l.IdleTimeout)/time.Second)))
	v.listenerLDAP(c, path, l)
}

// PerIPRange is the range of a listener's connections from one address: at
// most its connections in total.
func PerIPRange(total int) Range { return Range{1, max(total, 1)} }

// checkCertificate refuses a reference to a certificate that does not exist.
func (c *Config) checkCertificate(name string) error {
	if name == "" {
		return errors.New("no certificate is chosen: choose one listed by certconfig")
	}
	_, err := c.FindCertificate(name)
	return err
}

// ServiceWarnings names the enabled TLS v1.0–v1.2 versions for which the
// cipher string selects no usable suite: handshakes at those versions fail.
func ServiceWarnings(s Service) []string {
	res, err := Offered(s.Ciphers)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range SortMethods(s.Methods) {
		if v := m.Version(); v != 0 && v <= tls.VersionTLS12 && len(res.UsableAt(v)) == 0 {
			out = append(out, fmt.Sprintf("%s is enabled but the cipher string selects no suite usable with it, so %s handshakes will fail: allow one (e.g. add :ECDHE-RSA-AES128-SHA, or remove !SSLv3 and !TLSv1)", m.Label(), m.Label()))
		}
	}
	return out
}

// Offered evaluates a cipher string into the suites the appliance really
// offers: what OpenSSL would select, less RC4, which RFC 7465 prohibits in TLS
// and which the appliance never offers whatever the string says.
func Offered(ciphers string) (cipherstring.Result, error) {
	res, err := cipherstring.Parse(ciphers)
	if err != nil {
		return res, err
	}
	kept := res.Suites[:0:0]
	for _, s := range res.Suites {
		if s.Enc == "RC4" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s is never offered: RC4 is prohibited in TLS (RFC 7465)", s.Name))
			continue
		}
		kept = append(kept, s)
	}
	res.Suites = kept
	return res, nil
}

func (v *validator) route(path string, r Route, others []string) {
	v.add(path+".domain", CheckDomain(r.Domain))
	for _, o := range others {
		v.check(!strings.EqualFold(o, r.Domain), path+".domain", "The value %s is already in the routing table.", r.Domain)
	}
	v.check(len(r.Hosts) > 0, path+".hosts", "route %s has no destination host: give host, host:port or USEDNS", r.Domain)
	for _, h := range r.Hosts {
		v.add(path+".hosts", CheckRouteHost(h))
	}
}

// destination checks one destination controls entry; a domain entry's zero
// limits follow DEFAULT.
func (v *validator) destination(path string, p DestPolicy, isDefault bool, others []string) {
	if !isDefault {
		v.add(path+".domain", CheckDomain(p.Domain))
		for _, o := range others {
			v.check(!strings.EqualFold(o, p.Domain), path+".domain", "there is already an entry for %s in the destination controls table: edit that entry instead", p.Domain)
		}
	}
	v.add(path+".tls", CheckDestTLSLevel(p.TLS, isDefault))
	if isDefault || p.MaxConnections != 0 {
		v.add(path+".max_connections", DestConnectionRange.Check(p.MaxConnections))
	}
	if isDefault || p.MaxMessagesPerConnection != 0 {
		v.add(path+".max_messages_per_connection", DestMessageRange.Check(p.MaxMessagesPerConnection))
	}
}

func (v *validator) destinations(c *Config) {
	d := c.Destinations
	v.destination("destinations.default", d.Default, true, nil)
	for i, e := range d.Domains {
		v.destination(fmt.Sprintf("destinations.domains[%d]", i), e, false, keys(d.Domains[:i], -1))
	}
	if d.Certificate != "" {
		v.add("destinations.certificate", c.checkCertificate(d.Certificate))
	}
	for _, a := range d.AlertRecipients {
		v.add("destinations.alert_recipients", CheckEmail(a))
	}
}

func (v *validator) delivery(c *Config) {
	d := c.Delivery
	v.add("delivery.interface", c.checkDeliveryInterface(d.Interface))
	v.add("delivery.max_connections", DeliveryConnectionRange.Check(d.MaxConnections))
	v.check(d.RetryInitial > 0 && d.RetryMax >= d.RetryInitial, "delivery.retry_initial", "retry times must be positive, the maximum at least the initial one")
	v.check(d.MaxQueueLifetime > 0, "delivery.max_queue_lifetime", "must be positive, e.g. 72h")
	if d.Resolver != SystemResolver {
		_, err := netip.ParseAddrPort(d.Resolver)
		v.check(err == nil, "delivery.resolver", "%q is neither system nor a DNS server as IP:port (e.g. 127.0.0.1:53)", d.Resolver)
	}
}

func (c *Config) checkDeliveryInterface(name string) error {
	if strings.EqualFold(name, AutoInterface) || c.Interface(name) != nil {
		return nil
	}
	return fmt.Errorf("interface %q is neither Auto nor a configured interface: use Auto or one listed by interfaceconfig", name)
}
