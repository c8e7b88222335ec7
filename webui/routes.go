package webui

import (
	"fmt"
	"net/http"
	"strings"

	"relaybox/config"
)

// routeJSON is an smtproutes entry as the API reads and writes it.
type routeJSON struct {
	Domain string   `json:"domain"`
	Hosts  []string `json:"hosts"`
}

// addRoute is smtproutes new: the same checks (CheckNewRoute,
// ParseRouteHosts, AddRoute) and messages.
func addRoute(c *config.Config, domain string, hosts []string) error {
	if err := c.CheckNewRoute(domain); err != nil {
		return err
	}
	parsed, err := config.ParseRouteHosts(hosts)
	if err != nil {
		return err
	}
	return c.AddRoute(config.Route{Domain: domain, Hosts: parsed})
}

// splitHosts reads the form's list as the shell does: commas or spaces.
func splitHosts(a string) []string {
	return strings.FieldsFunc(a, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

func (s *Server) routesPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string, form map[string]string) {
	p := s.page(r, c, "SMTP Routes")
	p.Data, p.Error, p.Form = c.pending.Config(), msg, form
	s.render(w, r, code, "routes", p)
}

func (s *Server) routeNew(w http.ResponseWriter, r *http.Request, c *client) {
	f := formMap(r, "domain", "hosts")
	if err := addRoute(c.pending.Config(), strings.TrimSpace(f["domain"]), splitHosts(f["hosts"])); err != nil {
		s.routesPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), f)
		return
	}
	s.flash(r, fmt.Sprintf("Route for %s added (pending until you commit).", strings.TrimSpace(f["domain"])))
	http.Redirect(w, r, "/routes", http.StatusSeeOther)
}

func (s *Server) routeDelete(w http.ResponseWriter, r *http.Request, c *client) {
	d := r.PathValue("domain")
	if err := c.pending.Config().DeleteRoute(d); err != nil {
		s.routesPage(w, r, c, http.StatusNotFound, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("Route for %s deleted (pending until you commit).", d))
	http.Redirect(w, r, "/routes", http.StatusSeeOther)
}

func (s *Server) routeTag(c *client) ([]routeJSON, string) {
	v := []routeJSON{}
	for _, rt := range c.pending.Config().Routes {
		v = append(v, routeJSON{rt.Domain, append([]string{}, rt.Hosts...)})
	}
	var committed []routeJSON
	for _, rt := range s.o.Store.Current().Routes {
		committed = append(committed, routeJSON{rt.Domain, rt.Hosts})
	}
	return v, etag(v, committed)
}

func (s *Server) apiRoutesList(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.routeTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiNewRoute(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.routeTag(c)
	var in routeJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := addRoute(c.pending.Config(), in.Domain, in.Hosts); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.routeTag(c)
	writeJSON(w, http.StatusCreated, tag, v)
}

func (s *Server) apiDeleteRoute(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.routeTag(c)
	if !ifMatch(w, r, tag) {
		return
	}
	if err := c.pending.Config().DeleteRoute(r.PathValue("domain")); err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	v, tag := s.routeTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}
