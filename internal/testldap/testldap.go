// Package testldap runs a throwaway OpenLDAP slapd for tests: its own
// config and database directory, LDAP (with StartTLS) and LDAPS on free
// 127.0.0.1 ports, a certificate authority made for the test, optionally
// "TLSVerifyClient demand", and a few entries under dc=example,dc=com. The
// Debian packages slapd and ldap-utils provide it (make test-deps).
package testldap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"relaybox/internal/testnet"
)

// Directory layout of the test server.
const (
	Base     = "dc=example,dc=com"
	BindDN   = "cn=relaybox,dc=example,dc=com"
	BindPass = "bind-secret"
	RootDN   = "cn=admin,dc=example,dc=com"
	RootPass = "root-secret"
)

// Users are the entries loaded: their mail addresses.
var Users = []string{"alice@example.com", "bob@example.com", "carol@example.org"}

// Options choose the server's TLS.
type Options struct {
	// VerifyClient makes slapd demand a client certificate signed by the
	// test CA (TLSVerifyClient demand).
	VerifyClient bool
	// TLS10Only limits the server to TLS 1.0 (a GnuTLS priority string).
	TLS10Only bool
	// ServerNames are the DNS names of the server's certificate (default
	// "localhost"). Its address 127.0.0.1 is never in it, so connecting by
	// address is a name mismatch (PEER_CERT_FQDN).
	ServerNames []string
}

// Server is a running slapd.
type Server struct {
	// Port is plain LDAP (and StartTLS), TLSPort LDAPS, both on 127.0.0.1.
	Port, TLSPort int
	// CA is the PEM of the test's certificate authority.
	CA string
	// CAPool holds CA.
	CAPool *x509.CertPool
	// Client is a client certificate the CA signed; Stranger one it did not.
	Client, Stranger         tls.Certificate
	ClientPEM, ClientKey     string
	StrangerPEM, StrangerKey string

	dir string
	cmd *exec.Cmd
	tb  testing.TB
}

// Available reports whether slapd is installed; tests skip without it only
// when not run by make test (which installs it).
func Available() bool {
	_, err := exec.LookPath("slapd")
	if err != nil {
		_, err = os.Stat("/usr/sbin/slapd")
	}
	return err == nil
}

func slapdPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

// Start runs a slapd for the test; it is stopped when the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if !Available() {
		if os.Getenv("CI") != "" || os.Getenv("RELAYBOX_REQUIRE_TEST_PEERS") != "" {
			tb.Fatal("slapd is not installed: run make test-deps (Debian packages slapd ldap-utils)")
		}
		tb.Skip("slapd is not installed: run make test-deps (Debian packages slapd ldap-utils)")
	}
	s := &Server{dir: tb.TempDir(), tb: tb}
	if len(o.ServerNames) == 0 {
		o.ServerNames = []string{"localhost"}
	}
	s.makePKI(tb, o.ServerNames)
	s.writeConfig(tb, o)
	s.load(tb)
	s.Port, s.TLSPort = testnet.FreePort(tb), testnet.FreePort(tb)
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// Start (re)starts the stopped server on the same ports and data.
func (s *Server) Start() {
	s.tb.Helper()
	urls := fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", s.Port, s.TLSPort)
	var lastErr error
	for range 50 {
		cmd := exec.Command(slapdPath("slapd"), "-f", filepath.Join(s.dir, "slapd.conf"), "-h", urls, "-d", "0")
		out, err := os.Create(filepath.Join(s.dir, "slapd.log"))
		if err != nil {
			s.tb.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			s.tb.Fatalf("starting slapd: %v", err)
		}
		out.Close()
		s.cmd = cmd
		if s.waitUp(5 * time.Second) {
			return
		}
		s.Stop()
		log, _ := os.ReadFile(filepath.Join(s.dir, "slapd.log"))
		lastErr = fmt.Errorf("slapd did not come up: %s", strings.TrimSpace(string(log)))
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatal(lastErr)
}

func (s *Server) waitUp(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s.cmd.ProcessState != nil {
			return false
		}
		c1, err1 := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		c2, err2 := net.DialTimeout("tcp", s.TLSAddr(), 200*time.Millisecond)
		if c1 != nil {
			c1.Close()
		}
		if c2 != nil {
			c2.Close()
		}
		if err1 == nil && err2 == nil {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Stop ends the server (a directory that went down); Start brings it back.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Addr and TLSAddr are the host:port of plain LDAP and LDAPS.
func (s *Server) Addr() string    { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }
func (s *Server) TLSAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.TLSPort)) }

func (s *Server) path(name string) string { return filepath.Join(s.dir, name) }

func (s *Server) writeConfig(tb testing.TB, o Options) {
	verify := "never"
	if o.VerifyClient {
		verify = "demand"
	}
	var b strings.Builder
	for _, sch := range []string{"core", "cosine", "inetorgperson"} {
		fmt.Fprintf(&b, "include /etc/ldap/schema/%s.schema\n", sch)
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n", s.path("slapd.pid"), s.path("slapd.args"))
	fmt.Fprintf(&b, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\nTLSVerifyClient %s\n",
		s.path("ca.pem"), s.path("server.pem"), s.path("server.key"), verify)
	if o.TLS10Only {
		b.WriteString("TLSCipherSuite NORMAL:-VERS-ALL:+VERS-TLS1.0\n")
	}
	fmt.Fprintf(&b, "database mdb\nmaxsize 16777216\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\nindex mail eq\n",
		Base, RootDN, RootPass, s.path("db"))
	// The bind account reads everything; anonymous clients read nothing
	// (so a wrong bind DN shows as such, not as "user unknown").
	fmt.Fprintf(&b, "access to attrs=userPassword by anonymous auth by * none\naccess to * by dn.exact=%q read by anonymous auth by * none\n", BindDN)
	if err := os.MkdirAll(s.path("db"), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(s.path("slapd.conf"), []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func (s *Server) load(tb testing.TB) {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n", Base)
	fmt.Fprintf(&b, "dn: %s\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: relaybox\nsn: relaybox\nuserPassword: %s\n\n", BindDN, BindPass)
	fmt.Fprintf(&b, "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", Base)
	for _, u := range Users {
		local, _, _ := strings.Cut(u, "@")
		fmt.Fprintf(&b, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nmail: %s\n\n", local, Base, local, local, local, u)
	}
	if err := os.WriteFile(s.path("data.ldif"), []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(slapdPath("slapadd"), "-f", s.path("slapd.conf"), "-l", s.path("data.ldif")).CombinedOutput()
	if err != nil {
		tb.Fatalf("slapadd: %v: %s", err, out)
	}
}

// makePKI makes the CA, the server's certificate for names, a client
// certificate the CA signed and a stranger's it did not.
func (s *Server) makePKI(tb testing.TB, names []string) {
	caKey, caCert, caPEM := selfSigned(tb, "Relaybox Test LDAP CA")
	s.CA = caPEM
	s.CAPool = x509.NewCertPool()
	s.CAPool.AddCert(caCert)
	write := func(name, text string) {
		if err := os.WriteFile(s.path(name), []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	write("ca.pem", caPEM)
	srvPEM, srvKey := issue(tb, caCert, caKey, names[0], names, x509.ExtKeyUsageServerAuth)
	write("server.pem", srvPEM)
	write("server.key", srvKey)
	s.ClientPEM, s.ClientKey = issue(tb, caCert, caKey, "relaybox-client", nil, x509.ExtKeyUsageClientAuth)
	var err error
	if s.Client, err = tls.X509KeyPair([]byte(s.ClientPEM), []byte(s.ClientKey)); err != nil {
		tb.Fatal(err)
	}
	otherKey, otherCert, _ := selfSigned(tb, "Some Other CA")
	s.StrangerPEM, s.StrangerKey = issue(tb, otherCert, otherKey, "stranger", nil, x509.ExtKeyUsageClientAuth)
	if s.Stranger, err = tls.X509KeyPair([]byte(s.StrangerPEM), []byte(s.StrangerKey)); err != nil {
		tb.Fatal(err)
	}
}

func selfSigned(tb testing.TB, cn string) (*ecdsa.PrivateKey, *x509.Certificate, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func issue(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, dns []string, usage x509.ExtKeyUsage) (certPEM, keyPEM string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
}
