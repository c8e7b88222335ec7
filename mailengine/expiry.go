package mailengine

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ExpiryThresholds are the days before expiry at which a certificate in use
// is reported in mail_logs, once each.
var ExpiryThresholds = []int{30, 7, 1}

// certUse is a certificate in use and where: leaf is what it serves, or
// its ECDSA twin when twin is set.
type certUse struct {
	name  string
	leaf  *x509.Certificate
	twin  bool
	where []string
}

// checkExpiry logs a Warning for each in-use certificate that has crossed a
// threshold not reported yet. e.mu must be held.
func (e *Engine) checkExpiryLocked(now time.Time) {
	for _, u := range e.inUseLocked() {
		left := int(u.leaf.NotAfter.Sub(now).Hours() / 24)
		key := fmt.Sprintf("%x", sha256.Sum256(u.leaf.Raw))
		crossed := 0 // the smallest threshold the certificate is within
		for _, th := range ExpiryThresholds {
			if left <= th && (crossed == 0 || th < crossed) {
				crossed = th
			}
		}
		if crossed == 0 || (e.expiryLogged[key] != 0 && e.expiryLogged[key] <= crossed) {
			continue
		}
		e.expiryLogged[key] = crossed
		what := fmt.Sprintf("The certificate %q", u.name)
		if u.twin {
			what = fmt.Sprintf("The ECDSA twin of the certificate %q", u.name)
		}
		if now.After(u.leaf.NotAfter) {
			e.log.Warningf("%s (CN %s) used by %s has expired on %s: replace it (certconfig)",
				what, u.leaf.Subject.CommonName, strings.Join(u.where, ", "), u.leaf.NotAfter.UTC().Format("2006-01-02"))
			continue
		}
		e.log.Warningf("%s (CN %s) used by %s expires in %d days, on %s: renew it (certconfig)",
			what, u.leaf.Subject.CommonName, strings.Join(u.where, ", "), left, u.leaf.NotAfter.UTC().Format("2006-01-02"))
	}
}

// inUseLocked lists the certificates the running endpoints serve: each
// profile's main certificate (the last one offered) and, when it ends on
// another day, its ECDSA twin (offered first), so neither expires unsaid.
func (e *Engine) inUseLocked() []certUse {
	byName := map[string][]*certUse{}
	var names []string
	for _, ep := range e.sockets {
		p := ep.meta.Load()
		t := ep.tls.Load()
		if p == nil || t == nil || len(t.Certificates) == 0 {
			continue
		}
		name, where := p.listener.Certificate, "listener "+p.name
		if p.kind == "https" {
			name, where = p.iface.Certificate, "interface "+p.name+" (HTTPS)"
		}
		uses := byName[name]
		if uses == nil {
			main := t.Certificates[len(t.Certificates)-1].Leaf
			if main == nil {
				continue
			}
			uses = []*certUse{{name: name, leaf: main}}
			for _, c := range t.Certificates[:len(t.Certificates)-1] {
				if c.Leaf != nil && !c.Leaf.NotAfter.Equal(main.NotAfter) {
					uses = append(uses, &certUse{name: name, leaf: c.Leaf, twin: true})
				}
			}
			byName[name] = uses
			names = append(names, name)
		}
		for _, u := range uses {
			u.where = append(u.where, where)
		}
	}
	sort.Strings(names)
	var out []certUse
	for _, n := range names {
		for _, u := range byName[n] {
			sort.Strings(u.where)
			out = append(out, *u)
		}
	}
	return out
}

// watchExpiry checks the certificates in use every interval until stop closes.
func (e *Engine) watchExpiry(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			e.mu.Lock()
			e.checkExpiryLocked(e.now())
			e.mu.Unlock()
		}
	}
}
