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

// destDefaultJSON is the DEFAULT entry (destconfig default): a field left
// out keeps its value; none of them follows anything.
type destDefaultJSON struct {
	TLS                      *string `json:"tls,omitempty"`
	MaxConnections           *int    `json:"max_connections,omitempty"`
	MaxMessagesPerConnection *int    `json:"max_messages_per_connection,omitempty"`
}

// setDestDefault is destconfig DEFAULT: the edited copy stored with SetDefault.
func setDestDefault(c *config.Config, in destDefaultJSON) error {
	p := c.Destinations.Default
	if in.TLS != nil {
		p.TLS = strings.ToLower(*in.TLS)
	}
	if in.MaxConnections != nil {
		p.MaxConnections = *in.MaxConnections
	}
	if in.MaxMessagesPerConnection != nil {
		p.MaxMessagesPerConnection = *in.MaxMessagesPerConnection
	}
	return c.Destinations.SetDefault(p)
}

// destDefaultFromForm reads the DEFAULT form (numbers with formNumber: one
// out of range is refused by SetDefault).
func destDefaultFromForm(r *http.Request) (destDefaultJSON, error) {
	f := formFields(r, "tls", "max_connections", "max_messages_per_connection")
	var in destDefaultJSON
	if v, ok := f["tls"]; ok {
		in.TLS = &v
	}
	for _, n := range []struct {
		key string
		dst **int
		r   config.Range
	}{{"max_connections", &in.MaxConnections, config.DestConnectionRange}, {"max_messages_per_connection", &in.MaxMessagesPerConnection, config.DestMessageRange}} {
		if v, ok := f[n.key]; ok {
			x, err := formNumber(v, n.r)
			if err != nil {
				return in, err
			}
			*n.dst = &x
		}
	}
	return in, nil
}

func (s *Server) destinationDefaultSave(w http.ResponseWriter, r *http.Request, c *client) {
	in, err := destDefaultFromForm(r)
	if err == nil {
		err = setDestDefault(c.pending.Config(), in)
	}
	if err != nil {
		s.destinationsPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	s.flash(r, "Destination controls DEFAULT saved (pending until you commit).")
	http.Redirect(w, r, "/destinations", http.StatusSeeOther)
}

// destSetupJSON is destconfig setup: the client certificate offered on
// outbound TLS ("" or none: none) and the alert on required-TLS failures
// with its recipients; a field left out keeps its value.
type destSetupJSON struct {
	Certificate *string   `json:"certificate,omitempty"`
	Alert       *bool     `json:"alert_on_required_tls_failure,omitempty"`
	Recipients  *[]string `json:"alert_recipients,omitempty"`
}

// setDestSetup is destconfig setup: SetClientCertificate and SetAlert on a
// copy, kept only when both accept.
func setDestSetup(c *config.Config, in destSetupJSON) error {
	d := c.Destinations
	cert, alert, recipients := d.Certificate, d.AlertOnRequiredTLSFailure, []string(nil)
	if in.Certificate != nil {
		cert = *in.Certificate
		if strings.EqualFold(cert, "none") {
			cert = ""
		}
	}
	if in.Alert != nil {
		alert = *in.Alert
	}
	if in.Recipients != nil {
		recipients = *in.Recipients
	}
	next := *c
	if err := next.SetClientCertificate(cert); err != nil {
		return err
	}
	if err := next.Destinations.SetAlert(alert, recipients); err != nil {
		return err
	}
	c.Destinations = next.Destinations
	return nil
}

// destSetupFromForm reads the SETUP form: recipients left empty are kept.
func destSetupFromForm(r *http.Request) destSetupJSON {
	f := formFields(r, "certificate", "alert", "alert_recipients")
	var in destSetupJSON
	if v, ok := f["certificate"]; ok {
		in.Certificate = &v
	}
	if v, ok := f["alert"]; ok {
		on := v == "yes"
		in.Alert = &on
	}
	if v := f["alert_recipients"]; v != "" {
		l := splitHosts(v)
		in.Recipients = &l
	}
	return in
}

func (s *Server) destinationSetupSave(w http.ResponseWriter, r *http.Request, c *client) {
	if err := setDestSetup(c.pending.Config(), destSetupFromForm(r)); err != nil {
		s.destinationsPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	s.flash(r, "Destination controls SETUP saved (pending until you commit).")
	http.Redirect(w, r, "/destinations", http.StatusSeeOther)
}

type destView struct {
	config.Destinations
	Levels       []struct{ Value, Label string }
	Certificates []string
}

func (s *Server) destinationsPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string, form map[string]string) {
	p := s.page(r, c, "Destination Controls")
	cf := c.pending.Config()
	v := destView{Destinations: cf.Destinations, Levels: config.DestTLSLevels}
	for _, cert := range cf.Certificates {
		v.Certificates = append(v.Certificates, cert.Name)
	}
	p.Data, p.Error, p.Form = v, msg, form
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
	switch {
	case strings.EqualFold(r.PathValue("domain"), "DEFAULT"):
		s.apiPutDestDefault(w, r, c, tag)
		return
	case strings.EqualFold(r.PathValue("domain"), "SETUP"):
		s.apiPutDestSetup(w, r, c, tag)
		return
	}
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

// apiPutDestDefault is PUT /api/v1/destinations/DEFAULT: destconfig default.
func (s *Server) apiPutDestDefault(w http.ResponseWriter, r *http.Request, c *client, tag string) {
	var in destDefaultJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setDestDefault(c.pending.Config(), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.destTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

// apiPutDestSetup is PUT /api/v1/destinations/SETUP: destconfig setup.
func (s *Server) apiPutDestSetup(w http.ResponseWriter, r *http.Request, c *client, tag string) {
	var in destSetupJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setDestSetup(c.pending.Config(), in); err != nil {
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
