package webui

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"relaybox/config"
)

// ldapProfileJSON is an LDAP server profile (ldapconfig) as the API reads
// and writes it. bind_password is never shown: "********" when one is set.
// Sent back as "********" or "", it keeps the current one; a bind_dn of ""
// (anonymous bind) drops it. query_name and used_by are read-only.
type ldapProfileJSON struct {
	Name               string   `json:"name"`
	Hosts              []string `json:"hosts"`
	Port               int      `json:"port"`
	Connection         string   `json:"connection"`
	BindDN             string   `json:"bind_dn"`
	BindPassword       string   `json:"bind_password"`
	BaseDN             string   `json:"base_dn"`
	AcceptQuery        string   `json:"accept_query"`
	QueryName          string   `json:"query_name"`
	TimeoutSeconds     int      `json:"timeout_seconds"`
	CacheTTLSeconds    int      `json:"cache_ttl_seconds"`
	NegativeTTLSeconds int      `json:"negative_ttl_seconds"`
	CacheSize          int      `json:"cache_size"`
	MaxConnections     int      `json:"max_connections"`
	UsedBy             []string `json:"used_by"`
}

// ldapJSON is the LDAP section: the client certificate and the profiles.
type ldapJSON struct {
	Certificate string            `json:"certificate"`
	Profiles    []ldapProfileJSON `json:"profiles"`
}

// ldapCertJSON is the LDAP global settings' client certificate ("" none).
type ldapCertJSON struct {
	Certificate string `json:"certificate"`
}

// ldapTestJSON asks for an accept query's test (ldaptest QUERY ADDRESS).
type ldapTestJSON struct {
	Query   string `json:"query"`
	Address string `json:"address"`
}

// ldapResultJSON is a test's outcome: the report ldaptest prints, line by
// line; answered is false when no server answered (the report says why).
type ldapResultJSON struct {
	Found    bool     `json:"found"`
	Answered bool     `json:"answered"`
	Report   []string `json:"report"`
	Error    string   `json:"error"`
}

func seconds(d config.Duration) int { return int(time.Duration(d) / time.Second) }

func fromSeconds(n int) config.Duration { return config.Duration(time.Duration(n) * time.Second) }

func ldapProfileToJSON(c *config.Config, p config.LDAPProfile) ldapProfileJSON {
	j := ldapProfileJSON{Name: p.Name, Hosts: append([]string{}, p.Hosts...), Port: p.Port, Connection: p.Connection,
		BindDN: p.BindDN, BaseDN: p.BaseDN, AcceptQuery: p.AcceptQuery, TimeoutSeconds: seconds(p.Timeout),
		CacheTTLSeconds: seconds(p.CacheTTL), NegativeTTLSeconds: seconds(p.NegativeTTL), CacheSize: p.CacheSize,
		MaxConnections: p.MaxConnections, UsedBy: append([]string{}, c.LDAPProfileUsers(p.Name)...)}
	if p.AcceptQuery != "" {
		j.QueryName = p.QueryName()
	}
	if p.BindPassword != "" {
		j.BindPassword = config.MaskedSecret
	}
	return j
}

func ldapToJSON(c *config.Config) ldapJSON {
	v := ldapJSON{Certificate: c.LDAP.Certificate, Profiles: []ldapProfileJSON{}}
	for _, p := range c.LDAP.Profiles {
		v.Profiles = append(v.Profiles, ldapProfileToJSON(c, p))
	}
	return v
}

// defaultPort is the port of a connection kind.
func defaultPort(conn string) int {
	if conn == config.LDAPSSL {
		return config.LDAPSPort
	}
	return config.LDAPPort
}

// putLDAPProfile is ldapconfig new (old == "") and edit: the profile goes
// through config.PutLDAPProfile, its checks and messages; the bind
// password follows the dialog's rules (a bind DN needs one; an empty
// answer keeps the current one).
func putLDAPProfile(c *config.Config, old string, in ldapProfileJSON) error {
	var cur config.LDAPProfile
	if old != "" {
		p, err := c.FindLDAPProfile(old)
		if err != nil {
			return err
		}
		cur, old = *p, p.Name
	} else if err := config.CheckName(config.KindLDAPProfile, strings.TrimSpace(in.Name)); err != nil {
		return err
	}
	p := config.LDAPProfile{Name: strings.TrimSpace(in.Name), Port: in.Port, Connection: strings.ToLower(strings.TrimSpace(in.Connection)),
		BindDN: strings.TrimSpace(in.BindDN), BaseDN: strings.TrimSpace(in.BaseDN), AcceptQuery: strings.TrimSpace(in.AcceptQuery),
		Timeout: fromSeconds(in.TimeoutSeconds), CacheTTL: fromSeconds(in.CacheTTLSeconds), NegativeTTL: fromSeconds(in.NegativeTTLSeconds),
		CacheSize: in.CacheSize, MaxConnections: in.MaxConnections}
	for _, h := range in.Hosts {
		p.Hosts = append(p.Hosts, strings.TrimSpace(h))
	}
	if strings.EqualFold(p.AcceptQuery, "none") {
		p.AcceptQuery = ""
	}
	if p.Port == 0 {
		p.Port = defaultPort(p.Connection)
	}
	keep := in.BindPassword == "" || in.BindPassword == config.MaskedSecret
	switch {
	case p.BindDN == "" && keep:
		p.BindPassword = "" // anonymous: no password
	case keep:
		p.BindPassword = cur.BindPassword
	default:
		p.BindPassword = in.BindPassword // without a bind DN, config refuses it
	}
	if p.BindDN != "" && p.BindPassword == "" {
		return fmt.Errorf("Please enter a value: the bind password of %s", p.BindDN)
	}
	return c.PutLDAPProfile(old, p)
}

// ldapTest is ldaptest QUERY ADDRESS on the client's pending configuration.
// An error is a refused request (no such query, not an address).
func (s *Server) ldapTest(ctx context.Context, c *config.Config, in ldapTestJSON) (ldapResultJSON, error) {
	res := ldapResultJSON{Report: []string{}}
	if _, err := c.FindAcceptQuery(strings.TrimSpace(in.Query)); err != nil {
		return res, err
	}
	if err := config.CheckEmail(strings.TrimSpace(in.Address)); err != nil {
		return res, err
	}
	if s.o.LDAP == nil {
		return res, errors.New("LDAP tests are not available here: run ldaptest in the shell")
	}
	found, err := s.o.LDAP.Test(ctx, c, strings.TrimSpace(in.Query), strings.TrimSpace(in.Address), func(format string, a ...any) {
		res.Report = append(res.Report, strings.Split(fmt.Sprintf(format, a...), "\n")...)
	})
	res.Found, res.Answered = found, err == nil
	if err != nil {
		res.Error = err.Error()
	}
	return res, nil
}

// The page.

// ldapForm is what a profile's form fields show.
type ldapForm struct {
	P           ldapProfileJSON
	Connections []struct{ Value, Label string }
}

type ldapView struct {
	ldapJSON
	Connections  []struct{ Value, Label string }
	Certificates []string
	Queries      []string
	New          ldapProfileJSON
	Test         ldapTestJSON
	Result       *ldapResultJSON
}

func (s *Server) ldapPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string, mod func(v *ldapView)) {
	p := s.page(r, c, "LDAP")
	cf := c.pending.Config()
	v := ldapView{ldapJSON: ldapToJSON(cf), Connections: config.LDAPConnections, New: ldapProfileToJSON(cf, config.NewLDAPProfile(""))}
	v.New.QueryName, v.New.UsedBy, v.New.Port = "", nil, 0 // port: the connection's, unless one is typed
	for _, cert := range cf.Certificates {
		v.Certificates = append(v.Certificates, cert.Name)
	}
	for _, pr := range cf.LDAP.Profiles {
		if pr.AcceptQuery != "" {
			v.Queries = append(v.Queries, pr.QueryName())
		}
	}
	if mod != nil {
		mod(&v)
	}
	p.Data, p.Error = v, msg
	s.render(w, r, code, "ldap", p)
}

func (s *Server) ldapGet(w http.ResponseWriter, r *http.Request, c *client) {
	s.ldapPage(w, r, c, http.StatusOK, "", nil)
}

// ldapFromForm reads a profile's form; numbers are read as the shell reads
// them (config.Range.Parse), so a bad one gets the shell's message.
func ldapFromForm(r *http.Request) (ldapProfileJSON, error) {
	f := formMap(r, "name", "hosts", "port", "connection", "bind_dn", "bind_password", "base_dn", "accept_query",
		"timeout_seconds", "cache_ttl_seconds", "negative_ttl_seconds", "cache_size", "max_connections")
	in := ldapProfileJSON{Name: f["name"], Hosts: splitHosts(f["hosts"]), Connection: f["connection"], BindDN: f["bind_dn"],
		BindPassword: f["bind_password"], BaseDN: f["base_dn"], AcceptQuery: f["accept_query"]}
	if v := strings.TrimSpace(f["port"]); v != "" {
		n, err := config.ParsePort(v)
		if err != nil {
			return in, fmt.Errorf("port: %w", err)
		}
		in.Port = n
	}
	for _, n := range []struct {
		field string
		r     config.Range
		to    *int
	}{
		{"timeout_seconds", config.LDAPTimeoutRange, &in.TimeoutSeconds}, {"cache_ttl_seconds", config.LDAPCacheTTLRange, &in.CacheTTLSeconds},
		{"negative_ttl_seconds", config.LDAPNegativeTTLRange, &in.NegativeTTLSeconds}, {"cache_size", config.LDAPCacheSizeRange, &in.CacheSize},
		{"max_connections", config.LDAPConnectionsRange, &in.MaxConnections},
	} {
		v, err := n.r.Parse(strings.TrimSpace(f[n.field]))
		if err != nil {
			return in, fmt.Errorf("%s: %w", n.field, err)
		}
		*n.to = v
	}
	return in, nil
}

func (s *Server) ldapNew(w http.ResponseWriter, r *http.Request, c *client) {
	in, err := ldapFromForm(r)
	if err == nil {
		err = putLDAPProfile(c.pending.Config(), "", in)
	}
	if err != nil {
		in.BindPassword = "" // never rendered back
		s.ldapPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), func(v *ldapView) { v.New = in })
		return
	}
	s.flash(r, fmt.Sprintf("LDAP server profile %q created (pending until you commit).", strings.TrimSpace(in.Name)))
	http.Redirect(w, r, "/ldap", http.StatusSeeOther)
}

func (s *Server) ldapEdit(w http.ResponseWriter, r *http.Request, c *client) {
	in, err := ldapFromForm(r)
	if err == nil {
		err = putLDAPProfile(c.pending.Config(), r.PathValue("name"), in)
	}
	if err != nil {
		s.ldapPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("LDAP server profile %q changed (pending until you commit).", strings.TrimSpace(in.Name)))
	http.Redirect(w, r, "/ldap", http.StatusSeeOther)
}

func (s *Server) ldapDelete(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	if err := c.pending.Config().DeleteLDAPProfile(name); err != nil {
		code := http.StatusConflict
		if c.pending.Config().LDAPProfile(name) == nil {
			code = http.StatusNotFound
		}
		s.ldapPage(w, r, c, code, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("LDAP server profile %q deleted (pending until you commit).", name))
	http.Redirect(w, r, "/ldap", http.StatusSeeOther)
}

func (s *Server) ldapCertificate(w http.ResponseWriter, r *http.Request, c *client) {
	if err := c.pending.Config().SetLDAPCertificate(r.PostFormValue("certificate")); err != nil {
		s.ldapPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	s.flash(r, "LDAP client certificate changed (pending until you commit).")
	http.Redirect(w, r, "/ldap", http.StatusSeeOther)
}

func (s *Server) ldapTestForm(w http.ResponseWriter, r *http.Request, c *client) {
	in := ldapTestJSON{Query: r.PostFormValue("query"), Address: r.PostFormValue("address")}
	res, err := s.ldapTest(r.Context(), c.pending.Config(), in)
	code, msg := http.StatusOK, ""
	if err != nil {
		code, msg = http.StatusUnprocessableEntity, err.Error()
	}
	s.ldapPage(w, r, c, code, msg, func(v *ldapView) {
		v.Test = in
		if err == nil {
			v.Result = &res
		}
	})
}

// The API.

// ldapSecrets is a keyed hash of the bind passwords: an ETag changes with
// them, and says nothing of them.
func (s *Server) ldapSecrets(c *config.Config) string {
	m := hmac.New(sha256.New, s.tagKey[:])
	for _, p := range c.LDAP.Profiles {
		m.Write([]byte(p.Name + "\x00" + p.BindPassword + "\x00"))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// ldapTag covers the whole LDAP section, pending and committed, the bind
// passwords included (keyed): every /api/v1/ldap resource has it.
func (s *Server) ldapTag(c *client) (ldapJSON, string) {
	cf, cur := c.pending.Config(), s.o.Store.Current()
	v := ldapToJSON(cf)
	return v, etag(v, s.ldapSecrets(cf), ldapToJSON(cur), s.ldapSecrets(cur))
}

func (s *Server) apiLDAP(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.ldapTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiLDAPProfiles(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.ldapTag(c)
	writeJSON(w, http.StatusOK, tag, v.Profiles)
}

func (s *Server) apiLDAPProfile(w http.ResponseWriter, r *http.Request, c *client) {
	p, err := c.pending.Config().FindLDAPProfile(r.PathValue("name"))
	if err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	_, tag := s.ldapTag(c)
	writeJSON(w, http.StatusOK, tag, ldapProfileToJSON(c.pending.Config(), *p))
}

// apiNewLDAPProfile adds a profile; the fields left out have the defaults
// of ldapconfig NEW (port 389, StartTLS, (mail={a}), 10 s, …).
func (s *Server) apiNewLDAPProfile(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.ldapTag(c)
	in := ldapProfileToJSON(c.pending.Config(), config.NewLDAPProfile(""))
	in.Port = 0 // the connection's port, unless one is given
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := putLDAPProfile(c.pending.Config(), "", in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.ldapTag(c)
	writeJSON(w, http.StatusCreated, tag, v.Profiles)
}

// apiPutLDAPProfile changes a profile; the fields left out keep their
// value (a PUT of what GET gave, edited, is the usual way).
func (s *Server) apiPutLDAPProfile(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.ldapTag(c)
	if !ifMatch(w, r, tag) {
		return
	}
	cur, err := c.pending.Config().FindLDAPProfile(r.PathValue("name"))
	if err != nil {
		apiError(w, http.StatusNotFound, err.Error()+" (POST /api/v1/ldap/profiles makes a new one)")
		return
	}
	in := ldapProfileToJSON(c.pending.Config(), *cur)
	if !decode(w, r, &in) {
		return
	}
	if err := putLDAPProfile(c.pending.Config(), cur.Name, in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.ldapTag(c)
	writeJSON(w, http.StatusOK, tag, v.Profiles)
}

func (s *Server) apiDeleteLDAPProfile(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.ldapTag(c)
	if !ifMatch(w, r, tag) {
		return
	}
	name := r.PathValue("name")
	if _, err := c.pending.Config().FindLDAPProfile(name); err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	if err := c.pending.Config().DeleteLDAPProfile(name); err != nil {
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	v, tag := s.ldapTag(c)
	writeJSON(w, http.StatusOK, tag, v.Profiles)
}

func (s *Server) apiLDAPCertificate(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.ldapTag(c)
	writeJSON(w, http.StatusOK, tag, ldapCertJSON{v.Certificate})
}

func (s *Server) apiPutLDAPCertificate(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.ldapTag(c)
	var in ldapCertJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := c.pending.Config().SetLDAPCertificate(strings.TrimSpace(in.Certificate)); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.ldapTag(c)
	writeJSON(w, http.StatusOK, tag, ldapCertJSON{v.Certificate})
}

// apiLDAPTest runs a test; it changes nothing, so it needs no If-Match.
func (s *Server) apiLDAPTest(w http.ResponseWriter, r *http.Request, c *client) {
	var in ldapTestJSON
	if !decode(w, r, &in) {
		return
	}
	res, err := s.ldapTest(r.Context(), c.pending.Config(), in)
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, "", res)
}
