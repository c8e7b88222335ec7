package websecurity

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"relaybox/config"
	"relaybox/mailengine/queue"
	"relaybox/mailengine/urlscan"
)

// HeaderName is the header a verdict is added to the message as.
const HeaderName = "X-Relaybox-URL-Reputation"

// Log receives mail_logs lines.
type Log interface {
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
}

// Checker looks up messages' URLs for delivery under one committed
// configuration.
type Checker struct {
	ep       *endpoint
	hc       *http.Client
	allow    *config.URLList
	track    bool
	hostname string
	log      Log
	timeout  time.Duration
	// pause is how long lookups are skipped after one failed, so that a
	// service that hangs costs one timeout, not one per message.
	pause time.Duration

	mu       sync.Mutex
	failedAt time.Time // the last failure, zero after a success
	failure  string
}

// FailurePause is how long the lookups are skipped after one failed.
const FailurePause = 30 * time.Second

// NewChecker returns the checker of c, or nil when URL filtering is off.
func NewChecker(c *config.Config, keys KeyLoader, trust TrustFunc, log Log) (*Checker, error) {
	w := c.WebSecurity
	if !w.Enabled {
		return nil, nil
	}
	ep, err := newEndpoint(c, keys, trust)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: LookupTimeout}).DialContext,
		TLSClientConfig:     ep.tls,
		TLSHandshakeTimeout: LookupTimeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		Proxy:               nil, // straight to the service: no proxy from the environment
	}
	k := &Checker{ep: ep, hc: &http.Client{Transport: tr, Timeout: LookupTimeout}, track: w.InteractionTracking,
		hostname: c.Hostname, log: log, timeout: LookupTimeout, pause: FailurePause}
	if w.AllowList != "" {
		l := c.URLList(w.AllowList)
		if l == nil {
			return nil, fmt.Errorf("the URL allow list %q does not exist: choose another with websecurityconfig", w.AllowList)
		}
		cp := *l
		k.allow = &cp
	}
	return k, nil
}

// Close drops the checker's idle connections.
func (k *Checker) Close() { k.hc.CloseIdleConnections() }

// Stamp finds the URLs of message mid (body is the whole message), looks
// them up and logs the verdict; it returns the header to add to the
// message, CRLF-terminated. It never fails: when the service cannot be
// asked within the timeout, the header says "unavailable" and the
// message goes on.
func (k *Checker) Stamp(ctx context.Context, mid queue.MID, body io.Reader) []byte {
	start := time.Now()
	found := urlscan.Extract(body, urlscan.DefaultLimits)
	var ask []string
	for _, u := range found.URLs {
		if k.allow != nil && k.allow.Allows(u) {
			k.log.Infof("MID %d URL %s on allow list %s: not looked up", mid, printable(u), k.allow.Name)
			continue
		}
		ask = append(ask, u)
	}
	if found.Truncated {
		k.log.Infof("MID %d Web Security: URL extraction stopped at its limits (%d URLs, %d MiB)", mid, urlscan.DefaultLimits.MaxURLs, urlscan.DefaultLimits.MaxBytes>>20)
	}
	counts := fmt.Sprintf("urls=%d; looked_up=%d", len(found.URLs), len(ask))
	if len(ask) == 0 {
		k.log.Infof("MID %d Web Security verdict: none (%d URLs, none to look up)", mid, len(found.URLs))
		return header("none; " + counts)
	}
	unavailable := header("unavailable; urls=" + fmt.Sprint(len(found.URLs)) + "; looked_up=0")
	if ago, why, paused := k.paused(); paused {
		k.log.Warningf("MID %d Web Security lookup skipped: it failed %s ago (%s) and is tried again %s after that; the message goes on without a verdict",
			mid, ago.Round(time.Second), why, k.pause)
		return unavailable
	}
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	resp, _, err := lookup(ctx, k.hc, k.ep.url, Request{Version: ProtocolVersion, URLs: ask, Track: k.track, Client: k.hostname})
	if err != nil {
		k.failed(err.Error())
		k.log.Warningf("MID %d Web Security lookup failed after %s: %v; the message goes on without a verdict", mid, time.Since(start).Round(time.Millisecond), err)
		return unavailable
	}
	asked := map[string]bool{}
	for _, u := range ask {
		asked[u] = true
	}
	worst := Verdict{Score: math.Inf(1)}
	n := 0
	for _, v := range resp.Results {
		if !asked[v.URL] || math.IsNaN(v.Score) {
			continue // not a URL we asked about: ignored
		}
		v.Score = math.Max(-10, math.Min(10, v.Score))
		v.Category = cleanCategory(v.Category)
		k.log.Infof("MID %d URL %s reputation %.1f category %s", mid, printable(v.URL), v.Score, v.Category)
		n++
		if v.Score < worst.Score {
			worst = v
		}
	}
	if n == 0 {
		k.failed("no verdict for the URLs asked")
		k.log.Warningf("MID %d Web Security lookup failed: the service gave no verdict for the %d URLs asked; the message goes on without a verdict", mid, len(ask))
		return unavailable
	}
	k.failed("")
	k.log.Infof("MID %d Web Security verdict: reputation %.1f category %s (%d URLs, %d looked up) in %s", mid, worst.Score, worst.Category, len(found.URLs), len(ask), time.Since(start).Round(time.Millisecond))
	return header(fmt.Sprintf("%.1f; category=\"%s\"; %s", worst.Score, worst.Category, counts))
}

func header(v string) []byte { return []byte(HeaderName + ": " + v + "\r\n") }

// failed records a failed lookup (why) or, with "", a successful one.
func (k *Checker) failed(why string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if why == "" {
		k.failedAt, k.failure = time.Time{}, ""
		return
	}
	k.failedAt, k.failure = time.Now(), why
}

// paused reports whether the lookups are skipped now: a lookup failed less
// than k.pause ago.
func (k *Checker) paused() (time.Duration, string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failedAt.IsZero() {
		return 0, "", false
	}
	ago := time.Since(k.failedAt)
	return ago, k.failure, ago < k.pause
}
