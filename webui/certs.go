package webui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"relaybox/certstore"
	"relaybox/config"
)

// certJSON is a certificate as the list and the API show it: never its key.
type certJSON struct {
	Name       string    `json:"name"`
	CommonName string    `json:"common_name"`
	IssuedBy   string    `json:"issued_by"`
	Status     string    `json:"status"`
	NotAfter   time.Time `json:"not_after"`
	DaysLeft   int       `json:"days_left"`
	Chain      int       `json:"chain_length"`
	InUseBy    []string  `json:"in_use_by"`
	CSR        bool      `json:"csr_pending"`
	Warnings   []string  `json:"warnings"`
}

// certStatus is the list's status column, as certconfig shows it.
func certStatus(i certstore.Info, days int) string {
	switch {
	case days < 0:
		return "Expired"
	case i.Pending:
		return "Not signed"
	case i.SelfSigned:
		return "Self-signed"
	}
	return "Active"
}

func (s *Server) certList(c *config.Config) []certJSON {
	roots, _ := certstore.TrustPool(c.Trust)
	now := s.o.Now()
	out := []certJSON{}
	for _, cert := range c.Certificates {
		j := certJSON{Name: cert.Name, InUseBy: append([]string{}, c.CertificateUsers(cert.Name)...), CSR: cert.CSR != "", Warnings: []string{}}
		if info, err := certstore.Inspect(cert); err == nil {
			days := info.RemainingDays(now)
			j.CommonName, j.IssuedBy, j.NotAfter, j.DaysLeft, j.Chain, j.Status = info.CommonName, info.IssuedBy, info.NotAfter, days, info.ChainLength, certStatus(info, days)
		} else {
			j.Status = "Unreadable"
			j.Warnings = append(j.Warnings, err.Error())
		}
		j.Warnings = append(j.Warnings, certstore.Warnings(cert, roots, nil, now)...)
		out = append(out, j)
	}
	return out
}

func (s *Server) certificatesPage(w http.ResponseWriter, r *http.Request, c *client) {
	s.certPage(w, r, c, http.StatusOK, "", nil)
}

func (s *Server) certPage(w http.ResponseWriter, r *http.Request, c *client, code int, msg string, form map[string]string) {
	p := s.page(r, c, "Certificates")
	p.Data, p.Error, p.Form = s.certList(c.pending.Config()), msg, form
	s.render(w, r, code, "certificates", p)
}

// keyChoices are certconfig's key menu.
var keyChoices = map[string]struct {
	typ  string
	bits int
}{"rsa2048": {"rsa", 2048}, "rsa4096": {"rsa", 4096}, "ecdsa256": {"ecdsa", 256}, "ecdsa384": {"ecdsa", 384}}

// refuseExisting is certconfig's check of a new profile's name.
func refuseExisting(c *config.Config, name string) error {
	if c.Certificate(name) != nil {
		return fmt.Errorf("Certificate profile %q already exists: delete it first or choose another name", name)
	}
	return config.CheckName(config.KindCertificate, name)
}

// certRequest reads a new certificate's fields (the GUI's form and the API's JSON).
type certRequest struct {
	Name         string `json:"name"`
	CommonName   string `json:"common_name"`
	Organization string `json:"organization"`
	Unit         string `json:"unit"`
	Locality     string `json:"locality"`
	State        string `json:"state"`
	Country      string `json:"country"`
	Days         int    `json:"days"`
	Key          string `json:"key"`
}

// newCertificate is certconfig new: a key, a self-signed certificate usable
// at once and a CSR, into the pending copy.
func (s *Server) newCertificate(c *config.Config, in certRequest) (config.Certificate, error) {
	if s.o.Certs == nil {
		return config.Certificate{}, errors.New("certificates cannot be made here")
	}
	if err := refuseExisting(c, in.Name); err != nil {
		return config.Certificate{}, err
	}
	if in.Days == 0 {
		in.Days = 3650
	}
	if in.Key == "" {
		in.Key = "rsa2048"
	}
	k, ok := keyChoices[strings.ToLower(in.Key)]
	if !ok {
		return config.Certificate{}, fmt.Errorf("key=%q is not offered: use rsa2048, rsa4096, ecdsa256 or ecdsa384", in.Key)
	}
	cert, err := s.o.Certs.NewRequest(certstore.Request{Name: in.Name, CommonName: in.CommonName, Organization: in.Organization, Unit: in.Unit,
		Locality: in.Locality, State: in.State, Country: strings.ToUpper(in.Country), Days: in.Days, KeyType: k.typ, KeyBits: k.bits})
	if err != nil {
		return cert, err
	}
	return cert, c.PutCertificate(cert)
}

func formMap(r *http.Request, keys ...string) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		m[k] = r.PostFormValue(k)
	}
	return m
}

func (s *Server) certificateNew(w http.ResponseWriter, r *http.Request, c *client) {
	f := formMap(r, "name", "cn", "o", "ou", "l", "st", "c", "days", "key")
	in := certRequest{Name: strings.TrimSpace(f["name"]), CommonName: f["cn"], Organization: f["o"], Unit: f["ou"], Locality: f["l"], State: f["st"], Country: f["c"], Key: f["key"]}
	if f["days"] != "" {
		d, err := strconv.Atoi(strings.TrimSpace(f["days"]))
		if err != nil {
			s.certPage(w, r, c, http.StatusUnprocessableEntity, fmt.Sprintf("days=%q is not a number of days", f["days"]), f)
			return
		}
		in.Days = d
	}
	if _, err := s.newCertificate(c.pending.Config(), in); err != nil {
		s.certPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), f)
		return
	}
	s.flash(r, fmt.Sprintf("Certificate %q created: self-signed until you upload the signed certificate for its CSR (pending until you commit).", in.Name))
	http.Redirect(w, r, "/certificates", http.StatusSeeOther)
}

func (s *Server) findCert(w http.ResponseWriter, r *http.Request, c *client) (config.Certificate, bool) {
	cert, err := c.pending.Config().FindCertificate(r.PathValue("name"))
	if err != nil {
		s.certPage(w, r, c, http.StatusNotFound, err.Error(), nil)
		return config.Certificate{}, false
	}
	return *cert, true
}

func (s *Server) certificateCSR(w http.ResponseWriter, r *http.Request, c *client) {
	cert, ok := s.findCert(w, r, c)
	if !ok {
		return
	}
	if cert.CSR == "" {
		s.certPage(w, r, c, http.StatusNotFound, fmt.Sprintf("certificate %q has no pending signing request", cert.Name), nil)
		return
	}
	w.Header().Set("Content-Type", "application/pkcs10")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csr"`, cert.Name))
	_, _ = io.WriteString(w, cert.CSR)
}

// upload is a form's text field, or the file uploaded in its place.
func upload(r *http.Request, field string, limit int64) ([]byte, error) {
	if err := r.ParseMultipartForm(limit); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return nil, fmt.Errorf("the upload could not be read: %v", err)
	}
	if f, _, err := r.FormFile(field + "_file"); err == nil {
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, limit+1))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("the file is larger than %d KiB: that is not a certificate", limit>>10)
		}
		if len(b) > 0 {
			return b, nil
		}
	}
	return []byte(r.PostFormValue(field)), nil
}

const maxUpload = 1 << 20

func (s *Server) certificateSigned(w http.ResponseWriter, r *http.Request, c *client) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxUpload)
	cert, ok := s.findCert(w, r, c)
	if !ok {
		return
	}
	chain, err := upload(r, "chain", maxUpload)
	if err == nil {
		var signed config.Certificate
		if signed, _, err = s.o.Certs.AttachSigned(cert, string(chain)); err == nil {
			err = c.pending.Config().PutCertificate(signed)
		}
	}
	if err != nil {
		s.certPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("Certificate %q: the signed certificate replaces the self-signed one (pending until you commit).", cert.Name))
	http.Redirect(w, r, "/certificates", http.StatusSeeOther)
}

func (s *Server) certificateImport(w http.ResponseWriter, r *http.Request, c *client) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxUpload)
	data, err := upload(r, "pkcs12", maxUpload)
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err == nil {
		_, err = s.importPKCS12(r.Context(), c.pending.Config(), name, data, r.PostFormValue("passphrase"))
	}
	if err != nil {
		s.certPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), map[string]string{"import_name": name})
		return
	}
	s.flash(r, fmt.Sprintf("Certificate %q imported (pending until you commit).", name))
	http.Redirect(w, r, "/certificates", http.StatusSeeOther)
}

func (s *Server) certificateExport(w http.ResponseWriter, r *http.Request, c *client) {
	cert, ok := s.findCert(w, r, c)
	if !ok {
		return
	}
	data, err := s.exportPKCS12(cert, r.PostFormValue("passphrase"), r.PostFormValue("again"))
	if err != nil {
		s.certPage(w, r, c, http.StatusUnprocessableEntity, err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", "application/x-pkcs12")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.p12"`, cert.Name))
	_, _ = w.Write(data)
}

func (s *Server) certificateDelete(w http.ResponseWriter, r *http.Request, c *client) {
	name := r.PathValue("name")
	if err := c.pending.Config().DeleteCertificate(name); err != nil {
		s.certPage(w, r, c, http.StatusConflict, err.Error(), nil)
		return
	}
	s.flash(r, fmt.Sprintf("Certificate %q deleted (pending until you commit).", name))
	http.Redirect(w, r, "/certificates", http.StatusSeeOther)
}

// importPKCS12 is certconfig import: a new name (refuseExisting), the
// certificate store's ImportPKCS12, PutCertificate into c; it returns the
// store's warnings.
func (s *Server) importPKCS12(ctx context.Context, c *config.Config, name string, data []byte, passphrase string) ([]string, error) {
	if s.o.Certs == nil {
		return nil, errors.New("certificates cannot be imported here")
	}
	if err := refuseExisting(c, name); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, errors.New("choose the PKCS#12 file (.p12 or .pfx) to import")
	}
	cert, warnings, err := s.o.Certs.ImportPKCS12(ctx, name, data, passphrase)
	if err == nil {
		err = c.PutCertificate(cert)
	}
	return warnings, err
}

// exportPKCS12 is certconfig export: the passphrase rules of its dialog
// (at least 4 characters, typed twice), then the store's ExportPKCS12.
func (s *Server) exportPKCS12(cert config.Certificate, pass, again string) ([]byte, error) {
	switch {
	case s.o.Certs == nil:
		return nil, errors.New("certificates cannot be exported here")
	case len(pass) < 4:
		return nil, errors.New("The passphrase must be at least 4 characters long")
	case pass != again:
		return nil, errors.New("The passphrases do not match: enter the same passphrase")
	}
	return s.o.Certs.ExportPKCS12(cert, pass)
}
