package webui

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/mailengine/maillog"
)

// page is what every template gets: the layout's parts and the page's Data.
type page struct {
	Title, Nav       string
	User, Role       string
	Admin            bool
	Hostname         string
	Version          string
	Pending          bool // the session has uncommitted changes: the banner
	Flash, Error     string
	Form             map[string]string
	Data             any
	OneTimePassword  bool
	CommittedVersion int
}

var templates = parseTemplates()

func parseTemplates() map[string]*template.Template {
	funcs := template.FuncMap{
		"methods": config.MethodsToken,
		"join":    strings.Join,
		"seconds": func(d config.Duration) int { return int(time.Duration(d) / time.Second) },
		"ldapform": func(p ldapProfileJSON, conns []struct{ Value, Label string }) ldapForm {
			return ldapForm{P: p, Connections: conns}
		},
	}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html"))
	out := map[string]*template.Template{}
	names, _ := fs.Glob(assets, "templates/*.html")
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		out[base] = template.Must(template.Must(layout.Clone()).ParseFS(assets, n))
	}
	return out
}

func (s *Server) page(r *http.Request, c *client, title string) page {
	cur := s.o.Store.Current()
	p := page{Title: title, Hostname: cur.Hostname, Version: s.o.Version, CommittedVersion: cur.Version}
	if c != nil {
		p.User = c.user
		if acc := s.account(c); acc != nil {
			p.Role, p.Admin, p.OneTimePassword = acc.Role, acc.IsAdmin(), acc.MustChangePassword
		}
		p.Pending = c.pending.Changed()
	}
	p.Flash = s.sm.PopString(r.Context(), "flash")
	return p
}

func (s *Server) flash(r *http.Request, msg string) { s.sm.Put(r.Context(), "flash", msg) }

// render writes a page; the template runs into a buffer first, so that a
// failure is a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	if p.Hostname == "" {
		p.Hostname = s.o.Store.Current().Hostname
	}
	if p.Nav == "" {
		p.Nav = name
	}
	var b bytes.Buffer
	if err := templates[name].ExecuteTemplate(&b, "layout.html", p); err != nil {
		http.Error(w, "The page could not be shown: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

func (s *Server) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /password", s.gate(s.passwordPage))
	mux.HandleFunc("POST /password", s.gate(s.changePassword))
	mux.HandleFunc("GET /{$}", s.gate(s.statusPage))
	mux.HandleFunc("GET /changes", s.gate(s.changesPage))
	mux.HandleFunc("POST /changes/commit", s.gate(s.commitPage))
	mux.HandleFunc("POST /changes/abandon", s.gate(s.abandonPage))
	mux.HandleFunc("GET /ssl", s.gate(s.sslPage))
	mux.HandleFunc("POST /ssl", s.gate(s.sslSubmit))
	mux.HandleFunc("GET /certificates", s.gate(s.certificatesPage))
	mux.HandleFunc("POST /certificates/new", s.gate(s.certificateNew))
	mux.HandleFunc("GET /certificates/{name}/csr", s.gate(s.certificateCSR))
	mux.HandleFunc("POST /certificates/{name}/signed", s.gate(s.certificateSigned))
	mux.HandleFunc("POST /certificates/import", s.gate(s.certificateImport))
	mux.HandleFunc("POST /certificates/{name}/export", s.gate(s.certificateExport))
	mux.HandleFunc("POST /certificates/{name}/delete", s.gate(s.certificateDelete))
	mux.HandleFunc("GET /listeners", s.gate(func(w http.ResponseWriter, r *http.Request, c *client) {
		s.listenersPage(w, r, c, http.StatusOK, "")
	}))
	mux.HandleFunc("POST /listeners", s.gate(s.listenerNew))
	mux.HandleFunc("POST /listeners/{name}", s.gate(s.listenerSave))
	mux.HandleFunc("POST /listeners/{name}/delete", s.gate(s.listenerDelete))
	mux.HandleFunc("POST /inbound", s.gate(s.inboundSave))
	mux.HandleFunc("GET /interfaces", s.gate(func(w http.ResponseWriter, r *http.Request, c *client) {
		s.interfacesPage(w, r, c, http.StatusOK, "")
	}))
	mux.HandleFunc("POST /interfaces", s.gate(s.interfaceNew))
	mux.HandleFunc("POST /interfaces/{name}", s.gate(s.interfaceSave))
	mux.HandleFunc("POST /interfaces/{name}/delete", s.gate(s.interfaceDelete))
	mux.HandleFunc("GET /destinations", s.gate(func(w http.ResponseWriter, r *http.Request, c *client) {
		s.destinationsPage(w, r, c, http.StatusOK, "", nil)
	}))
	mux.HandleFunc("POST /destinations", s.gate(s.destinationSave))
	mux.HandleFunc("POST /destinations/DEFAULT", s.gate(s.destinationDefaultSave))
	mux.HandleFunc("POST /destinations/SETUP", s.gate(s.destinationSetupSave))
	mux.HandleFunc("POST /destinations/{domain}/delete", s.gate(s.destinationDelete))
	mux.HandleFunc("GET /routes", s.gate(func(w http.ResponseWriter, r *http.Request, c *client) { s.routesPage(w, r, c, http.StatusOK, "", nil) }))
	mux.HandleFunc("POST /routes/new", s.gate(s.routeNew))
	mux.HandleFunc("POST /routes/{domain}/delete", s.gate(s.routeDelete))
	mux.HandleFunc("GET /websecurity", s.gate(s.webSecurityGet))
	mux.HandleFunc("POST /websecurity", s.gate(s.webSecuritySave))
	mux.HandleFunc("POST /websecurity/diagnostics", s.gate(s.webSecurityDiagnostics))
	mux.HandleFunc("POST /websecurity/urllists/new", s.gate(s.urlListNew))
	mux.HandleFunc("POST /websecurity/urllists/{name}", s.gate(s.urlListEdit))
	mux.HandleFunc("POST /websecurity/urllists/{name}/delete", s.gate(s.urlListDelete))
	mux.HandleFunc("GET /ldap", s.gate(s.ldapGet))
	mux.HandleFunc("POST /ldap/profiles/new", s.gate(s.ldapNew))
	mux.HandleFunc("POST /ldap/profiles/{name}", s.gate(s.ldapEdit))
	mux.HandleFunc("POST /ldap/profiles/{name}/delete", s.gate(s.ldapDelete))
	mux.HandleFunc("POST /ldap/certificate", s.gate(s.ldapCertificate))
	mux.HandleFunc("POST /ldap/test", s.gate(s.ldapTestForm))
	mux.HandleFunc("GET /maillog", s.gate(s.maillogPage))
	mux.HandleFunc("GET /queue", s.gate(s.queuePage))
}

// status is what System Status and GET /api/v1/status show (as status does).
type status struct {
	Hostname      string           `json:"hostname"`
	Version       string           `json:"version"`
	ConfigVersion int              `json:"config_version"`
	Uptime        string           `json:"uptime"`
	Protocol      string           `json:"protocol,omitempty"`
	QueueMessages int              `json:"queue_messages"`
	Endpoints     []endpointStatus `json:"endpoints"`
	SSL           sslJSON          `json:"ssl"`
}

type endpointStatus struct {
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Address     string `json:"address"`
	TLS         string `json:"tls"`
	Connections int64  `json:"connections"`
}

func (s *Server) status(r *http.Request) status {
	st := s.o.Engine.Status()
	cur := s.o.Store.Current()
	v := status{Hostname: cur.Hostname, Version: s.o.Version, ConfigVersion: st.ConfigVersion,
		Uptime: time.Since(st.Started).Round(time.Second).String(), SSL: sslToJSON(cur.SSL), Endpoints: []endpointStatus{}}
	for _, e := range st.Endpoints {
		v.Endpoints = append(v.Endpoints, endpointStatus{e.Kind, e.Name, e.Addr, e.TLS, e.Active})
	}
	if s.o.Queue != nil {
		v.QueueMessages = s.o.Queue.Count()
	}
	if r.TLS != nil {
		v.Protocol = cipherstring.VersionName(r.TLS.Version)
	}
	return v
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request, c *client) {
	p := s.page(r, c, "System Status")
	p.Data = s.status(r)
	s.render(w, r, http.StatusOK, "status", p)
}

func (s *Server) changesPage(w http.ResponseWriter, r *http.Request, c *client) {
	p := s.page(r, c, "Uncommitted Changes")
	p.Data = c.pending.Diff()
	s.render(w, r, http.StatusOK, "changes", p)
}

// errOperatorCommit is the shell's refusal, word for word.
func errOperatorCommit(role string) error {
	return fmt.Errorf("operators cannot commit: you are not in the correct access group to use commit (your role is %s); ask an administrator to commit the changes, or drop them with clearchanges", role)
}

// commit is the shell's commit: administrators only, the session's pending copy.
func (s *Server) commit(r *http.Request, c *client, comment string) (*config.Config, error) {
	if acc := s.account(c); !acc.IsAdmin() {
		return nil, errOperatorCommit(acc.Role)
	}
	return c.pending.Commit(r.Context(), c.user, comment, s.o.Engine)
}

func (s *Server) commitPage(w http.ResponseWriter, r *http.Request, c *client) {
	cf, err := s.commit(r, c, r.PostFormValue("comment"))
	if err != nil {
		p := s.page(r, c, "Uncommitted Changes")
		p.Data, p.Error, p.Form = c.pending.Diff(), err.Error(), map[string]string{"comment": r.PostFormValue("comment")}
		code := http.StatusConflict
		if errors.Is(err, config.ErrNothingToCommit) {
			p.Error = "There is no data to commit."
		}
		if strings.HasPrefix(err.Error(), "operators cannot") {
			code = http.StatusForbidden
		}
		s.render(w, r, code, "changes", p)
		return
	}
	s.flash(r, fmt.Sprintf("Changes committed as version %d: %s.", cf.Version, cf.Time.UTC().Format(time.RFC1123)))
	http.Redirect(w, r, "/changes", http.StatusSeeOther)
}

func (s *Server) abandonPage(w http.ResponseWriter, r *http.Request, c *client) {
	c.pending.Clear()
	s.flash(r, "All uncommitted changes were abandoned.")
	http.Redirect(w, r, "/changes", http.StatusSeeOther)
}

type maillogView struct {
	Filter string
	Lines  []string
	Count  int
}

const maxTail = 1000

// readLog is tail (no filter) or grep -i (a filter), at most n lines, the last ones.
func (s *Server) readLog(filter string, n int) ([]string, error) {
	if s.o.Log == nil {
		return nil, errors.New("the mail log is not available")
	}
	if n <= 0 || n > maxTail {
		return nil, fmt.Errorf("lines=%d is out of range: use 1 to %d", n, maxTail)
	}
	if filter == "" {
		return s.o.Log.Tail(n)
	}
	if _, err := regexp.Compile("(?i)" + filter); err != nil {
		return nil, fmt.Errorf("filter=%q is not a valid regular expression (Go RE2 syntax, case-insensitive): %v", filter, err)
	}
	var lines []string
	_, err := s.o.Log.Grep(maillog.GrepOptions{Pattern: filter, IgnoreCase: true}, func(l string) {
		lines = append(lines, l)
		if len(lines) > n {
			lines = slices.Delete(lines, 0, 1)
		}
	})
	return lines, err
}

func (s *Server) maillogPage(w http.ResponseWriter, r *http.Request, c *client) {
	p := s.page(r, c, "Mail Log")
	v := maillogView{Filter: r.URL.Query().Get("filter")}
	n := 100
	if q := r.URL.Query().Get("lines"); q != "" {
		var err error
		if n, err = strconv.Atoi(q); err != nil {
			n = -1
		}
	}
	lines, err := s.readLog(v.Filter, n)
	if err != nil {
		p.Error = err.Error()
	}
	v.Lines, v.Count = lines, len(lines)
	p.Data = v
	s.render(w, r, http.StatusOK, "maillog", p)
}

func (s *Server) queuePage(w http.ResponseWriter, r *http.Request, c *client) {
	p := s.page(r, c, "Message Queue")
	msgs, err := s.queueList()
	if err != nil {
		p.Error = err.Error()
	}
	p.Data = msgs
	s.render(w, r, http.StatusOK, "queue", p)
}

type queuedJSON struct {
	MID      uint64    `json:"mid"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Size     int64     `json:"size"`
	Received time.Time `json:"received"`
	Listener string    `json:"listener"`
}

func (s *Server) queueList() ([]queuedJSON, error) {
	out := []queuedJSON{}
	if s.o.Queue == nil {
		return out, nil
	}
	msgs, err := s.o.Queue.List()
	if err != nil {
		return out, err
	}
	for _, m := range msgs {
		out = append(out, queuedJSON{uint64(m.MID), m.Envelope.From, m.Envelope.To, m.Size, m.Envelope.Received, m.Envelope.Listener})
	}
	return out, nil
}
