package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// LDAP is ldapconfig: the LDAP server profiles and the LDAP global settings.
type LDAP struct {
	// Certificate is the client certificate presented to an LDAP server
	// that asks for one (the LDAP global settings of seed 003); "" presents none.
	Certificate string `yaml:"certificate,omitempty"`
	// Profiles are the server profiles, each with its accept query.
	Profiles []LDAPProfile `yaml:"profiles,omitempty"`
}

// LDAP connection kinds of a server profile.
const (
	LDAPPlain    = "none"     // plain LDAP, no TLS
	LDAPSSL      = "ssl"      // LDAPS: TLS from the first byte
	LDAPStartTLS = "starttls" // plain LDAP, then the StartTLS extended operation
)

// LDAPConnections lists the connection kinds with their menu labels, in menu order.
var LDAPConnections = []struct{ Value, Label string }{
	{LDAPPlain, "None (plain LDAP)"},
	{LDAPSSL, "SSL (LDAPS)"},
	{LDAPStartTLS, "StartTLS"},
}

// LDAPConnectionLabel is the menu label of a connection kind.
func LDAPConnectionLabel(kind string) string {
	for _, c := range LDAPConnections {
		if c.Value == kind {
			return c.Label
		}
	}
	return kind
}

// LDAPProfile is one LDAP server profile (ldapconfig NEW).
type LDAPProfile struct {
	Name string `yaml:"name"`
	// Hosts are tried in order: the next when one cannot be reached (failover).
	Hosts      []string `yaml:"hosts"`
	Port       int      `yaml:"port"`
	Connection string   `yaml:"connection"`
	// BindDN and BindPassword authenticate the queries; an empty BindDN binds anonymously.
	BindDN       string `yaml:"bind_dn"`
	BindPassword string `yaml:"bind_password"`
	BaseDN       string `yaml:"base_dn"`
	// AcceptQuery is the filter of the PROFILE.ldapaccept query ("" none):
	// {a} is the recipient's address, {u} its local part, {d} its domain.
	AcceptQuery string `yaml:"accept_query"`
	// Timeout bounds connecting, binding and one query.
	Timeout Duration `yaml:"timeout"`
	// CacheTTL keeps an address found, NegativeTTL one not found, CacheSize
	// entries at most.
	CacheTTL    Duration `yaml:"cache_ttl"`
	NegativeTTL Duration `yaml:"negative_ttl"`
	CacheSize   int      `yaml:"cache_size"`
	// MaxConnections caps the open connections to the profile's servers.
	MaxConnections int `yaml:"max_connections"`
}

// KindLDAPProfile names server profiles in messages.
const KindLDAPProfile = "LDAP server profile"

// AcceptQuerySuffix ends the name of a profile's accept query, as AsyncOS
// names it: "PublicLDAP.ldapaccept".
const AcceptQuerySuffix = ".ldapaccept"

// DefaultAcceptQuery is the accept query a new profile gets.
const DefaultAcceptQuery = "(mail={a})"

// Ranges of the server profile settings.
var (
	LDAPTimeoutRange     = Range{1, 60}
	LDAPCacheTTLRange    = Range{0, 24 * 60 * 60}
	LDAPNegativeTTLRange = Range{0, 60 * 60}
	LDAPCacheSizeRange   = Range{0, 1000000}
	LDAPConnectionsRange = Range{1, 100}
)

// Default ports of the connection kinds.
const (
	LDAPPort  = 389
	LDAPSPort = 636
)

// NewLDAPProfile is a profile with the defaults of ldapconfig NEW.
func NewLDAPProfile(name string) LDAPProfile {
	return LDAPProfile{Name: name, Port: LDAPPort, Connection: LDAPStartTLS, AcceptQuery: DefaultAcceptQuery,
		Timeout: Duration(10 * time.Second), CacheTTL: Duration(15 * time.Minute), NegativeTTL: Duration(time.Minute),
		CacheSize: 10000, MaxConnections: 10}
}

// QueryName is the name of the profile's accept query.
func (p LDAPProfile) QueryName() string { return p.Name + AcceptQuerySuffix }

func (p LDAPProfile) key() string { return p.Name }

func (l LDAP) clone() LDAP {
	n := l
	n.Profiles = slices.Clone(l.Profiles)
	for i := range n.Profiles {
		n.Profiles[i].Hosts = slices.Clone(l.Profiles[i].Hosts)
	}
	return n
}

// LDAPProfile returns the profile with that name (case-insensitive), or nil.
func (c *Config) LDAPProfile(name string) *LDAPProfile {
	if i := find(c.LDAP.Profiles, name); i >= 0 {
		return &c.LDAP.Profiles[i]
	}
	return nil
}

// FindLDAPProfile returns the profile with that name.
func (c *Config) FindLDAPProfile(name string) (*LDAPProfile, error) {
	if p := c.LDAPProfile(name); p != nil {
		return p, nil
	}
	return nil, errNoProfile(name)
}

func errNoProfile(name string) error {
	return fmt.Errorf("%s %q does not exist: choose one listed by ldapconfig", KindLDAPProfile, name)
}

// FindAcceptQuery returns the profile whose accept query is named query
// ("PublicLDAP.ldapaccept"; the profile's name alone is taken too).
func (c *Config) FindAcceptQuery(query string) (*LDAPProfile, error) {
	p := c.LDAPProfile(queryProfile(query))
	if p == nil {
		return nil, fmt.Errorf("LDAP accept query %q does not exist: name one as PROFILE%s, with a profile listed by ldapconfig", query, AcceptQuerySuffix)
	}
	if p.AcceptQuery == "" {
		return nil, fmt.Errorf("LDAP server profile %q has no accept query: set one with ldapconfig EDIT %s LDAPACCEPT", p.Name, p.Name)
	}
	return p, nil
}

// queryProfile is the profile name of a query name ("PublicLDAP.ldapaccept"
// or "PublicLDAP").
func queryProfile(query string) string {
	if n := len(query) - len(AcceptQuerySuffix); n > 0 && strings.EqualFold(query[n:], AcceptQuerySuffix) {
		return query[:n]
	}
	return query
}

// PutLDAPProfile stores p in place of the profile named old ("" adds it).
func (c *Config) PutLDAPProfile(old string, p LDAPProfile) error {
	i, err := slot(c.LDAP.Profiles, KindLDAPProfile, old, func(_, name string) error { return errNoProfile(name) })
	if err != nil {
		return err
	}
	v := &validator{bare: true}
	v.ldapProfile("", p, keys(c.LDAP.Profiles, i))
	if err := v.err(); err != nil {
		return err
	}
	if i >= 0 && !strings.EqualFold(c.LDAP.Profiles[i].Name, p.Name) {
		if users := c.LDAPProfileUsers(c.LDAP.Profiles[i].Name); len(users) > 0 {
			return fmt.Errorf("LDAP server profile %q is used by %s: choose another accept query there before renaming it (listenerconfig EDIT LDAPACCEPT)", c.LDAP.Profiles[i].Name, strings.Join(users, ", "))
		}
	}
	if i >= 0 && p.AcceptQuery == "" {
		if users := c.LDAPProfileUsers(c.LDAP.Profiles[i].Name); len(users) > 0 {
			return fmt.Errorf("the accept query of %q is used by %s: choose another accept query there before removing it (listenerconfig EDIT LDAPACCEPT)", p.Name, strings.Join(users, ", "))
		}
	}
	c.LDAP.Profiles = put(slices.Clone(c.LDAP.Profiles), i, p)
	return nil
}

// DeleteLDAPProfile removes a profile no listener uses.
func (c *Config) DeleteLDAPProfile(name string) error {
	p, err := c.FindLDAPProfile(name)
	if err != nil {
		return err
	}
	if users := c.LDAPProfileUsers(p.Name); len(users) > 0 {
		return fmt.Errorf("LDAP server profile %q is used by %s: choose another accept query there first (listenerconfig EDIT LDAPACCEPT)", p.Name, strings.Join(users, ", "))
	}
	return remove(&c.LDAP.Profiles, KindLDAPProfile, p.Name, func(_, n string) error { return errNoProfile(n) })
}

// LDAPProfileUsers names the listeners whose accept query is the profile's.
func (c *Config) LDAPProfileUsers(name string) []string {
	var out []string
	for _, l := range c.Listeners {
		if l.LDAPAccept != "" && strings.EqualFold(queryProfile(l.LDAPAccept), name) {
			out = append(out, "listener "+l.Name)
		}
	}
	return out
}

// SetLDAPCertificate sets the client certificate of the LDAP global
// settings; "" presents none.
func (c *Config) SetLDAPCertificate(name string) error {
	if name == "" {
		c.LDAP.Certificate = ""
		return nil
	}
	cert, err := c.FindCertificate(name)
	if err != nil {
		return err
	}
	c.LDAP.Certificate = cert.Name
	return nil
}

// SetLDAPAccept makes listener l validate recipients with the accept query
// named query ("" stops it). Only a public listener takes one.
func (c *Config) SetLDAPAccept(listener, query string) error {
	l, err := c.FindListener(listener)
	if err != nil {
		return err
	}
	next := *l
	next.LDAPAccept = ""
	if query != "" {
		p, err := c.FindAcceptQuery(query)
		if err != nil {
			return err
		}
		next.LDAPAccept = p.QueryName()
	}
	if next.LDAPAccept != "" && next.Type != ListenerPublic {
		return fmt.Errorf("listener %s is private: only a public listener validates recipients with an LDAP accept query", l.Name)
	}
	return c.PutListener(l.Name, next)
}

// ParseLDAPHosts checks a list of LDAP server host names or addresses.
func ParseLDAPHosts(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, errors.New("no LDAP server host: enter at least one host name or IP address, e.g. ldap.example.com")
	}
	out := make([]string, 0, len(list))
	for _, h := range list {
		if err := CheckLDAPHost(h); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, h) }) {
			return nil, fmt.Errorf("LDAP host %q is listed twice: list each server once", h)
		}
		out = append(out, h)
	}
	return out, nil
}

// CheckLDAPHost checks one LDAP server: a host name or an IP address, no port.
func CheckLDAPHost(h string) error {
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	if strings.Contains(h, ":") {
		return fmt.Errorf("LDAP host %q carries a port: enter the host alone, the port is asked separately", h)
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	if h == "" || !validLabels(labels) || len(h) > 253 {
		return fmt.Errorf("%q is not a valid LDAP host: enter a host name such as ldap.example.com or an IP address", h)
	}
	return nil
}

// CheckDN checks a distinguished name (RFC 4514), e.g. dc=example,dc=com.
func CheckDN(what, dn string) error {
	if strings.TrimSpace(dn) == "" {
		return fmt.Errorf("the %s is empty: enter a distinguished name such as dc=example,dc=com", what)
	}
	if _, err := ldap.ParseDN(dn); err != nil {
		return fmt.Errorf("%q is not a valid %s: write it as attribute=value pairs separated by commas, such as dc=example,dc=com (%v)", dn, what, err)
	}
	return nil
}

// The tokens of an accept query.
var acceptTokens = []string{"{a}", "{u}", "{d}"}

// CheckAcceptQuery checks an accept query: an LDAP filter (RFC 4515) with
// the recipient in it as {a} (the address) or {u} (its local part, with
// {d} its domain).
func CheckAcceptQuery(q string) error {
	if !strings.Contains(q, "{a}") && !strings.Contains(q, "{u}") {
		return fmt.Errorf("the accept query %q does not name the recipient: put {a} (the address) or {u} (its local part) in it, e.g. (mail={a})", q)
	}
	rest := q
	for _, t := range acceptTokens {
		rest = strings.ReplaceAll(rest, t, "x")
	}
	if i := strings.IndexAny(rest, "{}"); i >= 0 {
		return fmt.Errorf("the accept query %q has an unknown token near %q: the tokens are {a}, {u} and {d}", q, rest[i:])
	}
	if _, err := ldap.CompileFilter(rest); err != nil {
		return fmt.Errorf("the accept query %q is not an LDAP filter: write it in parentheses, e.g. (mail={a}) or (|(mail={a})(mailAlternateAddress={a})) (%v)", q, err)
	}
	return nil
}

func (v *validator) ldapProfile(path string, p LDAPProfile, others []string) {
	at := func(f string) string {
		if path == "" {
			return f
		}
		return path + "." + f
	}
	if err := CheckName(KindLDAPProfile, p.Name); err != nil {
		v.add(at("name"), err)
	} else {
		v.add(at("name"), nameClash(KindLDAPProfile, p.Name, others))
	}
	_, err := ParseLDAPHosts(p.Hosts)
	v.add(at("hosts"), err)
	v.add(at("port"), CheckPort(p.Port))
	v.check(slices.ContainsFunc(LDAPConnections, func(c struct{ Value, Label string }) bool { return c.Value == p.Connection }),
		at("connection"), "%q is not an LDAP connection: use none, ssl or starttls", p.Connection)
	if p.BindDN != "" {
		v.add(at("bind_dn"), CheckDN("bind DN", p.BindDN))
	}
	v.check(p.BindDN != "" || p.BindPassword == "", at("bind_password"), "a bind password without a bind DN: enter the bind DN too, or no password for an anonymous bind")
	v.add(at("base_dn"), CheckDN("base DN", p.BaseDN))
	if p.AcceptQuery != "" {
		v.add(at("accept_query"), CheckAcceptQuery(p.AcceptQuery))
	}
	ps := collect(
		fieldProblem{"timeout", LDAPTimeoutRange.Check(int(time.Duration(p.Timeout) / time.Second))},
		fieldProblem{"cache_ttl", LDAPCacheTTLRange.Check(int(time.Duration(p.CacheTTL) / time.Second))},
		fieldProblem{"negative_ttl", LDAPNegativeTTLRange.Check(int(time.Duration(p.NegativeTTL) / time.Second))},
		fieldProblem{"cache_size", LDAPCacheSizeRange.Check(p.CacheSize)},
		fieldProblem{"max_connections", LDAPConnectionsRange.Check(p.MaxConnections)},
	)
	if v.bare {
		// A mutation's message names the field it refuses.
		if err := joinProblems("", ps); err != nil {
			v.problems = append(v.problems, err)
		}
		return
	}
	v.fields(path, ps)
}

// ldap checks the LDAP section and the listeners' accept queries.
func (v *validator) ldap(c *Config) {
	for i, p := range c.LDAP.Profiles {
		v.ldapProfile(fmt.Sprintf("ldap.profiles[%d]", i), p, keys(c.LDAP.Profiles[:i], -1))
	}
	if c.LDAP.Certificate != "" {
		v.add("ldap.certificate", c.checkCertificate(c.LDAP.Certificate))
	}
}

// listenerLDAP checks a listener's accept query.
func (v *validator) listenerLDAP(c *Config, path string, l Listener) {
	if l.LDAPAccept == "" {
		return
	}
	v.check(l.Type == ListenerPublic, path+".ldap_accept", "listener %s is private: only a public listener validates recipients with an LDAP accept query", l.Name)
	_, err := c.FindAcceptQuery(l.LDAPAccept)
	v.add(path+".ldap_accept", err)
}

// mask replaces the bind passwords with MaskedSecret.
func (l *LDAP) mask() {
	for i := range l.Profiles {
		if l.Profiles[i].BindPassword != "" {
			l.Profiles[i].BindPassword = MaskedSecret
		}
	}
}

// hasMasked reports whether a bind password is still the mask.
func (l LDAP) hasMasked() bool {
	return slices.ContainsFunc(l.Profiles, func(p LDAPProfile) bool { return strings.Contains(p.BindPassword, MaskedSecret) })
}
