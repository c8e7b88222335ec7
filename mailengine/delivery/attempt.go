package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/address"
	"relaybox/mailengine/queue"
	"relaybox/mailengine/smtpclient"
)

// Per delivery attempt, as Postfix's smtp_mx_address_limit and
// smtp_mx_session_limit: at most this many addresses from MX lookups, and
// this many sessions that got past the greeting.
const (
	maxMXAddresses = 5
	maxSessions    = 2
)

// job is one attempt of one message.
type job struct {
	m   queue.Message
	rec *record
}

// deliverDomain delivers a message to the recipients of one domain: over
// an idle connection to the domain when there is one, else trying the
// domain's hosts in order until one gives a definite answer.
func (d *Deliverer) deliverDomain(ctx context.Context, s *Settings, j *job, domain string, rids []int) map[int]rcptResult {
	m := j.m
	if route := routeFor(s.Config, domain); len(route) == 1 && route[0] == config.RouteDiscard {
		// smtproutes DOMAIN /dev/null: accepted and thrown away, as AsyncOS does.
		d.opts.Log.Infof("Message done MID %d to RID %v - discarded: smtproutes sends %s to /dev/null", m.MID, rids, domain)
		d.markDone(m, j.rec, rids)
		return outcomeAll(rids, rcptResult{outcome: delivered})
	}
	b := newBatch(m, rids)
	policy := s.Config.Destinations.DestinationFor(domain)
	pc, got := d.acquire(domain, s, policy.MaxConnections, s.Config.Delivery.MaxConnections, m.MID)
	if got == slotBusy {
		return outcomeAll(rids, rcptResult{outcome: waiting, text: "the concurrency limit is reached"})
	}
	level := levelOf(policy.TLS)
	if m.Envelope.Listener == AlertListener && alertLevel(level, s.Config.SSL) != level {
		level = alertLevel(level, s.Config.SSL)
		if pc != nil {
			d.quit(pc) // made under the destination's own level: a verified connection takes over its room
			pc = nil
		}
	}
	if pc != nil {
		res, err := d.send(ctx, pc, j, b)
		if !stale(pc, err) || ctx.Err() != nil {
			d.park(ctx, pc, policy.MaxMessagesPerConnection)
			return sortResults(b, rids, pc.dcid, res, err)
		}
		// Nothing of the message was taken (the peer closed the idle
		// connection, or refused another transaction on it): a new
		// connection takes over its room.
		d.quit(pc)
	}
	targets, err := d.targets(ctx, s, domain)
	if err != nil {
		d.unreserve(domain)
		d.opts.Log.Infof("MID %d %v", m.MID, err)
		var le *lookupError
		if errors.As(err, &le) && le.status != "" {
			return outcomeAll(rids, rcptResult{outcome: bounced, status: le.status, text: err.Error()})
		}
		return outcomeAll(rids, rcptResult{outcome: pending, text: err.Error()})
	}
	lastErr := "no host answered"
	sessions := 0
	for _, t := range targets {
		if ctx.Err() != nil || sessions >= maxSessions {
			break
		}
		pc, res, err := d.dial(ctx, s, m, rids, domain, t, level)
		if err != nil && res.FallbackClear && ctx.Err() == nil {
			d.opts.Log.Infof("MID %d TLS failed with %s after STARTTLS; delivering in clear on a new connection (Preferred)", m.MID, t.addr)
			pc, _, err = d.dial(ctx, s, m, rids, domain, t, smtpclient.None)
		}
		var ce *smtpclient.Error
		if err != nil {
			lastErr = failureText(err)
			if errors.As(err, &ce) && ce.Phase != "connect" && ce.Phase != "greeting" {
				sessions++ // the handshake was completed
			}
			if errors.As(err, &ce) && !ce.Temporary {
				d.unreserve(domain)
				return sortResults(b, rids, 0, smtpclient.Result{}, err)
			}
			if errors.As(err, &ce) && (ce.Phase == "starttls" || ce.Phase == "tls" || ce.Phase == "verify") &&
				(level == smtpclient.Required || level == smtpclient.RequiredVerify) {
				d.alertRequiredTLS(ctx, s, domain, ce)
			}
			continue // next host
		}
		sessions++
		res, err = d.send(ctx, pc, j, b)
		// The next host gets the message at once unless this one may have
		// it already (no reply to the final dot): that waits for a retry.
		if errors.As(err, &ce) && ce.Temporary && ce.Phase != "queue" && !ce.AfterDot {
			lastErr = failureText(err)
			d.quit(pc) // its room goes to the next host
			continue
		}
		d.park(ctx, pc, policy.MaxMessagesPerConnection)
		return sortResults(b, rids, pc.dcid, res, err)
	}
	d.unreserve(domain)
	return outcomeAll(rids, rcptResult{outcome: pending, text: lastErr})
}

// stale reports whether a connection that already carried a message failed
// this one before anything of it was accepted: a temporary failure of RSET
// or MAIL (no reply, 421, or a 4xx such as a per-session limit). The
// message is then sent over a new connection.
func stale(pc *conn, err error) bool {
	var ce *smtpclient.Error
	return pc.c.Sent() > 1 && errors.As(err, &ce) && ce.Temporary && (ce.Phase == "rset" || ce.Phase == "mail")
}

func outcomeAll(rids []int, r rcptResult) map[int]rcptResult {
	out := make(map[int]rcptResult, len(rids))
	for _, rid := range rids {
		out[rid] = r
	}
	return out
}

// batch is the recipients of one transaction: each address once, in RID
// order, with the RIDs it stands for. Recipients whose addresses have the
// same address.Key share one RCPT (inbound merges them already; messages
// queued before that may still have both) and its outcome.
type batch struct {
	addrs []string
	rids  map[string][]int // address as sent → RIDs
}

func newBatch(m queue.Message, rids []int) batch {
	b := batch{rids: make(map[string][]int, len(rids))}
	sent := make(map[string]string, len(rids)) // Key → address as sent
	for _, rid := range rids {
		a := m.Envelope.To[rid]
		k := address.Key(a)
		first, dup := sent[k]
		if !dup {
			sent[k], first = a, a
			b.addrs = append(b.addrs, a)
		}
		b.rids[first] = append(b.rids[first], rid)
	}
	return b
}

// ridsOf returns the RIDs a result for rcpt (an address as sent) stands for.
func (b batch) ridsOf(rcpt string) []int { return b.rids[rcpt] }

// ridsOfAll returns the RIDs of several results' addresses.
func (b batch) ridsOfAll(rcpts []string) []int {
	var out []int
	for _, r := range rcpts {
		out = append(out, b.ridsOf(r)...)
	}
	return out
}

// sortResults turns a transaction's outcome into each recipient's: the
// final replies the server gave (delivered, rejected, deferred) stand; the
// other recipients follow the error, bounced when it is permanent and
// deferred otherwise. Every RID of rids gets an outcome.
func sortResults(b batch, rids []int, dcid uint64, res smtpclient.Result, err error) map[int]rcptResult {
	results := map[int]rcptResult{}
	set := func(rcpt string, r rcptResult) {
		for _, rid := range b.ridsOf(rcpt) {
			results[rid] = r
		}
	}
	for _, r := range res.Delivered {
		set(r.Rcpt, rcptResult{outcome: delivered, dcid: dcid})
	}
	for _, r := range res.Rejected {
		set(r.Rcpt, rcptResult{outcome: bounced, status: orStatus(r.Enhanced, "5.0.0"), text: replyText(r), dcid: dcid})
	}
	for _, r := range res.Deferred {
		set(r.Rcpt, rcptResult{outcome: pending, text: replyText(r), dcid: dcid})
	}
	rest := rcptResult{outcome: pending, text: "no outcome from the server", dcid: dcid}
	var ce *smtpclient.Error
	switch {
	case errors.As(err, &ce) && !ce.Temporary:
		rest = rcptResult{outcome: bounced, status: orStatus(ce.Enhanced, "5.0.0"), text: errorText(ce), dcid: dcid}
	case err != nil:
		rest.text = failureText(err)
	}
	for _, rid := range rids {
		if _, known := results[rid]; !known {
			results[rid] = rest
		}
	}
	return results
}

// errorText is a failure's reply ("554 5.7.1 Rejected") or, without one, its reason.
func errorText(ce *smtpclient.Error) string {
	if ce.Code != 0 {
		return replyText(smtpclient.RcptResult{Code: ce.Code, Enhanced: ce.Enhanced, Text: ce.Text})
	}
	return ce.Reason()
}

// replyText is a reply as the peer gave it, enhanced code included.
func replyText(r smtpclient.RcptResult) string {
	s := fmt.Sprint(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + r.Text
	}
	return s
}

// failureText says why an attempt failed, for Delayed: lines and bounces:
// the server and the reason in a few words, never Go's error chain.
func failureText(err error) string {
	var ce *smtpclient.Error
	if !errors.As(err, &ce) {
		return err.Error()
	}
	if ce.Addr == "" {
		return ce.Reason()
	}
	return ce.Addr + ": " + ce.Reason()
}

func orStatus(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// dial opens a connection to one host of domain at the TLS level and logs
// its steps; m is the message it is opened for. On failure the connection
// is closed and logged.
func (d *Deliverer) dial(ctx context.Context, s *Settings, m queue.Message, rids []int, domain string, t target, level smtpclient.Level) (*conn, smtpclient.Result, error) {
	pc := &conn{dcid: d.dcids.Add(1), domain: domain, settings: s, cur: carrying{m: m, rids: rids}}
	lg := d.opts.Log
	host, port := splitHostPort(t.addr)
	opts := smtpclient.Options{
		Addr: t.addr, ServerName: t.name, LocalAddr: s.Source, HELO: s.Config.Hostname, Level: level,
		TLS: s.TLS, VerifyHostname: s.Config.SSL.PeerCertFQDN, Timeouts: d.opts.Timeouts,
		Events: func(e smtpclient.Event) {
			switch e.Kind {
			case smtpclient.Connected:
				// Detail is "interface <source> address <peer> port <port>",
				// the source being the address the connection really uses.
				pc.local, _, _ = strings.Cut(strings.TrimPrefix(e.Detail, "interface "), " ")
				lg.Infof("New SMTP DCID %d %s", pc.dcid, e.Detail)
			case smtpclient.TLSSuccess:
				if e.State != nil {
					lg.Infof("DCID %d TLS success protocol %s cipher %s", pc.dcid, cipherstring.VersionName(e.State.Version), cipherstring.LogName(e.State.CipherSuite))
				}
			case smtpclient.TLSFailed:
				lg.Infof("DCID %d IP %s TLS failed: %s", pc.dcid, host, e.Detail)
			case smtpclient.TLSDeferred:
				lg.Infof("DCID %d TLS deferring: %s", pc.dcid, e.Detail)
			case smtpclient.MailReply:
				lg.Infof("Delivery start DCID %d MID %d to RID %v", pc.dcid, pc.cur.m.MID, pc.cur.rids)
			}
		},
	}
	c, res, err := smtpclient.Dial(ctx, opts)
	if err != nil {
		var ce *smtpclient.Error
		switch {
		case !errors.As(err, &ce):
			lg.Infof("DCID %d %s", pc.dcid, err)
		case ce.Phase == "connect":
			// No connection: no DCID opened, one line with the details.
			lg.Infof("Connection Error: DCID %d domain: %s IP: %s port: %s details: %s interface: %s reason: network error",
				pc.dcid, domain, host, port, ce.Reason(), orAuto(s.Source))
			return nil, res, err
		case ce.Phase == "verify":
			lg.Infof("DCID %d TLS verification failed: %s", pc.dcid, ce.Reason())
		case (ce.Phase == "starttls" || ce.Phase == "ehlo") && (level == smtpclient.Required || level == smtpclient.RequiredVerify):
			lg.Infof("DCID %d TLS was required but remote host did not initiate it", pc.dcid)
		case ce.Phase == "tls" || ce.Phase == "starttls":
			// The TLS deferring / TLS failed line said why.
		default:
			reason := "unexpected SMTP response"
			if ce.Code == 0 {
				reason = "network error"
			}
			lg.Infof("Connection Error: DCID %d domain: %s IP: %s port: %s details: %s interface: %s reason: %s",
				pc.dcid, domain, host, port, ce.Reason(), pc.local, reason)
		}
		lg.Infof("DCID %d close", pc.dcid)
		return nil, res, err
	}
	pc.c = c
	return pc, res, nil
}

// send delivers a batch of a message's recipients over pc and logs the
// outcome; the recipients the peer accepts are recorded done the moment
// its 250 arrives. An unreadable queue file is a temporary *Error of phase
// "queue", with nothing sent.
func (d *Deliverer) send(ctx context.Context, pc *conn, j *job, b batch) (smtpclient.Result, error) {
	lg, m := d.opts.Log, j.m
	f, err := d.factsOf(m, j.rec)
	if err != nil {
		return smtpclient.Result{}, &smtpclient.Error{Phase: "queue", Temporary: true, Text: err.Error(), Err: err}
	}
	body, err := d.openMessage(m, j.rec)
	if err != nil {
		return smtpclient.Result{}, &smtpclient.Error{Phase: "queue", Temporary: true, Text: err.Error(), Err: err}
	}
	defer body.Close()
	pc.cur = carrying{m: m, rids: b.ridsOfAll(b.addrs)}
	res, err := pc.c.Send(ctx, smtpclient.Message{From: m.Envelope.From, To: b.addrs, Body: body, Size: f.size,
		UTF8: m.Envelope.UTF8, HeaderASCII: f.headerASCII,
		Delivered: func(accepted []string) { d.markDone(m, j.rec, b.ridsOfAll(accepted)) }})
	var ids []int
	for _, r := range res.Delivered {
		for _, rid := range b.ridsOf(r.Rcpt) {
			lg.Infof("MID %d RID [%d] Response '%s'", m.MID, rid, replyText(r))
			ids = append(ids, rid)
		}
	}
	if len(ids) > 0 {
		slices.Sort(ids)
		lg.Infof("Message done DCID %d MID %d to RID %v", pc.dcid, m.MID, ids)
	}
	var ce *smtpclient.Error
	if errors.As(err, &ce) && ce.Phase != "config" && ce.Phase != "queue" {
		lg.Infof("DCID %d %s failed: %s", pc.dcid, phaseName(ce.Phase), ce.Reason())
	} else if err != nil {
		lg.Infof("DCID %d %v", pc.dcid, err)
	}
	if errors.As(err, &ce) && ce.AfterDot {
		lg.Warningf("MID %d DCID %d got no reply to the final dot; the message stays queued and is sent again, so the peer may get it twice", m.MID, pc.dcid)
	}
	return res, err
}

// phaseName names a transaction phase in a log line.
func phaseName(phase string) string {
	if phase == "data" || phase == "mail" || phase == "rcpt" || phase == "rset" {
		return strings.ToUpper(phase)
	}
	return phase
}

func orAuto(source string) string {
	if source == "" {
		return "Auto"
	}
	return source
}

func splitHostPort(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, "25"
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:]
}

// alertRequiredTLS sends one alert per destination and hour when a required
// TLS delivery fails and destconfig SETUP asks for it.
func (d *Deliverer) alertRequiredTLS(ctx context.Context, s *Settings, domain string, cause *smtpclient.Error) {
	dc := s.Config.Destinations
	if !dc.AlertOnRequiredTLSFailure || len(dc.AlertRecipients) == 0 {
		return
	}
	d.mu.Lock()
	last, seen := d.alerted[domain]
	if seen && d.opts.Now().Sub(last) < time.Hour {
		d.mu.Unlock()
		return
	}
	d.alerted[domain] = d.opts.Now()
	d.mu.Unlock()
	body := fmt.Sprintf("From: Relaybox Alerts <alert@%s>\r\nTo: %s\r\nSubject: Warning: required TLS connection to %s failed\r\nDate: %s\r\n\r\n"+
		"The appliance %s could not deliver to %s because TLS is required (destination controls) and it failed:\r\n\r\n    %s\r\n\r\n"+
		"Messages for %s stay in the queue and are retried. Check the destination's TLS support or its entry in destconfig.\r\n",
		s.Config.Hostname, strings.Join(dc.AlertRecipients, ", "), domain, d.opts.Now().Format(time.RFC1123Z),
		s.Config.Hostname, domain, cause.Error(), domain)
	env := queue.Envelope{From: "", To: dc.AlertRecipients, Listener: AlertListener, Received: d.opts.Now()}
	if mid, _, err := d.opts.Spool.Put(ctx, env, strings.NewReader(body), 0); err != nil {
		d.opts.Log.Warningf("cannot queue the required-TLS alert for %s: %v", domain, err)
	} else {
		d.opts.Log.Warningf("Required TLS to %s failed: alert MID %d queued for %s", domain, mid, strings.Join(dc.AlertRecipients, ", "))
		d.Queued(mid)
	}
}
