package mailengine

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"relaybox/auth"
	"relaybox/cipherstring"
	"relaybox/config"
)

// Authenticator decides a login attempt; *auth.Authenticator is one. The
// GUI passes its service name "gui" and the client's address.
type Authenticator interface {
	Authenticate(ctx context.Context, a auth.Attempt) error
}

// httpsHandler is what the HTTPS servers answer with: Options.Handler, or
// the built-in status page.
func (e *Engine) httpsHandler() http.Handler {
	if e.opts.Handler != nil {
		return securityHeaders(e.opts.Handler)
	}
	return e.guiHandler()
}

// guiHandler serves the status page and the JSON status API, behind HTTP
// basic authentication against the configured administrators. Every answer,
// a refusal too, carries the security headers.
func (e *Engine) guiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = statusPage.Execute(w, e.statusView(r))
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.statusView(r))
	})
	g := &guiLogin{users: e.cfg.Load, auth: e.opts.Auth, remembered: map[[sha256.Size]byte]remembered{}}
	_, _ = crand.Read(g.key[:])
	return securityHeaders(g.authenticate(mux))
}

type statusView struct {
	Hostname      string           `json:"hostname"`
	Version       string           `json:"version"`
	ConfigVersion int              `json:"config_version"`
	Uptime        string           `json:"uptime"`
	Protocol      string           `json:"protocol"`
	Endpoints     []EndpointStatus `json:"endpoints"`
	SSL           config.SSL       `json:"ssl"`
}

func (e *Engine) statusView(r *http.Request) statusView {
	st := e.Status()
	v := statusView{Version: e.opts.Version, ConfigVersion: st.ConfigVersion, Uptime: time.Since(st.Started).Round(time.Second).String(), Endpoints: st.Endpoints}
	if c := e.cfg.Load(); c != nil {
		v.Hostname = c.Hostname
		v.SSL = c.SSL
	}
	if r.TLS != nil {
		v.Protocol = cipherstring.VersionName(r.TLS.Version)
	}
	return v
}

// Remembered logins. HTTP basic authentication sends the password with every
// request; a login checked once is remembered for the same user, password,
// hash and client address, so that the GUI's requests do not each cost a
// bcrypt comparison and an authentication log line.
const (
	rememberIdle = 10 * time.Minute
	rememberMax  = 8 * time.Hour
	rememberCap  = 256
)

type remembered struct{ idleUntil, until time.Time }

// guiLogin is the GUI's login check: the authenticator plus remembered logins.
type guiLogin struct {
	users func() *config.Config
	auth  Authenticator
	key   [32]byte // HMAC key: remembered logins are kept as MACs, never as passwords

	mu         sync.Mutex
	remembered map[[sha256.Size]byte]remembered
}

func (g *guiLogin) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok {
			unauthorized(w) // no credentials yet: not an attempt
			return
		}
		var hash string
		var cost int
		if c := g.users(); c != nil {
			hash, cost = c.LoginHash(user)
		}
		source, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			source = r.RemoteAddr
		}
		mac := g.mac(user, pass, hash, source)
		if g.recall(mac, time.Now()) {
			next.ServeHTTP(w, r)
			return
		}
		err = g.auth.Authenticate(r.Context(), auth.Attempt{Service: "gui", Source: r.RemoteAddr, User: user, Password: pass, Hash: hash, Cost: cost})
		var locked *auth.LockedError
		switch {
		case err == nil:
			g.remember(mac, time.Now())
			next.ServeHTTP(w, r)
		case errors.As(err, &locked):
			secs := int64(math.Ceil(locked.RetryAfter.Seconds()))
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			http.Error(w, fmt.Sprintf("Too many failed login attempts: try again in %s.", waitWords(locked.RetryAfter)), http.StatusTooManyRequests)
		default:
			unauthorized(w)
		}
	})
}

// unauthorized is the one answer to a missing, unknown or wrong login: it
// does not say which.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="Relaybox", charset="UTF-8"`)
	http.Error(w, "Authentication required: log in with an administrator account.", http.StatusUnauthorized)
}

// waitWords says how long to wait, in whole minutes (or seconds under one).
func waitWords(d time.Duration) string {
	if d <= time.Minute {
		return fmt.Sprintf("%d seconds", max(1, int(math.Ceil(d.Seconds()))))
	}
	m := int(math.Ceil(d.Minutes()))
	return fmt.Sprintf("%d minutes", m)
}

func (g *guiLogin) mac(user, pass, hash, source string) [sha256.Size]byte {
	m := hmac.New(sha256.New, g.key[:])
	for _, s := range []string{user, pass, hash, source} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// recall reports whether the login was checked recently, and keeps it.
func (g *guiLogin) recall(mac [sha256.Size]byte, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	r, ok := g.remembered[mac]
	if !ok {
		return false
	}
	if now.After(r.idleUntil) || now.After(r.until) {
		delete(g.remembered, mac)
		return false
	}
	r.idleUntil = now.Add(rememberIdle)
	g.remembered[mac] = r
	return true
}

// remember keeps a checked login, dropping expired ones and then the one
// closest to its end when full.
func (g *guiLogin) remember(mac [sha256.Size]byte, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.remembered) >= rememberCap {
		var oldest [sha256.Size]byte
		var oldestAt time.Time
		for k, r := range g.remembered {
			end := r.idleUntil
			if r.until.Before(end) {
				end = r.until
			}
			if now.After(end) {
				delete(g.remembered, k)
				continue
			}
			if oldestAt.IsZero() || end.Before(oldestAt) {
				oldest, oldestAt = k, end
			}
		}
		if len(g.remembered) >= rememberCap {
			delete(g.remembered, oldest)
		}
	}
	g.remembered[mac] = remembered{idleUntil: now.Add(rememberIdle), until: now.Add(rememberMax)}
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"methods": config.MethodsToken,
	"join":    func(a, b string) string { return fmt.Sprint(a, b) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Hostname}} – Relaybox status</title></head>
<body>
<h1>{{.Hostname}}</h1>
<p>Relaybox {{.Version}} · configuration version {{.ConfigVersion}} · up {{.Uptime}} · this page over {{.Protocol}}</p>
<h2>Listeners</h2>
<table>
<tr><th>Service</th><th>Name</th><th>Address</th><th>TLS</th><th>Connections</th></tr>
{{range .Endpoints}}<tr><td>{{.Kind}}</td><td>{{.Name}}</td><td>{{.Addr}}</td><td>{{.TLS}}</td><td>{{.Active}}</td></tr>
{{end}}</table>
<h2>SSL configuration</h2>
<table>
<tr><td>GUI HTTPS method</td><td>{{methods .SSL.GUI.Methods}}</td></tr>
<tr><td>Inbound SMTP method</td><td>{{methods .SSL.Inbound.Methods}}</td></tr>
<tr><td>Outbound SMTP method</td><td>{{methods .SSL.Outbound.Methods}}</td></tr>
</table>
</body></html>
`))
