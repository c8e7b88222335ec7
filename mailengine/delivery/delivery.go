// Package delivery delivers the queued messages: it groups each message's
// recipients by domain, finds the hosts (smtproutes, else MX), applies the
// destination controls (TLS level, concurrency), talks to the peer with
// smtpclient, logs every step in mail_logs, retries with backoff, bounces
// permanent failures and messages past their lifetime, and remembers which
// recipients are done so that a restart never delivers twice to a peer that
// said 250.
package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"relaybox/config"
	"relaybox/mailengine/address"
	"relaybox/mailengine/queue"
	"relaybox/mailengine/smtpclient"
)

// Spool is the message queue.
type Spool interface {
	// IDs lists the queued MIDs in ascending order.
	IDs() ([]queue.MID, error)
	Header(mid queue.MID) (queue.Message, error)
	Get(mid queue.MID) (queue.Message, io.ReadCloser, error)
	Remove(mid queue.MID) error
	Put(ctx context.Context, env queue.Envelope, body io.Reader, maxBytes int64) (queue.MID, int64, error)
}

// Log receives mail_logs lines.
type Log interface {
	Infof(format string, args ...any)
	Warningf(format string, args ...any)
}

// Resolver finds the MX hosts of a domain and the addresses of a host
// (*net.Resolver is one).
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Settings is what delivery takes from the committed configuration.
type Settings struct {
	Config *config.Config
	// TLS is the outbound base: sslconfig OUTBOUND versions and ciphers, the
	// destconfig client certificate, and the trust store as RootCAs.
	TLS *tls.Config
	// Source is the local address of outbound connections ("" = the system's choice).
	Source string
	// Stamp, when set, looks at each accepted message before its first
	// delivery attempt (websecurityconfig) and gives the header lines to
	// add to it.
	Stamp Stamper
}

// Stamper looks at a message before its first delivery attempt and returns
// header lines (each ending in CRLF) to send before its own header, or
// nil. It must not fail nor take long: its time delays the delivery.
type Stamper interface {
	Stamp(ctx context.Context, mid queue.MID, body io.Reader) []byte
}

// Options are the deliverer's fixed parts.
type Options struct {
	Spool    Spool
	Log      Log
	Resolver Resolver
	// StateDir keeps, per message, which recipients are done.
	StateDir string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Timeouts for each SMTP phase (zero: smtpclient's defaults); Stop is
	// how long Run waits, once its context ends, for the reply to a final
	// dot already sent.
	Timeouts smtpclient.Timeouts
	// Port is the SMTP port of MX hosts (default 25).
	Port int
	// IdleTimeout is how long a connection is kept open for the next
	// message of its destination (default DefaultIdleTimeout).
	IdleTimeout time.Duration
}

// routeFor is the route of a domain: its own (config.RouteFor), else the
// ALL route, else none.
func routeFor(c *config.Config, domain string) []string {
	if hosts := c.RouteFor(domain); len(hosts) > 0 {
		return hosts
	}
	return c.RouteFor(config.RouteAll)
}

// resolverFor returns the resolver the configuration names.
func (d *Deliverer) resolverFor(s *Settings) Resolver {
	r := s.Config.Delivery.Resolver
	if r == "" || r == config.SystemResolver {
		return d.opts.Resolver
	}
	// StrictErrors: a failed AAAA beside a missing A is a failure (defer),
	// not "no such host" (bounce).
	return &net.Resolver{PreferGo: true, StrictErrors: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, network, r)
	}}
}

// Deliverer runs delivery.
type Deliverer struct {
	opts     Options
	settings atomic.Pointer[Settings]
	wake     chan struct{}
	dcids    atomic.Uint64

	mu      sync.Mutex
	known   map[queue.MID]queue.Message // headers read so far
	records map[queue.MID]*record       // what is done of each queued message (state.go)
	// stateFiles are the MIDs that may have a state file, once Run has
	// listed the state directory (statesListed): any other MID has none, so
	// neither a read nor a removal of its file is tried.
	stateFiles   map[queue.MID]bool
	statesListed bool
	busy         map[queue.MID]bool
	due          map[queue.MID]time.Time
	// The scheduling pass lists the whole queue only when it must (fullScan:
	// at start, each second, after Notify or Apply, and once an attempt ends
	// while a due message was left without a connection: starved). Otherwise
	// it looks only at recheck: messages just queued (Queued) and messages
	// a free connection woke (wakeLocked). A backlog of deferred mail then
	// costs one listing per second, not one per message.
	fullScan bool
	starved  bool
	recheck  map[queue.MID]struct{}
	attempts map[queue.MID]int
	conns    int // attempts in progress
	alerted  map[string]time.Time

	// Outbound connections (pool.go), under mu.
	idle     map[string][]*conn     // per destination, oldest first
	open     map[string]int         // per destination: in use, idle and closing
	total    int                    // all open connections
	waiters  map[string][]queue.MID // waiting lines for room: per destination, and systemWide
	waitKey  map[queue.MID]string   // the line each waiting message is in
	closingN int                    // connections being closed in the background
	closing  sync.WaitGroup         // the same, for Run's end
}

// New returns a deliverer; Run starts it.
func New(opts Options) *Deliverer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Port == 0 {
		opts.Port = 25
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	return &Deliverer{opts: opts, wake: make(chan struct{}, 1), known: map[queue.MID]queue.Message{}, records: map[queue.MID]*record{},
		busy: map[queue.MID]bool{}, due: map[queue.MID]time.Time{}, recheck: map[queue.MID]struct{}{}, fullScan: true,
		attempts: map[queue.MID]int{}, alerted: map[string]time.Time{}, idle: map[string][]*conn{}, open: map[string]int{},
		waiters: map[string][]queue.MID{}, waitKey: map[queue.MID]string{}}
}

// Apply switches to new settings for the next attempts. Deferred messages
// are retried at once: a commit is usually the fix for what deferred them.
func (d *Deliverer) Apply(s *Settings) {
	d.settings.Store(s)
	d.closeIdle() // connections follow the settings they were made under
	d.mu.Lock()
	clear(d.due)
	d.mu.Unlock()
	d.Notify()
}

// Notify says the queue or the settings changed in a way the deliverer was
// not told of in detail: the next pass lists the whole queue.
func (d *Deliverer) Notify() {
	d.mu.Lock()
	d.fullScan = true
	d.mu.Unlock()
	d.poke()
}

// Queued says message mid was spooled: the next pass looks at it without
// listing the whole queue.
func (d *Deliverer) Queued(mid queue.MID) {
	d.mu.Lock()
	d.recheck[mid] = struct{}{}
	d.mu.Unlock()
	d.poke()
}

// poke wakes the scheduling pass for what recheck and the flags hold.
func (d *Deliverer) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then stops: idle connections are closed
// with QUIT; a transaction not past its final dot is cut (nothing of it was
// accepted: its message stays queued); one past it gets its reply, within
// Options.Timeouts.Stop (smtpclient.DefaultStop, 30 s), its recipients are
// recorded as usual, and its connection says QUIT within the same bound.
// Run returns after all that.
func (d *Deliverer) Run(ctx context.Context) {
	d.removeStaleStates()
	var wg sync.WaitGroup
	defer func() {
		d.closeIdle()
		wg.Wait() // attempts in flight: each parks nothing now, its connection says QUIT
		d.closing.Wait()
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		d.schedule(ctx, &wg)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-tick.C: // deferred messages come due: a full pass
			d.mu.Lock()
			d.fullScan = true
			d.mu.Unlock()
		}
	}
}

// schedule starts an attempt for every message that is due and has a slot.
func (d *Deliverer) schedule(ctx context.Context, wg *sync.WaitGroup) {
	s := d.settings.Load()
	if s == nil {
		return
	}
	d.mu.Lock()
	full := d.fullScan
	d.fullScan = false
	d.mu.Unlock()
	var msgs []queue.Message
	if full {
		var err error
		if msgs, err = d.queued(); err != nil {
			d.opts.Log.Warningf("delivery: cannot list the queue: %v", err)
			return
		}
	} else {
		msgs = d.rechecked()
	}
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range msgs {
		if d.busy[m.MID] || now.Before(d.due[m.MID]) {
			continue
		}
		if d.conns >= s.Config.Delivery.MaxConnections {
			d.starved = true // the next attempt to end brings a full pass
			break
		}
		d.busy[m.MID] = true
		d.conns++
		wg.Add(1)
		go func(m queue.Message) {
			defer wg.Done()
			d.attempt(ctx, s, m)
			d.mu.Lock()
			delete(d.busy, m.MID)
			d.conns--
			if d.starved {
				d.starved, d.fullScan = false, true
			}
			d.mu.Unlock()
			d.poke()
		}(m)
	}
}

// removeStaleStates deletes state files of messages no longer queued (a
// crash between removing a message and its state leaves one behind).
func (d *Deliverer) removeStaleStates() {
	ids, err := d.opts.Spool.IDs()
	if err != nil {
		return
	}
	queued := make(map[string]bool, len(ids))
	for _, mid := range ids {
		queued[filepath.Base(d.statePath(mid))] = true
	}
	entries, err := os.ReadDir(d.opts.StateDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // none yet: no state files
		return
	}
	files := map[queue.MID]bool{}
	for _, e := range entries {
		if !queued[e.Name()] {
			_ = os.Remove(filepath.Join(d.opts.StateDir, e.Name()))
			continue
		}
		var mid uint64
		if _, err := fmt.Sscanf(e.Name(), "%020d.json", &mid); err == nil {
			files[queue.MID(mid)] = true
		}
	}
	d.mu.Lock()
	d.stateFiles, d.statesListed = files, true
	d.mu.Unlock()
}

// rechecked returns the messages in recheck that are still queued, oldest
// (lowest MID) first, and empties recheck. Headers not known yet are read
// without holding d.mu.
func (d *Deliverer) rechecked() []queue.Message {
	d.mu.Lock()
	mids := make([]queue.MID, 0, len(d.recheck))
	for mid := range d.recheck {
		mids = append(mids, mid)
	}
	clear(d.recheck)
	d.mu.Unlock()
	slices.Sort(mids)
	out := make([]queue.Message, 0, len(mids))
	for _, mid := range mids {
		d.mu.Lock()
		m, ok := d.known[mid]
		d.mu.Unlock()
		if !ok {
			h, err := d.opts.Spool.Header(mid)
			if err != nil {
				continue // removed meanwhile, or unreadable: a full pass sees
			}
			d.mu.Lock()
			if m, ok = d.known[mid]; !ok {
				m = h
				d.known[mid] = m
			}
			d.mu.Unlock()
		}
		out = append(out, m)
	}
	return out
}

// queued lists the spool, reading the header only of messages not seen
// before: a long queue costs a directory read per pass, not a file per
// message. The headers are read without holding d.mu.
func (d *Deliverer) queued() ([]queue.Message, error) {
	ids, err := d.opts.Spool.IDs()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	var unknown []queue.MID
	for _, mid := range ids {
		if _, ok := d.known[mid]; !ok {
			unknown = append(unknown, mid)
		}
	}
	d.mu.Unlock()
	read := make(map[queue.MID]queue.Message, len(unknown))
	for _, mid := range unknown {
		if h, err := d.opts.Spool.Header(mid); err == nil {
			read[mid] = h
		} // else removed meanwhile, or unreadable: the next pass sees
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]queue.Message, 0, len(ids))
	for _, mid := range ids {
		m, ok := d.known[mid]
		if !ok {
			if m, ok = read[mid]; !ok {
				continue
			}
			d.known[mid] = m
		}
		out = append(out, m)
	}
	// Every listed message is known now; knowing more means some left the
	// queue other than through finish (which forgets its own): forget those.
	// ids is ascending (Spool.IDs), so membership is a binary search.
	if len(d.known) > len(out) {
		for mid := range d.known {
			if _, found := slices.BinarySearch(ids, mid); !found {
				d.forgetLocked(mid)
			}
		}
	}
	return out, nil
}

// outcome of one recipient.
type outcome int

const (
	pending outcome = iota
	delivered
	bounced
	// waiting: not tried, the concurrency limit was reached; the message
	// is tried again as soon as a connection is free, without counting as
	// an attempt.
	waiting
)

// waitRetry is how soon a message that met the concurrency limit is looked
// at again if nothing wakes it first: a safety net, as a connection coming
// free wakes the first message waiting for it (wakeLocked).
const waitRetry = 5 * time.Second

// attempt tries every pending recipient of a message once. A message
// whose state cannot be read or written, or that cannot be removed once
// done, is held instead (see record).
func (d *Deliverer) attempt(ctx context.Context, s *Settings, m queue.Message) {
	if _, err := d.opts.Spool.Header(m.MID); errors.Is(err, queue.ErrNotFound) {
		return // finished by an attempt that ended while the queue was being listed
	}
	rec := d.recordOf(m.MID)
	if !d.restore(m, rec) || !d.flush(m, rec) {
		d.hold(m.MID)
		return
	}
	if rec.complete(m) {
		d.finish(m, rec)
		return
	}
	d.stamp(ctx, s, m, rec)
	o := d.deliverPending(ctx, s, m, rec)
	age := d.opts.Now().Sub(m.Envelope.Received)
	expired := age > time.Duration(s.Config.Delivery.MaxQueueLifetime)
	if expired && len(o.deferred)+len(o.waited) > 0 {
		for _, rid := range append(o.deferred, o.waited...) {
			d.opts.Log.Infof("Bounced: MID %d to RID %d - 5.4.7 - delivery time expired after %s (last error: %s)", m.MID, rid, age.Round(time.Minute), o.lastErr)
			o.failed = append(o.failed, failure{rid: rid, status: "5.4.7", text: "delivery time expired: " + o.lastErr})
		}
		o.deferred, o.waited = nil, nil
	}
	if len(o.failed) > 0 {
		slices.SortFunc(o.failed, func(a, b failure) int { return a.rid - b.rid })
		// The bounce is queued before its recipients are recorded done: a
		// failure in between sends it twice rather than never.
		if d.bounce(ctx, s, m, o.failed) {
			d.markDone(m, rec, failedRIDs(o.failed))
		} else {
			o.deferred = append(o.deferred, failedRIDs(o.failed)...)
			o.lastErr = "its bounce could not be queued"
		}
	}
	if rec.unsaved {
		d.hold(m.MID) // the Warning was logged by flush
		return
	}
	if len(o.waited) > 0 && len(o.deferred) == 0 {
		d.mu.Lock()
		if _, still := d.waitKey[m.MID]; still {
			d.due[m.MID] = d.opts.Now().Add(waitRetry) // unless room comes free first (wakeLocked)
		} // else woken while this attempt ran: go again at once
		d.mu.Unlock()
		return
	}
	d.unwait(m.MID)
	if len(o.waited) > 0 {
		o.deferred = append(o.deferred, o.waited...)
		if o.lastErr == "" {
			o.lastErr = "waiting for a connection: the concurrency limit is reached"
		}
	}
	if !rec.complete(m) && len(o.deferred) == 0 { // cannot happen: every pending recipient has an outcome
		o.deferred, o.lastErr = rec.pending(m), "no outcome"
	}
	if len(o.deferred) > 0 {
		slices.Sort(o.deferred)
		d.mu.Lock()
		d.attempts[m.MID]++
		wait := backoff(s.Config.Delivery, d.attempts[m.MID])
		d.due[m.MID] = d.opts.Now().Add(wait)
		d.mu.Unlock()
		d.opts.Log.Infof("Delayed: MID %d to RID %v - %s - next attempt in %s", m.MID, o.deferred, o.lastErr, wait)
		return
	}
	d.finish(m, rec)
}

// outcomes sorts the pending recipients of one attempt.
type outcomes struct {
	failed           []failure // permanently: to bounce
	deferred, waited []int
	lastErr          string // the reason of the last deferral
}

// deliverPending tries the pending recipients of m, domain by domain, and
// logs a Bounced: line for each that failed permanently. A recipient or
// sender that cannot be put on the wire fails without a connection. Once
// the state cannot be written (rec.unsaved), no further transaction starts.
func (d *Deliverer) deliverPending(ctx context.Context, s *Settings, m queue.Message, rec *record) outcomes {
	var o outcomes
	todo := rec.pending(m)
	if from := m.Envelope.From; from != "" {
		if err := address.Valid(from); err != nil {
			text := fmt.Sprintf("bad sender mailbox address syntax: <%s>: %v", printable(from), err)
			for _, rid := range todo {
				o.fail(d, m, rid, rcptResult{outcome: bounced, status: "5.1.7", text: text})
			}
			return o
		}
	}
	byDomain := map[string][]int{}
	for _, rid := range todo {
		rcpt := m.Envelope.To[rid]
		if err := address.Valid(rcpt); err != nil {
			o.fail(d, m, rid, rcptResult{outcome: bounced, status: "5.1.3",
				text: fmt.Sprintf("bad destination mailbox address syntax: <%s>: %v", printable(rcpt), err)})
			continue
		}
		dom := address.DomainOf(rcpt)
		byDomain[dom] = append(byDomain[dom], rid)
	}
	j := &job{m: m, rec: rec}
	for _, dom := range slices.Sorted(maps.Keys(byDomain)) {
		if rec.unsaved {
			break // held: what is left waits until the state is written
		}
		rids := byDomain[dom]
		results := d.deliverDomain(ctx, s, j, dom, rids)
		for _, rid := range rids {
			r, ok := results[rid]
			if !ok {
				r = rcptResult{outcome: pending, text: "no outcome"}
			}
			switch r.outcome {
			case delivered:
			case bounced:
				o.fail(d, m, rid, r)
			case waiting:
				o.waited = append(o.waited, rid)
			default:
				o.deferred = append(o.deferred, rid)
				o.lastErr = r.text
			}
		}
	}
	return o
}

// fail logs a recipient's permanent failure and keeps it for the bounce.
func (o *outcomes) fail(d *Deliverer, m queue.Message, rid int, r rcptResult) {
	if r.dcid != 0 {
		d.opts.Log.Infof("Bounced: DCID %d MID %d to RID %d - %s - %s", r.dcid, m.MID, rid, r.status, r.text)
	} else {
		d.opts.Log.Infof("Bounced: MID %d to RID %d - %s - %s", m.MID, rid, r.status, r.text)
	}
	o.failed = append(o.failed, failure{rid: rid, status: r.status, text: r.text})
}

// finish takes a message whose recipients are all done out of the queue
// and forgets it; if the queue file cannot be removed, it is held.
func (d *Deliverer) finish(m queue.Message, rec *record) {
	if !d.remove(m, rec) {
		d.hold(m.MID)
		return
	}
	if d.mayHaveState(m.MID) {
		removeState(d.statePath(m.MID))
	}
	d.mu.Lock()
	delete(d.stateFiles, m.MID)
	d.forgetLocked(m.MID)
	d.mu.Unlock()
	d.opts.Log.Infof("Message finished MID %d done", m.MID)
}

func backoff(c config.Delivery, attempt int) time.Duration {
	w := time.Duration(c.RetryInitial)
	for i := 1; i < attempt && w < time.Duration(c.RetryMax); i++ {
		w *= 2
	}
	return min(w, time.Duration(c.RetryMax))
}

// mayHaveState reports whether mid may have a state file: always, until
// Run has listed the state directory.
func (d *Deliverer) mayHaveState(mid queue.MID) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.statesListed || d.stateFiles[mid]
}

func (d *Deliverer) statePath(mid queue.MID) string {
	return filepath.Join(d.opts.StateDir, fmt.Sprintf("%020d.json", uint64(mid)))
}

// rcptResult is what happened to one recipient in an attempt.
type rcptResult struct {
	outcome outcome
	status  string // enhanced status code
	text    string
	dcid    uint64 // the connection it happened on (0: none)
}

// printable replaces the control characters of s, for logs and bounces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// target is one address to try: addr is "ip:port", name the host name it
// came from (MX or route host, or the IP itself), which the certificate is
// checked against.
type target struct {
	addr, name string
}

// lookupError is a failed host lookup. status is set when it is permanent
// and the message bounces: 5.4.4 when the recipient domain does not exist,
// has neither MX nor address records, or none of its MX hosts has an
// address (as Postfix with its defaults), 5.1.10 for a null MX
// (RFC 7505). Otherwise it is temporary: a DNS failure, or a route host
// that does not resolve (an operator's typo or a DNS outage, as Postfix
// treats its relayhost).
type lookupError struct {
	status string
	text   string
}

func (e *lookupError) Error() string { return e.text }

// targets resolves the addresses to try for a domain, in order: the
// smtproutes hosts, else the MX hosts by preference, else the domain's own
// addresses (RFC 5321 §5.1 implicit MX). Host names are resolved with the
// configured resolver, MX hosts and route hosts alike; each address of a
// host is one target, at most maxMXAddresses of them from MX lookups.
func (d *Deliverer) targets(ctx context.Context, s *Settings, domain string) ([]target, error) {
	hosts := routeFor(s.Config, domain)
	if len(hosts) == 0 {
		hosts = []string{config.UseDNS}
	}
	r := d.resolverFor(s)
	server := s.Config.Delivery.Resolver
	if server == "" || server == config.SystemResolver {
		server = "the system resolver"
	}
	explain := func(what string, err error) string {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			return fmt.Sprintf("%s failed: %s (asked %s)", what, dnsErr.Err, server)
		}
		return fmt.Sprintf("%s failed: %v", what, err)
	}
	var out []target
	var failures []string
	notFound := true // every failure so far says the name does not exist
	// add resolves host (a FQDN with its dot when it comes from DNS) and
	// appends its addresses; limit caps the targets (0 = none).
	add := func(host, port string, limit int) {
		if limit > 0 && len(out) >= limit {
			return // enough addresses: no more lookups
		}
		name := strings.TrimSuffix(host, ".")
		if ip := net.ParseIP(strings.Trim(name, "[]")); ip != nil {
			out = append(out, target{addr: net.JoinHostPort(ip.String(), port), name: ip.String()})
			return
		}
		addrs, err := r.LookupIPAddr(ctx, host)
		if err != nil {
			var dnsErr *net.DNSError
			notFound = notFound && errors.As(err, &dnsErr) && dnsErr.IsNotFound
			failures = append(failures, explain("address lookup for "+name, err))
			return
		}
		for _, a := range addrs {
			if limit > 0 && len(out) >= limit {
				return
			}
			out = append(out, target{addr: net.JoinHostPort(a.IP.String(), port), name: name})
		}
	}
	mxPort := fmt.Sprint(d.opts.Port)
	fromRoute := false
	for _, h := range hosts {
		if !strings.EqualFold(h, config.UseDNS) {
			// A route host: "[host]" or an address is used as it is; a
			// plain host name is looked up as a mail domain first (its MX
			// hosts, else its address), as AsyncOS and Postfix do.
			fromRoute = true
			noMX := strings.HasPrefix(h, "[") // SplitHostPort drops the brackets of [host]:port
			host, port, err := net.SplitHostPort(h)
			if err != nil {
				host, port = h, mxPort
			}
			bare := strings.Trim(host, "[]")
			if !noMX && net.ParseIP(bare) == nil {
				if mxs, err := r.LookupMX(ctx, strings.TrimSuffix(host, ".")+"."); err == nil && len(mxs) > 0 && mxs[0].Host != "." {
					for _, mx := range mxs {
						add(mx.Host, port, len(out)+maxMXAddresses)
					}
					continue
				}
			}
			add(bare, port, 0)
			continue
		}
		limit := len(out) + maxMXAddresses
		mxs, err := r.LookupMX(ctx, domain+".")
		var dnsErr *net.DNSError
		switch {
		case err == nil && len(mxs) == 1 && mxs[0].Host == ".":
			return nil, &lookupError{status: "5.1.10", text: "Recipient address has null MX: " + domain + " accepts no mail (RFC 7505)"}
		case len(mxs) > 0: // with an error too: Go keeps the well-formed records
			for _, mx := range mxs {
				add(mx.Host, mxPort, limit)
			}
		case err == nil || errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			add(domain+".", mxPort, limit)
		default:
			notFound = false
			failures = append(failures, explain("MX lookup for "+domain, err))
		}
	}
	if len(out) == 0 {
		if len(failures) == 0 {
			failures = []string{"no host to deliver to"}
		}
		if notFound && !fromRoute {
			return nil, &lookupError{status: "5.4.4", text: "Host or domain name not found: " + strings.Join(failures, "; ")}
		}
		return nil, &lookupError{text: strings.Join(failures, "; ")}
	}
	return out, nil
}
