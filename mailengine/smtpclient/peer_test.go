package smtpclient

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file is the test peer: a real SMTP server on 127.0.0.1, written on
// net/textproto and crypto/tls, whose behaviour each test chooses.

type peerOpts struct {
	noEHLO     bool              // EHLO → 502, only HELO works
	startTLS   string            // "" not advertised; "ok"; "454" refuses; "close" says 220 then closes
	tls        *tls.Config       // server config for "ok"
	pipelining bool              // advertise PIPELINING
	size       int64             // advertise SIZE n when > 0
	greeting   string            // default "220 peer.test ESMTP"
	mailReply  string            // default "250 2.1.0 Ok"
	rcpt       map[string]string // recipient → reply; default "250 2.1.5 Ok"
	dataReply  string            // reply to the final dot; default "250 2.0.0 Ok: queued as 1234"
	silent     bool              // never greet
	closeAfter int               // close the connection after this many messages (0 = never)
	smtputf8   bool              // advertise SMTPUTF8
	dotDelay   time.Duration     // wait this long before answering the final dot
	dotSilent  bool              // never answer the final dot (read until the client goes away)
	dotArrived chan struct{}     // when set, receives a value as each final dot arrives
}

// peerSession records what one connection did.
type peerSession struct {
	cmds        []string // command lines as received (MAIL/RCPT/DATA/EHLO/...)
	tls         *tls.ConnectionState
	pipelined   bool     // the RCPT lines were already buffered when MAIL was read
	dataInGroup bool     // and so was DATA
	rawBody     []string // DATA lines as on the wire (dot-stuffed), final "." excluded
	body        string   // the un-stuffed body, CRLF line ends (the last message's)
	bodies      []string // every message's un-stuffed body, in order
	raw         []byte   // the last message's octets as received after 354, final "." CRLF included
	quit        bool     // the client said QUIT
}

type peer struct {
	t    *testing.T
	addr string
	o    peerOpts
	ln   net.Listener
	mu   sync.Mutex
	sess []*peerSession
	wg   sync.WaitGroup
}

func startPeer(t *testing.T, o peerOpts) *peer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, addr: ln.Addr().String(), o: o, ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *peer) sessions() []peerSession {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]peerSession, len(p.sess))
	for i, s := range p.sess {
		out[i] = *s
		out[i].cmds = append([]string(nil), s.cmds...)
		out[i].bodies = append([]string(nil), s.bodies...)
		out[i].raw = append([]byte(nil), s.raw...)
	}
	return out
}

func (p *peer) record(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f()
}

func (p *peer) serve(c net.Conn) {
	s := &peerSession{}
	p.record(func() { p.sess = append(p.sess, s) })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if p.o.silent {
		_, _ = c.Read(make([]byte, 1)) // until the client goes away
		return
	}
	br := bufio.NewReader(c)
	r, w := textproto.NewReader(br), textproto.NewWriter(bufio.NewWriter(c))
	greeting := p.o.greeting
	if greeting == "" {
		greeting = "220 peer.test ESMTP"
	}
	if w.PrintfLine("%s", greeting) != nil || !strings.HasPrefix(greeting, "220") {
		return
	}
	inTLS := false
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		buffered := br.Buffered()
		p.record(func() { s.cmds = append(s.cmds, line) })
		var reply string
		switch verb {
		case "EHLO":
			if p.o.noEHLO {
				reply = "502 5.5.2 Error: command not recognized"
				break
			}
			ext := []string{"peer.test"}
			if p.o.startTLS != "" && !inTLS {
				ext = append(ext, "STARTTLS")
			}
			if p.o.pipelining {
				ext = append(ext, "PIPELINING")
			}
			if p.o.size > 0 {
				ext = append(ext, "SIZE "+itoa64(p.o.size))
			}
			if p.o.smtputf8 {
				ext = append(ext, "SMTPUTF8")
			}
			ext = append(ext, "8BITMIME")
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				reply += "250" + sep + e
				if i < len(ext)-1 {
					reply += "\r\n"
				}
			}
		case "HELO":
			reply = "250 peer.test"
		case "STARTTLS":
			switch p.o.startTLS {
			case "454":
				reply = "454 4.7.0 TLS not available due to local problem"
			case "close":
				_ = w.PrintfLine("220 2.0.0 Ready to start TLS")
				return
			case "ok":
				if w.PrintfLine("220 2.0.0 Ready to start TLS") != nil {
					return
				}
				tc := tls.Server(c, p.o.tls)
				if err := tc.Handshake(); err != nil {
					return
				}
				st := tc.ConnectionState()
				p.record(func() { s.tls = &st })
				inTLS = true
				br = bufio.NewReader(tc)
				r, w = textproto.NewReader(br), textproto.NewWriter(bufio.NewWriter(tc))
				continue
			default:
				reply = "502 5.5.2 Error: command not recognized"
			}
		case "MAIL":
			group, _ := br.Peek(buffered)
			p.record(func() { s.pipelined, s.dataInGroup = buffered > 0, bytes.HasSuffix(group, []byte("DATA\r\n")) })
			reply = or(p.o.mailReply, "250 2.1.0 Ok")
		case "RCPT":
			addr := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(arg, "TO:"), "<"), ">")
			reply = or(p.o.rcpt[addr], "250 2.1.5 Ok")
		case "DATA":
			if w.PrintfLine("354 End data with <CR><LF>.<CR><LF>") != nil {
				return
			}
			data, err := readData(br)
			if err != nil {
				return
			}
			lines, body := splitData(data)
			p.record(func() { s.raw, s.rawBody, s.body, s.bodies = data, lines, body, append(s.bodies, body) })
			if p.o.dotArrived != nil {
				p.o.dotArrived <- struct{}{}
			}
			if p.o.dotSilent {
				_, _ = io.Copy(io.Discard, br) // until the client goes away
				return
			}
			time.Sleep(p.o.dotDelay)
			reply = or(p.o.dataReply, "250 2.0.0 Ok: queued as 1234")
			if p.o.closeAfter > 0 && len(s.bodies) >= p.o.closeAfter {
				_ = w.PrintfLine("%s", reply)
				return // as a server whose idle timer fired before the next MAIL
			}
		case "RSET", "NOOP":
			reply = "250 2.0.0 Ok"
		case "QUIT":
			p.record(func() { s.quit = true })
			_ = w.PrintfLine("221 2.0.0 Bye")
			return
		default:
			reply = "500 5.5.2 Error: command not recognized"
		}
		if w.PrintfLine("%s", reply) != nil || strings.HasPrefix(reply, "421") {
			return
		}
	}
}

// readData reads DATA content as a strict server does: up to the first
// CRLF "." CRLF (or "." CRLF at its very start), whatever bare CRs and LFs
// come before; the octets are returned as received, terminator included.
func readData(br *bufio.Reader) ([]byte, error) {
	var data []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		data = append(data, c)
		if bytes.Equal(data, []byte(".\r\n")) || bytes.HasSuffix(data, []byte("\r\n.\r\n")) {
			return data, nil
		}
	}
}

// splitData returns the CRLF-separated lines of DATA content (terminator
// excluded) and the body un-stuffed, each line ended by CRLF.
func splitData(data []byte) ([]string, string) {
	content := strings.TrimSuffix(string(data[:len(data)-3]), "\r\n")
	if len(data) == 3 {
		return nil, ""
	}
	lines := strings.Split(content, "\r\n")
	var body strings.Builder
	for _, l := range lines {
		body.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
	}
	return lines, body.String()
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func itoa64(n int64) string { return big.NewInt(n).String() }

// Test PKI: a CA, a leaf it signs for mx.example.test, and a self-signed
// leaf for the same name.
type testPKI struct {
	roots      *x509.CertPool
	leaf       tls.Certificate // signed by the CA, mx.example.test
	selfSigned tls.Certificate
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func getPKI(t *testing.T) testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		caKey := newKey(t)
		caTmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Relaybox Test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		}
		caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		ca, _ := x509.ParseCertificate(caDER)
		pki.roots = x509.NewCertPool()
		pki.roots.AddCert(ca)
		pki.leaf = leafCert(t, 2, ca, caKey)
		pki.selfSigned = leafCert(t, 3, nil, nil)
	})
	return pki
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func leafCert(t *testing.T, serial int64, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "mx.example.test"},
		DNSNames:  []string{"mx.example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := ca, caKey
	if ca == nil {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func serverTLS(t *testing.T, cert func(testPKI) tls.Certificate, minV, maxV uint16) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert(getPKI(t))}, MinVersion: minV, MaxVersion: maxV}
}

func caSigned(p testPKI) tls.Certificate   { return p.leaf }
func selfSigned(p testPKI) tls.Certificate { return p.selfSigned }
