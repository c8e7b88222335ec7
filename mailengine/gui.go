package mailengine

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"

	"relaybox/cipherstring"
	"relaybox/config"
)

// guiHandler serves the status page and the JSON status API, behind HTTP
// basic authentication against the configured administrators.
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
	return e.authenticate(securityHeaders(mux))
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

func (e *Engine) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok && e.checkPassword(user, pass) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Relaybox", charset="UTF-8"`)
		http.Error(w, "authentication required: log in with an administrator account (userconfig)", http.StatusUnauthorized)
	})
}

func (e *Engine) checkPassword(user, pass string) bool {
	c := e.cfg.Load()
	if c == nil {
		return false
	}
	for _, u := range c.Users {
		if u.Name == user {
			return bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pass)) == nil
		}
	}
	return false
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'")
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
