// Package websecurity looks up the URLs of messages at a web security
// service over mutual TLS (websecurityconfig) and reports on the connection
// to it (websecuritydiagnostics). The wire protocol, one JSON POST per
// message, is documented in docs/websecurity.md; the TLS client is
// tlsclient's, so the sslconfig settings OTHER_CLIENT_TLSV10, PEER_CERT_X509
// and PEER_CERT_FQDN govern it.
//
// Delivery calls Checker.Stamp before a message's first delivery attempt:
// the lookup never delays acceptance (the message is already on disk and
// acknowledged), and a service that is slow or down costs at most
// LookupTimeout, after which the message goes on without a verdict.
package websecurity

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"relaybox/config"
	"relaybox/mailengine/tlsclient"
)

// LookupTimeout bounds one message's lookup: connecting, the TLS handshake,
// the request and the answer.
const LookupTimeout = 5 * time.Second

// MaxResponse is the largest answer read from the service.
const MaxResponse = 1 << 20

// ProtocolVersion is the version of the JSON protocol a request carries.
const ProtocolVersion = 1

// Request is what the box POSTs to the service URL.
type Request struct {
	Version int `json:"version"`
	// URLs to look up, at most urlscan's limit per message.
	URLs []string `json:"urls"`
	// Track is Web Interaction Tracking: the service may record the lookups.
	Track bool `json:"track"`
	// Client is the box's host name.
	Client string `json:"client"`
}

// Verdict is the service's answer for one URL.
type Verdict struct {
	URL string `json:"url"`
	// Score is the reputation, from -10.0 (malicious) to +10.0 (trusted).
	Score float64 `json:"score"`
	// Category is what the service classifies the site as ("Phishing", "News", …).
	Category string `json:"category"`
}

// Response is the service's answer: one verdict per URL asked.
type Response struct {
	Results []Verdict `json:"results"`
}

// KeyLoader turns a certificate profile into a TLS certificate
// (certstore.KeyStore is one).
type KeyLoader interface {
	TLSCertificate(c config.Certificate) (tls.Certificate, error)
}

// TrustFunc builds the trust store (certstore.TrustPool).
type TrustFunc func(config.Trust) (*x509.CertPool, error)

// endpoint is the service of a configuration: its URL, and the TLS
// configuration of its client.
type endpoint struct {
	url        *url.URL
	serverName string
	tls        *tls.Config
	res        *tlsclient.Result
	hasCert    bool
	certName   string
}

// newEndpoint builds the TLS client of c's web security service.
func newEndpoint(c *config.Config, keys KeyLoader, trust TrustFunc) (*endpoint, error) {
	w := c.WebSecurity
	if w.ServiceURL == "" {
		return nil, errors.New("no web security service URL is configured: set one with websecurityconfig")
	}
	if err := config.CheckServiceURL(w.ServiceURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(w.ServiceURL)
	ep := &endpoint{url: u, serverName: u.Hostname(), res: &tlsclient.Result{}, certName: w.Certificate}
	p := tlsclient.Params{ServerName: u.Hostname()}
	if w.Certificate != "" {
		cc := c.Certificate(w.Certificate)
		if cc == nil {
			return nil, fmt.Errorf("the web security client certificate %q does not exist: choose another with websecurityconfig", w.Certificate)
		}
		cert, err := keys.TLSCertificate(*cc)
		if err != nil {
			return nil, fmt.Errorf("the web security client certificate %q cannot be loaded: %w", w.Certificate, err)
		}
		p.Certificate, ep.hasCert = &cert, true
	}
	if trust != nil {
		pool, err := trust(c.Trust)
		if err != nil {
			return nil, fmt.Errorf("building the trust store for the web security service: %w", err)
		}
		p.Roots = pool
	} else {
		p.Roots = x509.NewCertPool()
	}
	ep.tls = tlsclient.New(c.SSL, p, ep.res)
	return ep, nil
}

// lookup POSTs one request with hc and reads the verdicts.
func lookup(ctx context.Context, hc *http.Client, u *url.URL, req Request) (*Response, int, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "Relaybox-WebSecurity/1")
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, fmt.Errorf("the service answered HTTP %s", resp.Status)
	}
	if len(data) > MaxResponse {
		return nil, resp.StatusCode, fmt.Errorf("the answer is larger than %d bytes", MaxResponse)
	}
	var out Response
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("the answer is not the JSON of docs/websecurity.md: %w", err)
	}
	return &out, resp.StatusCode, nil
}

// cleanCategory keeps a category safe for a header and a log line.
func cleanCategory(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == ' ' || r == '/' {
			b.WriteRune(r)
		}
	}
	if c := strings.TrimSpace(b.String()); c != "" {
		return c
	}
	return "Uncategorized"
}

// printable replaces control characters and spaces for a log line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
