// Package testwebsec is a web security service for tests: a real HTTPS
// server on 127.0.0.1 that demands a client certificate issued by its own
// authority and answers the JSON protocol of docs/websecurity.md. Its
// verdicts follow the URL: one containing "phish" scores -9.5 (Phishing),
// "malware" -8.0 (Malware Sites), anything else +6.0 (Business and Industry).
package testwebsec

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Authority is a test CA that issues server and client certificates.
type Authority struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the authority's certificate, for certconfig CERTAUTHORITY.
	PEM string
}

// NewAuthority makes a CA named cn.
func NewAuthority(tb testing.TB, cn string) *Authority {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(tb), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &Authority{Cert: cert, key: key, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// Issued is a certificate and its key, as PEM and ready for crypto/tls.
type Issued struct {
	CertPEM, KeyPEM string
	TLS             tls.Certificate
}

// Issue makes a certificate for name: a server certificate (DNS name, or IP
// address when name is one) or, with client, a client one.
func (a *Authority) Issue(tb testing.TB, name string, client bool) Issued {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{SerialNumber: serial(tb), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, &key.PublicKey, a.key)
	if err != nil {
		tb.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	out := Issued{CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))}
	out.TLS, err = tls.X509KeyPair([]byte(out.CertPEM), []byte(out.KeyPEM))
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Options shape a server.
type Options struct {
	// Name is what the server's certificate is for (default "localhost").
	Name string
	// MaxVersion caps the server's TLS versions (e.g. tls.VersionTLS10,
	// which also becomes the minimum); 0 offers TLS 1.2 to 1.3.
	MaxVersion uint16
	// NoClientAuth accepts clients without a certificate.
	NoClientAuth bool
	// Delay holds each answer this long (a slow service).
	Delay time.Duration
	// Status, when set, is the HTTP status of every answer.
	Status int
}

// Server is a running web security service.
type Server struct {
	// CA issued the server's certificate and the client certificates it accepts.
	CA *Authority
	// Addr is "127.0.0.1:port"; URL is https://localhost:port/lookup.
	Addr, URL string

	mu       sync.Mutex
	requests []Request
	ln       net.Listener
	srv      *http.Server
}

// Request is one lookup the server answered.
type Request struct {
	Version int      `json:"version"`
	URLs    []string `json:"urls"`
	Track   bool     `json:"track"`
	Client  string   `json:"client"`
	// ClientCN is the common name of the client certificate presented.
	ClientCN string `json:"-"`
}

// Start runs a server on 127.0.0.1 until the test ends, with its own CA.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	return StartWith(tb, NewAuthority(tb, "Test Web Security CA"), o)
}

// StartWith runs a server whose certificate ca issues and which accepts
// only client certificates ca issued.
func StartWith(tb testing.TB, ca *Authority, o Options) *Server {
	tb.Helper()
	if o.Name == "" {
		o.Name = "localhost"
	}
	s := &Server{CA: ca}
	cert := ca.Issue(tb, o.Name, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert.TLS}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	if o.NoClientAuth {
		cfg.ClientAuth = tls.NoClientCert
	}
	if o.MaxVersion != 0 {
		cfg.MinVersion, cfg.MaxVersion = o.MaxVersion, o.MaxVersion
		if o.MaxVersion < tls.VersionTLS12 {
			// TLS 1.0/1.1 need CBC suites, which Go leaves out by default.
			cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.URL = "https://localhost:" + port + "/lookup"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /lookup", func(w http.ResponseWriter, r *http.Request) { s.lookup(w, r, o) })
	s.srv = &http.Server{Handler: mux, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second,
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only: the TLS 1.0 suites do not suit HTTP/2
		// The handshakes this service refuses are what the tests provoke and check on the client's
		// side; net/http's "TLS handshake error" lines would only clutter the test output.
		ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			tb.Logf("testwebsec: %v", err)
		}
	}()
	tb.Cleanup(func() {
		_ = s.srv.Close()
		<-done
	})
	return s
}

// Close stops the server now (a service that went down).
func (s *Server) Close() { _ = s.srv.Close() }

// Requests returns the lookups answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request, o Options) {
	var req Request
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil || req.Version != 1 {
		http.Error(w, "bad request: want {\"version\":1,\"urls\":[...]}", http.StatusBadRequest)
		return
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		req.ClientCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	if o.Delay > 0 {
		select {
		case <-time.After(o.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if o.Status != 0 {
		http.Error(w, http.StatusText(o.Status), o.Status)
		return
	}
	type verdict struct {
		URL      string  `json:"url"`
		Score    float64 `json:"score"`
		Category string  `json:"category"`
	}
	out := struct {
		Results []verdict `json:"results"`
	}{Results: []verdict{}}
	for _, u := range req.URLs {
		v := verdict{URL: u, Score: 6.0, Category: "Business and Industry"}
		switch l := strings.ToLower(u); {
		case strings.Contains(l, "phish"):
			v.Score, v.Category = -9.5, "Phishing"
		case strings.Contains(l, "malware"):
			v.Score, v.Category = -8.0, "Malware Sites"
		}
		out.Results = append(out.Results, v)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
