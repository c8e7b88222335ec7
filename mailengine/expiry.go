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

// certUse is a certificate in use and where.
type certUse struct {
	name  string
	leaf  *x509.Certificate
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
		if now.After(u.leaf.NotAfter) {
			e.log.Warningf("The certificate %q (CN %s) used by %s has expired on %s: replace it (certconfig)",
				u.name, u.leaf.Subject.CommonName, strings.Join(u.where, ", "), u.leaf.NotAfter.UTC().Format("2006-01-02"))
			continue
		}
		e.log.Warningf("The certificate %q (CN %s) used by %s expires in %d days, on %s: renew it (certconfig)",
			u.name, u.leaf.Subject.CommonName, strings.Join(u.where, ", "), left, u.leaf.NotAfter.UTC().Format("2006-01-02"))
	}
}

// inUseLocked lists the certificates the running endpoints serve.
func (e *Engine) inUseLocked() []certUse {
	byName := map[string]*certUse{}
	for _, ep := range e.sockets {
		p := ep.meta.Load()
		t := ep.tls.Load()
		if p == nil || t == nil || len(t.Certificates) == 0 || t.Certificates[0].Leaf == nil {
			continue
		}
		name, where := p.listener.Certificate, "listener "+p.name
		if p.kind == "https" {
			name, where = p.iface.Certificate, "interface "+p.name+" (HTTPS)"
		}
		u := byName[name]
		if u == nil {
			u = &certUse{name: name, leaf: t.Certificates[0].Leaf}
			byName[name] = u
		}
		u.where = append(u.where, where)
	}
	out := make([]certUse, 0, len(byName))
	for _, u := range byName {
		sort.Strings(u.where)
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
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
