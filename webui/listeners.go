package webui

import (
	"fmt"
	"net/http"
	"strings"

	"relaybox/config"
)

// listenerTLSJSON is what the GUI and the API change of a listener: its
// TLS level and certificate (listenerconfig edit NAME tls|certificate).
type listenerTLSJSON struct {
	TLS         string `json:"tls"`
	Certificate string `json:"certificate"`
}

// interfaceCertJSON is what they change of an interface: the certificate
// its HTTPS port serves (interfaceconfig edit NAME certificate).
type interfaceCertJSON struct {
	Certificate string `json:"certificate"`
}

// setListenerTLS edits a copy and stores it with PutListener, as listenerconfig does.
func setListenerTLS(c *config.Config, name string, in listenerTLSJSON) error {
	l, err := c.FindListener(name)
	if err != nil {
		return err
	}
	next := *l
	next.TLS, next.Certificate = strings.ToLower(in.TLS), in.Certificate
	return c.PutListener(l.Name, next)
}

// setInterfaceCertificate edits a copy and stores it with PutInterface, as interfaceconfig does.
func setInterfaceCertificate(c *config.Config, name, cert string) error {
	ifc, err := c.FindInterface(name)
	if err != nil {
		return err
	}
	next := *ifc
	next.Certificate = cert
	return c.PutInterface(ifc.Name, next)
}

type networkView struct {
	*config.Config
	Levels       []struct{ Value, Label string }
	Certificates []string
}

func (s *Server) networkPage(name, title string) func(w http.ResponseWriter, r *http.Request, c *client, code int, msg string) {
	return func(w http.ResponseWriter, r *http.Request, c *client, code int, msg string) {
		p := s.page(r, c, title)
		cf := c.pending.Config()
		v := networkView{Config: cf, Levels: config.TLSLevels}
		for _, cert := range cf.Certificates {
			v.Certificates = append(v.Certificates, cert.Name)
		}
		p.Data, p.Error = v, msg
		s.render(w, r, code, name, p)
	}
}

func (s *Server) listenerSave(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	if err := setListenerTLS(c.pending.Config(), name, listenerTLSJSON{TLS: r.PostFormValue("tls"), Certificate: r.PostFormValue("certificate")}); err != nil {
		s.networkPage("listeners", "Listeners")(w, r, c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.flash(r, fmt.Sprintf("Listener %s changed (pending until you commit).", name))
	http.Redirect(w, r, "/listeners", http.StatusSeeOther)
}

func (s *Server) interfaceSave(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	if err := setInterfaceCertificate(c.pending.Config(), name, r.PostFormValue("certificate")); err != nil {
		s.networkPage("interfaces", "IP Interfaces")(w, r, c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.flash(r, fmt.Sprintf("Interface %s changed (pending until you commit).", name))
	http.Redirect(w, r, "/interfaces", http.StatusSeeOther)
}

func (s *Server) sectionTag(c *client, name string) (any, string) {
	v := configJSON(c.pending.Config())[name]
	if v == nil {
		v = []any{}
	}
	return v, etag(v, configJSON(s.o.Store.Current())[name])
}

func (s *Server) apiPutListener(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "listeners")
	var in listenerTLSJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setListenerTLS(c.pending.Config(), r.PathValue("name"), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "listeners")
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiPutInterface(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "interfaces")
	var in interfaceCertJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setInterfaceCertificate(c.pending.Config(), r.PathValue("name"), in.Certificate); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "interfaces")
	writeJSON(w, http.StatusOK, tag, v)
}
