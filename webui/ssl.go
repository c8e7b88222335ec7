package webui

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"relaybox/cipherstring"
	"relaybox/config"
)

// serviceJSON is one service of sslconfig as the API reads and writes it.
type serviceJSON struct {
	Methods []config.Method `json:"methods"`
	Ciphers string          `json:"ciphers"`
}

// sslJSON is sslconfig as the API reads and writes it (PUT /api/v1/ssl).
type sslJSON struct {
	GUI               serviceJSON `json:"gui"`
	Inbound           serviceJSON `json:"inbound"`
	Outbound          serviceJSON `json:"outbound"`
	OtherClientTLSv10 bool        `json:"other_client_tlsv10"`
	PeerCertFQDN      bool        `json:"peer_cert_fqdn"`
	PeerCertX509      bool        `json:"peer_cert_x509"`
}

func sslToJSON(s config.SSL) sslJSON {
	svc := func(v config.Service) serviceJSON {
		return serviceJSON{Methods: append([]config.Method{}, config.SortMethods(v.Methods)...), Ciphers: v.Ciphers}
	}
	return sslJSON{GUI: svc(s.GUI), Inbound: svc(s.Inbound), Outbound: svc(s.Outbound),
		OtherClientTLSv10: s.OtherClientTLSv10, PeerCertFQDN: s.PeerCertFQDN, PeerCertX509: s.PeerCertX509}
}

// sslServices are the three services, in the page's order, with the words
// sslconfig uses (ssl.gui… names them in messages, as the shell does).
var sslServices = []struct {
	Word, Label string
	get         func(*config.SSL) *config.Service
	json        func(*sslJSON) *serviceJSON
}{
	{"gui", "GUI HTTPS", func(s *config.SSL) *config.Service { return &s.GUI }, func(s *sslJSON) *serviceJSON { return &s.GUI }},
	{"inbound", "Inbound SMTP", func(s *config.SSL) *config.Service { return &s.Inbound }, func(s *sslJSON) *serviceJSON { return &s.Inbound }},
	{"outbound", "Outbound SMTP", func(s *config.SSL) *config.Service { return &s.Outbound }, func(s *sslJSON) *serviceJSON { return &s.Outbound }},
}

// applySSL puts new SSL settings into the pending copy after the checks
// sslconfig makes (config.ServiceProblems, the same messages); on a refusal
// nothing changes. Renegotiation stays as it is (always off).
func applySSL(c *config.Config, in sslJSON) error {
	next := c.SSL
	var errs []error
	for _, svc := range sslServices {
		v := *svc.get(&next)
		j := *svc.json(&in)
		v.Methods, v.Ciphers = config.SortMethods(j.Methods), j.Ciphers
		if len(j.Methods) > 0 && len(v.Methods) != len(j.Methods) {
			errs = append(errs, errors.New("ssl."+svc.Word+".methods: a TLS method is listed twice: list each once"))
			continue
		}
		if err := config.ServiceProblems("ssl."+svc.Word, v); err != nil {
			errs = append(errs, err)
			continue
		}
		*svc.get(&next) = v
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	next.OtherClientTLSv10, next.PeerCertFQDN, next.PeerCertX509 = in.OtherClientTLSv10, in.PeerCertFQDN, in.PeerCertX509
	c.SSL = next
	return nil
}

// methodBox is one checkbox of the SSL Configuration form.
type methodBox struct {
	ID      string // "gui_tlsv1_3"
	Value   config.Method
	Label   string
	Checked bool
}

type sslRow struct {
	Word, Label string
	Methods     []methodBox
	Ciphers     string
	Warnings    []string
}

type sslView struct {
	Rows                                          []sslRow
	TLS13Suites                                   string
	OtherClientTLSv10, PeerCertFQDN, PeerCertX509 bool
}

func sslViewOf(ssl config.SSL) sslView {
	v := sslView{TLS13Suites: strings.Join(cipherstring.TLS13Suites, ", "),
		OtherClientTLSv10: ssl.OtherClientTLSv10, PeerCertFQDN: ssl.PeerCertFQDN, PeerCertX509: ssl.PeerCertX509}
	for _, svc := range sslServices {
		cur := *svc.get(&ssl)
		row := sslRow{Word: svc.Word, Label: svc.Label, Ciphers: cur.Ciphers, Warnings: config.ServiceWarnings(cur)}
		for _, m := range config.MenuMethods {
			row.Methods = append(row.Methods, methodBox{ID: svc.Word + "_" + m.Token(), Value: m, Label: m.Label(), Checked: slices.Contains(cur.Methods, m)})
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// sslFromForm reads the checkbox form: gui_methods=TLSv1.2&gui_methods=…
func sslFromForm(r *http.Request) sslJSON {
	_ = r.ParseForm()
	var in sslJSON
	for _, svc := range sslServices {
		j := svc.json(&in)
		for _, m := range r.PostForm[svc.Word+"_methods"] {
			j.Methods = append(j.Methods, config.Method(m))
		}
		j.Ciphers = strings.TrimSpace(r.PostFormValue(svc.Word + "_ciphers"))
	}
	in.OtherClientTLSv10 = r.PostFormValue("other_client_tlsv10") == "on"
	in.PeerCertFQDN = r.PostFormValue("peer_cert_fqdn") == "on"
	in.PeerCertX509 = r.PostFormValue("peer_cert_x509") == "on"
	return in
}

func (s *Server) sslPage(w http.ResponseWriter, r *http.Request, c *client) {
	p := s.page(r, c, "SSL Configuration")
	p.Data = sslViewOf(c.pending.Config().SSL)
	s.render(w, r, http.StatusOK, "ssl", p)
}

func (s *Server) sslSubmit(w http.ResponseWriter, r *http.Request, c *client) {
	in := sslFromForm(r)
	if err := applySSL(c.pending.Config(), in); err != nil {
		p := s.page(r, c, "SSL Configuration")
		// Show what was submitted, with the refusal; the pending copy is unchanged.
		shown := c.pending.Config().SSL
		for _, svc := range sslServices {
			j := svc.json(&in)
			svc.get(&shown).Methods, svc.get(&shown).Ciphers = j.Methods, j.Ciphers
		}
		p.Data, p.Error = sslViewOf(shown), err.Error()
		s.render(w, r, http.StatusUnprocessableEntity, "ssl", p)
		return
	}
	s.flash(r, "SSL settings changed (pending until you commit).")
	http.Redirect(w, r, "/ssl", http.StatusSeeOther)
}
