package commands

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/internal/atomicfile"
	"relaybox/shell"
)

const certconfigHelp = `Manages certificates and the trust store.

Dialog: certconfig → CERTIFICATE shows "List of Certificates" (Name, Common Name,
Issued By, Status, Remaining) and offers:
  NEW     a self-signed certificate and its signing request (CSR)
  PASTE   a certificate, its private key and intermediates, as PEM
  EDIT    paste the signed certificate for a CSR (or a renewal), view the CSR
  IMPORT  a PKCS#12 file from the configuration directory (DATA/configs)
  EXPORT  a PKCS#12 file into the configuration directory
  DELETE  a certificate that nothing uses
  PRINT   a certificate, its chain, where it is used, and warnings
certconfig → CERTAUTHORITY manages the trust store used to verify peers: the
system authorities and custom ones, each switchable.
Status: Active (used by a service), Valid, Expired, Not signed (CSR awaiting its
certificate). Private keys are never shown. Multi-line PEM ends with a line ".".

Batch forms:
  certconfig list
  certconfig new NAME cn=CN c=CC [o=ORG] [ou=UNIT] [l=CITY] [st=STATE] [days=N] [key=rsa2048|rsa4096|ecdsa256|ecdsa384] [csr=FILE]
  certconfig signed NAME FILE          (signed certificate + intermediates, PEM, from DATA/configs)
  certconfig csr NAME FILE             (write the pending CSR to DATA/configs/FILE)
  certconfig import NAME FILE PASSPHRASE
  certconfig export NAME FILE PASSPHRASE
  certconfig print NAME
  certconfig delete NAME
  certconfig ca import NAME FILE | ca delete NAME | ca system enable|disable | ca custom enable|disable
Changes are pending until commit.`

// Certs is what certconfig needs of the certificate store.
type Certs interface {
	NewRequest(r certstore.Request) (config.Certificate, error)
	FromPEM(name, leafAndChainPEM, keyPEM string) (config.Certificate, []string, error)
	AttachSigned(c config.Certificate, leafAndChainPEM string) (config.Certificate, []string, error)
	ImportPKCS12(ctx context.Context, name string, data []byte, passphrase string) (config.Certificate, []string, error)
	ExportPKCS12(c config.Certificate, passphrase string) ([]byte, error)
}

func certconfig(app *App) shell.Command {
	return shell.Command{
		Name:    "certconfig",
		Summary: "Manage certificates (create, CSR, paste, PKCS#12 import/export) and the trust store.",
		Help:    certconfigHelp,
		Secrets: certSecrets,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 0 {
				return certBatch(s, app, args)
			}
			for {
				op, err := s.Menu([]shell.Op{
					{Word: "CERTIFICATE", Description: "Import, Create a request, Edit or Remove Certificate Profiles"},
					{Word: "CERTAUTHORITY", Description: "Manage System and Customized Authorities"},
				})
				if err != nil || op == "" {
					return err
				}
				if op == "CERTIFICATE" {
					err = certificateMenu(s, app)
				} else {
					err = authorityMenu(s, app)
				}
				if err != nil {
					return err
				}
			}
		},
	}
}

// certUsages names every place a certificate is used.
func certUsages(c *config.Config, name string) []string {
	var out []string
	for _, l := range c.Listeners {
		if strings.EqualFold(l.Certificate, name) && l.TLS != config.TLSOff {
			out = append(out, "listener "+l.Name+" (inbound TLS)")
		}
	}
	for _, ifc := range c.Interfaces {
		if strings.EqualFold(ifc.Certificate, name) && ifc.HTTPSPort != 0 {
			out = append(out, "interface "+ifc.Name+" (HTTPS)")
		}
	}
	if strings.EqualFold(c.Destinations.Certificate, name) {
		out = append(out, "destination controls (outbound TLS client certificate)")
	}
	return out
}

// certHosts are the host names the certificate should match where it is used.
func certHosts(c *config.Config, name string) []string {
	var out []string
	for _, ifc := range c.Interfaces {
		if strings.EqualFold(ifc.Certificate, name) && ifc.HTTPSPort != 0 {
			out = append(out, ifc.Hostname)
		}
	}
	return out
}

func certStatus(c *config.Config, cert config.Certificate, info certstore.Info, now time.Time) string {
	switch {
	case now.After(info.NotAfter):
		return "Expired"
	case len(certUsages(c, cert.Name)) > 0:
		return "Active"
	case info.Pending:
		return "Not signed"
	}
	return "Valid"
}

func cut(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

func printCertList(s *shell.Session, c *config.Config) {
	now := time.Now()
	s.Println()
	s.Println("List of Certificates")
	s.Printf("%-9s %-20s %-20s %-10s %s\n", "Name", "Common Name", "Issued By", "Status", "Remaining")
	s.Printf("%-9s %-20s %-20s %-10s %s\n", strings.Repeat("-", 9), strings.Repeat("-", 20), strings.Repeat("-", 20), strings.Repeat("-", 10), strings.Repeat("-", 9))
	for _, cert := range c.Certificates {
		info, err := certstore.Inspect(cert)
		if err != nil {
			s.Printf("%-9s (unreadable: %v)\n", cut(cert.Name, 9), err)
			continue
		}
		s.Printf("%-9s %-20s %-20s %-10s %d days\n", cut(cert.Name, 9), cut(info.CommonName, 20), cut(info.IssuedBy, 20),
			certStatus(c, cert, info, now), info.RemainingDays(now))
	}
}

func certificateMenu(s *shell.Session, app *App) error {
	for {
		c := s.Pending.Config()
		printCertList(s, c)
		op, err := s.Menu([]shell.Op{
			{Word: "IMPORT", Description: "Import a certificate from a local PKCS#12 file"},
			{Word: "PASTE", Description: "Paste a certificate into the CLI"},
			{Word: "NEW", Description: "Create a self-signed certificate and CSR"},
			{Word: "EDIT", Description: "Paste the signed certificate for a CSR, or view the CSR"},
			{Word: "EXPORT", Description: "Export a certificate to a PKCS#12 file"},
			{Word: "DELETE", Description: "Remove a certificate"},
			{Word: "PRINT", Description: "View a certificate and the services using it"},
		})
		if err != nil || op == "" {
			return err
		}
		switch op {
		case "NEW":
			err = newCertificate(s, app)
		case "PASTE":
			err = pasteCertificate(s, app)
		case "EDIT":
			err = editCertificate(s, app)
		case "IMPORT":
			err = importCertificate(s, app)
		case "EXPORT":
			err = exportCertificate(s, app)
		case "DELETE":
			err = deleteCertificate(s)
		case "PRINT":
			var i int
			if i, err = pickCertificate(s, c, "print"); err == nil {
				printCertificate(s, c, c.Certificates[i])
			}
		}
		if err != nil {
			return err
		}
	}
}

func pickCertificate(s *shell.Session, c *config.Config, verb string) (int, error) {
	if len(c.Certificates) == 0 {
		return 0, errors.New("there are no certificates: create one with NEW")
	}
	items := make([]string, len(c.Certificates))
	for i, cert := range c.Certificates {
		items[i] = cert.Name
	}
	return s.Choose(fmt.Sprintf("Select the certificate you want to %s:", verb), items, 0)
}

// askCertName asks for a profile name; an existing one may be overwritten
// after confirmation (and only when nothing uses it in a way that breaks).
func askCertName(s *shell.Session, c *config.Config) (string, error) {
	for {
		name, err := s.Text("Enter a name for this certificate profile:", "", func(a string) error {
			if !validName(a) {
				return fmt.Errorf("%q is not a valid certificate name: start with a letter, then letters, digits, '_', '-' or '.'", a)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		if c.Certificate(name) == nil {
			return name, nil
		}
		s.Printf("Certificate profile %q already exists.\n", name)
		ok, err := s.YesNo("Do you want to overwrite it with this new one?", false)
		if err != nil {
			return "", err
		}
		if ok {
			return c.Certificate(name).Name, nil
		}
	}
}

// putCertificate adds or replaces a certificate in the pending configuration.
func putCertificate(c *config.Config, cert config.Certificate) {
	if old := c.Certificate(cert.Name); old != nil {
		*old = cert
		return
	}
	c.Certificates = append(c.Certificates, cert)
}

func printWarnings(s *shell.Session, c *config.Config, cert config.Certificate) {
	roots, _ := certstore.TrustPool(c.Trust)
	for _, w := range certstore.Warnings(cert, roots, certHosts(c, cert.Name), time.Now()) {
		s.Println("Warning:", w)
	}
}

var keyChoices = []struct {
	label, word string
	typ         string
	bits        int
}{
	{"RSA 2048 bits", "rsa2048", "rsa", 2048},
	{"RSA 4096 bits", "rsa4096", "rsa", 4096},
	{"ECDSA P-256", "ecdsa256", "ecdsa", 256},
	{"ECDSA P-384", "ecdsa384", "ecdsa", 384},
}

func newCertificate(s *shell.Session, app *App) error {
	c := s.Pending.Config()
	name, err := askCertName(s, c)
	if err != nil {
		return err
	}
	r := certstore.Request{Name: name}
	nonEmpty := func(what string) func(string) error {
		return func(a string) error {
			if strings.TrimSpace(a) == "" {
				return fmt.Errorf("Please enter a value: the %s is required", what)
			}
			return nil
		}
	}
	if r.CommonName, err = s.Text("Enter Common Name:", c.Hostname, nonEmpty("common name")); err != nil {
		return err
	}
	for _, q := range []struct {
		text string
		dst  *string
	}{{"Enter Organization:", &r.Organization}, {"Enter Organizational Unit:", &r.Unit}, {"Enter Locality or City:", &r.Locality}, {"Enter State or Province:", &r.State}} {
		if *q.dst, err = s.Text(q.text, "", nil); err != nil {
			return err
		}
	}
	if r.Country, err = s.Text("Country (2 letter code):", "", func(a string) error {
		if len(a) != 2 || strings.Trim(strings.ToUpper(a), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return errors.New("Country should be a ISO two character country code")
		}
		return nil
	}); err != nil {
		return err
	}
	r.Country = strings.ToUpper(r.Country)
	if r.Days, err = askInt(s, "Duration before expiration (in days):", 3650, 1, 36500); err != nil {
		return err
	}
	labels := make([]string, len(keyChoices))
	for i, k := range keyChoices {
		labels[i] = k.label
	}
	k, err := s.Choose("Select the key type and size:", labels, 1)
	if err != nil {
		return err
	}
	r.KeyType, r.KeyBits = keyChoices[k].typ, keyChoices[k].bits
	s.Println("Generating the key and the certificate signing request...")
	cert, err := app.Certs.NewRequest(r)
	if err != nil {
		return err
	}
	putCertificate(c, cert)
	s.Printf("Certificate %q created (self-signed until you paste the signed certificate with EDIT).\n", name)
	return offerCSR(s, app, cert)
}

// offerCSR shows the CSR or writes it to a file.
func offerCSR(s *shell.Session, app *App, cert config.Certificate) error {
	how, err := s.Choose("What do you want to do with the certificate signing request (CSR)?", []string{"Print it", "Write it to a file in the configuration directory", "Nothing now"}, 1)
	if err != nil {
		return err
	}
	switch how {
	case 0:
		s.Println()
		s.Print(cert.CSR)
	case 1:
		file, err := s.Text("Enter the file name for the CSR:", cert.Name+".csr", nil)
		if err != nil {
			return err
		}
		return writeConfigFile(s, app, file, []byte(cert.CSR), "CSR")
	}
	return nil
}

func writeConfigFile(s *shell.Session, app *App, name string, data []byte, what string) error {
	path, err := configFile(app, name)
	if err != nil {
		return err
	}
	afs := app.Store.Fs()
	if err := afs.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(afs, path, data, 0o600); err != nil {
		return err
	}
	s.Printf("The %s has been written to %s.\n", what, path)
	return nil
}

// pasteChain reads a certificate and any intermediates.
func pasteChain(s *shell.Session, first string) (string, error) {
	text, err := s.Block(first)
	if err != nil {
		return "", err
	}
	for {
		more, err := s.YesNo("Do you want to add an intermediate certificate?", false)
		if err != nil || !more {
			return text, err
		}
		inter, err := s.Block("Paste intermediate certificate in PEM format.")
		if err != nil {
			return "", err
		}
		text += inter
	}
}

func pasteCertificate(s *shell.Session, app *App) error {
	c := s.Pending.Config()
	name, err := askCertName(s, c)
	if err != nil {
		return err
	}
	certText, err := s.Block("Paste public certificate in PEM format.")
	if err != nil {
		return err
	}
	keyText, err := s.Block("Paste private key in PEM format.")
	if err != nil {
		return err
	}
	chain := certText
	for {
		more, err := s.YesNo("Do you want to add an intermediate certificate?", false)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		inter, err := s.Block("Paste intermediate certificate in PEM format.")
		if err != nil {
			return err
		}
		chain += inter
	}
	cert, warnings, err := app.Certs.FromPEM(name, chain, keyText)
	if err != nil {
		return err
	}
	putCertificate(c, cert)
	for _, w := range warnings {
		s.Println("Warning:", w)
	}
	printWarnings(s, c, cert)
	s.Printf("Certificate %q added.\n", name)
	return nil
}

func editCertificate(s *shell.Session, app *App) error {
	c := s.Pending.Config()
	i, err := pickCertificate(s, c, "edit")
	if err != nil {
		return err
	}
	cert := c.Certificates[i]
	if cert.CSR != "" {
		view, err := s.YesNo("Do you want to view the certificate signing request?", false)
		if err != nil {
			return err
		}
		if view {
			s.Print(cert.CSR)
		}
	}
	update, err := s.YesNo("Do you want to paste a signed certificate for this key?", cert.CSR != "")
	if err != nil || !update {
		return err
	}
	chain, err := pasteChain(s, "Paste the signed certificate in PEM format.")
	if err != nil {
		return err
	}
	signed, warnings, err := app.Certs.AttachSigned(cert, chain)
	if err != nil {
		return err
	}
	c.Certificates[i] = signed
	for _, w := range warnings {
		s.Println("Warning:", w)
	}
	printWarnings(s, c, signed)
	s.Printf("Certificate %q updated.\n", signed.Name)
	return nil
}

func importCertificate(s *shell.Session, app *App) error {
	c := s.Pending.Config()
	name, err := askCertName(s, c)
	if err != nil {
		return err
	}
	var data []byte
	if _, err := s.Text("Enter the name of the PKCS#12 file in the configuration directory to import:", "", func(a string) error {
		var err error
		data, err = readConfigFile(app, a)
		return err
	}); err != nil {
		return err
	}
	var cert config.Certificate
	var warnings []string
	if _, err := s.Secret("Enter passphrase:", func(p string) error {
		var err error
		cert, warnings, err = app.Certs.ImportPKCS12(s.Context(), name, data, p)
		return err
	}); err != nil {
		return err
	}
	putCertificate(c, cert)
	for _, w := range warnings {
		s.Println("Warning:", w)
	}
	printWarnings(s, c, cert)
	s.Printf("Certificate %q imported.\n", name)
	return nil
}

func exportCertificate(s *shell.Session, app *App) error {
	c := s.Pending.Config()
	i, err := pickCertificate(s, c, "export")
	if err != nil {
		return err
	}
	cert := c.Certificates[i]
	file, err := s.Text("Enter the file name to export to (in the configuration directory):", cert.Name+".p12", nil)
	if err != nil {
		return err
	}
	if _, err := configFile(app, file); err != nil {
		return err
	}
	pass, err := s.Secret("Enter passphrase:", func(p string) error {
		if len(p) < 4 {
			return errors.New("The passphrase must be at least 4 characters long")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := s.Secret("Please enter the passphrase again:", func(p string) error {
		if p != pass {
			return errors.New("The passphrases do not match: enter the same passphrase")
		}
		return nil
	}); err != nil {
		return err
	}
	data, err := app.Certs.ExportPKCS12(cert, pass)
	if err != nil {
		return err
	}
	return writeConfigFile(s, app, file, data, "PKCS#12 file")
}

func deleteCertificate(s *shell.Session) error {
	c := s.Pending.Config()
	i, err := pickCertificate(s, c, "delete")
	if err != nil {
		return err
	}
	name := c.Certificates[i].Name
	if err := refuseInUse(c, name); err != nil {
		return err
	}
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the certificate %q?", name), false)
	if err != nil || !ok {
		return err
	}
	c.Certificates = append(c.Certificates[:i], c.Certificates[i+1:]...)
	s.Printf("Certificate %q deleted.\n", name)
	return nil
}

func refuseInUse(c *config.Config, name string) error {
	if uses := certUsages(c, name); len(uses) > 0 {
		return fmt.Errorf("certificate %q is in use by %s: choose another certificate there first (listenerconfig, interfaceconfig)", name, strings.Join(uses, ", "))
	}
	return nil
}

func printCertificate(s *shell.Session, c *config.Config, cert config.Certificate) {
	info, err := certstore.Inspect(cert)
	if err != nil {
		s.Println(err)
		return
	}
	now := time.Now()
	s.Println()
	s.Printf("Name:                %s\n", cert.Name)
	s.Printf("Common Name:         %s\n", info.CommonName)
	s.Printf("Issued By:           %s\n", info.IssuedBy)
	s.Printf("Status:              %s\n", certStatus(c, cert, info, now))
	s.Printf("Valid:               %s to %s (%d days left)\n", stamp(info.NotBefore), stamp(info.NotAfter), info.RemainingDays(now))
	s.Printf("Key:                 %s\n", info.KeyType)
	s.Printf("Signature algorithm: %s\n", info.SignatureAlgorithm)
	s.Printf("Names:               %s\n", strings.Join(append(append([]string{}, info.DNSNames...), info.IPs...), ", "))
	s.Printf("Serial:              %s\n", info.SerialHex)
	s.Printf("SHA-256 fingerprint: %s\n", info.SHA256Fingerprint)
	s.Printf("Chain:               %d certificate(s)\n", info.ChainLength)
	uses := certUsages(c, cert.Name)
	if len(uses) == 0 {
		uses = []string{"not used"}
	}
	s.Printf("Used by:             %s\n", strings.Join(uses, ", "))
	if info.Pending {
		s.Println("Signing request:     pending (paste the signed certificate with EDIT)")
	}
	printWarnings(s, c, cert)
	s.Println()
	s.Print(cert.PEM)
}

func authorityMenu(s *shell.Session, app *App) error {
	for {
		t := &s.Pending.Config().Trust
		s.Println()
		s.Printf("System authorities: %s (the operating system's trusted roots)\n", enableWord(t.System))
		s.Printf("Custom authorities: %s (%d certificates)\n", enableWord(t.Custom), len(t.CustomCAs))
		op, err := s.Menu([]shell.Op{
			{Word: "CUSTOM", Description: "Manage Custom Authorities"},
			{Word: "SYSTEM", Description: "Enable or disable the System Authorities"},
		})
		if err != nil || op == "" {
			return err
		}
		if op == "SYSTEM" {
			t.System = !t.System
			s.Printf("System authorities are now %s.\n", strings.ToLower(enableWord(t.System)))
			continue
		}
		if err := customAuthorities(s, app, t); err != nil {
			return err
		}
	}
}

func customAuthorities(s *shell.Session, app *App, t *config.Trust) error {
	for {
		s.Println()
		for i, ca := range t.CustomCAs {
			subj := "?"
			if cert, err := certstore.ParseCA(ca.PEM); err == nil {
				subj = cert.Subject.String()
			}
			s.Printf("%d. %s (%s)\n", i+1, ca.Name, subj)
		}
		verb := "ENABLE"
		if t.Custom {
			verb = "DISABLE"
		}
		op, err := s.Menu([]shell.Op{
			{Word: verb, Description: capitalize(strings.ToLower(verb)) + " the custom authorities."},
			{Word: "IMPORT", Description: "Import a custom authority from a PEM file in the configuration directory."},
			{Word: "PASTE", Description: "Paste a custom authority in PEM format."},
			{Word: "DELETE", Description: "Remove a custom authority."},
		})
		if err != nil || op == "" {
			return err
		}
		switch op {
		case "ENABLE", "DISABLE":
			t.Custom = op == "ENABLE"
		case "IMPORT", "PASTE":
			name, err := s.Text("Enter a name for this authority:", "", func(a string) error {
				if !validName(a) {
					return fmt.Errorf("%q is not a valid name", a)
				}
				return nil
			})
			if err != nil {
				return err
			}
			var text string
			if op == "IMPORT" {
				file, err := s.Text("Enter the name of the PEM file to import:", "", nil)
				if err != nil {
					return err
				}
				data, err := readConfigFile(app, file)
				if err != nil {
					return err
				}
				text = string(data)
			} else if text, err = s.Block("Paste the authority's certificate in PEM format."); err != nil {
				return err
			}
			if err := addCA(t, name, text); err != nil {
				return err
			}
		case "DELETE":
			if len(t.CustomCAs) == 0 {
				return errors.New("there are no custom authorities")
			}
			items := make([]string, len(t.CustomCAs))
			for i, ca := range t.CustomCAs {
				items[i] = ca.Name
			}
			i, err := s.Choose("Select the authority to remove:", items, 0)
			if err != nil {
				return err
			}
			t.CustomCAs = append(t.CustomCAs[:i], t.CustomCAs[i+1:]...)
		}
	}
}

func addCA(t *config.Trust, name, text string) error {
	if _, err := certstore.ParseCA(text); err != nil {
		return fmt.Errorf("Could not read PEM data from file: %w", err)
	}
	for _, ca := range t.CustomCAs {
		if strings.EqualFold(ca.Name, name) {
			return fmt.Errorf("a custom authority named %q already exists: delete it first or choose another name", name)
		}
	}
	t.CustomCAs = append(t.CustomCAs, config.CA{Name: name, PEM: text})
	return nil
}

// parseKV reads key=value arguments of the batch forms.
func parseKV(args []string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.ToLower(k)
		if !ok || !containsWord(allowed, k) {
			return nil, fmt.Errorf("%q is not KEY=VALUE with a key among %s", a, strings.Join(allowed, ", "))
		}
		out[k] = v
	}
	return out, nil
}

func containsWord(list []string, w string) bool {
	for _, x := range list {
		if x == w {
			return true
		}
	}
	return false
}

// certSecrets names the passphrase of "certconfig import|export NAME FILE
// PASSPHRASE" as secret, and every word after it too: a passphrase with a
// blank typed without quotes is split into several words.
func certSecrets(args []string) []int {
	if len(args) < 4 || (!strings.EqualFold(args[0], "import") && !strings.EqualFold(args[0], "export")) {
		return nil
	}
	var out []int
	for i := 3; i < len(args); i++ {
		out = append(out, i)
	}
	return out
}

// checkBatchPassphrase refuses the mask as a passphrase: it is what the shell
// shows, and what the line editor recalls, in place of the real one.
func checkBatchPassphrase(p string) error {
	if p == shell.Mask {
		return fmt.Errorf("%s is what the shell shows in place of a passphrase (a line recalled with the arrow keys keeps it): type the real passphrase instead", shell.Mask)
	}
	return nil
}

func certBatch(s *shell.Session, app *App, args []string) error {
	c := s.Pending.Config()
	verb := strings.ToLower(args[0])
	need := func(n int, form string) error {
		if len(args) != n {
			return usage("certconfig", form)
		}
		return nil
	}
	switch verb {
	case "list":
		printCertList(s, c)
		return nil
	case "new":
		if len(args) < 3 {
			return usage("certconfig", "certconfig new NAME cn=CN c=CC [o=…] [ou=…] [l=…] [st=…] [days=N] [key=rsa2048|rsa4096|ecdsa256|ecdsa384] [csr=FILE]")
		}
		kv, err := parseKV(args[2:], "cn", "o", "ou", "l", "st", "c", "days", "key", "csr")
		if err != nil {
			return err
		}
		r := certstore.Request{Name: args[1], CommonName: kv["cn"], Organization: kv["o"], Unit: kv["ou"], Locality: kv["l"], State: kv["st"], Country: strings.ToUpper(kv["c"]), Days: 3650, KeyType: "rsa", KeyBits: 2048}
		if d, ok := kv["days"]; ok {
			if r.Days, err = strconv.Atoi(d); err != nil {
				return fmt.Errorf("days=%q is not a number of days", d)
			}
		}
		if k, ok := kv["key"]; ok {
			found := false
			for _, kc := range keyChoices {
				if kc.word == strings.ToLower(k) {
					r.KeyType, r.KeyBits, found = kc.typ, kc.bits, true
				}
			}
			if !found {
				return fmt.Errorf("key=%q is not offered: use rsa2048, rsa4096, ecdsa256 or ecdsa384", k)
			}
		}
		if c.Certificate(r.Name) != nil {
			return fmt.Errorf("Certificate profile %q already exists: delete it first or choose another name", r.Name)
		}
		if f, ok := kv["csr"]; ok {
			if _, err := configFile(app, f); err != nil {
				return err
			}
		}
		cert, err := app.Certs.NewRequest(r)
		if err != nil {
			return err
		}
		putCertificate(c, cert)
		if f, ok := kv["csr"]; ok {
			return writeConfigFile(s, app, f, []byte(cert.CSR), "CSR")
		}
		return nil
	case "csr":
		if err := need(3, "certconfig csr NAME FILE"); err != nil {
			return err
		}
		cert := c.Certificate(args[1])
		if cert == nil || cert.CSR == "" {
			return fmt.Errorf("certificate %q has no pending signing request", args[1])
		}
		return writeConfigFile(s, app, args[2], []byte(cert.CSR), "CSR")
	case "signed":
		if err := need(3, "certconfig signed NAME FILE"); err != nil {
			return err
		}
		cert := c.Certificate(args[1])
		if cert == nil {
			return fmt.Errorf("certificate %q does not exist: certconfig list shows them", args[1])
		}
		data, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		signed, warnings, err := app.Certs.AttachSigned(*cert, string(data))
		if err != nil {
			return err
		}
		*cert = signed
		for _, w := range warnings {
			s.Println("Warning:", w)
		}
		return nil
	case "import":
		if err := need(4, "certconfig import NAME FILE PASSPHRASE"); err != nil {
			return err
		}
		if err := checkBatchPassphrase(args[3]); err != nil {
			return err
		}
		data, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		if c.Certificate(args[1]) != nil {
			return fmt.Errorf("Certificate profile %q already exists: delete it first or choose another name", args[1])
		}
		cert, warnings, err := app.Certs.ImportPKCS12(s.Context(), args[1], data, args[3])
		if err != nil {
			return err
		}
		putCertificate(c, cert)
		for _, w := range warnings {
			s.Println("Warning:", w)
		}
		return nil
	case "export":
		if err := need(4, "certconfig export NAME FILE PASSPHRASE"); err != nil {
			return err
		}
		if err := checkBatchPassphrase(args[3]); err != nil {
			return err
		}
		cert := c.Certificate(args[1])
		if cert == nil {
			return fmt.Errorf("certificate %q does not exist: certconfig list shows them", args[1])
		}
		if _, err := configFile(app, args[2]); err != nil {
			return err
		}
		data, err := app.Certs.ExportPKCS12(*cert, args[3])
		if err != nil {
			return err
		}
		return writeConfigFile(s, app, args[2], data, "PKCS#12 file")
	case "print":
		if err := need(2, "certconfig print NAME"); err != nil {
			return err
		}
		cert := c.Certificate(args[1])
		if cert == nil {
			return fmt.Errorf("certificate %q does not exist: certconfig list shows them", args[1])
		}
		printCertificate(s, c, *cert)
		return nil
	case "delete":
		if err := need(2, "certconfig delete NAME"); err != nil {
			return err
		}
		for i, cert := range c.Certificates {
			if strings.EqualFold(cert.Name, args[1]) {
				if err := refuseInUse(c, cert.Name); err != nil {
					return err
				}
				c.Certificates = append(c.Certificates[:i], c.Certificates[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("certificate %q does not exist: certconfig list shows them", args[1])
	case "ca":
		return caBatch(app, &c.Trust, args[1:])
	}
	return usage("certconfig", "certconfig list|new|csr|signed|import|export|print|delete|ca … (see help certconfig)")
}

func caBatch(app *App, t *config.Trust, args []string) error {
	switch {
	case len(args) == 3 && strings.EqualFold(args[0], "import"):
		data, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		return addCA(t, args[1], string(data))
	case len(args) == 2 && strings.EqualFold(args[0], "delete"):
		for i, ca := range t.CustomCAs {
			if strings.EqualFold(ca.Name, args[1]) {
				t.CustomCAs = append(t.CustomCAs[:i], t.CustomCAs[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("custom authority %q does not exist", args[1])
	case len(args) == 2 && (strings.EqualFold(args[0], "system") || strings.EqualFold(args[0], "custom")):
		on, err := onOff("certconfig ca "+strings.ToLower(args[0]), args[1])
		if err != nil {
			return err
		}
		if strings.EqualFold(args[0], "system") {
			t.System = on
		} else {
			t.Custom = on
		}
		return nil
	}
	return usage("certconfig", "certconfig ca import NAME FILE | ca delete NAME | ca system|custom enable|disable")
}
