package testdns

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testZone uses names without and with trailing dot and in mixed case.
func testZone() Zone {
	big := make([]MX, 150)
	for i := range big {
		big[i] = MX{Host: fmt.Sprintf("mx%03d.big.test", i), Pref: uint16(1000 - i)}
	}
	return Zone{
		MX: map[string][]MX{
			"example.test": {
				{Host: "mx2.example.test", Pref: 20},
				{Host: "MX1.Example.Test.", Pref: 10},
				{Host: "mx3.example.test.", Pref: 30},
			},
			"Upper.TEST.": {{Host: "mx.upper.test", Pref: 5}},
			"big.test":    big,
		},
		A: map[string][]string{
			"mx1.example.test":    {"127.0.0.1"},
			"both.example.test.":  {"127.0.0.2", "127.0.0.3"},
			"Only-A.example.test": {"127.0.0.1"},
		},
		AAAA: map[string][]string{
			"both.example.test":      {"::1"},
			"only-aaaa.example.test": {"::1"},
		},
		ServFail: []string{"Broken.example.test"},
	}
}

// dialLog records the networks a resolver dialed.
type dialLog struct {
	mu       sync.Mutex
	networks []string
}

func (d *dialLog) get() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.networks)
}

// resolver returns Go's own resolver sending every query to s, over force
// ("tcp") if set, else over the network the resolver asks for.
func resolver(s *Server, force string) (*net.Resolver, *dialLog) {
	log := &dialLog{}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		if force != "" {
			network = force
		}
		log.mu.Lock()
		log.networks = append(log.networks, network)
		log.mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, s.Addr())
	}}, log
}

// transports runs f over UDP and over TCP, checking the resolver used only
// that transport.
func transports(t *testing.T, f func(t *testing.T, r *net.Resolver)) {
	s := Start(t, testZone())
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			force := ""
			if tr == "tcp" {
				force = "tcp"
			}
			r, log := resolver(s, force)
			f(t, r)
			dialed := log.get()
			require.NotEmpty(t, dialed)
			for _, n := range dialed {
				assert.Equal(t, tr, n, "dialed %v", dialed)
			}
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestAddrIsLoopback(t *testing.T) {
	s := Start(t, Zone{})
	host, port, err := net.SplitHostPort(s.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotEqual(t, "0", port)
}

func TestLookupMX(t *testing.T) {
	transports(t, func(t *testing.T, r *net.Resolver) {
		for _, tc := range []struct {
			name string
			want []net.MX
		}{
			{"example.test.", []net.MX{
				{Host: "mx1.example.test.", Pref: 10},
				{Host: "mx2.example.test.", Pref: 20},
				{Host: "mx3.example.test.", Pref: 30},
			}},
			{"EXAMPLE.test", []net.MX{
				{Host: "mx1.example.test.", Pref: 10},
				{Host: "mx2.example.test.", Pref: 20},
				{Host: "mx3.example.test.", Pref: 30},
			}},
			{"upper.test", []net.MX{{Host: "mx.upper.test.", Pref: 5}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				mxs, err := r.LookupMX(ctx(t), tc.name)
				require.NoError(t, err)
				got := make([]net.MX, len(mxs))
				for i, mx := range mxs {
					got[i] = *mx
				}
				assert.Equal(t, tc.want, got)
			})
		}
	})
}

func TestLookupHost(t *testing.T) {
	transports(t, func(t *testing.T, r *net.Resolver) {
		for _, tc := range []struct {
			name string
			want []string
		}{
			{"both.example.test.", []string{"127.0.0.2", "127.0.0.3", "::1"}},
			{"Both.Example.Test", []string{"127.0.0.2", "127.0.0.3", "::1"}},
			{"only-a.example.test.", []string{"127.0.0.1"}},
			{"only-aaaa.example.test.", []string{"::1"}},
			{"mx1.example.test.", []string{"127.0.0.1"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				addrs, err := r.LookupHost(ctx(t), tc.name)
				require.NoError(t, err)
				assert.ElementsMatch(t, tc.want, addrs)

				ipas, err := r.LookupIPAddr(ctx(t), tc.name)
				require.NoError(t, err)
				var ips []string
				for _, ipa := range ipas {
					ips = append(ips, ipa.IP.String())
				}
				assert.ElementsMatch(t, tc.want, ips)
			})
		}
	})
}

func TestNegativeAnswers(t *testing.T) {
	transports(t, func(t *testing.T, r *net.Resolver) {
		for _, tc := range []struct {
			name     string
			lookup   string // "mx" or "host"
			host     string
			notFound bool
		}{
			{"unknown name, MX", "mx", "nope.example.test.", true},
			{"unknown name, host", "host", "nope.example.test.", true},
			{"unknown name below an existing one", "mx", "x.mx1.example.test.", true},
			{"NODATA: only A, asked MX", "mx", "only-a.example.test.", true},
			{"NODATA: only MX, asked A and AAAA", "host", "example.test.", true},
			{"SERVFAIL, MX", "mx", "broken.example.test.", false},
			{"SERVFAIL, host", "host", "BROKEN.example.test.", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got []string
				var err error
				switch tc.lookup {
				case "mx":
					var mxs []*net.MX
					mxs, err = r.LookupMX(ctx(t), tc.host)
					for _, mx := range mxs {
						got = append(got, mx.Host)
					}
				case "host":
					got, err = r.LookupHost(ctx(t), tc.host)
				}
				assert.Empty(t, got)
				var dnsErr *net.DNSError
				require.ErrorAs(t, err, &dnsErr)
				assert.Equal(t, tc.notFound, dnsErr.IsNotFound, "IsNotFound of %v", err)
				assert.False(t, dnsErr.IsTimeout, "answered, not timed out: %v", err)
				if !tc.notFound {
					assert.True(t, dnsErr.IsTemporary, "SERVFAIL is temporary: %v", err)
				}
			})
		}
	})
}

func TestQueries(t *testing.T) {
	for _, force := range []string{"", "tcp"} {
		t.Run("force="+force, func(t *testing.T) {
			s := Start(t, testZone())
			assert.Empty(t, s.Queries())
			r, _ := resolver(s, force)

			_, err := r.LookupMX(ctx(t), "Example.Test.")
			require.NoError(t, err)
			_, err = r.LookupHost(ctx(t), "both.example.test.")
			require.NoError(t, err)
			_, err = r.LookupMX(ctx(t), "nope.example.test.")
			require.Error(t, err)
			want := map[string]int{
				"example.test. MX":        1,
				"both.example.test. A":    1,
				"both.example.test. AAAA": 1,
				"nope.example.test. MX":   1,
			}
			assert.Equal(t, want, s.Queries())

			_, err = r.LookupMX(ctx(t), "example.test.")
			require.NoError(t, err)
			want["example.test. MX"] = 2
			q := s.Queries()
			assert.Equal(t, want, q)

			q["example.test. MX"] = 99
			assert.Equal(t, 2, s.Queries()["example.test. MX"], "Queries returns a copy")
		})
	}
}

func TestTruncatedAnswerIsRetriedOverTCP(t *testing.T) {
	s := Start(t, testZone())
	r, log := resolver(s, "")
	mxs, err := r.LookupMX(ctx(t), "big.test.")
	require.NoError(t, err)
	require.Len(t, mxs, 150)
	for i, mx := range mxs {
		assert.Equal(t, fmt.Sprintf("mx%03d.big.test.", 149-i), mx.Host)
		assert.Equal(t, uint16(1000-149+i), mx.Pref)
	}
	assert.Equal(t, []string{"udp", "tcp"}, log.get(), "UDP answer truncated, then TCP")
	assert.Equal(t, map[string]int{"big.test. MX": 2}, s.Queries())
}

// TestAnswerFlags checks what Go's resolver does not show: AA, the rcode,
// the SOA of negative answers, and truncation.
func TestAnswerFlags(t *testing.T) {
	s := Start(t, testZone())
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range []struct {
			name      string
			qtype     uint16
			rcode     int
			answers   int
			soa       bool
			truncated bool // over UDP without EDNS0 only
		}{
			{"example.test.", dns.TypeMX, dns.RcodeSuccess, 3, false, false},
			{"both.example.test.", dns.TypeA, dns.RcodeSuccess, 2, false, false},
			{"both.example.test.", dns.TypeAAAA, dns.RcodeSuccess, 1, false, false},
			{"both.example.test.", dns.TypeTXT, dns.RcodeSuccess, 0, true, false},
			{"only-a.example.test.", dns.TypeMX, dns.RcodeSuccess, 0, true, false},
			{"nope.example.test.", dns.TypeA, dns.RcodeNameError, 0, true, false},
			{"broken.example.test.", dns.TypeMX, dns.RcodeServerFailure, 0, false, false},
			{"big.test.", dns.TypeMX, dns.RcodeSuccess, 150, false, true},
		} {
			t.Run(fmt.Sprintf("%s/%s %s", network, tc.name, dns.Type(tc.qtype)), func(t *testing.T) {
				m := new(dns.Msg).SetQuestion(tc.name, tc.qtype)
				c := &dns.Client{Net: network, Timeout: 5 * time.Second}
				r, _, err := c.Exchange(m, s.Addr())
				require.NoError(t, err)
				if tc.truncated && network == "udp" {
					assert.True(t, r.Truncated, "TC")
					assert.Less(t, len(r.Answer), tc.answers)
					return
				}
				assert.True(t, r.Authoritative, "AA")
				assert.False(t, r.Truncated, "TC")
				assert.Equal(t, dns.RcodeToString[tc.rcode], dns.RcodeToString[r.Rcode])
				assert.Len(t, r.Answer, tc.answers)
				if tc.soa {
					require.Len(t, r.Ns, 1)
					assert.IsType(t, &dns.SOA{}, r.Ns[0])
				} else {
					assert.Empty(t, r.Ns)
				}
			})
		}
	}
}

func TestCleanupStopsServer(t *testing.T) {
	var addr string
	t.Run("server", func(t *testing.T) {
		s := Start(t, testZone())
		addr = s.Addr()
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		require.NoError(t, c.Close())
	})
	_, err := net.DialTimeout("tcp", addr, 2*time.Second)
	require.Error(t, err, "the TCP port is closed after the test")
	c := &dns.Client{Net: "udp", Timeout: 500 * time.Millisecond}
	_, _, err = c.Exchange(new(dns.Msg).SetQuestion("example.test.", dns.TypeMX), addr)
	require.Error(t, err, "nothing answers on UDP after the test")
}

// fatalRecorder is a testing.TB whose Fatal ends only the calling goroutine
// and records the message instead of failing the test.
type fatalRecorder struct {
	testing.TB
	mu     sync.Mutex
	fatals []string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.record(fmt.Sprintf(format, args...))
}

func (f *fatalRecorder) Fatal(args ...any) { f.record(fmt.Sprint(args...)) }

func (f *fatalRecorder) FailNow() { f.record("FailNow") }

func (f *fatalRecorder) record(msg string) {
	f.mu.Lock()
	f.fatals = append(f.fatals, msg)
	f.mu.Unlock()
	runtime.Goexit()
}

// startRecording calls Start in its own goroutine, so a Fatalf can end it.
func startRecording(t *testing.T, zone Zone) (*Server, []string) {
	f := &fatalRecorder{TB: t}
	var s *Server
	done := make(chan struct{})
	go func() {
		defer close(done)
		s = Start(f, zone)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return s, f.fatals
}

func TestStartRejectsBadZones(t *testing.T) {
	for _, tc := range []struct {
		name string
		zone Zone
		want string // in the fatal message; "" means Start succeeds
	}{
		{"valid zone", testZone(), ""},
		{"empty zone", Zone{}, ""},
		{"A in 127/8", Zone{A: map[string][]string{"a.test": {"127.1.2.3"}}}, ""},
		{"A not loopback", Zone{A: map[string][]string{"a.test": {"192.0.2.1"}}}, `"192.0.2.1"`},
		{"A private", Zone{A: map[string][]string{"a.test": {"10.0.0.1"}}}, `"10.0.0.1"`},
		{"A unspecified", Zone{A: map[string][]string{"a.test": {"0.0.0.0"}}}, `"0.0.0.0"`},
		{"A is IPv6", Zone{A: map[string][]string{"a.test": {"::1"}}}, `"::1"`},
		{"A is IPv4-mapped", Zone{A: map[string][]string{"a.test": {"::ffff:127.0.0.1"}}}, `"::ffff:127.0.0.1"`},
		{"A not an address", Zone{A: map[string][]string{"a.test": {"localhost"}}}, `"localhost"`},
		{"one bad A among good ones", Zone{A: map[string][]string{"a.test": {"127.0.0.1", "8.8.8.8"}}}, `"8.8.8.8"`},
		{"AAAA not loopback", Zone{AAAA: map[string][]string{"a.test": {"2001:db8::1"}}}, `"2001:db8::1"`},
		{"AAAA is IPv4", Zone{AAAA: map[string][]string{"a.test": {"127.0.0.1"}}}, `"127.0.0.1"`},
		{"bad name", Zone{A: map[string][]string{"a..test": {"127.0.0.1"}}}, `"a..test"`},
		{"bad MX host", Zone{MX: map[string][]MX{"a.test": {{Host: "mx..a.test", Pref: 1}}}}, `"mx..a.test"`},
		{"bad ServFail name", Zone{ServFail: []string{"b..test"}}, `"b..test"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, fatals := startRecording(t, tc.zone)
			if tc.want == "" {
				require.Empty(t, fatals)
				require.NotNil(t, s)
				return
			}
			require.Len(t, fatals, 1)
			assert.Contains(t, fatals[0], tc.want)
			assert.True(t, strings.HasPrefix(fatals[0], "testdns: "), fatals[0])
			assert.Nil(t, s)
		})
	}
}

func TestStartCopiesZone(t *testing.T) {
	z := testZone()
	s := Start(t, z)
	z.MX["example.test"][1].Host = "changed.test" // MX1, preference 10
	z.A["added.test"] = []string{"127.0.0.1"}
	r, _ := resolver(s, "")
	mxs, err := r.LookupMX(ctx(t), "example.test.")
	require.NoError(t, err)
	assert.Equal(t, "mx1.example.test.", mxs[0].Host)
	_, err = r.LookupHost(ctx(t), "added.test.")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	assert.True(t, dnsErr.IsNotFound)
}
