package delivery

import (
	"context"
	"errors"
	"fmt"

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/smtpclient"
)

// Verify connects to a domain's hosts as delivery would (routes or MX, the
// domain's TLS level, the outbound versions, ciphers and client certificate)
// and reports each step without sending mail. It returns an error when no
// host would take mail under the domain's policy.
func (d *Deliverer) Verify(ctx context.Context, domain string, report func(format string, args ...any)) error {
	s := d.settings.Load()
	if s == nil {
		return errors.New("delivery is not configured yet")
	}
	policy := s.Config.Destinations.DestinationFor(domain)
	level := levelOf(policy.TLS)
	source := "the destination controls DEFAULT"
	if policy.Domain != "" {
		source = "its destination controls entry " + policy.Domain
	}
	report("TLS level for %s: %s (from %s)", domain, config.DestTLSLabel(policy.TLS), source)
	targets, err := d.targets(ctx, s, domain)
	if err != nil {
		return err
	}
	var last error
	for _, t := range targets {
		report("Connecting to %s (%s)...", t.addr, t.name)
		res, err := smtpclient.Probe(ctx, smtpclient.Options{
			Addr: t.addr, ServerName: t.name, LocalAddr: s.Source, HELO: s.Config.Hostname, Level: level,
			TLS: s.TLS, VerifyHostname: s.Config.SSL.PeerCertFQDN, Timeouts: d.opts.Timeouts,
			Events: func(e smtpclient.Event) {
				switch e.Kind {
				case smtpclient.Connected:
					report("Connected: %s", e.Detail)
				case smtpclient.TLSSuccess:
					report("TLS success: %s", e.Detail)
				case smtpclient.TLSFailed, smtpclient.TLSDeferred:
					report("TLS failed: %s", e.Detail)
				}
			},
		})
		if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
			c := res.TLS.PeerCertificates[0]
			report("Certificate: subject %q, issuer %q, valid until %s", c.Subject.String(), c.Issuer.String(), c.NotAfter.UTC().Format("2006-01-02"))
			report("Negotiated %s with %s", cipherstring.VersionName(res.TLS.Version), cipherstring.LogName(res.TLS.CipherSuite))
			switch {
			case res.Verified:
				report("Verification: OK")
			case res.VerifyErr != nil:
				report("Verification: FAILED (%v)", res.VerifyErr)
			default:
				report("Verification: not checked at this level")
			}
		}
		if err != nil {
			report("Result: %s would not take mail now: %v", t.addr, err)
			last = err
			continue
		}
		how := "in clear"
		if res.TLS != nil {
			how = "over " + cipherstring.VersionName(res.TLS.Version)
		}
		report("Result: delivery to %s would proceed %s.", t.addr, how)
		return nil
	}
	return fmt.Errorf("no host of %s would take mail under its TLS policy: %v", domain, last)
}
