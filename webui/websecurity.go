package webui

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"relaybox/config"
)

// webSecurityJSON is websecurityconfig as the API reads and writes it
// (PUT /api/v1/websecurity sends the whole object).
type webSecurityJSON struct {
	Enabled             bool   `json:"enabled"`
	ServiceURL          string `json:"service_url"`
	AllowList           string `json:"allow_list"`
	Certificate         string `json:"certificate"`
	InteractionTracking bool   `json:"interaction_tracking"`
}

func webSecurityToJSON(w config.WebSecurity) webSecurityJSON {
	return webSecurityJSON{w.Enabled, w.ServiceURL, w.AllowList, w.Certificate, w.InteractionTracking}
}

// setWebSecurity is websecurityconfig: config.SetWebSecurity, its checks
// and messages; a refusal changes nothing.
func setWebSecurity(c *config.Config, in webSecurityJSON) error {
	return c.SetWebSecurity(config.WebSecurity{Enabled: in.Enabled, ServiceURL: strings.TrimSpace(in.ServiceURL),
		AllowList: in.AllowList, Certificate: in.Certificate, InteractionTracking: in.InteractionTracking})
}

// urlListJSON is a URL list (urllistconfig); used_by is read-only (sent
// back, it is ignored).
type urlListJSON struct {
	Name    string   `json:"name"`
	Entries []string `json:"entries"`
	UsedBy  []string `json:"used_by"`
}

func urlListsJSON(c *config.Config) []urlListJSON {
	out := []urlListJSON{}
	for _, l := range c.URLLists {
		j := urlListJSON{Name: l.Name, Entries: append([]string{}, l.Entries...), UsedBy: []string{}}
		if strings.EqualFold(c.WebSecurity.AllowList, l.Name) {
			j.UsedBy = append(j.UsedBy, "websecurityconfig (URL allow list)")
		}
		out = append(out, j)
	}
	return out
}

// putURLList is urllistconfig new (old == "") and edit: the entries go
// through config.ParseURLListEntries, the list through PutURLList, as the
// batch forms do.
func putURLList(c *config.Config, old string, in urlListJSON) error {
	if old != "" {
		l, err := c.FindURLList(old)
		if err != nil {
			return err
		}
		old = l.Name
	} else if err := config.CheckName(config.KindURLList, in.Name); err != nil {
		return err
	}
	entries, err := config.ParseURLListEntries(in.Entries)
	if err != nil {
		return err
	}
	return c.PutURLList(old, config.URLList{Name: strings.TrimSpace(in.Name), Entries: entries})
}

// diagnosis is a diagnostic's or a test's report, step by step.
type diagnosis struct {
	OK     bool     `json:"ok"`
	Report []string `json:"report"`
	Error  string   `json:"error"`
}

// diagnoseWebSecurity is websecuritydiagnostics on the client's pending
// configuration: the same report, line by line.
func (s *Server) diagnoseWebSecurity(ctx context.Context, c *config.Config) diagnosis {
	d := diagnosis{Report: []string{}}
	if s.o.WebSecurity == nil {
		d.Error = "web security diagnostics are not available here: run websecuritydiagnostics in the shell"
		return d
	}
	err := s.o.WebSecurity.Diagnose(ctx, c, func(format string, a ...any) {
		d.Report = append(d.Report, strings.Split(fmt.Sprintf(format, a...), "\n")...)
	})
	d.OK = err == nil
	if err != nil {
		d.Error = err.Error()
	}
	return d
}

type webSecurityView struct {
	Settings     webSecurityJSON
	Lists        []urlListJSON
	Certificates []string
	NewList      urlListJSON
	Diagnosis    *diagnosis // after Run diagnostics
}

// webSecurityPage shows the page; mod changes what it shows (the form as
// submitted, with a refusal; a diagnostic's report).
func (s *Server) webSecurityPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string, mod func(v *webSecurityView)) {
	p := s.page(r, c, "Web Security")
	cf := c.pending.Config()
	v := webSecurityView{Settings: webSecurityToJSON(cf.WebSecurity), Lists: urlListsJSON(cf)}
	for _, cert := range cf.Certificates {
		v.Certificates = append(v.Certificates, cert.Name)
	}
	if mod != nil {
		mod(&v)
	}
	p.Data, p.Error = v, msg
	s.render(w, r, code, "websecurity", p)
}

func (s *Server) webSecurityGet(w http.ResponseWriter, r *http.Request, c *client) {
	s.webSecurityPage(w, r, c, http.StatusOK, "", nil)
}

func (s *Server) webSecuritySave(w http.ResponseWriter, r *http.Request, c *client) {
	f := formMap(r, "enabled", "service_url", "allow_list", "certificate", "interaction_tracking")
	in := webSecurityJSON{Enabled: f["enabled"] == "on", ServiceURL: f["service_url"], AllowList: f["allow_list"],
		Certificate: f["certificate"], InteractionTracking: f["interaction_tracking"] == "on"}
	if err := setWebSecurity(c.pending.Config(), in); err != nil {
		s.webSecurityPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), func(v *webSecurityView) { v.Settings = in })
		return
	}
	s.flash(r, "Web Security settings changed (pending until you commit).")
	http.Redirect(w, r, "/websecurity", http.StatusSeeOther)
}

// splitEntries reads a form's list as the shell does (commas, blanks),
// and line breaks too.
func splitEntries(a string) []string {
	return strings.FieldsFunc(a, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

func (s *Server) urlListNew(w http.ResponseWriter, r *http.Request, c *client) {
	f := formMap(r, "name", "entries")
	name := strings.TrimSpace(f["name"])
	if err := putURLList(c.pending.Config(), "", urlListJSON{Name: name, Entries: splitEntries(f["entries"])}); err != nil {
		s.webSecurityPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), func(v *webSecurityView) {
			v.NewList = urlListJSON{Name: f["name"], Entries: splitEntries(f["entries"])}
		})
		return
	}
	s.flash(r, fmt.Sprintf("URL list %q created (pending until you commit).", name))
	http.Redirect(w, r, "/websecurity", http.StatusSeeOther)
}

func (s *Server) urlListEdit(w http.ResponseWriter, r *http.Request, c *client) {
	old := r.PathValue("name")
	f := formMap(r, "name", "entries")
	name := strings.TrimSpace(f["name"])
	if err := putURLList(c.pending.Config(), old, urlListJSON{Name: name, Entries: splitEntries(f["entries"])}); err != nil {
		s.webSecurityPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("URL list %q changed (pending until you commit).", name))
	http.Redirect(w, r, "/websecurity", http.StatusSeeOther)
}

func (s *Server) urlListDelete(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	if err := c.pending.Config().DeleteURLList(name); err != nil {
		code := http.StatusConflict
		if c.pending.Config().URLList(name) == nil {
			code = http.StatusNotFound
		}
		s.webSecurityPage(w, r, c, code, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("URL list %q deleted (pending until you commit).", name))
	http.Redirect(w, r, "/websecurity", http.StatusSeeOther)
}

func (s *Server) webSecurityDiagnostics(w http.ResponseWriter, r *http.Request, c *client) {
	d := s.diagnoseWebSecurity(r.Context(), c.pending.Config())
	s.webSecurityPage(w, r, c, http.StatusOK, "", func(v *webSecurityView) { v.Diagnosis = &d })
}

// The API.

func (s *Server) webSecurityTag(c *client) (webSecurityJSON, string) {
	v := webSecurityToJSON(c.pending.Config().WebSecurity)
	return v, etag(v, webSecurityToJSON(s.o.Store.Current().WebSecurity))
}

func (s *Server) apiWebSecurity(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.webSecurityTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiPutWebSecurity(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.webSecurityTag(c)
	var in webSecurityJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setWebSecurity(c.pending.Config(), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.webSecurityTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiWebSecurityDiagnostics(w http.ResponseWriter, r *http.Request, c *client) {
	writeJSON(w, http.StatusOK, "", s.diagnoseWebSecurity(r.Context(), c.pending.Config()))
}

// urlListTag covers every list, pending and committed (and the allow list,
// which used_by shows).
func (s *Server) urlListTag(c *client) ([]urlListJSON, string) {
	v := urlListsJSON(c.pending.Config())
	return v, etag(v, urlListsJSON(s.o.Store.Current()))
}

func (s *Server) apiURLLists(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.urlListTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiURLList(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.urlListTag(c)
	for _, l := range v {
		if strings.EqualFold(l.Name, r.PathValue("name")) {
			writeJSON(w, http.StatusOK, tag, l)
			return
		}
	}
	_, err := c.pending.Config().FindURLList(r.PathValue("name"))
	apiError(w, http.StatusNotFound, err.Error())
}

func (s *Server) apiNewURLList(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.urlListTag(c)
	var in urlListJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := putURLList(c.pending.Config(), "", in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.urlListTag(c)
	writeJSON(w, http.StatusCreated, tag, v)
}

func (s *Server) apiPutURLList(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.urlListTag(c)
	var in urlListJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if _, err := c.pending.Config().FindURLList(r.PathValue("name")); err != nil {
		apiError(w, http.StatusNotFound, err.Error()+" (POST /api/v1/urllists makes a new one)")
		return
	}
	if err := putURLList(c.pending.Config(), r.PathValue("name"), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.urlListTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiDeleteURLList(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.urlListTag(c)
	if !ifMatch(w, r, tag) {
		return
	}
	name := r.PathValue("name")
	if _, err := c.pending.Config().FindURLList(name); err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	if err := c.pending.Config().DeleteURLList(name); err != nil {
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	v, tag := s.urlListTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}
