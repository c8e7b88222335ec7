// Package ldapcheck answers LDAP accept queries (ldapconfig): whether a
// recipient is in the directory, asked of a server profile's hosts in turn
// over plain LDAP, LDAPS or StartTLS, with the TLS settings of the "other TLS
// client services" (package tlsclient), a small pool of bound connections
// per profile and a bounded cache of answers (found and not found kept for
// their own times). A directory that cannot answer is an error, never a
// "not found": the caller defers the recipient. Test runs one query step by
// step for ldaptest.
package ldapcheck

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"relaybox/config"
	"relaybox/mailengine/tlsclient"
)

// KeyLoader turns the configured client certificate into a usable one
// (certstore's KeyStore).
type KeyLoader interface {
	TLSCertificate(c config.Certificate) (tls.Certificate, error)
}

// Options are the checker's fixed parts.
type Options struct {
	Keys KeyLoader
	// TrustPool builds the trust store servers are checked against
	// (certstore.TrustPool); nil checks against the system roots.
	TrustPool func(config.Trust) (*x509.CertPool, error)
	// Now is the cache's clock (default time.Now).
	Now func() time.Time
}

// Checker answers accept queries; it is safe for concurrent use.
type Checker struct {
	opts Options
	mu   sync.Mutex
	// profiles holds, per profile name, the pool and cache built from the
	// settings with that fingerprint; changed settings replace both.
	profiles map[string]*profileState
	// seen remembers, for the configuration last asked about (committed
	// configurations are never modified), each profile's state, so that
	// a cached answer costs no fingerprint.
	seenCfg *config.Config
	seen    map[string]*profileState
}

// New returns a checker with no connection open.
func New(opts Options) *Checker {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Checker{opts: opts, profiles: map[string]*profileState{}}
}

type profileState struct {
	fingerprint string
	pool        *pool
	cache       *cache
}

// Close closes the idle connections.
func (c *Checker) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, st := range c.profiles {
		st.pool.close()
		delete(c.profiles, name)
	}
	c.seenCfg, c.seen = nil, nil
}

// Filter is the accept query with the recipient put in: {a} the address,
// {u} its local part, {d} its domain, each escaped as RFC 4515 requires, so
// an address with "*", "(", ")" or "\" matches only itself.
func Filter(query, addr string) string {
	u, d := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		u, d = addr[:i], addr[i+1:]
	}
	return strings.NewReplacer("{a}", ldap.EscapeFilter(addr), "{u}", ldap.EscapeFilter(u), "{d}", ldap.EscapeFilter(d)).Replace(query)
}

// cacheKey is how an address is remembered: its domain is case-insensitive.
func cacheKey(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i+1] + strings.ToLower(addr[i+1:])
	}
	return addr
}

// Accepts reports whether the accept query named query (a profile's
// "PROFILE.ldapaccept") finds addr in the directory, under the settings of
// cfg. An error means the directory could not answer (unreachable, timed
// out, refused the bind or the query): the recipient must be deferred.
func (c *Checker) Accepts(ctx context.Context, cfg *config.Config, query, addr string) (bool, error) {
	p, err := cfg.FindAcceptQuery(query)
	if err != nil {
		return false, err
	}
	st, err := c.state(cfg, *p)
	if err != nil {
		return false, err
	}
	key := cacheKey(addr)
	if found, ok := st.cache.get(key); ok {
		return found, nil
	}
	var found bool
	err = st.pool.do(ctx, func(conn *ldap.Conn) error {
		var err error
		found, _, err = search(conn, *p, Filter(p.AcceptQuery, addr))
		return err
	})
	if err != nil {
		return false, err
	}
	st.cache.put(key, found)
	return found, nil
}

// fingerprint identifies everything a profile's connections are built from.
func fingerprint(cfg *config.Config, p config.LDAPProfile) string {
	var certPEM string
	if cert := cfg.Certificate(cfg.LDAP.Certificate); cert != nil {
		certPEM = cert.PEM + cert.Key
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%#v|%v|%v|%v|%s|%#v", p, cfg.SSL.OtherClientTLSv10, cfg.SSL.PeerCertFQDN, cfg.SSL.PeerCertX509, certPEM, cfg.Trust))
	return hex.EncodeToString(h[:])
}

func (c *Checker) state(cfg *config.Config, p config.LDAPProfile) (*profileState, error) {
	name := strings.ToLower(p.Name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seenCfg != cfg {
		c.seenCfg, c.seen = cfg, map[string]*profileState{}
	}
	if st := c.seen[name]; st != nil {
		return st, nil
	}
	fp := fingerprint(cfg, p)
	if st := c.profiles[name]; st != nil && st.fingerprint == fp {
		c.seen[name] = st
		return st, nil
	}
	d, err := c.dialer(cfg, p)
	if err != nil {
		return nil, err
	}
	if old := c.profiles[name]; old != nil {
		old.pool.close()
	}
	st := &profileState{fingerprint: fp, pool: newPool(p.MaxConnections, d.connect), cache: newCache(p.CacheSize, time.Duration(p.CacheTTL), time.Duration(p.NegativeTTL), c.opts.Now)}
	c.profiles[name] = st
	c.seen[name] = st
	return st, nil
}

// dialer connects to a profile's servers.
type dialer struct {
	p     config.LDAPProfile
	ssl   config.SSL
	cert  *tls.Certificate
	roots *x509.CertPool
}

func (c *Checker) dialer(cfg *config.Config, p config.LDAPProfile) (*dialer, error) {
	d := &dialer{p: p, ssl: cfg.SSL}
	if p.Connection != config.LDAPPlain {
		if c.opts.TrustPool != nil {
			roots, err := c.opts.TrustPool(cfg.Trust)
			if err != nil {
				return nil, err
			}
			d.roots = roots
		}
		if name := cfg.LDAP.Certificate; name != "" {
			cc := cfg.Certificate(name)
			if cc == nil {
				return nil, fmt.Errorf("the LDAP client certificate %q does not exist: choose another with ldapconfig SETUP", name)
			}
			if c.opts.Keys == nil {
				return nil, errors.New("internal error: no key store for the LDAP client certificate")
			}
			cert, err := c.opts.Keys.TLSCertificate(*cc)
			if err != nil {
				return nil, fmt.Errorf("the LDAP client certificate %q: %w", name, err)
			}
			d.cert = &cert
		}
	}
	return d, nil
}

func (d *dialer) timeout() time.Duration { return time.Duration(d.p.Timeout) }

// connect tries the hosts in order and returns the first bound connection.
func (d *dialer) connect(ctx context.Context) (*ldap.Conn, error) {
	var errs []error
	for _, h := range d.p.Hosts {
		conn, err := d.connectHost(ctx, h, nil, nil)
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// step receives what connectHost did, for ldaptest.
// st is the TLS session once "tls" succeeded.
type step func(what string, st *tls.ConnectionState, err error)

// connectHost connects to one host, does TLS as the profile says and binds.
// The whole setup is bounded by the profile's timeout.
func (d *dialer) connectHost(ctx context.Context, host string, res *tlsclient.Result, report step) (*ldap.Conn, error) {
	if report == nil {
		report = func(string, *tls.ConnectionState, error) {}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(d.p.Port))
	ctx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	report("connect "+addr, nil, err)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = raw.SetDeadline(deadline)
	tcfg := tlsclient.New(d.ssl, tlsclient.Params{ServerName: host, Certificate: d.cert, Roots: d.roots}, res)
	var conn *ldap.Conn
	switch d.p.Connection {
	case config.LDAPSSL:
		tc := tls.Client(raw, tcfg)
		err := tc.HandshakeContext(ctx)
		st := tc.ConnectionState()
		report("tls", &st, err)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("%s: TLS handshake: %w", addr, err)
		}
		conn = ldap.NewConn(tc, true)
		conn.Start()
	default:
		conn = ldap.NewConn(raw, false)
		conn.Start()
		if d.p.Connection == config.LDAPStartTLS {
			err := conn.StartTLS(tcfg)
			st, _ := conn.TLSConnectionState()
			report("tls", &st, err)
			if err != nil {
				conn.Close()
				return nil, fmt.Errorf("%s: StartTLS: %w", addr, err)
			}
		}
	}
	conn.SetTimeout(d.timeout())
	if d.p.BindDN != "" {
		err = conn.Bind(d.p.BindDN, d.p.BindPassword)
	}
	report("bind", nil, err)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: bind as %s: %w", addr, d.p.BindDN, err)
	}
	_ = raw.SetDeadline(time.Time{})
	return conn, nil
}

// search runs filter under the profile's base; found is true when at least
// one entry matches, dn is the first one's.
func search(conn *ldap.Conn, p config.LDAPProfile, filter string) (found bool, dn string, err error) {
	limit := max(1, int(time.Duration(p.Timeout)/time.Second))
	res, err := conn.Search(ldap.NewSearchRequest(p.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, limit, false, filter, []string{"1.1"}, nil))
	if err != nil && !(ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil && len(res.Entries) > 0) {
		return false, "", err
	}
	if len(res.Entries) == 0 {
		return false, "", nil
	}
	return true, res.Entries[0].DN, nil
}
