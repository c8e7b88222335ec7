// Package webui is the appliance's HTTPS GUI and REST API: server-rendered
// pages (html/template, assets embedded) and JSON under /api/v1, both over
// the same accounts, roles and lock-out as SSH, and both editing a pending
// configuration per browser session or API token that commit applies, as a
// shell session's. Every edit calls the config mutation function the shell
// calls, so a rule gives the same message everywhere.
//
// The engine (mailengine) serves the handler on each interface's HTTPS port
// and adds the security headers; the appliance builds it.
package webui

import (
	"context"
	"crypto/rand"
	"embed"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"relaybox/auth"
	"relaybox/certstore"
	"relaybox/config"
	"relaybox/mailengine"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/queue"
)

// Engine is the running engine: it applies commits and reports its status.
type Engine interface {
	config.Applier
	Status() mailengine.Status
}

// Authenticator decides password logins and keeps the lock-outs; the
// appliance gives the one SSH uses (*auth.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, a auth.Attempt) error
	Check(ctx context.Context, user, addr, service string) error
	Fail(user, addr, service, method string)
	Succeed(user, addr, service, method string)
}

// Certs makes and reads certificates (*certstore.KeyStore).
type Certs interface {
	NewRequest(r certstore.Request) (config.Certificate, error)
	AttachSigned(c config.Certificate, leafAndChainPEM string) (config.Certificate, []string, error)
	ImportPKCS12(ctx context.Context, name string, data []byte, passphrase string) (config.Certificate, []string, error)
	ExportPKCS12(c config.Certificate, passphrase string) ([]byte, error)
}

// MailLog reads mail_logs (*maillog.Logger).
type MailLog interface {
	Tail(n int) ([]string, error)
	Grep(opts maillog.GrepOptions, out func(line string)) (int, error)
}

// Queue lists the queued messages (*queue.Spool).
type Queue interface {
	Count() int
	List() ([]queue.Message, error)
}

// WebSecurityDiagnoser makes websecuritydiagnostics' connection to the web
// security service of a configuration and reports each step
// (websecurity.Diagnostics); the error, when one, says what to change.
type WebSecurityDiagnoser interface {
	Diagnose(ctx context.Context, c *config.Config, report func(format string, args ...any)) error
}

// LDAPTester runs an accept query (PROFILE.ldapaccept) for addr under c
// step by step, as ldaptest does (*ldapcheck.Checker); ldapcheck.ErrNoAnswer
// means no server answered, which the report has explained.
type LDAPTester interface {
	Test(ctx context.Context, c *config.Config, query, addr string, report func(format string, args ...any)) (found bool, err error)
}

// Sessions records logins for who and last: begin returns touch (activity)
// and end (logout, once).
type Sessions interface {
	Begin(user, from, kind string) (touch, end func())
}

// Service names in the authentication log and who/last.
const (
	ServiceGUI = "gui"
	ServiceAPI = "api"
)

// Options are what the GUI needs; Store, Engine and Auth are required.
type Options struct {
	Store    *config.Store
	Engine   Engine
	Auth     Authenticator
	Certs    Certs
	Log      MailLog
	Queue    Queue
	Sessions Sessions
	// WebSecurity runs the Web Security page's diagnostics and LDAP the
	// LDAP page's test query; without them those buttons say so.
	WebSecurity WebSecurityDiagnoser
	LDAP        LDAPTester
	Version     string
	// IdleTimeout ends a browser session (and drops its pending changes)
	// after this long without a request (default 30 minutes).
	IdleTimeout time.Duration
	// Lifetime ends a browser session after this long whatever (default 8 hours).
	Lifetime time.Duration
	// Now is the clock for certificate days left (default time.Now).
	Now func() time.Time
}

// Server is the GUI and API handler.
type Server struct {
	o       Options
	sm      *scs.SessionManager
	handler http.Handler

	basic *remembered
	// tagKey keys the part of an ETag that covers secrets (the LDAP bind
	// passwords), so that a tag changes with them but says nothing of them.
	tagKey [32]byte

	mu      sync.Mutex
	clients map[string]*client // by session id, "token:" + token hash or "basic:" + login MAC
}

//go:embed templates static
var assets embed.FS

// New builds the handler.
func New(o Options) *Server {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.Lifetime == 0 {
		o.Lifetime = 8 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sm := scs.New()
	sm.IdleTimeout = o.IdleTimeout
	sm.Lifetime = o.Lifetime
	sm.Cookie.Name = "relaybox_session"
	sm.Cookie.Secure = true
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteStrictMode
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = false
	s := &Server{o: o, sm: sm, clients: map[string]*client{}, basic: &remembered{seen: map[[32]byte]time.Time{}}}
	_, _ = rand.Read(s.basic.key[:])
	_, _ = rand.Read(s.tagKey[:])
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.pageRoutes(mux)
	s.apiRoutes(mux)
	// Cross-origin protection refuses a state-changing request that a
	// browser says comes from another origin (Sec-Fetch-Site, Origin);
	// scripts with a token send neither and pass.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Cross-origin request refused: use the appliance's own pages.", http.StatusForbidden)
	}))
	s.handler = cop.Handler(sm.LoadAndSave(mux))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }
