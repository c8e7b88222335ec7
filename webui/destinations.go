package webui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"relaybox/config"
)

// destJSON is a destination controls entry as the API reads and writes it;
// a zero value follows DEFAULT (tls "" included), as in destconfig.
type destJSON struct {
	Domain                   string `json:"domain"`
	TLS                      string `json:"tls"`
	MaxConnections           int    `json:"max_connections"`
	MaxMessagesPerConnection int    `json:"max_messages_per_connection"`
}

// putDestination is destconfig new (old == "") and edit: the same checks
// (CheckNewDestination, PutDestination) and messages.
func putDestination(c *config.Config, old string, in destJSON) error {
	d := &c.Destinations
	if old == "" {
		if err := d.CheckNewDestination(in.Domain); err != nil {
			return err
		}
	} else {
		found, err := d.FindDestination(old)
		if err != nil {
			return err
		}
		old = found.Domain
	}
	return d.PutDestination(old, config.DestPolicy{Domain: in.Domain, TLS: in.TLS, MaxConnections: in.MaxConnections, MaxMessagesPerConnection: in.MaxMessagesPerConnection})
}

type destView struct {
	config.Destinations
	Levels []struct{ Value, Label string }
}

func (s *Server) destinationsPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string, form map[string]string) {
	p := s.page(r, c, "Destination Controls")
	p.Data, p.Error, p.Form = destView{c.pending.Config().Destinations, config.DestTLSLevels}, msg, form
	s.render(w, r, code, "destinations", p)
}

// formInt reads a form number; "" is 0 (follow DEFAULT).
func formInt(field, v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number", field, v)
	}
	return n, nil
}

func destFromForm(f map[string]string) (destJSON, error) {
	in := destJSON{Domain: strings.TrimSpace(f["domain"]), TLS: f["tls"]}
	var e1, e2 error
	in.MaxConnections, e1 = formInt("max_connections", f["max_connections"])
	in.MaxMessagesPerConnection, e2 = formInt("max_messages_per_connection", f["max_messages_per_connection"])
	return in, errors.Join(e1, e2)
}

func (s *Server) destinationSave(w http.ResponseWriter, r *http.Request, c *client) {
	f := formMap(r, "old", "domain", "tls", "max_connections", "max_messages_per_connection")
	in, err := destFromForm(f)
	if err == nil {
		err = putDestination(c.pending.Config(), f["old"], in)
	}
	if err != nil {
		s.destinationsPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), f)
		return
	}
	s.flash(r, fmt.Sprintf("Destination controls for %s saved (pending until you commit).", in.Domain))
	http.Redirect(w, r, "/destinations", http.StatusSeeOther)
}

func (s *Server) destinationDelete(w http.ResponseWriter, r *http.Request, c *client) {
	d := r.PathValue("domain")
	if err := c.pending.Config().Destinations.DeleteDestination(d); err != nil {
		s.destinationsPage(w, r, c, http.StatusNotFound, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("Destination controls for %s deleted (pending until you commit).", d))
	http.Redirect(w, r, "/destinations", http.StatusSeeOther)
}

func (s *Server) destTag(c *client) (map[string]any, string) {
	v, _ := configJSON(c.pending.Config())["destinations"].(map[string]any)
	return v, etag(v, configJSON(s.o.Store.Current())["destinations"])
}

func (s *Server) apiDestinations(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.destTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiPutDestination(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.destTag(c)
	var in destJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	old := r.PathValue("domain")
	d := &c.pending.Config().Destinations
	if _, err := d.FindDestination(old); err != nil {
		old = "" // a new entry
		if !strings.EqualFold(in.Domain, r.PathValue("domain")) {
			apiError(w, http.StatusUnprocessableEntity, fmt.Sprintf("the body's domain %q is not the path's %q: PUT /api/v1/destinations/DOMAIN with that domain", in.Domain, r.PathValue("domain")))
			return
		}
	}
	if err := putDestination(c.pending.Config(), old, in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.destTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiDeleteDestination(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.destTag(c)
	if !ifMatch(w, r, tag) {
		return
	}
	if err := c.pending.Config().Destinations.DeleteDestination(r.PathValue("domain")); err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	v, tag := s.destTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}
