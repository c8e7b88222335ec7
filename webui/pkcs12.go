package webui

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// pkcs12JSON is a PKCS#12 import as JSON: the file in base64 and its passphrase.
type pkcs12JSON struct {
	Data       string `json:"data"`
	Passphrase string `json:"passphrase"`
}

// importedJSON is an import's answer: the new certificate and the store's
// warnings (a chain that does not verify, a key too short …).
type importedJSON struct {
	Certificate certJSON `json:"certificate"`
	Warnings    []string `json:"warnings"`
}

// PassphraseHeader carries the passphrase of a PKCS#12 export: a header,
// not the URL, which ends up in logs and shell histories.
const PassphraseHeader = "X-Passphrase"

// pkcs12Body reads an import's file and passphrase: multipart/form-data
// (file, passphrase) or JSON (pkcs12JSON); false when it has answered.
func pkcs12Body(w http.ResponseWriter, r *http.Request) (data []byte, pass string, ok bool) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		var in pkcs12JSON
		if !decode(w, r, &in) {
			return nil, "", false
		}
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(in.Data), ""))
		if err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("field \"data\" is not base64 (%v): send the PKCS#12 file base64-encoded, e.g. base64 -w0 FILE.p12", err))
			return nil, "", false
		}
		return b, in.Passphrase, true
	}
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxUpload)
	if err := r.ParseMultipartForm(maxUpload); err != nil {
		apiError(w, http.StatusBadRequest, "the multipart body could not be read: "+err.Error())
		return nil, "", false
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		apiError(w, http.StatusBadRequest, "the multipart body has no part \"file\": send the PKCS#12 file as file=@FILE.p12 and its passphrase as passphrase=…")
		return nil, "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUpload+1))
	if err == nil && len(b) > maxUpload {
		err = fmt.Errorf("the file is larger than %d KiB: that is not a PKCS#12 file", maxUpload>>10)
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return nil, "", false
	}
	return b, r.FormValue("passphrase"), true
}

// apiImportPKCS12 is certconfig import NAME FILE PASSPHRASE.
func (s *Server) apiImportPKCS12(w http.ResponseWriter, r *http.Request, c *client) {
	_, tag := s.certTag(c)
	if !ifMatch(w, r, tag) {
		return
	}
	data, pass, ok := pkcs12Body(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	warnings, err := s.importPKCS12(r.Context(), c.pending.Config(), name, data, pass)
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	out := importedJSON{Warnings: append([]string{}, warnings...)}
	list, tag := s.certTag(c)
	for _, j := range list {
		if strings.EqualFold(j.Name, name) {
			out.Certificate = j
		}
	}
	writeJSON(w, http.StatusCreated, tag, out)
}

// apiExportPKCS12 is certconfig export NAME FILE PASSPHRASE: the file is
// the answer.
func (s *Server) apiExportPKCS12(w http.ResponseWriter, r *http.Request, c *client) {
	cert, err := c.pending.Config().FindCertificate(r.PathValue("name"))
	if err != nil {
		apiError(w, http.StatusNotFound, err.Error())
		return
	}
	pass := r.Header.Get(PassphraseHeader)
	if pass == "" {
		apiError(w, http.StatusUnprocessableEntity, "the export passphrase is missing: send it in the header "+PassphraseHeader+" (at least 4 characters)")
		return
	}
	data, err := s.exportPKCS12(*cert, pass, pass)
	if err != nil {
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-pkcs12")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.p12"`, cert.Name))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(data)
}
