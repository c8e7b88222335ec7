package config

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"relaybox/cipherstring"
)

// Problem is one validation finding, located by its path in the document.
type Problem struct {
	Path    string
	Message string
}

func (p Problem) Error() string { return p.Path + ": " + p.Message }

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
	hostnameRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	domainRE   = regexp.MustCompile(`^\.?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	keyRefRE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks the whole document and reports every problem at once
// (joined with errors.Join), each naming where it is and how to fix it.
func Validate(c *Config) error {
	v := &validator{}
	v.check(c.Schema == SchemaVersion, "schema", "must be %d", SchemaVersion)
	v.check(hostnameRE.MatchString(c.Hostname) && len(c.Hostname) <= 253, "hostname",
		"%q is not a valid hostname: use letters, digits, '-' and '.', e.g. mail.example.com", c.Hostname)
	v.service("ssl.gui", c.SSL.GUI)
	v.service("ssl.inbound", c.SSL.Inbound)
	v.service("ssl.outbound", c.SSL.Outbound)
	v.certificates(c)
	v.interfaces(c)
	v.listeners(c)
	v.check(c.Inbound.MaxConnections >= 0, "inbound.max_connections", "must be 0 (no global cap) or positive")
	v.routes(c)
	v.destinations(c)
	v.delivery(c)
	v.users(c)
	return errors.Join(v.problems...)
}

type validator struct{ problems []error }

func (v *validator) check(ok bool, path, format string, args ...any) {
	if !ok {
		v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
}

// ServiceProblems checks one service's methods and cipher string; sslconfig
// uses it to refuse an answer at the prompt.
func ServiceProblems(path string, s Service) error {
	v := &validator{}
	v.service(path, s)
	return errors.Join(v.problems...)
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
		v.check(false, path+".ciphers", "%v", err)
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

func (v *validator) certificates(c *Config) {
	seen := map[string]bool{}
	for i, cert := range c.Certificates {
		path := fmt.Sprintf("certificates[%d]", i)
		v.check(nameRE.MatchString(cert.Name), path+".name", "%q is not a valid name: start with a letter, then letters, digits, '_', '-' or '.'", cert.Name)
		v.check(!seen[strings.ToLower(cert.Name)], path+".name", "duplicate certificate name %q: names must be unique", cert.Name)
		seen[strings.ToLower(cert.Name)] = true
		block, _ := pem.Decode([]byte(cert.PEM))
		v.check(block != nil && block.Type == "CERTIFICATE", path+".pem", "certificate %q holds no PEM CERTIFICATE block", cert.Name)
		v.check(keyRefRE.MatchString(cert.Key), path+".key", "certificate %q has no valid key reference (64 hex digits)", cert.Name)
	}
}

func (v *validator) interfaces(c *Config) {
	seen := map[string]bool{}
	ports := map[string]string{}
	for i, ifc := range c.Interfaces {
		path := fmt.Sprintf("interfaces[%d]", i)
		v.check(nameRE.MatchString(ifc.Name), path+".name", "%q is not a valid interface name", ifc.Name)
		v.check(!seen[strings.ToLower(ifc.Name)], path+".name", "duplicate interface name %q", ifc.Name)
		seen[strings.ToLower(ifc.Name)] = true
		addr, err := netip.ParseAddr(ifc.Address)
		v.check(err == nil, path+".address", "%q is not an IP address", ifc.Address)
		if err == nil {
			v.check(ifc.Netmask >= 0 && ifc.Netmask <= addr.BitLen(), path+".netmask", "netmask /%d is out of range for %s", ifc.Netmask, ifc.Address)
		}
		v.check(hostnameRE.MatchString(ifc.Hostname), path+".hostname", "%q is not a valid hostname", ifc.Hostname)
		v.port(path+".https_port", ifc.HTTPSPort, true)
		v.port(path+".ssh_port", ifc.SSHPort, true)
		v.claim(ports, ifc.Address, ifc.HTTPSPort, path+".https_port", "HTTPS on interface "+ifc.Name)
		v.claim(ports, ifc.Address, ifc.SSHPort, path+".ssh_port", "SSH on interface "+ifc.Name)
		if ifc.HTTPSPort != 0 {
			v.check(c.Certificate(ifc.Certificate) != nil, path+".certificate", "certificate %q does not exist: choose one listed by certconfig", ifc.Certificate)
		}
	}
	for i, l := range c.Listeners {
		if ifc := c.Interface(l.Interface); ifc != nil {
			v.claim(ports, ifc.Address, l.Port, fmt.Sprintf("listeners[%d].port", i), "listener "+l.Name)
		}
	}
}

// claim records that addr:port is used by what, and reports a clash.
func (v *validator) claim(ports map[string]string, addr string, port int, path, what string) {
	if port == 0 {
		return
	}
	key := fmt.Sprintf("%s:%d", addr, port)
	if other, ok := ports[key]; ok {
		v.check(false, path, "port %d on %s is already used by %s: choose another port", port, addr, other)
		return
	}
	ports[key] = what
}

func (v *validator) port(path string, p int, optional bool) {
	if optional && p == 0 {
		return
	}
	v.check(p >= 1 && p <= 65535, path, "port %d is out of range: use 1 to 65535", p)
}

func (v *validator) listeners(c *Config) {
	seen := map[string]bool{}
	for i, l := range c.Listeners {
		path := fmt.Sprintf("listeners[%d]", i)
		v.check(nameRE.MatchString(l.Name), path+".name", "%q is not a valid listener name", l.Name)
		v.check(!seen[strings.ToLower(l.Name)], path+".name", "duplicate listener name %q", l.Name)
		seen[strings.ToLower(l.Name)] = true
		v.check(l.Type == ListenerPublic || l.Type == ListenerPrivate, path+".type", "%q is not a listener type: use public or private", l.Type)
		v.check(c.Interface(l.Interface) != nil, path+".interface", "interface %q does not exist", l.Interface)
		v.port(path+".port", l.Port, false)
		v.check(validLevel(l.TLS), path+".tls", "%q is not a TLS level: use off, preferred, required, preferred-verify or required-verify", l.TLS)
		if l.TLS != TLSOff {
			v.check(c.Certificate(l.Certificate) != nil, path+".certificate", "certificate %q does not exist: choose one listed by certconfig", l.Certificate)
		}
		for _, d := range l.Domains {
			v.check(domainRE.MatchString(d), path+".domains", "%q is not a domain: write example.com, or .example.com for its subdomains", d)
		}
		for _, n := range l.RelayFrom {
			_, err := netip.ParsePrefix(n)
			v.check(err == nil, path+".relay_from", "%q is not a network: write it as CIDR, e.g. 192.0.2.0/24", n)
		}
		v.check(l.MaxMessageBytes > 0, path+".max_message_bytes", "must be positive")
		v.check(l.MaxRecipients > 0, path+".max_recipients", "must be positive")
		v.check(l.MaxConnections > 0, path+".max_connections", "must be positive")
		v.check(l.MaxConnectionsPerIP > 0 && l.MaxConnectionsPerIP <= max(l.MaxConnections, 1), path+".max_connections_per_ip",
			"must be positive and at most max_connections (%d)", l.MaxConnections)
		v.check(l.IdleTimeout > 0, path+".idle_timeout", "must be positive, e.g. 5m")
	}
}

func validLevel(level string) bool {
	for _, l := range TLSLevels {
		if l.Value == level {
			return true
		}
	}
	return false
}

func (v *validator) users(c *Config) {
	admins := 0
	for i, u := range c.Users {
		path := fmt.Sprintf("users[%d]", i)
		v.check(nameRE.MatchString(u.Name), path+".name", "%q is not a valid user name", u.Name)
		v.check(strings.HasPrefix(u.PasswordHash, "$2"), path+".password_hash", "user %q has no bcrypt password hash", u.Name)
		if nameRE.MatchString(u.Name) && strings.HasPrefix(u.PasswordHash, "$2") {
			admins++
		}
	}
	// Without one, nobody could log in to the GUI or over SSH.
	v.check(admins > 0, "users", "no administrator account with a password: nobody could log in to the GUI or over SSH; "+
		"add one, e.g. \"users: [{name: admin, password_hash: '$2a$10$…'}]\" with a bcrypt hash (htpasswd -nbBC 10 admin PASSWORD prints admin:<hash>), "+
		"or load a saved configuration that has one")
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

func validDestLevel(level string, allowDefault bool) bool {
	if level == DestTLSDefault {
		return allowDefault
	}
	for _, l := range DestTLSLevels {
		if l.Value == level {
			return true
		}
	}
	return false
}

// ValidRouteHost checks one smtproutes destination: USEDNS, host or host:port.
func ValidRouteHost(h string) error {
	if strings.EqualFold(h, UseDNS) {
		return nil
	}
	host, port := h, ""
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[:i], ":") {
		host, port = h[:i], h[i+1:]
	} else if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]:"); i > 0 {
			host, port = h[1:i], h[i+2:]
		}
	}
	if port != "" {
		var n int
		if _, err := fmt.Sscanf(port, "%d", &n); err != nil || n < 1 || n > 65535 || fmt.Sprint(n) != port {
			return fmt.Errorf("%q has a bad port: write host or host:port with a port from 1 to 65535", h)
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !hostnameRE.MatchString(host) {
		return fmt.Errorf("%q is not a host name or IP address (or USEDNS)", h)
	}
	return nil
}

func (v *validator) routes(c *Config) {
	seen := map[string]bool{}
	for i, r := range c.Routes {
		path := fmt.Sprintf("routes[%d]", i)
		v.check(domainRE.MatchString(r.Domain), path+".domain", "%q is not a domain: write example.com, or .example.com for its subdomains", r.Domain)
		v.check(!seen[strings.ToLower(r.Domain)], path+".domain", "The value %s is already in the routing table.", r.Domain)
		seen[strings.ToLower(r.Domain)] = true
		v.check(len(r.Hosts) > 0, path+".hosts", "route %s has no destination host: give host, host:port or USEDNS", r.Domain)
		for _, h := range r.Hosts {
			if err := ValidRouteHost(h); err != nil {
				v.check(false, path+".hosts", "%v", err)
			}
		}
	}
}

func (v *validator) destinations(c *Config) {
	d := c.Destinations
	v.check(validDestLevel(d.Default.TLS, false), "destinations.default.tls", "%q is not a TLS level: use none, preferred, required, preferred-verify or required-verify", d.Default.TLS)
	v.check(d.Default.MaxConnections > 0, "destinations.default.max_connections", "must be positive")
	v.check(d.Default.MaxMessagesPerConnection > 0, "destinations.default.max_messages_per_connection", "must be positive")
	seen := map[string]bool{}
	for i, e := range d.Domains {
		path := fmt.Sprintf("destinations.domains[%d]", i)
		v.check(domainRE.MatchString(e.Domain), path+".domain", "%q is not a domain", e.Domain)
		v.check(!seen[strings.ToLower(e.Domain)], path+".domain", "destination %s is configured twice", e.Domain)
		seen[strings.ToLower(e.Domain)] = true
		v.check(validDestLevel(e.TLS, true), path+".tls", "%q is not a TLS level", e.TLS)
		v.check(e.MaxConnections >= 0 && e.MaxMessagesPerConnection >= 0, path, "limits must be 0 (default) or positive")
	}
	if d.Certificate != "" {
		v.check(c.Certificate(d.Certificate) != nil, "destinations.certificate", "certificate %q does not exist: choose one listed by certconfig", d.Certificate)
	}
	for _, a := range d.AlertRecipients {
		v.check(strings.Count(a, "@") == 1 && !strings.HasPrefix(a, "@") && !strings.HasSuffix(a, "@"), "destinations.alert_recipients", "%q is not an email address", a)
	}
}

func (v *validator) delivery(c *Config) {
	d := c.Delivery
	v.check(strings.EqualFold(d.Interface, "Auto") || c.Interface(d.Interface) != nil, "delivery.interface", "%q is neither Auto nor a configured interface", d.Interface)
	v.check(d.MaxConnections > 0, "delivery.max_connections", "must be positive")
	v.check(d.RetryInitial > 0 && d.RetryMax >= d.RetryInitial, "delivery.retry_initial", "retry times must be positive, the maximum at least the initial one")
	v.check(d.MaxQueueLifetime > 0, "delivery.max_queue_lifetime", "must be positive, e.g. 72h")
	if d.Resolver != SystemResolver {
		_, err := netip.ParseAddrPort(d.Resolver)
		v.check(err == nil, "delivery.resolver", "%q is neither system nor a DNS server as IP:port (e.g. 127.0.0.1:53)", d.Resolver)
	}
}
