package webui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"relaybox/config"
)

// listenerJSON is what the GUI and the API change of a listener, each as
// listenerconfig edit does it; a field left out (null) keeps its value.
// domains is for a public listener, relay_from for a private one; name and
// interface are the dialog's NAME and INTERFACE.
type listenerJSON struct {
	Name                *string   `json:"name,omitempty"`
	Interface           *string   `json:"interface,omitempty"`
	TLS                 *string   `json:"tls,omitempty"`
	Certificate         *string   `json:"certificate,omitempty"`
	Port                *int      `json:"port,omitempty"`
	Domains             *[]string `json:"domains,omitempty"`
	RelayFrom           *[]string `json:"relay_from,omitempty"`
	MaxMessageBytes     *int      `json:"max_message_bytes,omitempty"`
	MaxRecipients       *int      `json:"max_recipients,omitempty"`
	MaxConnections      *int      `json:"max_connections,omitempty"`
	MaxConnectionsPerIP *int      `json:"max_connections_per_ip,omitempty"`
	IdleTimeoutSeconds  *int      `json:"idle_timeout_seconds,omitempty"`
	LDAPAccept          *string   `json:"ldap_accept,omitempty"`
}

// interfaceJSON is what they change of an interface (interfaceconfig edit
// NAME certificate|https_port|ssh_port|hostname, and the dialog's name,
// address and netmask); a port 0 is off.
type interfaceJSON struct {
	Name        *string `json:"name,omitempty"`
	Address     *string `json:"address,omitempty"`
	Netmask     *int    `json:"netmask,omitempty"`
	Certificate *string `json:"certificate,omitempty"`
	HTTPSPort   *int    `json:"https_port,omitempty"`
	SSHPort     *int    `json:"ssh_port,omitempty"`
	Hostname    *string `json:"hostname,omitempty"`
}

// listenerNewJSON is listenerconfig new: the type (public or private), name,
// interface and port, the domains (public) or relay_from (private), and a
// certificate, which turns TLS on at Preferred as the batch form does.
type listenerNewJSON struct {
	Type        string   `json:"type"`
	Name        string   `json:"name"`
	Interface   string   `json:"interface"`
	Port        int      `json:"port"`
	Domains     []string `json:"domains,omitempty"`
	RelayFrom   []string `json:"relay_from,omitempty"`
	Certificate string   `json:"certificate,omitempty"`
}

// setAccess sets a listener's access lists as listenerconfig RCPTACCESS
// (ParseDomains) and RELAYLIST (ParseNetworks) do; nil keeps the list.
// PutListener then refuses the list a listener's type does not use, with
// config's message, as it does for the shell.
func setAccess(l *config.Listener, domains, relayFrom *[]string) error {
	var err error
	if domains != nil {
		if l.Domains, err = config.ParseDomains(*domains); err != nil {
			return err
		}
	}
	if relayFrom != nil {
		l.RelayFrom, err = config.ParseNetworks(*relayFrom)
	}
	return err
}

// newListener is listenerconfig new: NewListener's defaults, the access
// list of its type (required: ParseDomains and ParseNetworks refuse an
// empty one), then PutListener, which checks the name (and that no other
// listener has it), type, interface, port and certificate.
func newListener(c *config.Config, in listenerNewJSON) error {
	l := config.NewListener(strings.TrimSpace(in.Name), strings.ToLower(in.Type), in.Interface, in.Port)
	// The list of the listener's type is required (an empty one is
	// refused); the other is taken only when given, for PutListener to
	// refuse it.
	var domains, relayFrom *[]string
	if in.Domains != nil || l.Type == config.ListenerPublic {
		domains = &in.Domains
	}
	if in.RelayFrom != nil || l.Type == config.ListenerPrivate {
		relayFrom = &in.RelayFrom
	}
	if err := setAccess(&l, domains, relayFrom); err != nil {
		return err
	}
	if in.Certificate != "" {
		l.Certificate, l.TLS = in.Certificate, config.TLSPreferred
	}
	return c.PutListener("", l)
}

// setListener edits a trial copy of the configuration with listenerconfig's
// functions — SetLDAPAccept, ParseDomains, ParseNetworks, SetLimits,
// SetIdleTimeout, PutListener — and keeps the result only when every one
// of them accepted: a refused edit changes nothing, and its message is
// config's.
func setListener(c *config.Config, name string, in listenerJSON) error {
	trial := c.Clone()
	l, err := trial.FindListener(name)
	if err != nil {
		return err
	}
	name = l.Name
	if in.LDAPAccept != nil {
		q := *in.LDAPAccept
		if strings.EqualFold(q, "none") {
			q = ""
		}
		if err := trial.SetLDAPAccept(name, q); err != nil {
			return err
		}
	}
	next := *trial.Listener(name)
	// NAME and INTERFACE: PutListener(name, next) checks the new name (and
	// that no other listener has it) and the interface, and stores the
	// listener in the old one's place, as the dialog's rename does.
	if in.Name != nil {
		next.Name = strings.TrimSpace(*in.Name)
	}
	if in.Interface != nil {
		next.Interface = strings.TrimSpace(*in.Interface)
	}
	if in.TLS != nil {
		next.TLS = strings.ToLower(*in.TLS)
	}
	if in.Certificate != nil {
		next.Certificate = *in.Certificate
	}
	if in.Port != nil {
		next.Port = *in.Port
	}
	if err := setAccess(&next, in.Domains, in.RelayFrom); err != nil {
		return err
	}
	if in.MaxMessageBytes != nil || in.MaxRecipients != nil || in.MaxConnections != nil || in.MaxConnectionsPerIP != nil {
		size, rcpts, conns, perIP := int(next.MaxMessageBytes), next.MaxRecipients, next.MaxConnections, 0
		for _, f := range []struct{ dst, v *int }{{&size, in.MaxMessageBytes}, {&rcpts, in.MaxRecipients}, {&conns, in.MaxConnections}, {&perIP, in.MaxConnectionsPerIP}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		// perIP 0 is SetLimits' "keep (lowered to the new total)": what a
		// limits edit without it does. Sent as 0 it is the dialog's answer,
		// refused by the dialog's range.
		if in.MaxConnectionsPerIP != nil && perIP == 0 {
			return config.PerIPRange(conns).Check(0)
		}
		if err := next.SetLimits(size, rcpts, conns, perIP); err != nil {
			return err
		}
	}
	if in.IdleTimeoutSeconds != nil {
		if err := next.SetIdleTimeout(*in.IdleTimeoutSeconds); err != nil {
			return err
		}
	}
	if err := trial.PutListener(name, next); err != nil {
		return err
	}
	c.Listeners = trial.Listeners
	return nil
}

// setInterface edits a copy and stores it with PutInterface, as
// interfaceconfig edit does; PutInterface checks the address and netmask
// together and carries a new name to the listeners and the delivery
// setting that use the interface.
func setInterface(c *config.Config, name string, in interfaceJSON) error {
	ifc, err := c.FindInterface(name)
	if err != nil {
		return err
	}
	next := *ifc
	if in.Name != nil {
		next.Name = strings.TrimSpace(*in.Name)
	}
	if in.Address != nil {
		next.Address = strings.TrimSpace(*in.Address)
	}
	if in.Netmask != nil {
		next.Netmask = *in.Netmask
	}
	if in.Certificate != nil {
		next.Certificate = *in.Certificate
	}
	if in.HTTPSPort != nil {
		next.HTTPSPort = *in.HTTPSPort
	}
	if in.SSHPort != nil {
		next.SSHPort = *in.SSHPort
	}
	if in.Hostname != nil {
		next.Hostname = *in.Hostname
	}
	return c.PutInterface(ifc.Name, next)
}

// interfaceNewJSON is interfaceconfig new NAME ADDRESS/PREFIX HOSTNAME
// [HTTPS_PORT CERTIFICATE]: the address and its netmask (left out: the
// dialog's default, 24), the host name, and optionally the HTTPS port with
// its certificate and the SSH port; a service left out (or 0) is off, as
// NewInterface makes it.
type interfaceNewJSON struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	Netmask     *int   `json:"netmask,omitempty"`
	Hostname    string `json:"hostname"`
	HTTPSPort   int    `json:"https_port,omitempty"`
	SSHPort     int    `json:"ssh_port,omitempty"`
	Certificate string `json:"certificate,omitempty"`
}

// newInterface is interfaceconfig new: NewInterface, then PutInterface("",
// …), which checks the name (and that no other interface has it), address,
// netmask, host name, ports and certificate.
func newInterface(c *config.Config, in interfaceNewJSON) error {
	bits := config.DefaultNetmask
	if in.Netmask != nil {
		bits = *in.Netmask
	}
	ifc := config.NewInterface(strings.TrimSpace(in.Name), strings.TrimSpace(in.Address), bits, strings.TrimSpace(in.Hostname))
	ifc.HTTPSPort, ifc.SSHPort, ifc.Certificate = in.HTTPSPort, in.SSHPort, in.Certificate
	return c.PutInterface("", ifc)
}

// inboundJSON is listenerconfig setup: the limit of concurrent inbound
// connections over all listeners (0: none); left out, it is kept.
type inboundJSON struct {
	MaxConnections *int `json:"max_connections,omitempty"`
}

// setInbound is listenerconfig setup: Inbound.SetMaxConnections.
func setInbound(c *config.Config, in inboundJSON) error {
	if in.MaxConnections == nil {
		return nil
	}
	return c.Inbound.SetMaxConnections(*in.MaxConnections)
}

type networkView struct {
	*config.Config
	Levels       []struct{ Value, Label string }
	Certificates []string
	// AcceptQueries are the LDAP accept queries a public listener can use.
	AcceptQueries []string
}

func (s *Server) networkPage(name, title string) func(w http.ResponseWriter, r *http.Request, c *client, code int, msg string) {
	return func(w http.ResponseWriter, r *http.Request, c *client, code int, msg string) {
		p := s.page(r, c, title)
		cf := c.pending.Config()
		v := networkView{Config: cf, Levels: config.TLSLevels}
		for _, cert := range cf.Certificates {
			v.Certificates = append(v.Certificates, cert.Name)
		}
		for _, lp := range cf.LDAP.Profiles {
			if lp.AcceptQuery != "" {
				v.AcceptQueries = append(v.AcceptQueries, lp.QueryName())
			}
		}
		p.Data, p.Error = v, msg
		s.render(w, r, code, name, p)
	}
}

// formFields reads the form's fields that were sent; one not sent keeps
// its value.
func formFields(r *http.Request, keys ...string) map[string]string {
	_ = r.ParseForm()
	m := map[string]string{}
	for _, k := range keys {
		if _, ok := r.PostForm[k]; ok {
			m[k] = strings.TrimSpace(r.PostForm.Get(k))
		}
	}
	return m
}

// listenerFromForm reads the listener form as the shell reads its answers:
// the port with ParsePort, lists split at commas or spaces, numbers with
// the dialog's Range.Parse.
func listenerFromForm(f map[string]string) (listenerJSON, error) {
	var in listenerJSON
	str := func(k string) *string {
		if v, ok := f[k]; ok {
			return &v
		}
		return nil
	}
	list := func(k string) *[]string {
		if v, ok := f[k]; ok {
			l := splitHosts(v)
			return &l
		}
		return nil
	}
	in.Name, in.Interface = str("name"), str("interface")
	in.TLS, in.Certificate, in.LDAPAccept = str("tls"), str("certificate"), str("ldap_accept")
	in.Domains, in.RelayFrom = list("domains"), list("relay_from")
	if v, ok := f["port"]; ok {
		n, err := config.ParsePort(v)
		if err != nil {
			return in, err
		}
		in.Port = &n
	}
	for _, n := range []struct {
		key string
		dst **int
		r   config.Range
	}{
		{"max_message_bytes", &in.MaxMessageBytes, config.MessageSizeRange},
		{"max_recipients", &in.MaxRecipients, config.RecipientRange},
		{"max_connections", &in.MaxConnections, config.ListenerConnectionRange},
		{"max_connections_per_ip", &in.MaxConnectionsPerIP, config.PerIPRange(config.ListenerConnectionRange.Max)},
		{"idle_timeout_seconds", &in.IdleTimeoutSeconds, config.IdleSecondsRange},
	} {
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

// formNumber reads a form's number: one that is not a number is refused
// with the dialog's message (Range.Parse); one out of range is left to the
// config function that stores it.
func formNumber(v string, r config.Range) (int, error) {
	x, err := strconv.Atoi(v)
	if err != nil {
		_, err = r.Parse(v)
	}
	return x, err
}

func (s *Server) listenersPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string) {
	s.networkPage("listeners", "Listeners")(w, r, c, code, msg)
}

// listenerNewFromForm reads the new-listener form; an empty list field is
// not sent, so only the list of the chosen type is read.
func listenerNewFromForm(r *http.Request) (listenerNewJSON, error) {
	f := formFields(r, "type", "name", "interface", "port", "domains", "relay_from", "certificate")
	in := listenerNewJSON{Type: f["type"], Name: f["name"], Interface: f["interface"], Certificate: f["certificate"]}
	if v := f["domains"]; v != "" {
		in.Domains = splitHosts(v)
	}
	if v := f["relay_from"]; v != "" {
		in.RelayFrom = splitHosts(v)
	}
	var err error
	in.Port, err = config.ParsePort(f["port"])
	return in, err
}

func (s *Server) listenerNew(w http.ResponseWriter, r *http.Request, c *client) {
	in, err := listenerNewFromForm(r)
	if err == nil {
		err = newListener(c.pending.Config(), in)
	}
	if err != nil {
		s.listenersPage(w, r, c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.flash(r, fmt.Sprintf("Listener %s created (pending until you commit).", strings.TrimSpace(in.Name)))
	http.Redirect(w, r, "/listeners", http.StatusSeeOther)
}

func (s *Server) listenerDelete(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	if err := c.pending.Config().DeleteListener(name); err != nil {
		s.listenersPage(w, r, c, http.StatusNotFound, err.Error())
		return
	}
	s.flash(r, fmt.Sprintf("Listener %s deleted (pending until you commit): at commit its sessions finish and it stops accepting.", name))
	http.Redirect(w, r, "/listeners", http.StatusSeeOther)
}

func (s *Server) listenerSave(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	f := formFields(r, "name", "interface", "tls", "certificate", "port", "domains", "relay_from", "max_message_bytes", "max_recipients",
		"max_connections", "max_connections_per_ip", "idle_timeout_seconds", "ldap_accept")
	in, err := listenerFromForm(f)
	if err == nil {
		err = setListener(c.pending.Config(), name, in)
	}
	if err != nil {
		s.listenersPage(w, r, c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if in.Name != nil && *in.Name != name {
		s.flash(r, fmt.Sprintf("Listener %s renamed to %s and changed (pending until you commit).", name, *in.Name))
	} else {
		s.flash(r, fmt.Sprintf("Listener %s changed (pending until you commit).", name))
	}
	http.Redirect(w, r, "/listeners", http.StatusSeeOther)
}

// inboundSave is the Listeners page's SETUP form: listenerconfig setup.
func (s *Server) inboundSave(w http.ResponseWriter, r *http.Request, c *client) {
	var in inboundJSON
	var err error
	if v, ok := formFields(r, "max_connections")["max_connections"]; ok {
		var n int
		n, err = formNumber(v, config.InboundConnectionRange)
		in.MaxConnections = &n
	}
	if err == nil {
		err = setInbound(c.pending.Config(), in)
	}
	if err != nil {
		s.listenersPage(w, r, c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.flash(r, "Listeners SETUP saved (pending until you commit).")
	http.Redirect(w, r, "/listeners", http.StatusSeeOther)
}

// servicePort reads an interface's service port as interfaceconfig edit
// does: 0 is off, anything else a TCP port (ParsePort).
func servicePort(v string) (int, error) {
	if v == "0" {
		return 0, nil
	}
	return config.ParsePort(v)
}

// netmaskRange is the range the dialog asks a netmask in: 0 to 32 for an
// IPv4 address, to 128 for an IPv6 one.
func netmaskRange(address string) config.Range {
	if strings.Contains(address, ":") {
		return config.Range{Min: 0, Max: 128}
	}
	return config.Range{Min: 0, Max: 32}
}

func (s *Server) interfacesPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string) {
	s.networkPage("interfaces", "IP Interfaces")(w, r, c, code, msg)
}

func (s *Server) interfaceSave(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	f := formFields(r, "name", "address", "netmask", "certificate", "https_port", "ssh_port", "hostname")
	var in interfaceJSON
	var err error
	for _, t := range []struct {
		key string
		dst **string
	}{{"name", &in.Name}, {"address", &in.Address}, {"certificate", &in.Certificate}, {"hostname", &in.Hostname}} {
		if v, ok := f[t.key]; ok {
			*t.dst = &v
		}
	}
	if v, ok := f["netmask"]; ok {
		address := f["address"]
		if ifc := c.pending.Config().Interface(name); ifc != nil && in.Address == nil {
			address = ifc.Address
		}
		var n int
		n, err = formNumber(v, netmaskRange(address))
		in.Netmask = &n
	}
	for _, p := range []struct {
		key string
		dst **int
	}{{"https_port", &in.HTTPSPort}, {"ssh_port", &in.SSHPort}} {
		if v, ok := f[p.key]; ok && err == nil {
			var n int
			n, err = servicePort(v)
			*p.dst = &n
		}
	}
	if err == nil {
		err = setInterface(c.pending.Config(), name, in)
	}
	if err != nil {
		s.interfacesPage(w, r, c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if in.Name != nil && *in.Name != name {
		s.flash(r, fmt.Sprintf("Interface %s renamed to %s and changed (pending until you commit).", name, *in.Name))
	} else {
		s.flash(r, fmt.Sprintf("Interface %s changed (pending until you commit).", name))
	}
	http.Redirect(w, r, "/interfaces", http.StatusSeeOther)
}

// interfaceNewFromForm reads the new-interface form as interfaceconfig new
// reads its words: the netmask a number (the dialog's message), the HTTPS
// port 0 or empty for off (servicePort).
func interfaceNewFromForm(r *http.Request) (interfaceNewJSON, error) {
	f := formFields(r, "name", "address", "netmask", "hostname", "https_port", "certificate")
	in := interfaceNewJSON{Name: f["name"], Address: f["address"], Hostname: f["hostname"]}
	if v := f["netmask"]; v != "" {
		n, err := formNumber(v, netmaskRange(in.Address))
		if err != nil {
			return in, err
		}
		in.Netmask = &n
	}
	if v := f["https_port"]; v != "" {
		n, err := servicePort(v)
		if err != nil {
			return in, err
		}
		in.HTTPSPort = n
		if n != 0 {
			in.Certificate = f["certificate"]
		}
	}
	return in, nil
}

func (s *Server) interfaceNew(w http.ResponseWriter, r *http.Request, c *client) {
	in, err := interfaceNewFromForm(r)
	if err == nil {
		err = newInterface(c.pending.Config(), in)
	}
	if err != nil {
		s.interfacesPage(w, r, c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.flash(r, fmt.Sprintf("Interface %s created (pending until you commit).", strings.TrimSpace(in.Name)))
	http.Redirect(w, r, "/interfaces", http.StatusSeeOther)
}

// deleteInterfaceCode is interfaceconfig delete's refusal as a status: 404
// for an interface that does not exist, 409 for one in use (DeleteInterface
// names its users).
func deleteInterfaceCode(c *config.Config, name string) int {
	if _, err := c.FindInterface(name); err != nil {
		return http.StatusNotFound
	}
	return http.StatusConflict
}

func (s *Server) interfaceDelete(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	cf := c.pending.Config()
	if err := cf.DeleteInterface(name); err != nil {
		s.interfacesPage(w, r, c, deleteInterfaceCode(cf, name), err.Error())
		return
	}
	s.flash(r, fmt.Sprintf("Interface %s deleted (pending until you commit).", name))
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
	var in listenerJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setListener(c.pending.Config(), r.PathValue("name"), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "listeners")
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiPutInterface(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "interfaces")
	var in interfaceJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setInterface(c.pending.Config(), r.PathValue("name"), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "interfaces")
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiNewListener(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "listeners")
	var in listenerNewJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := newListener(c.pending.Config(), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "listeners")
	writeJSON(w, http.StatusCreated, tag, v)
}

func (s *Server) apiDeleteListener(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "listeners")
	if !ifMatch(w, r, tag) {
		return
	}
	if err := c.pending.Config().DeleteListener(r.PathValue("name")); err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "listeners")
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiNewInterface(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "interfaces")
	var in interfaceNewJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := newInterface(c.pending.Config(), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "interfaces")
	writeJSON(w, http.StatusCreated, tag, v)
}

func (s *Server) apiDeleteInterface(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "interfaces")
	if !ifMatch(w, r, tag) {
		return
	}
	name, cf := r.PathValue("name"), c.pending.Config()
	if err := cf.DeleteInterface(name); err != nil {
		apiError(w, deleteInterfaceCode(cf, name), err.Error())
		return
	}
	v, tag := s.sectionTag(c, "interfaces")
	writeJSON(w, http.StatusOK, tag, v)
}

// apiPutInbound is PUT /api/v1/inbound: listenerconfig setup. It is a
// resource of its own, not /api/v1/listeners/SETUP, because SETUP is a
// valid listener name (a domain never is DEFAULT or SETUP).
func (s *Server) apiPutInbound(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sectionTag(c, "inbound")
	var in inboundJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := setInbound(c.pending.Config(), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sectionTag(c, "inbound")
	writeJSON(w, http.StatusOK, tag, v)
}
