package config

import "time"

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
	// Resolver for MX lookups ("" = system).
	Resolver string
}

// DefaultPorts are the unprivileged ports of a fresh appliance.
var DefaultPorts = FirstStart{Address: "127.0.0.1", SMTPPort: 2525, SubmissionPort: 2587, HTTPSPort: 8443, SSHPort: 2222}

// Defaults returns the embedded first-start configuration (version 0, not yet committed).
func Defaults(fs FirstStart) *Config {
	methods := func() []Method { return []Method{TLS11, TLS12} }
	listener := func(name, typ string, port int) Listener {
		l := NewListener(name, typ, ManagementIface, port)
		l.Certificate, l.TLS = fs.Demo.Name, TLSPreferred
		return l
	}
	in := listener(IncomingListener, ListenerPublic, fs.SMTPPort)
	in.Domains = append([]string(nil), fs.Domains...)
	out := listener(OutgoingListener, ListenerPrivate, fs.SubmissionPort)
	out.RelayFrom = []string{"127.0.0.0/8", "::1/128"}
	return &Config{
		Schema:   SchemaVersion,
		Hostname: fs.Hostname,
		SSL: SSL{
			GUI:      Service{Methods: methods(), Ciphers: DefaultGUICiphers},
			Inbound:  Service{Methods: methods(), Ciphers: DefaultInboundCiphers},
			Outbound: Service{Methods: methods(), Ciphers: DefaultOutboundCiphers},
		},
		Interfaces: []Interface{{
			Name: ManagementIface, Address: fs.Address, Netmask: 8, Hostname: fs.Hostname,
			HTTPSPort: fs.HTTPSPort, SSHPort: fs.SSHPort, Certificate: fs.Demo.Name,
		}},
		Listeners:    []Listener{in, out},
		Certificates: []Certificate{fs.Demo},
		Trust:        Trust{System: true, Custom: true},
		Destinations: Destinations{Default: DestPolicy{TLS: DestTLSNone, MaxConnections: 500, MaxMessagesPerConnection: 50}},
		Delivery: Delivery{Interface: "Auto", MaxConnections: 500,
			RetryInitial: Duration(time.Minute), RetryMax: Duration(time.Hour), MaxQueueLifetime: Duration(72 * time.Hour),
			Resolver: orSystem(fs.Resolver)},
		Users: []User{{Name: DefaultAdminUser, PasswordHash: fs.AdminHash}},
	}
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

func orSystem(r string) string {
	if r == "" {
		return SystemResolver
	}
	return r
}
