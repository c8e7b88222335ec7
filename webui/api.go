package webui

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"relaybox/auth"
	"relaybox/config"
)

//go:embed openapi.json
var openAPI []byte

// apiHandler is an API endpoint of an authenticated client.
type apiHandler func(w http.ResponseWriter, r *http.Request, c *client)

func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("GET /api/v1/status", s.api(s.apiStatus))
	mux.HandleFunc("GET /api/v1/config", s.api(s.apiConfig))
	mux.HandleFunc("GET /api/v1/config/pending", s.api(s.apiPending))
	mux.HandleFunc("POST /api/v1/commit", s.api(s.apiCommit))
	mux.HandleFunc("POST /api/v1/abandon", s.api(s.apiAbandon))
	mux.HandleFunc("GET /api/v1/ssl", s.api(s.apiSSL))
	mux.HandleFunc("PUT /api/v1/ssl", s.api(s.apiPutSSL))
	mux.HandleFunc("GET /api/v1/certificates", s.api(s.apiCertificates))
	mux.HandleFunc("POST /api/v1/certificates", s.api(s.apiNewCertificate))
	mux.HandleFunc("GET /api/v1/certificates/{name}/csr", s.api(s.apiCSR))
	mux.HandleFunc("PUT /api/v1/certificates/{name}/signed", s.api(s.apiSigned))
	mux.HandleFunc("DELETE /api/v1/certificates/{name}", s.api(s.apiDeleteCertificate))
	mux.HandleFunc("POST /api/v1/certificates/{name}/pkcs12", s.api(s.apiImportPKCS12))
	mux.HandleFunc("GET /api/v1/certificates/{name}/pkcs12", s.api(s.apiExportPKCS12))
	mux.HandleFunc("GET /api/v1/websecurity", s.api(s.apiWebSecurity))
	mux.HandleFunc("PUT /api/v1/websecurity", s.api(s.apiPutWebSecurity))
	mux.HandleFunc("POST /api/v1/websecurity/diagnostics", s.api(s.apiWebSecurityDiagnostics))
	mux.HandleFunc("GET /api/v1/urllists", s.api(s.apiURLLists))
	mux.HandleFunc("POST /api/v1/urllists", s.api(s.apiNewURLList))
	mux.HandleFunc("GET /api/v1/urllists/{name}", s.api(s.apiURLList))
	mux.HandleFunc("PUT /api/v1/urllists/{name}", s.api(s.apiPutURLList))
	mux.HandleFunc("DELETE /api/v1/urllists/{name}", s.api(s.apiDeleteURLList))
	mux.HandleFunc("GET /api/v1/ldap", s.api(s.apiLDAP))
	mux.HandleFunc("GET /api/v1/ldap/profiles", s.api(s.apiLDAPProfiles))
	mux.HandleFunc("POST /api/v1/ldap/profiles", s.api(s.apiNewLDAPProfile))
	mux.HandleFunc("GET /api/v1/ldap/profiles/{name}", s.api(s.apiLDAPProfile))
	mux.HandleFunc("PUT /api/v1/ldap/profiles/{name}", s.api(s.apiPutLDAPProfile))
	mux.HandleFunc("DELETE /api/v1/ldap/profiles/{name}", s.api(s.apiDeleteLDAPProfile))
	mux.HandleFunc("GET /api/v1/ldap/certificate", s.api(s.apiLDAPCertificate))
	mux.HandleFunc("PUT /api/v1/ldap/certificate", s.api(s.apiPutLDAPCertificate))
	mux.HandleFunc("POST /api/v1/ldap/test", s.api(s.apiLDAPTest))
	mux.HandleFunc("GET /api/v1/routes", s.api(s.apiRoutesList))
	mux.HandleFunc("POST /api/v1/routes", s.api(s.apiNewRoute))
	mux.HandleFunc("DELETE /api/v1/routes/{domain}", s.api(s.apiDeleteRoute))
	mux.HandleFunc("GET /api/v1/destinations", s.api(s.apiDestinations))
	mux.HandleFunc("PUT /api/v1/destinations/{domain}", s.api(s.apiPutDestination))
	mux.HandleFunc("DELETE /api/v1/destinations/{domain}", s.api(s.apiDeleteDestination))
	for _, sec := range []string{"listeners", "interfaces", "inbound"} {
		mux.HandleFunc("GET /api/v1/"+sec, s.api(s.apiSection(sec)))
	}
	mux.HandleFunc("POST /api/v1/listeners", s.api(s.apiNewListener))
	mux.HandleFunc("PUT /api/v1/listeners/{name}", s.api(s.apiPutListener))
	mux.HandleFunc("DELETE /api/v1/listeners/{name}", s.api(s.apiDeleteListener))
	mux.HandleFunc("PUT /api/v1/interfaces/{name}", s.api(s.apiPutInterface))
	mux.HandleFunc("POST /api/v1/interfaces", s.api(s.apiNewInterface))
	mux.HandleFunc("DELETE /api/v1/interfaces/{name}", s.api(s.apiDeleteInterface))
	mux.HandleFunc("PUT /api/v1/inbound", s.api(s.apiPutInbound))
	mux.HandleFunc("GET /api/v1/maillog", s.api(s.apiMaillog))
	mux.HandleFunc("GET /api/v1/queue", s.api(s.apiQueue))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, fmt.Sprintf("%s %s is not an API endpoint: see /api/v1/openapi.json", r.Method, r.URL.Path))
	})
}

// apiErr is every API error's body.
type apiErr struct {
	Error string `json:"error"`
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, "", apiErr{msg})
}

func writeJSON(w http.ResponseWriter, code int, etag string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "the answer could not be encoded"}`)
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// api authenticates the request — a bearer token (userconfig APITOKENS) or
// the browser's session cookie — and runs h with its client.
func (s *Server) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var c *client
		user, pass, isBasic := r.BasicAuth()
		if tok, ok := bearer(r); ok {
			var err error
			if isBasic {
				c, err = s.basicClient(r, user, pass)
			} else {
				c, err = s.tokenClient(r, tok)
			}
			if err != nil {
				var locked *auth.LockedError
				if errors.As(err, &locked) {
					retryAfter(w, locked.RetryAfter)
					apiError(w, http.StatusTooManyRequests, fmt.Sprintf("Too many failed login attempts: try again in %s.", waitWords(locked.RetryAfter)))
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="Relaybox"`)
				if isBasic {
					apiError(w, http.StatusUnauthorized, "Login refused: wrong user name or password; or send Authorization: Bearer TOKEN with a token made by userconfig APITOKENS")
					return
				}
				apiError(w, http.StatusUnauthorized, "the API token is not valid: send Authorization: Bearer TOKEN with a token made by userconfig APITOKENS")
				return
			}
		} else if c = s.browser(r); c == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="Relaybox"`)
			apiError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer TOKEN with a token made by userconfig APITOKENS")
			return
		}
		if s.account(c).MustChangePassword {
			apiError(w, http.StatusForbidden, fmt.Sprintf("the password of %s is a one-time password: log in to the GUI or over SSH and choose a new one first", c.user))
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		h(w, r, c)
	}
}

// etag is a strong entity tag over the JSON of parts.
func etag(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		b, _ := json.Marshal(p)
		h.Write(b)
		h.Write([]byte{0})
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
}

// ifMatch checks a write's If-Match against the resource's ETag now: none
// is 428, another is 412, and in both cases nothing is changed.
func ifMatch(w http.ResponseWriter, r *http.Request, current string) bool {
	got := r.Header.Get("If-Match")
	switch {
	case got == "":
		apiError(w, http.StatusPreconditionRequired, "If-Match is required: GET the resource first and send its ETag in If-Match; nothing was changed")
		return false
	case got == "*" || got == current:
		return true
	}
	for _, t := range strings.Split(got, ",") {
		if strings.TrimSpace(t) == current {
			return true
		}
	}
	w.Header().Set("ETag", current)
	apiError(w, http.StatusPreconditionFailed, fmt.Sprintf("the resource changed since you read it (your If-Match %s, now %s): nothing was changed; GET it again and repeat your edit", got, current))
	return false
}

const maxBody = 1 << 20

// decode reads a JSON body into v, refusing unknown fields, trailing data
// and bodies over 1 MiB, with a message that says what to fix.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return true
	}
	msg := err.Error()
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		msg = "the request body is empty: send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		msg = "the request body is not valid JSON: it ends in the middle of a value"
	case strings.HasPrefix(msg, "json: unknown field "):
		msg = "unknown field " + strings.TrimPrefix(msg, "json: unknown field ") + ": remove it (see /api/v1/openapi.json for the fields)"
	case errors.As(err, &syn):
		msg = fmt.Sprintf("the request body is not valid JSON (at byte %d): %v", syn.Offset, err)
	case errors.As(err, &typ):
		msg = fmt.Sprintf("field %q must be a JSON %s, not %s", typ.Field, typ.Type, typ.Value)
	default:
		msg = "the request body could not be read: " + msg
	}
	apiError(w, http.StatusBadRequest, msg)
	return false
}

// configJSON is a configuration as the YAML document has it (the same
// field names), secrets masked.
func configJSON(c *config.Config) map[string]any {
	b, err := config.Masked(c).Encode()
	if err != nil {
		return map[string]any{}
	}
	var m map[string]any
	_ = yaml.Unmarshal(b, &m)
	return m
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request, c *client) {
	st := s.status(r)
	writeJSON(w, http.StatusOK, "", st)
}

func (s *Server) apiConfig(w http.ResponseWriter, r *http.Request, c *client) {
	m := configJSON(s.o.Store.Current())
	writeJSON(w, http.StatusOK, etag(m), m)
}

// pendingJSON is the client's pending configuration.
type pendingJSON struct {
	Changed     bool           `json:"changed"`
	BaseVersion int            `json:"base_version"`
	Diff        string         `json:"diff"`
	Config      map[string]any `json:"config"`
}

func (s *Server) pendingView(c *client) (pendingJSON, string) {
	v := pendingJSON{Changed: c.pending.Changed(), BaseVersion: c.pending.Base().Version, Diff: c.pending.Diff(), Config: configJSON(c.pending.Config())}
	return v, etag(v.Config, v.BaseVersion, s.o.Store.Current().Version)
}

func (s *Server) apiPending(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.pendingView(c)
	writeJSON(w, http.StatusOK, tag, v)
}

type commitJSON struct {
	Comment string `json:"comment"`
}

type committedJSON struct {
	Version int    `json:"version"`
	Time    string `json:"time"`
	User    string `json:"user"`
	Comment string `json:"comment"`
}

func (s *Server) apiCommit(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.pendingView(c)
	var in commitJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	cf, err := s.commit(r, c, in.Comment)
	switch {
	case err == nil:
	case errors.Is(err, config.ErrNothingToCommit):
		apiError(w, http.StatusConflict, "There is no data to commit.")
		return
	case strings.HasPrefix(err.Error(), "operators cannot"):
		apiError(w, http.StatusForbidden, err.Error())
		return
	default:
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	_, tag = s.pendingView(c)
	writeJSON(w, http.StatusOK, tag, committedJSON{cf.Version, cf.Time.UTC().Format("2006-01-02T15:04:05Z"), cf.User, cf.Comment})
}

func (s *Server) apiAbandon(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.pendingView(c)
	if !ifMatch(w, r, tag) {
		return
	}
	c.pending.Clear()
	v, tag := s.pendingView(c)
	writeJSON(w, http.StatusOK, tag, v)
}

// sslTag covers the pending settings and the committed ones: a commit of
// SSL settings by anyone else makes it stale.
func (s *Server) sslTag(c *client) (sslJSON, string) {
	v := sslToJSON(c.pending.Config().SSL)
	return v, etag(v, sslToJSON(s.o.Store.Current().SSL))
}

func (s *Server) apiSSL(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.sslTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiPutSSL(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.sslTag(c)
	var in sslJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	if err := applySSL(c.pending.Config(), in); err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.sslTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) certTag(c *client) ([]certJSON, string) {
	v := s.certList(c.pending.Config())
	return v, etag(v, configJSON(s.o.Store.Current())["certificates"])
}

func (s *Server) apiCertificates(w http.ResponseWriter, r *http.Request, c *client) {
	v, tag := s.certTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

type newCertJSON struct {
	Certificate certJSON `json:"certificate"`
	CSR         string   `json:"csr"`
}

func (s *Server) apiNewCertificate(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.certTag(c)
	var in certRequest
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	cert, err := s.newCertificate(c.pending.Config(), in)
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	out := newCertJSON{CSR: cert.CSR}
	list, tag := s.certTag(c)
	for _, j := range list {
		if j.Name == cert.Name {
			out.Certificate = j
		}
	}
	writeJSON(w, http.StatusCreated, tag, out)
}

func (s *Server) apiCSR(w http.ResponseWriter, r *http.Request, c *client) {
	cert, err := c.pending.Config().FindCertificate(r.PathValue("name"))
	if err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	if cert.CSR == "" {
		apiError(w, http.StatusNotFound, fmt.Sprintf("certificate %q has no pending signing request", cert.Name))
		return
	}
	w.Header().Set("Content-Type", "application/pkcs10")
	_, _ = io.WriteString(w, cert.CSR)
}

type signedJSON struct {
	Chain string `json:"chain"`
}

func (s *Server) apiSigned(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.certTag(c)
	var in signedJSON
	if !ifMatch(w, r, tag) || !decode(w, r, &in) {
		return
	}
	cert, err := c.pending.Config().FindCertificate(r.PathValue("name"))
	if err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	signed, _, err := s.o.Certs.AttachSigned(*cert, in.Chain)
	if err == nil {
		err = c.pending.Config().PutCertificate(signed)
	}
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	v, tag := s.certTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

func (s *Server) apiDeleteCertificate(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.certTag(c)
	if !ifMatch(w, r, tag) {
		return
	}
	name := r.PathValue("name")
	if _, err := c.pending.Config().FindCertificate(name); err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	if err := c.pending.Config().DeleteCertificate(name); err != nil {
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	v, tag := s.certTag(c)
	writeJSON(w, http.StatusOK, tag, v)
}

// apiSection is one section of the pending configuration, as the document has it.
func (s *Server) apiSection(name string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, c *client) {
		v, tag := s.sectionTag(c, name)
		writeJSON(w, http.StatusOK, tag, v)
	}
}

type maillogJSON struct {
	Filter string   `json:"filter"`
	Lines  []string `json:"lines"`
}

func (s *Server) apiMaillog(w http.ResponseWriter, r *http.Request, c *client) {
	q := r.URL.Query()
	n := 100
	if v := q.Get("lines"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("lines=%q is not a number: use 1 to %d", v, maxTail))
			return
		}
	}
	lines, err := s.readLog(q.Get("filter"), n)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	if lines == nil {
		lines = []string{}
	}
	writeJSON(w, http.StatusOK, "", maillogJSON{q.Get("filter"), lines})
}

func (s *Server) apiQueue(w http.ResponseWriter, r *http.Request, c *client) {
	msgs, err := s.queueList()
	if err != nil {
		apiError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, etag(msgs), msgs)
}
