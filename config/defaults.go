package config

import (
	"slices"
	"time"
)

// Default cipher strings (AsyncOS 15.5, seed 001). TLS 1.3 suites are fixed.
const (
	DefaultGUICiphers      = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA:!DHE-RSA-AES128-CCM:!DHE-RSA-AES256-CCM:!DHE-RSA-AES256-SHA"
	DefaultInboundCiphers  = DefaultGUICiphers
	DefaultOutboundCiphers = "ECDH+aRSA:ECDH+ECDSA:DHE+DSS+AES:AES128:AES256:!3DES:!IDEA:!SRP:!AESGCM+DH+aRSA:!AESGCM+RSA:!aNULL:!eNULL:!kRSA:@STRENGTH:-aNULL:-EXPORT:-IDEA:!DHE-RSA-AES128-CCM:!DHE-RSA-AES256-CCM:!ECDHE-ECDSA-CAMELLIA128-SHA256:!ECDHE-RSA-CAMELLIA128-SHA256:!ECDHE-ECDSA-CAMELLIA256-SHA384:!ECDHE-RSA-CAMELLIA256-SHA384:!ECDHE-ECDSA-AES128-CCM:!ECDHE-ECDSA-AES256-CCM:!DHE-RSA-AES256-SHA"
)

// Default names of the first-start objects.
const (
	DemoCertificate   = "Demo"
	ManagementIface   = "Management"
	IncomingListener  = "IncomingMail"
	OutgoingListener  = "OutgoingMail"
	DefaultAdminUser  = "admin"
	DefaultIdleTime   = Duration(5 * time.Minute)
	DefaultMaxMessage = 10 << 20
	// DefaultConnectionsPerIP is AsyncOS's default "Max. Concurrent
	// Connections From a Single IP" of a mail flow policy.
	DefaultConnectionsPerIP = 10
)

// DefaultAdminFullName is the first-start admin's full name (AsyncOS's).
const DefaultAdminFullName = "Administrator"

// FirstStart is what the first start of an appliance decides: the machine's
// hostname, the ports (tests move them), the accepted domains, the generated
// Demo certificate and the admin password hash.
type FirstStart struct {
	Hostname       string
	Address        string
	SMTPPort       int
	SubmissionPort int
	HTTPSPort      int
	SSHPort        int
	Domains        []string
	Demo           Certificate
	AdminHash      string
	// AdminPasswordChosen says the operator chose the admin password
	// (RELAYBOX_ADMIN_PASSWORD): it is then not a one-time password, and no
	// change is asked at the first login. By default it is one-time.
	AdminPasswordChosen bool
	// Resolver for MX lookups ("" = system).
	Resolver string
}

// DefaultPorts are the unprivileged ports of a fresh appliance.
var DefaultPorts = FirstStart{Address: "127.0.0.1", SMTPPort: 2525, SubmissionPort: 2587, HTTPSPort: 8443, SSHPort: 2222}

// Default values of new objects.
const (
	DefaultSMTPPort  = 25  // listenerconfig NEW
	DefaultSSHPort   = 22  // interfaceconfig, when SSH is turned on
	DefaultHTTPSPort = 443 // interfaceconfig, when HTTPS is turned on
	DefaultNetmask   = 24  // interfaceconfig NEW
)

// DefaultRelayFrom are the networks a new private listener relays for: this host.
var DefaultRelayFrom = []string{"127.0.0.0/8", "::1/128"}

// Defaults returns the embedded first-start configuration (version 0, not yet committed).
func Defaults(fs FirstStart) *Config {
	host := QualifyHostname(fs.Hostname)
	methods := func() []Method { return []Method{TLS11, TLS12} }
	listener := func(name, typ string, port int) Listener {
		l := NewListener(name, typ, ManagementIface, port)
		l.Certificate, l.TLS = fs.Demo.Name, TLSPreferred
		return l
	}
	in := listener(IncomingListener, ListenerPublic, fs.SMTPPort)
	in.Domains = append([]string(nil), fs.Domains...)
	out := listener(OutgoingListener, ListenerPrivate, fs.SubmissionPort)
	out.RelayFrom = slices.Clone(DefaultRelayFrom)
	mgmt := NewInterface(ManagementIface, fs.Address, 8, host)
	mgmt.HTTPSPort, mgmt.SSHPort, mgmt.Certificate = fs.HTTPSPort, fs.SSHPort, fs.Demo.Name
	return &Config{
		Schema:   SchemaVersion,
		Hostname: host,
		SSL: SSL{
			GUI:      Service{Methods: methods(), Ciphers: DefaultGUICiphers},
			Inbound:  Service{Methods: methods(), Ciphers: DefaultInboundCiphers},
			Outbound: Service{Methods: methods(), Ciphers: DefaultOutboundCiphers},
		},
		Interfaces:   []Interface{mgmt},
		Listeners:    []Listener{in, out},
		Certificates: []Certificate{fs.Demo},
		Trust:        Trust{System: true, Custom: true},
		Destinations: Destinations{Default: DefaultDestination()},
		Delivery:     NewDelivery(fs.Resolver),
		Users: []User{{Name: DefaultAdminUser, FullName: DefaultAdminFullName, Role: RoleAdmin, PasswordHash: fs.AdminHash,
			MustChangePassword: !fs.AdminPasswordChosen}},
		PasswordPolicy: DefaultPasswordPolicy(),
		SSH:            DefaultSSH(),
	}
}

// QualifyHostname makes a first-start host name fully qualified, as the
// configuration requires: a machine name without a domain ("vm") gets
// ".localdomain", one that is no host name at all becomes relaybox.localdomain.
func QualifyHostname(h string) string {
	switch {
	case CheckHostname(h) == nil:
		return h
	case CheckHostname(h+".localdomain") == nil:
		return h + ".localdomain"
	}
	return "relaybox.localdomain"
}

// NewListener returns a listener with the default limits, TLS off and no
// certificate: what listenerconfig NEW and the first start begin from.
func NewListener(name, typ, iface string, port int) Listener {
	return Listener{
		Name: name, Type: typ, Interface: iface, Port: port, TLS: TLSOff,
		MaxMessageBytes: DefaultMaxMessage, MaxRecipients: 100, MaxConnections: 50,
		MaxConnectionsPerIP: DefaultConnectionsPerIP, IdleTimeout: DefaultIdleTime,
	}
}

// NewInterface returns an interface without SSH and HTTPS: what
// interfaceconfig NEW and the first start begin from.
func NewInterface(name, address string, netmask int, hostname string) Interface {
	return Interface{Name: name, Address: address, Netmask: netmask, Hostname: hostname}
}

// DefaultDestination is the first-start DEFAULT entry of destination controls.
func DefaultDestination() DestPolicy {
	return DestPolicy{TLS: DestTLSNone, MaxConnections: 500, MaxMessagesPerConnection: 50}
}

// NewDestination returns an entry for a domain that follows DEFAULT in everything.
func NewDestination(domain string) DestPolicy { return DestPolicy{Domain: domain} }

// NewDelivery returns the first-start delivery settings; resolver "" is the system's.
func NewDelivery(resolver string) Delivery {
	if resolver == "" {
		resolver = SystemResolver
	}
	return Delivery{Interface: AutoInterface, MaxConnections: 500,
		RetryInitial: Duration(time.Minute), RetryMax: Duration(time.Hour), MaxQueueLifetime: Duration(72 * time.Hour),
		Resolver: resolver}
}

// TimeFormat is how the appliance prints times, with the time zone as
// AsyncOS shows it: "Changes committed: Tue Sep 22 09:05:00 2026 CEST".
const TimeFormat = "Mon Jan _2 15:04:05 2006 MST"

// Stamp formats a time in the local time zone.
func Stamp(t time.Time) string { return t.Local().Format(TimeFormat) }
