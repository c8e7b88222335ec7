// Package testdns runs a real DNS server on loopback that answers tests'
// queries from a small static zone.
package testdns

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Zone is what a Server answers. Names are given without or with trailing
// dot and compared case-insensitively; a name "exists" when it is a key of MX,
// A or AAAA (even with an empty list). Every other name is answered NXDOMAIN.
type Zone struct {
	MX   map[string][]MX     // domain -> MX records
	A    map[string][]string // name -> IPv4 addresses (must be loopback, 127.0.0.0/8; Start fails the test otherwise)
	AAAA map[string][]string // name -> IPv6 addresses (must be ::1; Start fails the test otherwise)
	// ServFail names are answered with SERVFAIL for every type.
	ServFail []string
}

// MX is one MX record: the mail exchanger Host (without or with trailing
// dot) and its preference (lower is tried first).
type MX struct {
	Host string
	Pref uint16
}

// Server is a DNS server on 127.0.0.1 (UDP and TCP on the same port)
// answering from a static zone. It is authoritative (AA bit set): a name not
// in the zone gets NXDOMAIN and a name without records of the asked type gets
// NOERROR with no answers, both with an SOA in the authority section. Records
// have TTL 0, so nothing caches them and every lookup reaches the server.
type Server struct {
	addr string

	mx       map[string][]MX
	a        map[string][]netip.Addr
	aaaa     map[string][]netip.Addr
	servFail map[string]bool

	mu      sync.Mutex
	queries map[string]int
}

// Start starts a server answering from zone; it is shut down by t.Cleanup.
// Fails the test on error, including a zone with an invalid name or with an
// address that is not loopback.
func Start(t testing.TB, zone Zone) *Server {
	t.Helper()
	s, err := newServer(zone)
	if err != nil {
		t.Fatalf("testdns: %v", err)
		return nil
	}
	pc, ln, err := listen()
	if err != nil {
		t.Fatalf("testdns: %v", err)
		return nil
	}
	s.addr = ln.Addr().String()
	// The library serves one socket per dns.Server: one for UDP, one for TCP.
	h := dns.HandlerFunc(s.serveDNS)
	if err := serve(t, &dns.Server{PacketConn: pc, Handler: h}); err != nil {
		_ = ln.Close()
		t.Fatalf("testdns: serving UDP on %s: %v", s.addr, err)
		return nil
	}
	if err := serve(t, &dns.Server{Listener: ln, Handler: h}); err != nil {
		t.Fatalf("testdns: serving TCP on %s: %v", s.addr, err)
		return nil
	}
	return s
}

// Addr is "127.0.0.1:port" — what a net.Resolver's Dial or the appliance's
// `delivery.resolver` setting takes.
func (s *Server) Addr() string { return s.addr }

// Queries returns how many queries were answered so far, by "NAME TYPE"
// (e.g. "example.test. MX"), NAME lower-case with trailing dot. Queries
// answered NXDOMAIN or SERVFAIL count too. The map is a copy.
func (s *Server) Queries() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.queries)
}

// ttl is the TTL of every record, the SOA included.
const ttl = 0

// soa is the authority section of negative answers. Its owner is the root,
// which encloses every name the server may be asked about.
var soa = &dns.SOA{
	Hdr:     dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
	Ns:      "ns.testdns.invalid.",
	Mbox:    "hostmaster.testdns.invalid.",
	Serial:  1,
	Refresh: 3600,
	Retry:   600,
	Expire:  86400,
	Minttl:  ttl,
}

// canonical returns name lower-case with trailing dot, or an error if it is
// not a domain name.
func canonical(name string) (string, error) {
	n := strings.ToLower(dns.Fqdn(name))
	if _, ok := dns.IsDomainName(n); !ok {
		return "", fmt.Errorf("%q is not a domain name", name)
	}
	return n, nil
}

// newServer checks and copies zone, so the caller may change it afterwards.
func newServer(zone Zone) (*Server, error) {
	s := &Server{
		mx:       map[string][]MX{},
		a:        map[string][]netip.Addr{},
		aaaa:     map[string][]netip.Addr{},
		servFail: map[string]bool{},
		queries:  map[string]int{},
	}
	for name, mxs := range zone.MX {
		n, err := canonical(name)
		if err != nil {
			return nil, fmt.Errorf("MX: %w", err)
		}
		if _, ok := s.mx[n]; !ok {
			s.mx[n] = nil // the name exists even with no records
		}
		for _, mx := range mxs {
			h, err := canonical(mx.Host)
			if err != nil {
				return nil, fmt.Errorf("MX of %s: host: %w", n, err)
			}
			s.mx[n] = append(s.mx[n], MX{Host: h, Pref: mx.Pref})
		}
	}
	addrs := func(kind string, in map[string][]string, out map[string][]netip.Addr, ok func(netip.Addr) bool) error {
		for name, ips := range in {
			n, err := canonical(name)
			if err != nil {
				return fmt.Errorf("%s: %w", kind, err)
			}
			if _, ok := out[n]; !ok {
				out[n] = nil // the name exists even with no records
			}
			for _, ip := range ips {
				a, err := netip.ParseAddr(ip)
				if err != nil || !ok(a) {
					return fmt.Errorf("%s of %s: %q is not an allowed address (only loopback: 127.0.0.0/8 for A, ::1 for AAAA)", kind, n, ip)
				}
				out[n] = append(out[n], a)
			}
		}
		return nil
	}
	if err := addrs("A", zone.A, s.a, func(a netip.Addr) bool { return a.Is4() && a.IsLoopback() }); err != nil {
		return nil, err
	}
	if err := addrs("AAAA", zone.AAAA, s.aaaa, func(a netip.Addr) bool { return a == netip.IPv6Loopback() }); err != nil {
		return nil, err
	}
	for _, name := range zone.ServFail {
		n, err := canonical(name)
		if err != nil {
			return nil, fmt.Errorf("ServFail: %w", err)
		}
		s.servFail[n] = true
	}
	return s, nil
}

// listen binds UDP on 127.0.0.1:0 and TCP on the port UDP got, trying again
// with a new port a few times if that TCP port is taken.
func listen() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 10 {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("binding UDP: %w", err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("binding TCP on the UDP port: %w", lastErr)
}

// serve runs srv until t's cleanup and returns once it is started, or with
// the error that kept it from starting.
func serve(t testing.TB, srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		// Not started: the socket is still open.
		if srv.PacketConn != nil {
			_ = srv.PacketConn.Close()
		}
		if srv.Listener != nil {
			_ = srv.Listener.Close()
		}
		return err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.ShutdownContext(ctx); err != nil {
			t.Errorf("testdns: shutting down: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("testdns: serving: %v", err)
		}
	})
	return nil
}

// serveDNS answers one query.
func (s *Server) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	switch {
	case r.Opcode != dns.OpcodeQuery:
		m.SetRcode(r, dns.RcodeNotImplemented)
	case len(r.Question) != 1:
		m.SetRcode(r, dns.RcodeFormatError)
	default:
		s.answer(m, r)
	}
	size := dns.MaxMsgSize
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size = dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(min(opt.UDPSize(), dns.DefaultMsgSize), false)
	}
	m.Truncate(size) // sets TC if the answer does not fit; the client retries over TCP
	_ = w.WriteMsg(m)
}

// answer fills m, the reply to r's one question, from the zone.
func (s *Server) answer(m, r *dns.Msg) {
	m.SetReply(r)
	m.Authoritative = true
	m.Compress = true
	q := r.Question[0]
	name := strings.ToLower(q.Name)

	s.mu.Lock()
	s.queries[name+" "+dns.Type(q.Qtype).String()]++
	s.mu.Unlock()

	if s.servFail[name] {
		m.Rcode = dns.RcodeServerFailure
		return
	}
	mxs, isMX := s.mx[name]
	as, isA := s.a[name]
	aaaas, isAAAA := s.aaaa[name]
	if !isMX && !isA && !isAAAA {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{dns.Copy(soa)}
		return
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	if q.Qclass == dns.ClassINET {
		switch q.Qtype {
		case dns.TypeMX:
			for _, mx := range mxs {
				m.Answer = append(m.Answer, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: mx.Pref, Mx: mx.Host})
			}
		case dns.TypeA:
			for _, a := range as {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: a.AsSlice()})
			}
		case dns.TypeAAAA:
			for _, a := range aaaas {
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: a.AsSlice()})
			}
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{dns.Copy(soa)}
	}
}
