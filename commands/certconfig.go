package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/shell"
)

// This file is certconfig and its certificate profiles (CERTIFICATE);
// certauthority.go is the trust store (CERTAUTHORITY).

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
  ECDSA   the ECDSA twin of an RSA certificate: NEW (self-signed, with its CSR
          when the certificate awaits signing), PASTE or IMPORT the one an
          authority issued (same subject and names), DELETE
An RSA certificate may hold an ECDSA P-256 twin: servers offer it to clients
that accept ECDSA, and the RSA certificate to the others. NEW offers RSA keys
with a twin; EDIT takes the signed certificate for either key.
certconfig → CERTAUTHORITY manages the trust store used to verify peers: the
system authorities (SYSTEM: ENABLE or DISABLE) and custom ones (CUSTOM: ENABLE
or DISABLE, IMPORT, PASTE, EXPORT, DELETE, PRINT).
Status: Active (used by a service), Valid, Expired, Not signed (CSR awaiting its
certificate). Private keys are never shown. Multi-line PEM ends with a line ".".
Enter at a question without a default goes back to the menu.

Batch forms:
  certconfig list
  certconfig new NAME cn=CN c=CC [o=ORG] [ou=UNIT] [l=CITY] [st=STATE] [days=N]
      [key=rsa2048|rsa4096|ecdsa256|ecdsa384|rsa2048+ecdsa256|rsa4096+ecdsa256] [twin=yes|no] [csr=FILE]
                                       (twin=yes, or key=rsa…+ecdsa256: also an ECDSA P-256 twin; its CSR goes to FILE-ecdsa)
  certconfig signed NAME FILE          (signed certificate + intermediates, PEM, from DATA/configs;
                                        the RSA certificate's or the ECDSA twin's)
  certconfig csr NAME FILE             (write the pending CSR to DATA/configs/FILE)
  certconfig import NAME FILE PASSPHRASE
  certconfig export NAME FILE PASSPHRASE
  certconfig print NAME
  certconfig delete NAME
  certconfig ecdsa NAME new | paste CERTFILE KEYFILE | import FILE PASSPHRASE | csr FILE | delete
                                       (the ECDSA twin of an RSA certificate; files in DATA/configs)
  certconfig ca import NAME FILE | ca delete NAME | ca export FILE | ca system enable|disable | ca custom enable|disable
Changes are pending until commit.`

// Certs is what certconfig needs of the certificate store.
type Certs interface {
	NewRequest(r certstore.Request) (config.Certificate, error)
	FromPEM(name, leafAndChainPEM, keyPEM string) (config.Certificate, []string, error)
	AttachSigned(c config.Certificate, leafAndChainPEM string) (config.Certificate, []string, error)
	ImportPKCS12(ctx context.Context, name string, data []byte, passphrase string) (config.Certificate, []string, error)
	ExportPKCS12(c config.Certificate, passphrase string) ([]byte, error)
	AddECDSATwin(c config.Certificate) (config.Certificate, error)
	TwinFromPEM(c config.Certificate, leafAndChainPEM, keyPEM string) (config.Certificate, []string, error)
	TwinFromPKCS12(ctx context.Context, c config.Certificate, data []byte, passphrase string) (config.Certificate, []string, error)
}

func certconfig(app *App) shell.Command {
	cmd := command("certconfig", "Manage certificates (create, CSR, paste, PKCS#12 import/export) and the trust store.", certconfigHelp,
		func(s *shell.Session, args []string) error { return certBatch(s, app, args) },
		func(s *shell.Session) error {
			return loopMenu(s, nil, fixed(
				menuOp{"CERTIFICATE", "Import, Create a request, Edit or Remove Certificate Profiles", func() error { return certificateMenu(s, app) }},
				menuOp{"CERTAUTHORITY", "Manage System and Customized Authorities", func() error { return authorityMenu(s, app) }},
			))
		})
	cmd.Secrets = certSecrets
	return cmd
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
	case len(c.CertificateUsers(cert.Name)) > 0:
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
		if twin, ok := certstore.Twin(cert); ok {
			// The twin's row, under its certificate's.
			info, err := certstore.Inspect(twin)
			if err != nil {
				s.Printf("%-9s (unreadable: %v)\n", twinRow, err)
				continue
			}
			s.Printf("%-9s %-20s %-20s %-10s %d days\n", twinRow, cut(info.CommonName, 20), cut(info.IssuedBy, 20),
				certStatus(c, cert, info, now), info.RemainingDays(now))
		}
	}
}

// twinRow names the row of a certificate's ECDSA twin in the list.
const twinRow = " +ECDSA"

func certificateMenu(s *shell.Session, app *App) error {
	c := func() *config.Config { return s.Pending.Config() }
	picked := func(verb string, then func(cert config.Certificate) error) func() error {
		return func() error {
			names := certificateNames(c())
			i, err := pickFrom(s, fmt.Sprintf("Select the certificate you want to %s:", verb), numbered(names, names), 0)
			if err != nil {
				return err
			}
			return then(c().Certificates[i])
		}
	}
	return loopMenu(s, func() { printCertList(s, c()) }, fixed(
		menuOp{"IMPORT", "Import a certificate from a local PKCS#12 file", func() error { return importDialog(s, app) }},
		menuOp{"PASTE", "Paste a certificate into the CLI", func() error { return pasteDialog(s, app) }},
		menuOp{"NEW", "Create a self-signed certificate and CSR", func() error { return newDialog(s, app) }},
		menuOp{"EDIT", "Paste the signed certificate for a CSR, or view the CSR", picked("edit", func(cert config.Certificate) error { return editDialog(s, app, cert) })},
		menuOp{"EXPORT", "Export a certificate to a PKCS#12 file", picked("export", func(cert config.Certificate) error { return exportDialog(s, app, cert) })},
		menuOp{"DELETE", "Remove a certificate", picked("delete", func(cert config.Certificate) error { return deleteDialog(s, cert) })},
		menuOp{"PRINT", "View a certificate and the services using it", picked("print", func(cert config.Certificate) error {
			printCertificate(s, c(), cert)
			return nil
		})},
		menuOp{"ECDSA", "Add, replace or remove the ECDSA twin of an RSA certificate", picked("pair with an ECDSA twin", func(cert config.Certificate) error { return twinMenu(s, app, cert.Name) })},
	))
}

// askCertName asks for a profile name; Enter goes back. An existing one may
// be overwritten after confirmation.
func askCertName(s *shell.Session, c *config.Config) (string, error) {
	for {
		name, err := askNew(s, "Enter a name for this certificate profile:", func(a string) error { return config.CheckName(config.KindCertificate, a) })
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

// refuseExisting is the batch forms' rule: they never overwrite a profile.
func refuseExisting(c *config.Config, name string) error {
	if c.Certificate(name) != nil {
		return fmt.Errorf("Certificate profile %q already exists: delete it first or choose another name", name)
	}
	return config.CheckName(config.KindCertificate, name)
}

// storeCertificate puts a new or renewed certificate into the pending
// configuration and prints the store's warnings and the certificate's own.
func storeCertificate(s *shell.Session, cert config.Certificate, warnings []string, done string) error {
	c := s.Pending.Config()
	if err := c.PutCertificate(cert); err != nil {
		return err
	}
	printWarnings(s, c, cert, warnings...)
	if done != "" {
		s.Printf("Certificate %q %s.\n", cert.Name, done)
	}
	return nil
}

// printWarnings prints the certificate's warnings and the given ones, each once.
func printWarnings(s *shell.Session, c *config.Config, cert config.Certificate, more ...string) {
	printSomeWarnings(s, c, cert, func(string) bool { return true }, more...)
}

// printSomeWarnings is printWarnings for the warnings that only keeps.
func printSomeWarnings(s *shell.Session, c *config.Config, cert config.Certificate, only func(string) bool, more ...string) {
	roots, _ := certstore.TrustPool(c.Trust)
	seen := map[string]bool{}
	for _, w := range append(more, certstore.Warnings(cert, roots, certHosts(c, cert.Name), time.Now())...) {
		if !seen[w] && only(w) {
			seen[w] = true
			s.Println("Warning:", w)
		}
	}
}

// keyChoices are NEW's keys. The pairs come last, so that scripts written
// for the first four still choose what they did; "key=rsa2048+ecdsa256" is
// "key=rsa2048 twin=yes".
var keyChoices = []struct {
	label, word string
	typ         string
	bits        int
	twin        bool
}{
	{"RSA 2048 bits", "rsa2048", "rsa", 2048, false},
	{"RSA 4096 bits", "rsa4096", "rsa", 4096, false},
	{"ECDSA P-256", "ecdsa256", "ecdsa", 256, false},
	{"ECDSA P-384", "ecdsa384", "ecdsa", 384, false},
	{"RSA 2048 bits and an ECDSA P-256 twin (same subject and validity)", "rsa2048+ecdsa256", "rsa", 2048, true},
	{"RSA 4096 bits and an ECDSA P-256 twin (same subject and validity)", "rsa4096+ecdsa256", "rsa", 4096, true},
}

// keyWords lists the key= words for messages.
func keyWords() string {
	words := make([]string, len(keyChoices))
	for i, k := range keyChoices {
		words[i] = k.word
	}
	return strings.Join(words, "|")
}

// certDaysRange bounds a new certificate's validity.
var certDaysRange = config.Range{Min: 1, Max: 36500}

func checkCountry(a string) error {
	if len(a) != 2 || strings.Trim(strings.ToUpper(a), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return errors.New("Country should be a ISO two character country code")
	}
	return nil
}

func newDialog(s *shell.Session, app *App) error {
	c := s.Pending.Config()
	name, err := askCertName(s, c)
	if err != nil {
		return err
	}
	r := certstore.Request{Name: name}
	if r.CommonName, err = s.Text("Enter Common Name:", c.Hostname, func(a string) error {
		if strings.TrimSpace(a) == "" {
			return fmt.Errorf("Please enter a value: the common name is required")
		}
		return nil
	}); err != nil {
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
	if r.Country, err = s.Text("Country (2 letter code):", "", checkCountry); err != nil {
		return err
	}
	if r.Days, err = askInt(s, "Duration before expiration (in days):", 3650, certDaysRange); err != nil {
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
	r.KeyType, r.KeyBits, r.ECDSATwin = keyChoices[k].typ, keyChoices[k].bits, keyChoices[k].twin
	s.Println("Generating the key and the certificate signing request...")
	cert, err := newCertificate(s, app, r)
	if err != nil {
		return err
	}
	s.Printf("Certificate %q created (self-signed until you paste the signed certificate with EDIT).\n", name)
	if cert.ECDSACSR != "" {
		s.Printf("Its ECDSA P-256 twin has a signing request of its own: have both signed, and paste each with EDIT.\n")
	}
	how, err := s.Choose("What do you want to do with the certificate signing request (CSR)?", []string{"Print it", "Write it to a file in the configuration directory", "Nothing now"}, 1)
	if err != nil {
		return err
	}
	switch how {
	case 0:
		printCSRs(s, cert)
	case 1:
		file, err := s.Text("Enter the file name for the CSR:", cert.Name+".csr", check(func(a string) (string, error) { return configFile(app, a) }))
		if err != nil {
			return err
		}
		twinFile := ""
		if cert.ECDSACSR != "" {
			if twinFile, err = s.Text("Enter the file name for the ECDSA twin's CSR:", twinCSRFile(file), check(func(a string) (string, error) { return configFile(app, a) })); err != nil {
				return err
			}
		}
		return writeCSRs(s, app, cert, file, twinFile)
	}
	return nil
}

// twinCSRFile is the default file of a twin's CSR beside the file of its
// certificate's: mail.csr → mail-ecdsa.csr.
func twinCSRFile(file string) string {
	if i := strings.LastIndex(file, "."); i > 0 {
		return file[:i] + "-ecdsa" + file[i:]
	}
	return file + "-ecdsa"
}

// printCSRs prints the pending signing requests of cert and of its twin.
func printCSRs(s *shell.Session, cert config.Certificate) {
	if cert.CSR != "" {
		s.Println()
		s.Print(cert.CSR)
	}
	if cert.ECDSACSR != "" {
		s.Println()
		s.Println("The ECDSA twin's signing request:")
		s.Print(cert.ECDSACSR)
	}
}

// writeCSRs writes the signing request of cert to file and, when twinFile
// is set, its twin's to twinFile.
func writeCSRs(s *shell.Session, app *App, cert config.Certificate, file, twinFile string) error {
	if err := writeConfigFile(s, app, file, []byte(cert.CSR)); err != nil {
		return err
	}
	if twinFile == "" || cert.ECDSACSR == "" {
		return nil
	}
	return writeConfigFile(s, app, twinFile, []byte(cert.ECDSACSR))
}

// newCertificate makes the key, the self-signed certificate and its CSR.
func newCertificate(s *shell.Session, app *App, r certstore.Request) (config.Certificate, error) {
	r.Country = strings.ToUpper(r.Country)
	cert, err := app.Certs.NewRequest(r)
	if err != nil {
		return cert, err
	}
	// No warnings: a new certificate is self-signed until its CSR is signed.
	return cert, s.Pending.Config().PutCertificate(cert)
}

// pasteChain reads a certificate and any intermediates.
func pasteChain(s *shell.Session, first string) (string, error) {
	text, err := s.BlockChecked(first, checkCertificates)
	if err != nil {
		return "", err
	}
	more, err := intermediates(s)
	return text + more, err
}

// intermediates asks for intermediate certificates until the admin says no.
func intermediates(s *shell.Session) (string, error) {
	var text string
	for {
		more, err := s.YesNo("Do you want to add an intermediate certificate?", false)
		if err != nil || !more {
			return text, err
		}
		inter, err := s.BlockChecked("Paste intermediate certificate in PEM format.", checkCertificates)
		if err != nil {
			return "", err
		}
		text += inter
	}
}

func pasteDialog(s *shell.Session, app *App) error {
	name, err := askCertName(s, s.Pending.Config())
	if err != nil {
		return err
	}
	chain, keyText, err := askCertKeyChain(s, "Paste public certificate in PEM format.", "Paste private key in PEM format.")
	if err != nil {
		return err
	}
	cert, warnings, err := app.Certs.FromPEM(name, chain, keyText)
	if err != nil {
		return err
	}
	return storeCertificate(s, cert, warnings, "added")
}

func editDialog(s *shell.Session, app *App, cert config.Certificate) error {
	if cert.CSR != "" || cert.ECDSACSR != "" {
		question := "Do you want to view the certificate signing request?"
		if cert.CSR != "" && cert.ECDSACSR != "" {
			question = "Do you want to view the certificate signing requests (RSA and ECDSA twin)?"
		} else if cert.CSR == "" {
			question = "Do you want to view the ECDSA twin's certificate signing request?"
		}
		view, err := s.YesNo(question, false)
		if err != nil {
			return err
		}
		if view {
			printCSRs(s, cert)
		}
	}
	question := "Do you want to paste a signed certificate for this key?"
	if cert.ECDSAKey != "" {
		question = "Do you want to paste a signed certificate for this key or its ECDSA twin's?"
	}
	update, err := s.YesNo(question, false)
	if err != nil || !update {
		return err
	}
	chain, err := pasteChain(s, "Paste the signed certificate in PEM format.")
	if err != nil {
		return err
	}
	return attachSigned(s, app, cert, chain, "updated")
}

func attachSigned(s *shell.Session, app *App, cert config.Certificate, chain, done string) error {
	signed, warnings, err := app.Certs.AttachSigned(cert, chain)
	if err != nil {
		return err
	}
	return storeCertificate(s, signed, warnings, done)
}

// askPassphrase asks for a passphrase; Enter (an empty one) goes back.
func askPassphrase(s *shell.Session, question string, valid func(string) error) (string, error) {
	return emptyGoesBack(func(check func(string) error) (string, error) { return s.Secret(question, check) }, valid)
}

func importDialog(s *shell.Session, app *App) error {
	name, err := askCertName(s, s.Pending.Config())
	if err != nil {
		return err
	}
	data, err := askConfigFile(s, app, "Enter the name of the PKCS#12 file in the configuration directory to import:")
	if err != nil {
		return err
	}
	_, err = askPassphrase(s, "Enter passphrase:", func(p string) error { return importCertificate(s, app, name, data, p) })
	return err
}

func importCertificate(s *shell.Session, app *App, name string, data []byte, passphrase string) error {
	cert, warnings, err := app.Certs.ImportPKCS12(s.Context(), name, data, passphrase)
	if err != nil {
		return err
	}
	return storeCertificate(s, cert, warnings, "imported")
}

func exportDialog(s *shell.Session, app *App, cert config.Certificate) error {
	file, err := s.Text("Enter the file name to export to (in the configuration directory):", cert.Name+".p12", check(func(a string) (string, error) { return configFile(app, a) }))
	if err != nil {
		return err
	}
	pass, err := askPassphrase(s, "Enter passphrase:", func(p string) error {
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
	return exportCertificate(s, app, cert, file, pass)
}

func exportCertificate(s *shell.Session, app *App, cert config.Certificate, file, passphrase string) error {
	if _, err := configFile(app, file); err != nil {
		return err
	}
	data, err := app.Certs.ExportPKCS12(cert, passphrase)
	if err != nil {
		return err
	}
	return writeConfigFile(s, app, file, data)
}

func deleteDialog(s *shell.Session, cert config.Certificate) error {
	c := s.Pending.Config()
	if uses := c.CertificateUsers(cert.Name); len(uses) > 0 {
		return c.DeleteCertificate(cert.Name) // refused, saying where it is used
	}
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the certificate %q?", cert.Name), false)
	if err != nil || !ok {
		return err
	}
	if err := c.DeleteCertificate(cert.Name); err != nil {
		return err
	}
	s.Printf("Certificate %q deleted.\n", cert.Name)
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
	uses := c.CertificateUsers(cert.Name)
	if len(uses) == 0 {
		uses = []string{"not used"}
	}
	s.Printf("Used by:             %s\n", strings.Join(uses, ", "))
	if info.Pending {
		s.Println("Signing request:     pending (paste the signed certificate with EDIT)")
	}
	printTwin(s, cert, now)
	printWarnings(s, c, cert)
	s.Println()
	s.Print(cert.PEM)
	if cert.ECDSAPEM != "" {
		s.Println()
		s.Println("ECDSA twin:")
		s.Print(cert.ECDSAPEM)
	}
}

// printTwin prints the ECDSA twin lines of PRINT (never its key).
func printTwin(s *shell.Session, cert config.Certificate, now time.Time) {
	twin, ok := certstore.Twin(cert)
	if !ok {
		return
	}
	info, err := certstore.Inspect(twin)
	if err != nil {
		s.Printf("ECDSA twin:          unreadable (%v): remove it with ECDSA DELETE, or paste it again\n", err)
		return
	}
	s.Printf("ECDSA twin:          %s, SHA-256 fingerprint %s (offered first to clients that accept ECDSA)\n", info.KeyType, info.SHA256Fingerprint)
	s.Printf("ECDSA twin valid:    %s to %s (%d days left)\n", stamp(info.NotBefore), stamp(info.NotAfter), info.RemainingDays(now))
	s.Printf("ECDSA twin issuer:   %s (%s, chain: %d certificate(s))\n", info.IssuedBy, info.SignatureAlgorithm, info.ChainLength)
	if info.Pending {
		s.Println("ECDSA twin request:  pending (paste its signed certificate with EDIT)")
	}
}

// certSecrets names the passphrase of "certconfig import|export NAME FILE
// PASSPHRASE" as secret, and every word after it too: a passphrase with a
// blank typed without quotes is split into several words.
func certSecrets(args []string) []int {
	from := 3
	switch {
	case len(args) >= 5 && strings.EqualFold(args[0], "ecdsa") && strings.EqualFold(args[2], "import"):
		from = 4 // certconfig ecdsa NAME import FILE PASSPHRASE
	case len(args) < 4 || (!strings.EqualFold(args[0], "import") && !strings.EqualFold(args[0], "export")):
		return nil
	}
	var out []int
	for i := from; i < len(args); i++ {
		out = append(out, i)
	}
	return out
}

// newRequest reads the key=value words of "certconfig new NAME …".
func newRequest(name string, kv map[string]string) (certstore.Request, error) {
	r := certstore.Request{Name: name, CommonName: kv["cn"], Organization: kv["o"], Unit: kv["ou"], Locality: kv["l"], State: kv["st"], Country: kv["c"], Days: 3650, KeyType: "rsa", KeyBits: 2048}
	if d, ok := kv["days"]; ok {
		var err error
		if r.Days, err = strconv.Atoi(d); err != nil {
			return r, fmt.Errorf("days=%q is not a number of days", d)
		}
	}
	if k, ok := kv["key"]; ok {
		i := -1
		for j, kc := range keyChoices {
			if kc.word == strings.ToLower(k) {
				i = j
			}
		}
		if i < 0 {
			return r, fmt.Errorf("key=%q is not offered: use %s", k, strings.ReplaceAll(keyWords(), "|", ", "))
		}
		r.KeyType, r.KeyBits, r.ECDSATwin = keyChoices[i].typ, keyChoices[i].bits, keyChoices[i].twin
	}
	if t, ok := kv["twin"]; ok {
		switch strings.ToLower(t) {
		case "yes", "y":
			r.ECDSATwin = true
		case "no", "n":
		default:
			return r, fmt.Errorf("twin=%q is neither yes nor no: twin=yes also makes an ECDSA P-256 twin of an RSA certificate", t)
		}
	}
	return r, nil
}

func certBatch(s *shell.Session, app *App, args []string) error {
	c := s.Pending.Config()
	forms := map[string]struct {
		n    int
		form string
	}{
		"csr": {3, "certconfig csr NAME FILE"}, "signed": {3, "certconfig signed NAME FILE"},
		"import": {4, "certconfig import NAME FILE PASSPHRASE"}, "export": {4, "certconfig export NAME FILE PASSPHRASE"},
		"print": {2, "certconfig print NAME"}, "delete": {2, "certconfig delete NAME"},
	}
	verb := strings.ToLower(args[0])
	if f, ok := forms[verb]; ok && len(args) != f.n {
		return usage("certconfig", f.form)
	}
	// The forms that name an existing certificate.
	var cert config.Certificate
	if verb == "csr" || verb == "signed" || verb == "export" || verb == "print" {
		found, err := c.FindCertificate(args[1])
		if err != nil {
			return err
		}
		cert = *found
	}
	switch verb {
	case "list":
		printCertList(s, c)
		return nil
	case "new":
		if len(args) < 3 {
			return usage("certconfig", "certconfig new NAME cn=CN c=CC [o=…] [ou=…] [l=…] [st=…] [days=N] [key="+keyWords()+"] [twin=yes|no] [csr=FILE]")
		}
		kv, err := parseKV(args[2:], "cn", "o", "ou", "l", "st", "c", "days", "key", "twin", "csr")
		if err != nil {
			return err
		}
		r, err := newRequest(args[1], kv)
		if err != nil {
			return err
		}
		if err := refuseExisting(c, r.Name); err != nil {
			return err
		}
		file, csr := kv["csr"]
		if _, err := configFile(app, file); csr && err != nil {
			return err
		}
		if _, err := configFile(app, twinCSRFile(file)); csr && r.ECDSATwin && err != nil {
			return err
		}
		cert, err := newCertificate(s, app, r)
		if err != nil || !csr {
			return err
		}
		return writeCSRs(s, app, cert, file, twinCSRFile(file))
	case "csr":
		if cert.CSR == "" && cert.ECDSACSR != "" {
			return fmt.Errorf("certificate %q has no pending signing request, but its ECDSA twin has one: certconfig ecdsa %s csr FILE writes it", cert.Name, cert.Name)
		}
		if cert.CSR == "" {
			return fmt.Errorf("certificate %q has no pending signing request", cert.Name)
		}
		return writeConfigFile(s, app, args[2], []byte(cert.CSR))
	case "signed":
		data, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		return attachSigned(s, app, cert, string(data), "")
	case "import":
		if err := checkBatchSecret("passphrase", args[3]); err != nil {
			return err
		}
		data, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		if err := refuseExisting(c, args[1]); err != nil {
			return err
		}
		return importCertificate(s, app, args[1], data, args[3])
	case "export":
		if err := checkBatchSecret("passphrase", args[3]); err != nil {
			return err
		}
		return exportCertificate(s, app, cert, args[2], args[3])
	case "print":
		printCertificate(s, c, cert)
		return nil
	case "delete":
		return c.DeleteCertificate(args[1])
	case "ca":
		return caBatch(s, app, args[1:])
	case "ecdsa":
		return twinBatch(s, app, args[1:])
	}
	return usage("certconfig", "certconfig list|new|csr|signed|import|export|print|delete|ecdsa|ca … (see help certconfig)")
}

// twinMenu is CERTIFICATE → ECDSA for the certificate name: it says which
// ECDSA twin the certificate has and offers what can be done with it. The
// operations ask first, so Enter goes back without a change.
func twinMenu(s *shell.Session, app *App, name string) error {
	cur := func() config.Certificate { return *s.Pending.Config().Certificate(name) }
	if err := certstore.CanHaveTwin(cur()); err != nil {
		return err
	}
	return loopMenu(s, func() { printTwinState(s, cur()) }, func() []menuOp {
		has := cur().ECDSAPEM != ""
		var ops []menuOp
		if !has {
			ops = append(ops, menuOp{"NEW", "Create a self-signed ECDSA P-256 twin (with its CSR when the certificate awaits signing)", func() error { return twinNewDialog(s, app, cur()) }})
		}
		replacing := ""
		if has {
			replacing = ", replacing the current twin"
		}
		ops = append(ops,
			menuOp{"PASTE", "Paste an ECDSA certificate, its private key and intermediates" + replacing, func() error { return twinPasteDialog(s, app, cur()) }},
			menuOp{"IMPORT", "Import an ECDSA certificate and its key from a PKCS#12 file" + replacing, func() error { return twinImportDialog(s, app, cur()) }})
		if has {
			ops = append(ops, menuOp{"DELETE", "Remove the ECDSA twin (the RSA certificate stays)", func() error { return twinDeleteDialog(s, cur()) }})
		}
		return ops
	})
}

// printTwinState says whether cert has an ECDSA twin, and which.
func printTwinState(s *shell.Session, cert config.Certificate) {
	s.Println()
	twin, ok := certstore.Twin(cert)
	if !ok {
		s.Printf("Certificate %q has no ECDSA twin: every client gets its RSA certificate.\n", cert.Name)
		return
	}
	info, err := certstore.Inspect(twin)
	if err != nil {
		s.Printf("Certificate %q has an ECDSA twin that does not read (%v): remove it with DELETE, or paste it again.\n", cert.Name, err)
		return
	}
	pending := ""
	if info.Pending {
		pending = ", its signing request pending"
	}
	s.Printf("Certificate %q has the ECDSA twin %s issued by %s, valid until %s%s,\nSHA-256 fingerprint %s.\n",
		cert.Name, info.KeyType, info.IssuedBy, stamp(info.NotAfter), pending, info.SHA256Fingerprint)
}

func twinNewDialog(s *shell.Session, app *App, cert config.Certificate) error {
	ok, err := s.YesNo(fmt.Sprintf("Do you want to create a self-signed ECDSA P-256 twin for %q?", cert.Name), false)
	if err != nil || !ok {
		return err
	}
	return twinNew(s, app, cert)
}

func twinPasteDialog(s *shell.Session, app *App, cert config.Certificate) error {
	ok, err := s.YesNo(fmt.Sprintf("Do you want to paste an ECDSA certificate and its private key as the twin of %q?", cert.Name), false)
	if err != nil || !ok {
		return err
	}
	chain, keyText, err := askCertKeyChain(s, "Paste the ECDSA certificate in PEM format.", "Paste its private key in PEM format.")
	if err != nil {
		return err
	}
	return twinPaste(s, app, cert, chain, keyText)
}

// askCertKeyChain asks PASTE's three questions: the certificate, its
// private key and the intermediates; it returns the certificate followed
// by the intermediates, and the key.
func askCertKeyChain(s *shell.Session, certPrompt, keyPrompt string) (chain, key string, err error) {
	certText, err := s.BlockChecked(certPrompt, checkCertificates)
	if err != nil {
		return "", "", err
	}
	if key, err = s.BlockChecked(keyPrompt, checkKey); err != nil {
		return "", "", err
	}
	inter, err := intermediates(s)
	if err != nil {
		return "", "", err
	}
	return certText + inter, key, nil
}

func twinImportDialog(s *shell.Session, app *App, cert config.Certificate) error {
	data, err := askConfigFile(s, app, "Enter the name of the PKCS#12 file in the configuration directory that holds the ECDSA certificate and key:")
	if err != nil {
		return err
	}
	_, err = askPassphrase(s, "Enter passphrase:", func(p string) error { return twinImport(s, app, cert, data, p) })
	return err
}

func twinDeleteDialog(s *shell.Session, cert config.Certificate) error {
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to remove the ECDSA twin of %q?", cert.Name), false)
	if err != nil || !ok {
		return err
	}
	return twinDelete(s, cert)
}

// twinNew, twinPaste, twinImport and twinDelete are the ECDSA operations of
// both the dialog and the batch form.

func twinNew(s *shell.Session, app *App, cert config.Certificate) error {
	paired, err := app.Certs.AddECDSATwin(cert)
	if err != nil {
		return err
	}
	if err := storeTwin(s, paired, nil, "created"); err != nil {
		return err
	}
	if paired.ECDSACSR != "" {
		s.Printf("Its signing request is pending: have it signed with the certificate's (certconfig ecdsa %s csr FILE writes it), and paste it with EDIT.\n", cert.Name)
	}
	return nil
}

func twinPaste(s *shell.Session, app *App, cert config.Certificate, chain, key string) error {
	paired, warnings, err := app.Certs.TwinFromPEM(cert, chain, key)
	if err != nil {
		return err
	}
	return storeTwin(s, paired, warnings, "added")
}

func twinImport(s *shell.Session, app *App, cert config.Certificate, data []byte, passphrase string) error {
	paired, warnings, err := app.Certs.TwinFromPKCS12(s.Context(), cert, data, passphrase)
	if err != nil {
		return err
	}
	return storeTwin(s, paired, warnings, "imported")
}

// storeTwin stores a certificate whose twin was made, pasted or imported,
// and says so and where it will be offered.
func storeTwin(s *shell.Session, paired config.Certificate, warnings []string, done string) error {
	c := s.Pending.Config()
	if err := c.PutCertificate(paired); err != nil {
		return err
	}
	// Only the twin's warnings: those of its certificate are not news.
	printSomeWarnings(s, c, paired, func(w string) bool { return strings.HasPrefix(w, certstore.TwinWarningPrefix) }, warnings...)
	s.Printf("The ECDSA twin of certificate %q was %s.\n", paired.Name, done)
	if uses := s.Pending.Config().CertificateUsers(paired.Name); len(uses) > 0 {
		s.Printf("After commit it is offered to the clients that accept ECDSA by %s; the others get the RSA certificate.\n", strings.Join(uses, ", "))
	}
	return nil
}

func twinDelete(s *shell.Session, cert config.Certificate) error {
	if cert.ECDSAPEM == "" {
		return fmt.Errorf("certificate %q has no ECDSA twin to remove (certconfig print %s shows it)", cert.Name, cert.Name)
	}
	c := s.Pending.Config()
	if err := c.PutCertificate(certstore.WithoutTwin(cert)); err != nil {
		return err
	}
	s.Printf("The ECDSA twin of certificate %q was removed.\n", cert.Name)
	if uses := c.CertificateUsers(cert.Name); len(uses) > 0 {
		s.Printf("Certificate %q is in use by %s: after commit they offer only its RSA certificate.\n", cert.Name, strings.Join(uses, ", "))
	}
	return nil
}

// twinBatch is "certconfig ecdsa NAME new|paste|import|csr|delete …".
func twinBatch(s *shell.Session, app *App, args []string) error {
	const form = "certconfig ecdsa NAME new | paste CERTFILE KEYFILE | import FILE PASSPHRASE | csr FILE | delete"
	if len(args) < 2 {
		return usage("certconfig", form)
	}
	n := map[string]int{"new": 2, "paste": 4, "import": 4, "csr": 3, "delete": 2}
	verb := strings.ToLower(args[1])
	if want, ok := n[verb]; !ok || len(args) != want {
		return usage("certconfig", form)
	}
	found, err := s.Pending.Config().FindCertificate(args[0])
	if err != nil {
		return err
	}
	cert := *found
	switch verb {
	case "new":
		return twinNew(s, app, cert)
	case "paste":
		chain, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		key, err := readConfigFile(app, args[3])
		if err != nil {
			return err
		}
		return twinPaste(s, app, cert, string(chain), string(key))
	case "import":
		if err := checkBatchSecret("passphrase", args[3]); err != nil {
			return err
		}
		data, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		return twinImport(s, app, cert, data, args[3])
	case "csr":
		if cert.ECDSACSR == "" {
			return fmt.Errorf("certificate %q has no ECDSA twin with a pending signing request", cert.Name)
		}
		return writeConfigFile(s, app, args[2], []byte(cert.ECDSACSR))
	}
	return twinDelete(s, cert)
}
