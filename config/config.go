// Package config holds Relaybox's configuration model: the schema of the one
// YAML document, its embedded defaults, whole-document validation, the store of
// committed versions (atomic writes, history) and the per-session pending copy
// that commit validates, applies and persists.
package config

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// SchemaVersion is the version of the YAML document layout this build reads and writes.
const SchemaVersion = 1

// Config is the whole appliance configuration. A committed Config is never
// modified; sessions edit a Clone.
//
// Every field is a merge section (see ChangedSections) named by its
// "section" tag, or by its YAML key when it has none; "-" marks the commit
// metadata, and "split" a struct whose fields are sections of their own.
type Config struct {
	Schema  int       `yaml:"schema" section:"-"`
	Version int       `yaml:"version" section:"-"`
	Time    time.Time `yaml:"time" section:"-"`
	User    string    `yaml:"user" section:"-"`
	Comment string    `yaml:"comment" section:"-"`

	Hostname     string        `yaml:"hostname" section:"hostname"`
	SSL          SSL           `yaml:"ssl" section:"split"`
	Inbound      Inbound       `yaml:"inbound" section:"listenerconfig SETUP"`
	Interfaces   []Interface   `yaml:"interfaces" section:"interfaces"`
	Listeners    []Listener    `yaml:"listeners" section:"listeners"`
	Certificates []Certificate `yaml:"certificates" section:"certificates"`
	Trust        Trust         `yaml:"trust" section:"certconfig CERTAUTHORITY"`
	Routes       []Route       `yaml:"routes" section:"smtproutes"`
	Destinations Destinations  `yaml:"destinations" section:"destconfig"`
	Delivery     Delivery      `yaml:"delivery" section:"deliveryconfig"`
	Users        []User        `yaml:"users" section:"users"`
	// PasswordPolicy is userconfig POLICY: what a new password must satisfy.
	PasswordPolicy PasswordPolicy `yaml:"password_policy" section:"userconfig POLICY"`
	// SSH is sshconfig SETUP: the SSH server's limits.
	SSH      SSH      `yaml:"ssh" section:"sshconfig SETUP"`
	Rollback Rollback `yaml:"rollback" section:"rollbackconfig SETUP"`
	// LDAP is ldapconfig: server profiles, accept queries, the client certificate.
	LDAP LDAP `yaml:"ldap,omitempty" section:"ldapconfig"`
	// WebSecurity is websecurityconfig: URL filtering over mutual TLS.
	WebSecurity WebSecurity `yaml:"web_security" section:"websecurityconfig"`
	// URLLists are urllistconfig's named lists of domains and URLs.
	URLLists []URLList `yaml:"url_lists" section:"urllistconfig"`
}

// SSH holds the SSH server's limits (sshconfig SETUP). The port is an
// interface setting (interfaceconfig).
type SSH struct {
	// MaxSessions caps the open SSH sessions over all interfaces.
	MaxSessions int `yaml:"max_sessions"`
	// LoginGrace is how long a client has to log in.
	LoginGrace Duration `yaml:"login_grace"`
	// IdleTimeout closes a session that typed nothing for this long.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Ranges of the SSH limits.
var (
	SSHSessionsRange     = Range{1, 1000}
	SSHGraceSecondsRange = Range{5, 600}
	SSHIdleSecondsRange  = Range{10, 24 * 60 * 60}
)

// DefaultSSH is the first-start SSH setup.
func DefaultSSH() SSH {
	return SSH{MaxSessions: 16, LoginGrace: Duration(time.Minute), IdleTimeout: Duration(30 * time.Minute)}
}

// SetSSH changes the SSH limits (sshconfig SETUP).
func (c *Config) SetSSH(s SSH) error {
	if err := joinProblems("", s.problems()); err != nil {
		return err
	}
	c.SSH = s
	return nil
}

// problems are the limits out of range, each named by its YAML field.
func (s SSH) problems() []fieldProblem {
	return collect(
		fieldProblem{"max_sessions", SSHSessionsRange.Check(s.MaxSessions)},
		fieldProblem{"login_grace", SSHGraceSecondsRange.Check(int(time.Duration(s.LoginGrace) / time.Second))},
		fieldProblem{"idle_timeout", SSHIdleSecondsRange.Check(int(time.Duration(s.IdleTimeout) / time.Second))},
	)
}

// Rollback is rollbackconfig SETUP. The store keeps its history of committed
// versions either way (a restart after a crash needs it); Disabled only
// hides rollbackconfig ROLLBACK and refuses "rollbackconfig VERSION".
type Rollback struct {
	Disabled bool `yaml:"disabled"`
}

// UseDNS is the smtproutes destination meaning "deliver by MX lookup".
const UseDNS = "USEDNS"

// Special smtproutes entries, as AsyncOS writes them: the route of domain
// RouteAll is the default route for every domain without its own, and the
// destination RouteDiscard throws the mail away.
const (
	RouteAll     = "ALL"
	RouteDiscard = "/dev/null"
)

// Route is an smtproutes entry: mail for Domain (".example.com" for its
// subdomains) goes to Hosts, tried in order ("host", "host:port" or USEDNS).
type Route struct {
	Domain string   `yaml:"domain"`
	Hosts  []string `yaml:"hosts"`
}

// Outbound TLS levels of destination controls (destconfig), in menu order.
const (
	DestTLSDefault         = ""          // follow the DEFAULT entry
	DestTLSNone            = "none"      // 1. No
	DestTLSPreferred       = "preferred" // 2. Preferred
	DestTLSRequired        = "required"  // 3. Required
	DestTLSPreferredVerify = "preferred-verify"
	DestTLSRequiredVerify  = "required-verify"
)

// DestTLSLevels lists the destconfig TLS levels with their menu labels.
var DestTLSLevels = []struct{ Value, Label string }{
	{DestTLSNone, "No"},
	{DestTLSPreferred, "Preferred"},
	{DestTLSRequired, "Required"},
	{DestTLSPreferredVerify, "Preferred (Verify)"},
	{DestTLSRequiredVerify, "Required (Verify)"},
}

// DestTLSLabel is the menu label of a level, "Default" for a domain that follows DEFAULT.
func DestTLSLabel(level string) string {
	for _, l := range DestTLSLevels {
		if l.Value == level {
			return l.Label
		}
	}
	return "Default"
}

// Destinations is destconfig: the DEFAULT entry, per-domain entries and the global SETUP.
type Destinations struct {
	Default DestPolicy   `yaml:"default"`
	Domains []DestPolicy `yaml:"domains"`
	// Certificate is the client certificate offered on outbound TLS ("" = none).
	Certificate string `yaml:"certificate"`
	// AlertOnRequiredTLSFailure sends an alert when a required TLS delivery fails.
	AlertOnRequiredTLSFailure bool `yaml:"alert_on_required_tls_failure"`
	// AlertRecipients receive those alerts.
	AlertRecipients []string `yaml:"alert_recipients"`
}

// DestPolicy is one destination controls entry. Zero values in a domain entry follow DEFAULT.
type DestPolicy struct {
	Domain                   string `yaml:"domain,omitempty"`
	TLS                      string `yaml:"tls"`
	MaxConnections           int    `yaml:"max_connections"`
	MaxMessagesPerConnection int    `yaml:"max_messages_per_connection"`
}

// Delivery is deliveryconfig plus the queue's retry settings.
type Delivery struct {
	// Interface is the source of outbound connections: "Auto" or an interface name.
	Interface string `yaml:"interface"`
	// MaxConnections caps outbound connections over all destinations.
	MaxConnections int `yaml:"max_connections"`
	// RetryInitial and RetryMax bound the backoff between delivery attempts.
	RetryInitial Duration `yaml:"retry_initial"`
	RetryMax     Duration `yaml:"retry_max"`
	// MaxQueueLifetime is how long a message may wait before it bounces.
	MaxQueueLifetime Duration `yaml:"max_queue_lifetime"`
	// Resolver answers MX lookups: "system" (resolv.conf) or a DNS server as host:port.
	Resolver string `yaml:"resolver"`
}

// SystemResolver selects the operating system's DNS configuration.
const SystemResolver = "system"

// DestinationFor returns the effective policy for a recipient domain: the
// most specific entry (exact, then ".parent"), with unset fields from DEFAULT.
func (d Destinations) DestinationFor(domain string) DestPolicy {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	p := d.Default
	best := -1
	for i, e := range d.Domains {
		ed := strings.ToLower(e.Domain)
		if ed == domain || strings.HasPrefix(ed, ".") && strings.HasSuffix(domain, ed) {
			if best < 0 || len(ed) > len(d.Domains[best].Domain) {
				best = i
			}
		}
	}
	if best >= 0 {
		e := d.Domains[best]
		p.Domain = e.Domain
		if e.TLS != DestTLSDefault {
			p.TLS = e.TLS
		}
		if e.MaxConnections > 0 {
			p.MaxConnections = e.MaxConnections
		}
		if e.MaxMessagesPerConnection > 0 {
			p.MaxMessagesPerConnection = e.MaxMessagesPerConnection
		}
	}
	return p
}

// RouteFor returns the hosts for a recipient domain: the most specific route,
// else nil (deliver by MX).
func (c *Config) RouteFor(domain string) []string {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	var best *Route
	for i, r := range c.Routes {
		rd := strings.ToLower(r.Domain)
		if rd == domain || strings.HasPrefix(rd, ".") && strings.HasSuffix(domain, rd) {
			if best == nil || len(rd) > len(best.Domain) {
				best = &c.Routes[i]
			}
		}
	}
	if best == nil {
		return nil
	}
	return best.Hosts
}

// Trust is the trust store for verifying peers (certconfig CERTAUTHORITY):
// the system roots and the custom authorities, each switchable.
type Trust struct {
	System    bool `yaml:"system"`
	Custom    bool `yaml:"custom"`
	CustomCAs []CA `yaml:"custom_cas"`
}

// CA is a custom certificate authority.
type CA struct {
	Name string `yaml:"name"`
	PEM  string `yaml:"pem"`
}

// SSL is what sslconfig edits.
type SSL struct {
	GUI      Service `yaml:"gui" section:"sslconfig GUI"`
	Inbound  Service `yaml:"inbound" section:"sslconfig INBOUND"`
	Outbound Service `yaml:"outbound" section:"sslconfig OUTBOUND"`
	// OtherClientTLSv10 lets the box's other TLS clients (LDAP, updater, …) use TLS 1.0 too.
	OtherClientTLSv10 bool `yaml:"other_client_tlsv10" section:"sslconfig OTHER_CLIENT_TLSV10"`
	PeerCertFQDN      bool `yaml:"peer_cert_fqdn" section:"sslconfig PEER_CERT_FQDN"`
	PeerCertX509      bool `yaml:"peer_cert_x509" section:"sslconfig PEER_CERT_X509"`
}

// Service is the TLS setting of one service: GUI HTTPS, inbound or outbound SMTP.
type Service struct {
	// Methods are the enabled protocol versions, oldest first, e.g. [TLSv1.1, TLSv1.2].
	Methods []Method `yaml:"methods"`
	// Ciphers is an OpenSSL cipher list for TLS 1.0–1.2; TLS 1.3 suites are fixed.
	Ciphers string `yaml:"ciphers"`
	// Renegotiation is kept for AsyncOS parity; it is always off (see docs/sslconfig.md).
	Renegotiation bool `yaml:"renegotiation,omitempty"`
}

// Inbound holds listenerconfig SETUP: limits across all listeners.
type Inbound struct {
	// MaxConnections caps concurrent inbound SMTP connections over all listeners (0: no global cap).
	MaxConnections int `yaml:"max_connections"`
}

// Interface is an IP interface with its services.
type Interface struct {
	Name        string `yaml:"name"`
	Address     string `yaml:"address"`
	Netmask     int    `yaml:"netmask"`
	Hostname    string `yaml:"hostname"`
	HTTPSPort   int    `yaml:"https_port"`
	SSHPort     int    `yaml:"ssh_port"`
	Certificate string `yaml:"certificate"`
}

// Listener types.
const (
	ListenerPublic  = "public"
	ListenerPrivate = "private"
)

// TLS levels of a listener's default mail flow policy, in the order of the
// HOSTACCESS menu (1. No 2. Preferred 3. Required 4. Preferred - Verify
// 5. Required - Verify). Verify levels ask for a client certificate and check
// it against the trust store.
const (
	TLSOff             = "off"
	TLSPreferred       = "preferred"
	TLSRequired        = "required"
	TLSPreferredVerify = "preferred-verify"
	TLSRequiredVerify  = "required-verify"
)

// TLSLevels lists the levels in menu order with their menu labels.
var TLSLevels = []struct{ Value, Label string }{
	{TLSOff, "No"},
	{TLSPreferred, "Preferred"},
	{TLSRequired, "Required"},
	{TLSPreferredVerify, "Preferred - Verify"},
	{TLSRequiredVerify, "Required - Verify"},
}

// TLSRequiredLevel reports whether a level refuses mail before STARTTLS.
func TLSRequiredLevel(level string) bool { return level == TLSRequired || level == TLSRequiredVerify }

// TLSLevelLabel is the menu label of a level ("Preferred - Verify").
func TLSLevelLabel(level string) string {
	for _, l := range TLSLevels {
		if l.Value == level {
			return l.Label
		}
	}
	return level
}

// Listener is an SMTP listener.
type Listener struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"`
	Interface   string `yaml:"interface"`
	Port        int    `yaml:"port"`
	Certificate string `yaml:"certificate"`
	TLS         string `yaml:"tls"`
	// Domains are the recipient domains a public listener accepts mail for.
	Domains []string `yaml:"domains"`
	// RelayFrom are the client networks a private listener relays for (CIDRs).
	RelayFrom       []string `yaml:"relay_from"`
	MaxMessageBytes int64    `yaml:"max_message_bytes"`
	MaxRecipients   int      `yaml:"max_recipients"`
	// MaxConnections caps the listener's concurrent connections in total,
	// MaxConnectionsPerIP those from one client address.
	MaxConnections      int      `yaml:"max_connections"`
	MaxConnectionsPerIP int      `yaml:"max_connections_per_ip"`
	IdleTimeout         Duration `yaml:"idle_timeout"`
	// LDAPAccept names the LDAP accept query ("PROFILE.ldapaccept") that
	// refuses unknown recipients at RCPT time; public listeners only.
	LDAPAccept string `yaml:"ldap_accept,omitempty"`
}

// Certificate is a certificate with its chain; the private key lives in an
// owner-only file named by Key (see package certstore).
type Certificate struct {
	Name string `yaml:"name"`
	// PEM holds the leaf certificate first, then its intermediates.
	PEM string `yaml:"pem"`
	// Key names the key file (the SHA-256 of the public key, hex).
	Key string `yaml:"key"`
	// CSR is the PEM certificate signing request awaiting its signed
	// certificate (status "Not signed"); empty once the signed one is pasted.
	CSR string `yaml:"csr,omitempty"`
	// ECDSAPEM and ECDSAKey are the profile's ECDSA twin of an RSA
	// certificate (the Demo certificate has one; certconfig NEW and ECDSA
	// give any RSA profile one): the same subject and names under an ECDSA
	// key (P-256, or P-384 when imported), leaf first then intermediates,
	// and its key file, stored like Key. Servers offer both, and each
	// handshake gets the ECDSA one when the client supports it (a P-256
	// signature costs a small fraction of an RSA-2048 one); clients of the
	// box present the RSA one. Empty for a profile without a twin.
	ECDSAPEM string `yaml:"ecdsa_pem,omitempty"`
	ECDSAKey string `yaml:"ecdsa_key,omitempty"`
	// ECDSACSR is the twin's pending signing request, as CSR is the RSA
	// certificate's; empty once its signed certificate is pasted.
	ECDSACSR string `yaml:"ecdsa_csr,omitempty"`
}

// User is an account for SSH and the GUI (see docs/access.md).
type User struct {
	Name     string `yaml:"name"`
	FullName string `yaml:"full_name"`
	// Role is RoleAdmin or RoleOperator; a document without one (written
	// before roles existed) is read as RoleAdmin.
	Role string `yaml:"role"`
	// PasswordHash is the bcrypt hash of the password; never shown (Masked).
	PasswordHash string `yaml:"password_hash"`
	// PreviousHash is the hash the password had before its last change, for
	// the policy's "not the previous password"; never shown.
	PreviousHash string `yaml:"previous_password_hash,omitempty"`
	// MustChangePassword is set for a password someone else chose (the
	// first-start one-time password, userconfig NEW and PASSWORD): the SSH
	// server asks for a new one at the next login. passwd clears it.
	MustChangePassword bool `yaml:"must_change_password"`
	// NoPasswordLogin refuses password logins: the account logs in with its
	// SSH keys only.
	NoPasswordLogin bool `yaml:"no_password_login"`
	// SSHKeys are the authorized public keys, each one authorized_keys line
	// "TYPE BASE64 [COMMENT]" as ParseSSHKey stores it.
	SSHKeys []string `yaml:"ssh_keys"`
	// APITokens are the account's REST API tokens (userconfig APITOKENS):
	// only a hash of each is kept.
	APITokens []APIToken `yaml:"api_tokens,omitempty"`
}

// Duration is a time.Duration written as "5m0s" in YAML.
type Duration time.Duration

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML reads a duration such as "5m" or "30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration: write it as 30s, 5m or 1h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Method is a TLS protocol version as configured.
type Method string

// The TLS methods, in the newest-first order of the sslconfig menu.
const (
	TLS13 Method = "TLSv1.3"
	TLS12 Method = "TLSv1.2"
	TLS11 Method = "TLSv1.1"
	TLS10 Method = "TLSv1.0"
)

// MenuMethods is the sslconfig method menu, newest first (item 1 is TLS v1.3).
var MenuMethods = []Method{TLS13, TLS12, TLS11, TLS10}

// Version returns the crypto/tls version constant, or 0 for an unknown method.
func (m Method) Version() uint16 {
	switch m {
	case TLS13:
		return tls.VersionTLS13
	case TLS12:
		return tls.VersionTLS12
	case TLS11:
		return tls.VersionTLS11
	case TLS10:
		return tls.VersionTLS10
	}
	return 0
}

// Label is the menu text, e.g. "TLS v1.3".
func (m Method) Label() string { return "TLS v" + strings.TrimPrefix(string(m), "TLSv") }

// Token is the AsyncOS spelling used in the sslconfig summary, e.g. "tlsv1_3".
func (m Method) Token() string {
	return "tlsv" + strings.ReplaceAll(strings.TrimPrefix(string(m), "TLSv"), ".", "_")
}

// MethodsToken renders methods the way sslconfig shows them: "tlsv1_1tlsv1_2".
func MethodsToken(ms []Method) string {
	var b strings.Builder
	for _, m := range SortMethods(ms) {
		b.WriteString(m.Token())
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// SortMethods returns the methods oldest first without duplicates.
func SortMethods(ms []Method) []Method {
	out := slices.Clone(ms)
	slices.SortFunc(out, func(a, b Method) int { return int(a.Version()) - int(b.Version()) })
	return slices.Compact(out)
}

// ServiceTLS is the TLS base of a service: its version range and, when
// TLS 1.2 or older is enabled, the cipher suites its cipher string selects.
// The engine's listeners add their certificate, delivery its client
// certificate and roots.
func ServiceTLS(svc Service) (*tls.Config, error) {
	lo, hi := VersionRange(svc.Methods)
	if lo == 0 {
		return nil, fmt.Errorf("no TLS method enabled")
	}
	cfg := &tls.Config{MinVersion: lo, MaxVersion: hi}
	if lo <= tls.VersionTLS12 {
		res, err := Offered(svc.Ciphers)
		if err != nil {
			return nil, err
		}
		cfg.CipherSuites = res.IDs()
	}
	return cfg, nil
}

// VersionRange returns the lowest and highest enabled versions.
func VersionRange(ms []Method) (lo, hi uint16) {
	for _, m := range ms {
		v := m.Version()
		if lo == 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// Clone returns a deep copy. (TestCloneSharesNothing checks that every
// slice is copied, so a new field cannot be shared by accident.)
func (c *Config) Clone() *Config {
	n := *c
	n.SSL.GUI.Methods = slices.Clone(c.SSL.GUI.Methods)
	n.SSL.Inbound.Methods = slices.Clone(c.SSL.Inbound.Methods)
	n.SSL.Outbound.Methods = slices.Clone(c.SSL.Outbound.Methods)
	n.Interfaces = slices.Clone(c.Interfaces)
	n.Listeners = slices.Clone(c.Listeners)
	for i := range n.Listeners {
		n.Listeners[i].Domains = slices.Clone(c.Listeners[i].Domains)
		n.Listeners[i].RelayFrom = slices.Clone(c.Listeners[i].RelayFrom)
	}
	n.Certificates = slices.Clone(c.Certificates)
	n.Trust.CustomCAs = slices.Clone(c.Trust.CustomCAs)
	n.Routes = slices.Clone(c.Routes)
	for i := range n.Routes {
		n.Routes[i].Hosts = slices.Clone(c.Routes[i].Hosts)
	}
	n.Destinations.Domains = slices.Clone(c.Destinations.Domains)
	n.Destinations.AlertRecipients = slices.Clone(c.Destinations.AlertRecipients)
	n.URLLists = slices.Clone(c.URLLists)
	for i := range n.URLLists {
		n.URLLists[i].Entries = slices.Clone(c.URLLists[i].Entries)
	}
	n.Users = slices.Clone(c.Users)
	for i := range n.Users {
		n.Users[i].SSHKeys = slices.Clone(c.Users[i].SSHKeys)
		n.Users[i].APITokens = slices.Clone(c.Users[i].APITokens)
	}
	n.LDAP = c.LDAP.clone()
	return &n
}

func (c *Config) mustEncode() []byte {
	b, err := c.Encode()
	if err != nil {
		panic(fmt.Sprintf("config: encoding failed: %v", err))
	}
	return b
}

// Encode writes the document as YAML.
func (c *Config) Encode() ([]byte, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// Decode reads a YAML document strictly: unknown fields, a missing or newer
// schema version, and trailing documents are errors.
func Decode(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parsing configuration: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("parsing configuration: more than one YAML document; keep one")
	}
	switch {
	case c.Schema == 0:
		return nil, fmt.Errorf("parsing configuration: no \"schema\" field; this is not a Relaybox configuration (expected schema: %d)", SchemaVersion)
	case c.Schema > SchemaVersion:
		return nil, fmt.Errorf("parsing configuration: schema %d is newer than this build understands (%d); upgrade Relaybox", c.Schema, SchemaVersion)
	}
	fillAbsentSections(&c)
	return &c, nil
}

// fillAbsentSections gives sections that a document written by an earlier
// release lacks their defaults (their zero values are not valid).
func fillAbsentSections(c *Config) {
	if c.Destinations.Default == (DestPolicy{}) {
		c.Destinations.Default = DefaultDestination()
	}
	if c.Delivery == (Delivery{}) {
		c.Delivery = NewDelivery("")
	}
	if c.Delivery.Resolver == "" {
		c.Delivery.Resolver = SystemResolver
	}
	for i := range c.Users {
		if c.Users[i].Role == "" {
			c.Users[i].Role = RoleAdmin // every account was an administrator before roles
		}
	}
	if c.PasswordPolicy == (PasswordPolicy{}) {
		c.PasswordPolicy = DefaultPasswordPolicy()
	}
	if c.PasswordPolicy.LockoutAfter == 0 && c.PasswordPolicy.LockoutTime == 0 {
		c.PasswordPolicy.LockoutAfter, c.PasswordPolicy.LockoutTime = DefaultLockoutAfter, Duration(DefaultLockoutTime)
	}
	if c.SSH == (SSH{}) {
		c.SSH = DefaultSSH()
	}
	for i := range c.Listeners {
		if c.Listeners[i].MaxConnectionsPerIP == 0 {
			c.Listeners[i].MaxConnectionsPerIP = min(DefaultConnectionsPerIP, c.Listeners[i].MaxConnections)
		}
	}
}

// Listener returns the listener with that name (case-insensitive), or nil.
func (c *Config) Listener(name string) *Listener {
	for i := range c.Listeners {
		if strings.EqualFold(c.Listeners[i].Name, name) {
			return &c.Listeners[i]
		}
	}
	return nil
}

// Interface returns the interface with that name (case-insensitive), or nil.
func (c *Config) Interface(name string) *Interface {
	for i := range c.Interfaces {
		if strings.EqualFold(c.Interfaces[i].Name, name) {
			return &c.Interfaces[i]
		}
	}
	return nil
}

// Certificate returns the certificate with that name (case-insensitive), or nil.
func (c *Config) Certificate(name string) *Certificate {
	for i := range c.Certificates {
		if strings.EqualFold(c.Certificates[i].Name, name) {
			return &c.Certificates[i]
		}
	}
	return nil
}

// SameSettings reports whether two configurations differ only in their commit metadata.
func SameSettings(a, b *Config) bool {
	x, y := *a, *b
	for _, c := range []*Config{&x, &y} {
		c.Version, c.Time, c.User, c.Comment = 0, time.Time{}, "", ""
	}
	return string(x.mustEncode()) == string(y.mustEncode())
}
