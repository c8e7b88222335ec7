package commands

import (
	"crypto/tls"
	"fmt"
	"strings"

	"relaybox/cipherstring"
	"relaybox/config"
	"relaybox/shell"
	"relaybox/shell/selection"
)

const sslconfigHelp = `Shows and edits the TLS settings of GUI HTTPS, inbound SMTP and outbound SMTP.

Dialog: sslconfig prints the current methods and ciphers, then the operations:
  GUI, INBOUND, OUTBOUND  methods (1. TLS v1.3 2. TLS v1.2 3. TLS v1.1 4. TLS v1.0;
                          a number, a range 1-3 or a list 1,2; contiguous only),
                          the OpenSSL cipher string for TLS v1.0-v1.2, and
                          TLS renegotiation (GUI and INBOUND).
  VERIFY                  expand a cipher string into the suites it selects.
  OTHER_CLIENT_TLSV10     allow TLS v1.0 for the other TLS client services,
  PEER_CERT_FQDN          peer certificate FQDN validation (outbound),
  PEER_CERT_X509          peer certificate X.509 validation (outbound): each
                          says its state and offers ENABLE or DISABLE;
                          Enter keeps it.
TLS v1.3 always uses its three fixed suites; cipher strings do not apply to it.

Batch forms:
  sslconfig print
  sslconfig gui|inbound|outbound methods SELECTION     e.g. sslconfig inbound methods 1-3
  sslconfig gui|inbound|outbound ciphers STRING        e.g. sslconfig outbound ciphers HIGH:!aNULL
  sslconfig gui|inbound renegotiation disable
  sslconfig verify STRING
  sslconfig other_client_tlsv10|peer_cert_fqdn|peer_cert_x509 enable|disable
Changes are pending until commit.`

// sslService names one of the three services.
type sslService struct {
	word, label, long string
	get               func(*config.SSL) *config.Service
	renegotiation     bool
}

var sslServices = []sslService{
	{"GUI", "GUI HTTPS", "GUI HTTPS", func(s *config.SSL) *config.Service { return &s.GUI }, true},
	{"INBOUND", "Inbound SMTP", "inbound SMTP", func(s *config.SSL) *config.Service { return &s.Inbound }, true},
	{"OUTBOUND", "Outbound SMTP", "outbound SMTP", func(s *config.SSL) *config.Service { return &s.Outbound }, false},
}

// sslToggle is one of the on/off settings.
type sslToggle struct {
	word, what string
	get        func(*config.SSL) *bool
}

var sslToggles = []sslToggle{
	{"OTHER_CLIENT_TLSV10", "TLS v1.0 for other TLS client services", func(s *config.SSL) *bool { return &s.OtherClientTLSv10 }},
	{"PEER_CERT_FQDN", "peer certificate FQDN validation", func(s *config.SSL) *bool { return &s.PeerCertFQDN }},
	{"PEER_CERT_X509", "peer certificate X.509 validation", func(s *config.SSL) *bool { return &s.PeerCertX509 }},
}

func sslconfig() shell.Command {
	return command("sslconfig", "Configure TLS methods and ciphers for GUI HTTPS, inbound and outbound SMTP.", sslconfigHelp, sslBatch, sslDialog)
}

func sslDialog(s *shell.Session) error {
	ssl := func() *config.SSL { return &s.Pending.Config().SSL }
	return loopMenu(s, func() { printSSL(s, ssl()) }, func() []menuOp {
		ops := []menuOp{
			{"GUI", "Edit GUI HTTPS ssl settings.", func() error { return editService(s, sslServices[0]) }},
			{"INBOUND", "Edit Inbound SMTP ssl settings.", func() error { return editService(s, sslServices[1]) }},
			{"OUTBOUND", "Edit Outbound SMTP ssl settings.", func() error { return editService(s, sslServices[2]) }},
			{"VERIFY", "Verify and show ssl cipher list.", func() error { return verifyDialog(s) }},
		}
		for _, t := range sslToggles {
			ops = append(ops, menuOp{t.word, "Configure " + t.what + ".", func() error { return toggleMenu(s, t.what, t.get(ssl())) }})
		}
		return ops
	})
}

func verifyDialog(s *shell.Session) error {
	str, err := askNew(s, "Enter the ssl cipher you want to verify.", func(string) error { return nil })
	if err != nil {
		return err
	}
	if err := printVerify(s, str); err != nil {
		if !s.Interactive() {
			return err
		}
		s.Println(err)
	}
	return nil
}

func serviceByWord(w string) sslService {
	for _, svc := range sslServices {
		if strings.EqualFold(svc.word, w) {
			return svc
		}
	}
	return sslService{}
}

func printSSL(s *shell.Session, ssl *config.SSL) {
	s.Println()
	s.Println("sslconfig settings:")
	for _, svc := range sslServices {
		v := svc.get(ssl)
		s.Printf("  %s method: %s\n", svc.label, config.MethodsToken(v.Methods))
		s.Printf("  %s ciphers:\n    %s\n", svc.label, v.Ciphers)
		if svc.renegotiation {
			s.Printf("  %s TLS renegotiation: %s\n", svc.label, enableWord(v.Renegotiation))
		}
		for _, w := range config.ServiceWarnings(*v) {
			s.Printf("  Warning: %s %s\n", svc.label, w)
		}
	}
	other := "TLS v1.2, TLS v1.1"
	if ssl.OtherClientTLSv10 {
		other += ", TLS v1.0"
	}
	s.Printf("  Other TLS client services: %s\n", other)
	s.Printf("  Peer certificate FQDN validation: %s\n", enableWord(ssl.PeerCertFQDN))
	s.Printf("  Peer certificate X509 validation: %s\n", enableWord(ssl.PeerCertX509))
	s.Printf("  TLS v1.3 uses its fixed cipher suites: %s\n", strings.Join(cipherstring.TLS13Suites, ", "))
}

// methodDefault renders the current methods as the menu default, e.g. "2-3".
func methodDefault(ms []config.Method) string {
	var items []int
	for i, m := range config.MenuMethods {
		for _, c := range ms {
			if c == m {
				items = append(items, i+1)
			}
		}
	}
	return selection.Format(items)
}

func methodsFrom(items []int) []config.Method {
	var out []config.Method
	for _, i := range items {
		out = append(out, config.MenuMethods[i-1])
	}
	return config.SortMethods(out)
}

// parseMethods turns a menu answer into methods, refusing gaps.
func parseMethods(answer string) ([]config.Method, error) {
	items, err := selection.ParseContiguous(answer, len(config.MenuMethods))
	if err != nil {
		return nil, err
	}
	return methodsFrom(items), nil
}

func editService(s *shell.Session, svc sslService) error {
	cur := *svc.get(&s.Pending.Config().SSL)
	next := cur
	s.Println()
	s.Printf("Enter the %s ssl method you want to use.\n", svc.long)
	for i, m := range config.MenuMethods {
		s.Printf("%d. %s\n", i+1, m.Label())
	}
	def := methodDefault(cur.Methods)
	_, err := s.Custom("["+def+"]> ", func(a string) error {
		if a == "" {
			a = def
		}
		ms, err := parseMethods(a)
		if err != nil {
			return err
		}
		next.Methods = ms
		return nil
	})
	if err != nil {
		return err
	}
	lo, _ := config.VersionRange(next.Methods)
	if _, hi := config.VersionRange(next.Methods); hi == tls.VersionTLS13 {
		s.Printf("TLS v1.3 always uses %s; the cipher string below applies to TLS v1.0-v1.2 only.\n", strings.Join(cipherstring.TLS13Suites, ", "))
	}
	if lo <= tls.VersionTLS12 {
		next.Ciphers, err = s.Text(fmt.Sprintf("Enter the %s ssl cipher you want to use.", svc.long), cur.Ciphers, func(a string) error {
			return config.ServiceProblems("ssl."+strings.ToLower(svc.word), config.Service{Methods: next.Methods, Ciphers: a})
		})
		if err != nil {
			return err
		}
	} else {
		s.Println("Only TLS v1.3 is enabled: the cipher string is kept but does not apply.")
	}
	if svc.renegotiation {
		s.Println()
		_, err := s.Custom(fmt.Sprintf("Do you want to enable TLS renegotiation for %s? [N]> ", svc.long), func(a string) error {
			switch a = strings.ToLower(a); {
			case a == "" || strings.HasPrefix(a, "n"):
				return nil
			case strings.HasPrefix(a, "y"):
				return errRenegotiation
			}
			return fmt.Errorf("Please answer Y or N (got %q)", a)
		})
		if err != nil {
			return err
		}
	}
	*svc.get(&s.Pending.Config().SSL) = next
	warnService(s, svc, next)
	return nil
}

func warnService(s *shell.Session, svc sslService, v config.Service) {
	for _, w := range config.ServiceWarnings(v) {
		s.Printf("Warning: %s %s\n", svc.label, w)
	}
}

var errRenegotiation = fmt.Errorf("TLS renegotiation cannot be enabled: this appliance's TLS stack refuses renegotiation (which also shields it from renegotiation attacks); answer N")

func printVerify(s *shell.Session, str string) error {
	res, err := config.Offered(str)
	if err != nil {
		return err
	}
	s.Println()
	for _, su := range res.Suites {
		s.Printf("%-32s %-7s Kx=%-6s Au=%-5s Enc=%-9s Mac=%s\n", su.Name, minTLSName(su.MinTLS), su.Kx, su.Au, su.Enc, su.Mac)
	}
	if len(res.Suites) == 0 {
		s.Println("The string selects no TLS v1.0-v1.2 cipher suite this appliance supports.")
	}
	for _, w := range res.Warnings {
		s.Println("Note:", w)
	}
	s.Printf("TLS v1.3 always uses: %s\n", strings.Join(cipherstring.TLS13Suites, ", "))
	return nil
}

func minTLSName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	default:
		return "TLSv1.2"
	}
}

func sslBatch(s *shell.Session, args []string) error {
	const form = "sslconfig gui|inbound|outbound methods|ciphers|renegotiation VALUE, sslconfig verify STRING, sslconfig print, sslconfig other_client_tlsv10|peer_cert_fqdn|peer_cert_x509 enable|disable"
	ssl := &s.Pending.Config().SSL
	word := strings.ToUpper(args[0])
	switch word {
	case "PRINT":
		printSSL(s, ssl)
		return nil
	case "VERIFY":
		if len(args) != 2 {
			return usage("sslconfig", "sslconfig verify STRING")
		}
		return printVerify(s, args[1])
	}
	for _, t := range sslToggles {
		if t.word == word {
			if len(args) != 2 {
				return usage("sslconfig", "sslconfig "+strings.ToLower(t.word)+" enable|disable")
			}
			v, err := onOff("sslconfig "+strings.ToLower(t.word), args[1])
			if err != nil {
				return err
			}
			*t.get(ssl) = v
			return nil
		}
	}
	svc := serviceByWord(word)
	if svc.word == "" || len(args) != 3 {
		return usage("sslconfig", form)
	}
	next := *svc.get(ssl)
	switch strings.ToLower(args[1]) {
	case "methods":
		ms, err := parseMethods(args[2])
		if err != nil {
			return err
		}
		next.Methods = ms
	case "ciphers":
		next.Ciphers = args[2]
	case "renegotiation":
		on, err := onOff("sslconfig "+strings.ToLower(svc.word)+" renegotiation", args[2])
		if err != nil {
			return err
		}
		if !svc.renegotiation {
			return fmt.Errorf("sslconfig: renegotiation applies to GUI and INBOUND only")
		}
		if on {
			return errRenegotiation
		}
		next.Renegotiation = false
	default:
		return usage("sslconfig", form)
	}
	if err := config.ServiceProblems("ssl."+strings.ToLower(svc.word), next); err != nil {
		return err
	}
	*svc.get(ssl) = next
	warnService(s, svc, next)
	return nil
}
