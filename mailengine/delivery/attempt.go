package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"relaybox/cipherstring"
	"relaybox/mailengine/queue"
	"relaybox/mailengine/smtpclient"
)

// deliverDomain delivers a message to the recipients of one domain, trying
// the domain's hosts in order until one gives a definite answer.
func (d *Deliverer) deliverDomain(ctx context.Context, s *Settings, m queue.Message, domain string, rids []int, done func([]int)) map[int]rcptResult {
	results := map[int]rcptResult{}
	deferAll := func(text string) map[int]rcptResult {
		for _, rid := range rids {
			results[rid] = rcptResult{outcome: pending, text: text}
		}
		return results
	}
	policy := s.Config.Destinations.DestinationFor(domain)
	if !d.acquire(domain, policy.MaxConnections) {
		return deferAll("the destination's concurrency limit is reached")
	}
	defer d.release(domain)
	targets, err := d.targets(ctx, s, domain)
	if err != nil {
		d.opts.Log.Infof("MID %d %v", m.MID, err)
		return deferAll(err.Error())
	}
	level := smtpclient.Level(policy.TLS)
	lastErr := "no host answered"
	for _, t := range targets {
		res, err := d.try(ctx, s, m, rids, t, level, done)
		var ce *smtpclient.Error
		if errors.As(err, &ce) && ce.Temporary && res.FallbackClear && (level == smtpclient.Preferred || level == smtpclient.PreferredVerify) {
			d.opts.Log.Infof("MID %d TLS failed with %s after STARTTLS; delivering in clear on a new connection (Preferred)", m.MID, t.addr)
			res, err = d.try(ctx, s, m, rids, t, smtpclient.None, done)
		}
		if err != nil {
			lastErr = err.Error()
			if errors.As(err, &ce) && !ce.Temporary {
				for _, rid := range rids {
					results[rid] = rcptResult{outcome: bounced, status: orStatus(ce.Enhanced, "5.0.0"), text: ce.Text}
				}
				return results
			}
			if errors.As(err, &ce) && (ce.Phase == "starttls" || ce.Phase == "tls" || ce.Phase == "verify") &&
				(level == smtpclient.Required || level == smtpclient.RequiredVerify) {
				d.alertRequiredTLS(ctx, s, domain, ce)
			}
			continue // next host
		}
		for _, r := range res.Delivered {
			results[ridOf(m, rids, r.Rcpt)] = rcptResult{outcome: delivered}
		}
		for _, r := range res.Rejected {
			results[ridOf(m, rids, r.Rcpt)] = rcptResult{outcome: bounced, status: orStatus(r.Enhanced, "5.0.0"), text: fmt.Sprintf("%d %s", r.Code, r.Text)}
		}
		for _, r := range res.Deferred {
			results[ridOf(m, rids, r.Rcpt)] = rcptResult{outcome: pending, text: fmt.Sprintf("%d %s", r.Code, r.Text)}
		}
		return results
	}
	return deferAll(lastErr)
}

func orStatus(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func ridOf(m queue.Message, rids []int, rcpt string) int {
	for _, rid := range rids {
		if strings.EqualFold(m.Envelope.To[rid], rcpt) {
			return rid
		}
	}
	return rids[0]
}

// try makes one connection to one host.
func (d *Deliverer) try(ctx context.Context, s *Settings, m queue.Message, rids []int, t target, level smtpclient.Level, done func([]int)) (smtpclient.Result, error) {
	_, body, err := d.opts.Spool.Get(m.MID)
	if err != nil {
		return smtpclient.Result{}, &smtpclient.Error{Phase: "queue", Temporary: true, Text: err.Error(), Err: err}
	}
	defer body.Close()
	dcid := d.dcids.Add(1)
	rcpts := make([]string, len(rids))
	for i, rid := range rids {
		rcpts[i] = m.Envelope.To[rid]
	}
	lg := d.opts.Log
	host, port := splitHostPort(t.addr)
	opts := smtpclient.Options{
		Addr: t.addr, ServerName: t.name, LocalAddr: s.Source, HELO: s.Config.Hostname, Level: level,
		TLS: s.TLS, VerifyHostname: s.Config.SSL.PeerCertFQDN, Timeouts: d.opts.Timeouts,
		Delivered: func(accepted []string) {
			ids := make([]int, len(accepted))
			for i, r := range accepted {
				ids[i] = ridOf(m, rids, r)
			}
			done(ids)
		},
		Events: func(e smtpclient.Event) {
			switch e.Kind {
			case smtpclient.Connected:
				if s.Source == "" {
					lg.Infof("New SMTP DCID %d interface Auto address %s port %s", dcid, host, port)
				} else {
					lg.Infof("New SMTP DCID %d %s", dcid, e.Detail)
				}
			case smtpclient.TLSSuccess:
				if e.State != nil {
					lg.Infof("DCID %d TLS success protocol %s cipher %s", dcid, cipherstring.VersionName(e.State.Version), cipherstring.LogName(e.State.CipherSuite))
				}
			case smtpclient.TLSFailed:
				lg.Infof("DCID %d IP %s TLS failed: %s", dcid, host, e.Detail)
			case smtpclient.TLSDeferred:
				lg.Infof("DCID %d TLS deferring: %s", dcid, e.Detail)
			case smtpclient.MailReply:
				lg.Infof("Delivery start DCID %d MID %d to RID %v", dcid, m.MID, rids)
			}
		},
	}
	res, err := smtpclient.Deliver(ctx, opts, smtpclient.Message{From: m.Envelope.From, To: rcpts, Body: body, Size: m.Size})
	for _, r := range res.Delivered {
		lg.Infof("MID %d RID [%d] Response '%d %s'", m.MID, ridOf(m, rids, r.Rcpt), r.Code, r.Text)
	}
	if len(res.Delivered) > 0 {
		done := make([]int, 0, len(res.Delivered))
		for _, r := range res.Delivered {
			done = append(done, ridOf(m, rids, r.Rcpt))
		}
		lg.Infof("Message done DCID %d MID %d to RID %v", dcid, m.MID, done)
	}
	for _, r := range res.Rejected {
		lg.Infof("Bounced: DCID %d MID %d to RID %d - %s - %d %s", dcid, m.MID, ridOf(m, rids, r.Rcpt), orStatus(r.Enhanced, "5.0.0"), r.Code, r.Text)
	}
	if err != nil {
		var ce *smtpclient.Error
		if errors.As(err, &ce) && ce.Phase == "verify" {
			lg.Infof("DCID %d TLS verification failed: %s", dcid, ce.Text)
		} else if errors.As(err, &ce) && (ce.Phase == "starttls" || ce.Phase == "ehlo") && (level == smtpclient.Required || level == smtpclient.RequiredVerify) {
			lg.Infof("DCID %d TLS was required but remote host did not initiate it: %s", dcid, ce.Text)
		}
		lg.Infof("DCID %d %s", dcid, strings.TrimSpace(err.Error()))
	}
	lg.Infof("DCID %d close", dcid)
	return res, err
}

func splitHostPort(addr string) (string, string) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, "25"
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:]
}

// acquire takes a connection slot for a destination.
func (d *Deliverer) acquire(domain string, limit int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if limit > 0 && d.perDest[domain] >= limit {
		return false
	}
	d.perDest[domain]++
	return true
}

func (d *Deliverer) release(domain string) {
	d.mu.Lock()
	d.perDest[domain]--
	d.mu.Unlock()
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
	env := queue.Envelope{From: "", To: dc.AlertRecipients, Listener: "alert", Received: d.opts.Now()}
	if mid, _, err := d.opts.Spool.Put(ctx, env, strings.NewReader(body), 0); err != nil {
		d.opts.Log.Warningf("cannot queue the required-TLS alert for %s: %v", domain, err)
	} else {
		d.opts.Log.Warningf("Required TLS to %s failed: alert MID %d queued for %s", domain, mid, strings.Join(dc.AlertRecipients, ", "))
	}
	d.Notify()
}
