// Package mailengine is the running appliance: SMTP listeners with STARTTLS and
// the HTTPS GUI, all built from a committed configuration. Apply switches to a
// new configuration hitlessly: sockets whose address is unchanged are kept, TLS
// settings take effect at the next handshake, new sockets are bound before old
// ones close, and sessions in flight finish on the settings they started with.
package mailengine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"relaybox/auth"
	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/delivery"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/websecurity"
)

// KeyLoader turns a configured certificate into usable TLS certificates:
// TLSCertificate the one the box presents as a client, TLSCertificates
// what its servers offer (an ECDSA twin first when the profile has one).
type KeyLoader interface {
	TLSCertificate(c config.Certificate) (tls.Certificate, error)
	TLSCertificates(c config.Certificate) ([]tls.Certificate, error)
}

// Options are the engine's fixed settings.
type Options struct {
	Keys KeyLoader
	// Grace bounds how long replaced servers may drain their sessions (default 5 minutes).
	Grace time.Duration
	// ErrorLog receives server errors; nil discards them.
	ErrorLog io.Writer
	// Version is shown on the status page.
	Version string
	// Spool receives accepted messages (required).
	Spool Spool
	// Log receives mail_logs lines; nil discards them.
	Log MailLog
	// SSH serves the interfaces' SSH ports; nil: no SSH.
	SSH SSHServer
	// GUILog receives the HTTPS server's own complaints (TLS handshakes
	// that failed, malformed requests) as gui_logs lines; nil sends them to
	// ErrorLog.
	GUILog MailLog
	// Deliverer receives the outbound settings at each Apply and a wake-up for
	// each queued message; nil leaves messages in the queue.
	Deliverer Deliverer
	// Now is the clock for certificate expiry checks (default time.Now).
	Now func() time.Time
	// TrustPool builds the pool that Verify levels check client certificates
	// against (certconfig CERTAUTHORITY); nil verifies against no roots.
	TrustPool func(config.Trust) (*x509.CertPool, error)
	// Auth decides GUI logins: delays, lock-outs and the authentication log
	// (auth.New); the SSH server shares it. nil: one with the default policy
	// and no log.
	Auth Authenticator
	// Handler, when set, serves the HTTPS GUI and API (package webui): one
	// handler for every interface and every server a commit starts, so its
	// sessions outlive a TLS change. The engine adds the security headers.
	// nil: the read-only status page behind HTTP basic authentication.
	Handler http.Handler
	// Directory answers the LDAP accept queries of public listeners
	// (ldapconfig; package ldapcheck). nil: a listener that names one
	// defers every recipient (451) rather than accept unchecked mail.
	Directory Directory
}

// Engine runs the listeners of the committed configuration.
type Engine struct {
	opts    Options
	started time.Time

	spool Spool
	log   MailLog
	icids atomic.Uint64

	mu           sync.Mutex // serialises Apply and Close
	sockets      map[string]*endpoint
	expiryLogged map[string]int // certificate hash → lowest threshold reported
	stopWatch    chan struct{}
	inbound      *limiter // concurrent SMTP connections over all listeners
	https        *limiter // concurrent HTTPS connections over all interfaces
	cfg          atomic.Pointer[config.Config]
	drains       sync.WaitGroup
	retiring     map[server]struct{} // replaced servers whose sessions go on
}

// server is an SMTP or HTTPS server on an endpoint. Retire lets its
// sessions finish by themselves (a commit replaced it); Shutdown ends them
// as soon as they are idle (the appliance stops). Both close the rest when
// ctx ends.
type server interface {
	Retire(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// SSHServer is the SSH front end the engine gives each interface's SSH
// socket to (shell/sshd's Server): one server, several sockets. Its owner
// (the appliance) shuts it down; the engine only opens and closes sockets.
type SSHServer interface {
	Serve(ln net.Listener) error
}

// sshEndpoint is the SSH server on one socket. Retiring it (the port moved
// or SSH was turned off there) and shutting it down both close that socket
// only: sessions belong to the server and go on until its owner ends them.
type sshEndpoint struct{ ln net.Listener }

func (s sshEndpoint) Retire(context.Context) error   { return s.ln.Close() }
func (s sshEndpoint) Shutdown(context.Context) error { return s.ln.Close() }

// httpServer makes net/http's Server a server: its Shutdown already waits
// for requests in flight and closes idle keep-alive connections.
type httpServer struct{ *http.Server }

func (h httpServer) Retire(ctx context.Context) error { return h.Shutdown(ctx) }

func (h httpServer) Shutdown(ctx context.Context) error {
	err := h.Server.Shutdown(ctx)
	if err != nil {
		_ = h.Server.Close()
	}
	return err
}

// endpoint is a socket plus the server currently answering on it.
type endpoint struct {
	sock     *socket
	kind     string    // "smtp" or "https"
	name     string    // listener or interface name
	settings serverKey // what the current server was built from
	tls      atomic.Pointer[tls.Config]
	meta     atomic.Pointer[plan] // the settings now in force, for logging
	srv      server
}

// New returns an engine with nothing listening; Apply starts it.
func New(opts Options) *Engine {
	if opts.Grace == 0 {
		opts.Grace = 5 * time.Minute
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = io.Discard
	}
	if opts.Spool == nil {
		panic("mailengine: Options.Spool is required")
	}
	if opts.Auth == nil {
		opts.Auth = auth.New(auth.Options{})
	}
	var lg MailLog = discardLog{}
	if opts.Log != nil {
		lg = opts.Log
	}
	https := &limiter{}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		https.limit.Store(httpsTotal(rl.Cur))
	} else {
		https.limit.Store(httpsMaxTotal)
	}
	e := &Engine{opts: opts, started: time.Now(), sockets: map[string]*endpoint{}, inbound: &limiter{}, https: https, spool: opts.Spool, log: lg,
		expiryLogged: map[string]int{}, stopWatch: make(chan struct{}), retiring: map[server]struct{}{}}
	go e.watchExpiry(time.Hour, e.stopWatch)
	return e
}

func (e *Engine) now() time.Time {
	if e.opts.Now != nil {
		return e.opts.Now()
	}
	return time.Now()
}

// serverKey is everything a server on an endpoint is built from: the whole
// listener or interface, so that no field can be forgotten here (a rename,
// a new limit). A commit that changes any of it starts a new server and
// retires the old one, whose sessions finish on their settings; TLS
// settings change without that, at the next handshake.
type serverKey struct {
	Listener  config.Listener
	Interface config.Interface
	Hostname  string
}

// plan is one desired endpoint.
type plan struct {
	addr     string
	kind     string
	name     string
	settings serverKey
	tls      *tls.Config // nil: no TLS offered
	listener config.Listener
	iface    config.Interface
	ssh      config.SSH // kind "ssh": the SSH server's limits
}

// Apply makes c the running configuration, or changes nothing and says why.
func (e *Engine) Apply(ctx context.Context, c *config.Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	plans, err := e.plan(c)
	if err != nil {
		return err
	}
	var out *delivery.Settings
	if e.opts.Deliverer != nil {
		if out, err = delivery.NewSettings(c, e.opts.Keys, e.opts.TrustPool); err != nil {
			return err
		}
		ws, err := websecurity.NewChecker(c, e.opts.Keys, e.opts.TrustPool, e.log)
		if err != nil {
			return fmt.Errorf("websecurityconfig: %w", err)
		}
		if ws != nil {
			out.Stamp = ws
		}
	}
	e.inbound.limit.Store(int64(c.Inbound.MaxConnections))
	// Bind every new address first; any failure undoes the new binds only.
	fresh := map[string]*socket{}
	for _, p := range plans {
		if _, ok := e.sockets[p.addr]; ok {
			continue
		}
		s, err := bind(p.addr)
		if err != nil {
			for _, s := range fresh {
				_ = s.ln.Close()
			}
			return fmt.Errorf("%s %s cannot listen on %s: %w; choose a free port", p.kind, p.name, p.addr, err)
		}
		fresh[p.addr] = s
	}
	// From here on nothing can fail.
	e.cfg.Store(c)
	want := map[string]bool{}
	for _, p := range plans {
		want[p.addr] = true
		ep, ok := e.sockets[p.addr]
		if !ok {
			ep = &endpoint{sock: fresh[p.addr]}
			e.sockets[p.addr] = ep
			go ep.sock.serve(e.hooks(ep))
		}
		pc := p
		ep.meta.Store(&pc)
		ep.name = p.name // a rename shows in status at once
		ep.tls.Store(p.tls)
		e.configureSocket(ep, p)
		if !ok || ep.kind != p.kind || !reflect.DeepEqual(ep.settings, p.settings) {
			e.startServer(ep, p)
		}
	}
	for addr, ep := range e.sockets {
		if want[addr] {
			continue
		}
		delete(e.sockets, addr)
		ep.sock.close()
		e.retire(ep.srv)
	}
	e.checkExpiryLocked(e.now())
	if out != nil {
		e.opts.Deliverer.Apply(out)
	}
	return nil
}

func (e *Engine) plan(c *config.Config) ([]plan, error) {
	var plans []plan
	var problems []error
	for _, l := range c.Listeners {
		ifc := c.Interface(l.Interface)
		if ifc == nil {
			problems = append(problems, fmt.Errorf("listener %s: interface %q does not exist", l.Name, l.Interface))
			continue
		}
		p := plan{addr: net.JoinHostPort(ifc.Address, strconv.Itoa(l.Port)), kind: "smtp", name: l.Name, listener: l, iface: *ifc}
		p.settings = serverKey{Listener: l, Interface: *ifc, Hostname: c.Hostname}
		if l.TLS != config.TLSOff {
			t, err := e.buildTLS(c, l.Certificate, c.SSL.Inbound, nil)
			if err == nil {
				err = e.clientAuth(t, c, l.TLS)
			}
			if err != nil {
				problems = append(problems, fmt.Errorf("listener %s: %w", l.Name, err))
				continue
			}
			p.tls = t
		}
		plans = append(plans, p)
	}
	for _, ifc := range c.Interfaces {
		if ifc.SSHPort != 0 && e.opts.SSH != nil {
			// One SSH server for every interface; its socket is this
			// interface's, so a moved port is bound before the old closes.
			plans = append(plans, plan{addr: net.JoinHostPort(ifc.Address, strconv.Itoa(ifc.SSHPort)), kind: "ssh", name: ifc.Name, iface: ifc, ssh: c.SSH})
		}
		if ifc.HTTPSPort == 0 {
			continue
		}
		// The HTTPS server holds nothing of the interface (TLS is per
		// handshake, the handler reads the running configuration): its key
		// stays empty, so a commit never restarts it.
		p := plan{addr: net.JoinHostPort(ifc.Address, strconv.Itoa(ifc.HTTPSPort)), kind: "https", name: ifc.Name, iface: ifc}
		t, err := e.buildTLS(c, ifc.Certificate, c.SSL.GUI, []string{"h2", "http/1.1"})
		if err != nil {
			problems = append(problems, fmt.Errorf("interface %s HTTPS: %w", ifc.Name, err))
			continue
		}
		p.tls = t
		plans = append(plans, p)
	}
	return plans, errors.Join(problems...)
}

func (e *Engine) buildTLS(c *config.Config, certName string, svc config.Service, alpn []string) (*tls.Config, error) {
	cc := c.Certificate(certName)
	if cc == nil {
		return nil, fmt.Errorf("certificate %q does not exist", certName)
	}
	certs, err := e.opts.Keys.TLSCertificates(*cc)
	if err != nil {
		return nil, err
	}
	return serverTLS(svc, certs, alpn)
}

// clientAuth asks for client certificates at the Verify levels: checked if
// given (Preferred - Verify) or required and checked (Required - Verify).
func (e *Engine) clientAuth(t *tls.Config, c *config.Config, level string) error {
	switch level {
	case config.TLSPreferredVerify:
		t.ClientAuth = tls.VerifyClientCertIfGiven
	case config.TLSRequiredVerify:
		t.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil
	}
	pool := x509.NewCertPool()
	if e.opts.TrustPool != nil {
		p, err := e.opts.TrustPool(c.Trust)
		if err != nil {
			return fmt.Errorf("building the trust store for client certificates: %w", err)
		}
		pool = p
	}
	t.ClientCAs = pool
	return nil
}

// HTTPS connection caps: per interface, per client address, and over all
// interfaces (at most an eighth of the process's file descriptors), so that
// a flood of GUI connections leaves descriptors for mail and the control socket.
const (
	sshMaxPerInterface   = 64 // at least; twice sshconfig's max_sessions when that is more
	sshMaxPerIP          = 16
	httpsMaxPerInterface = 256
	httpsMaxPerIP        = 32
	httpsMaxTotal        = 256
)

// httpsTotal is the all-interface HTTPS limit for a descriptor limit of nofile.
func httpsTotal(nofile uint64) int64 {
	return int64(max(16, min(httpsMaxTotal, nofile/8)))
}

func (e *Engine) configureSocket(ep *endpoint, p plan) {
	if p.kind == "ssh" {
		// Logins are capped by the SSH server (sessions, login grace) and by
		// auth's lock-outs; the socket caps connections that never log in,
		// leaving room for as many logins again as sessions may be open.
		ep.sock.limit.Store(int64(max(sshMaxPerInterface, 2*p.ssh.MaxSessions)))
		ep.sock.perIP.Store(sshMaxPerIP)
		ep.sock.admit.Store(nil)
		ep.sock.global.Store(nil)
		return
	}
	if p.kind != "smtp" {
		ep.sock.limit.Store(httpsMaxPerInterface)
		ep.sock.perIP.Store(httpsMaxPerIP)
		ep.sock.admit.Store(nil)
		ep.sock.global.Store(e.https)
		return
	}
	ep.sock.global.Store(e.inbound)
	ep.sock.limit.Store(int64(p.listener.MaxConnections))
	ep.sock.perIP.Store(int64(p.listener.MaxConnectionsPerIP))
	if p.listener.Type == config.ListenerPrivate {
		admit := relayAdmitter(p.listener.RelayFrom)
		ep.sock.admit.Store(&admit)
	} else {
		ep.sock.admit.Store(nil)
	}
}

// startServer puts a new server on the endpoint's socket and retires the old one.
func (e *Engine) startServer(ep *endpoint, p plan) {
	h := newHandoff(ep.sock.ln.Addr())
	var srv server
	base := dynamicTLS(func() *tls.Config { return ep.tls.Load() })
	switch p.kind {
	case "smtp":
		s := e.newSMTPServer(p, e.loggedTLS(ep))
		go func() { _ = s.Serve(h) }()
		srv = s
	case "https":
		s := &http.Server{
			Handler:           e.httpsHandler(),
			TLSConfig:         base,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          e.guiErrorLog(),
		}
		go func() { _ = s.ServeTLS(h, "", "") }()
		srv = httpServer{s}
	case "ssh":
		go func() { _ = e.opts.SSH.Serve(h) }()
		srv = sshEndpoint{ln: h}
	}
	old := ep.sock.current.Swap(h)
	oldSrv := ep.srv
	ep.kind, ep.name, ep.settings, ep.srv = p.kind, p.name, p.settings, srv
	if old != nil {
		_ = old.Close()
	}
	e.retire(oldSrv)
}

// guiErrorLog is the HTTPS server's error log: lines to GUILog (gui_logs),
// so that a client failing its handshake is recorded where an admin looks,
// not printed on the daemon's stderr.
func (e *Engine) guiErrorLog() *log.Logger {
	if e.opts.GUILog == nil {
		return log.New(e.opts.ErrorLog, "https ", log.LstdFlags)
	}
	return log.New(lineWriter(func(line string) {
		line = strings.TrimPrefix(line, "http: ")
		if rest, ok := strings.CutPrefix(line, "TLS handshake error from "); ok {
			line = "TLS handshake failed from " + rest
		}
		e.opts.GUILog.Infof("HTTPS %s", line)
	}), "", 0)
}

// lineWriter hands each write (log.Logger writes one line each) to a function.
type lineWriter func(string)

func (w lineWriter) Write(p []byte) (int, error) {
	w(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// retire lets a replaced server's sessions finish in the background, bounded
// by the grace period; Close shuts it down if it is still draining. e.mu is held.
func (e *Engine) retire(srv server) {
	if srv == nil {
		return
	}
	e.retiring[srv] = struct{}{}
	e.drains.Add(1)
	go func() {
		defer e.drains.Done()
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.Grace)
		defer cancel()
		_ = srv.Retire(ctx)
		e.mu.Lock()
		delete(e.retiring, srv)
		e.mu.Unlock()
	}()
}

// hooks are the socket callbacks of an endpoint: SMTP connections get an
// ICID and their mail_logs lines; refused ones an SMTP answer.
func (e *Engine) hooks(ep *endpoint) hooks {
	return hooks{
		refuse: func(c *trackedConn, reason string) {
			defer c.Close()
			p := ep.meta.Load()
			if p == nil || p.kind != "smtp" {
				return
			}
			c.icid = e.icids.Add(1)
			var lines maillog.Lines // one write for both lines
			e.logConnect(&lines, c, p)
			var reply string
			switch reason {
			case "busy-ip":
				lines.Infof("ICID %d refused: too many concurrent connections from %s (limit %d)", c.icid, remoteIP(c), p.listener.MaxConnectionsPerIP)
				reply = "421 4.7.0 %s Too many concurrent connections from your address, try again later\r\n"
			case "busy":
				lines.Infof("ICID %d refused: too many concurrent connections", c.icid)
				reply = "421 4.7.0 %s Too many concurrent connections, try again later\r\n"
			default:
				lines.Infof("ICID %d REJECT SG None match ALL SBRS None", c.icid)
				reply = "554 5.7.1 %s Access denied: this listener relays only for its allowed hosts\r\n"
			}
			e.log.WriteLines(&lines) // logged before the client reads why
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = fmt.Fprintf(c, reply, p.iface.Hostname)
		},
		accepted: func(c *trackedConn) {
			p := ep.meta.Load()
			if p == nil || p.kind != "smtp" {
				return
			}
			c.icid = e.icids.Add(1)
			var lines maillog.Lines // one write for both lines
			e.logConnect(&lines, c, p)
			defer e.log.WriteLines(&lines)
			if p.listener.Type == config.ListenerPrivate {
				var prefixes []netip.Prefix
				for _, n := range p.listener.RelayFrom {
					if pr, err := netip.ParsePrefix(n); err == nil {
						prefixes = append(prefixes, pr)
					}
				}
				lines.Infof("ICID %d RELAY SG RELAYLIST match %s SBRS None", c.icid, matchNetwork(prefixes, c.RemoteAddr()))
			} else {
				lines.Infof("ICID %d ACCEPT SG None match ALL SBRS None", c.icid)
			}
			c.onClose = func(c *trackedConn) { e.log.Infof("ICID %d close", c.icid) }
		},
	}
}

func (e *Engine) logConnect(lines *maillog.Lines, c *trackedConn, p *plan) {
	lines.Infof("New SMTP ICID %d interface %s (%s) address %s reverse dns host unknown verified no",
		c.icid, p.iface.Name, p.iface.Address, remoteIP(c))
}

// loggedTLS is an SMTP listener's base TLS configuration: each handshake
// takes the current generation. A ClientHello that cannot succeed has its
// reason logged in mail_logs, in OpenSSL's words as the appliance logs them;
// crypto/tls then refuses it with the proper alert (protocol_version,
// handshake_failure), as any TLS server would.
func (e *Engine) loggedTLS(ep *endpoint) *tls.Config {
	return &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cfg := ep.tls.Load()
			tc := trackedOf(hello.Conn)
			if cfg == nil {
				return nil, fmt.Errorf("TLS is off on this listener")
			}
			fail := func(reason string) (*tls.Config, error) {
				if tc != nil && tc.tlsDone.CompareAndSwap(false, true) {
					e.log.Infof("ICID %d TLS failed: %s", tc.icid, reason)
				}
				return cfg, nil
			}
			best := uint16(0)
			for _, v := range hello.SupportedVersions {
				if v >= cfg.MinVersion && v <= cfg.MaxVersion && v > best {
					best = v
				}
			}
			if best == 0 {
				return fail("(337678594, 'error:14209102:SSL routines:tls_early_post_process_client_hello:unsupported protocol')")
			}
			if best <= tls.VersionTLS12 && len(cfg.CipherSuites) > 0 && !sharesSuite(hello.CipherSuites, cfg.CipherSuites) {
				return fail("(337678784, 'error:141A90C0:SSL routines:tls_post_process_client_hello:no shared cipher')")
			}
			return cfg, nil
		},
	}
}

func sharesSuite(offered, ours []uint16) bool {
	for _, a := range offered {
		for _, b := range ours {
			if a == b {
				return true
			}
		}
	}
	return false
}

// Close stops every listener and ends the sessions: idle ones get 421 at
// once, a message being received is finished; ctx bounds the wait.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	select {
	case <-e.stopWatch:
	default:
		close(e.stopWatch)
	}
	var servers []server
	for addr, ep := range e.sockets {
		delete(e.sockets, addr)
		ep.sock.close()
		if ep.srv != nil {
			servers = append(servers, ep.srv)
		}
	}
	for srv := range e.retiring {
		servers = append(servers, srv)
	}
	e.mu.Unlock()
	var stops sync.WaitGroup
	for _, srv := range servers {
		stops.Go(func() { _ = srv.Shutdown(ctx) })
	}
	stops.Wait()
	done := make(chan struct{})
	go func() { e.drains.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EndpointStatus describes one listening socket.
type EndpointStatus struct {
	Kind, Name, Addr string
	TLS              string
	Active           int64
}

// Status is what the status command and page show.
type Status struct {
	Started       time.Time
	ConfigVersion int
	Endpoints     []EndpointStatus
}

// Status reports what is running now.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Status{Started: e.started}
	if c := e.cfg.Load(); c != nil {
		st.ConfigVersion = c.Version
	}
	for addr, ep := range e.sockets {
		tlsDesc := "off"
		if ep.kind == "ssh" {
			tlsDesc = "-"
		}
		if t := ep.tls.Load(); t != nil {
			tlsDesc = cipherstring.VersionName(t.MinVersion)
			if t.MaxVersion != t.MinVersion {
				tlsDesc += "-" + cipherstring.VersionName(t.MaxVersion)
			}
		}
		st.Endpoints = append(st.Endpoints, EndpointStatus{Kind: ep.kind, Name: ep.name, Addr: addr, TLS: tlsDesc, Active: ep.sock.active.Load()})
	}
	sort.Slice(st.Endpoints, func(i, j int) bool { return st.Endpoints[i].Addr < st.Endpoints[j].Addr })
	return st
}
