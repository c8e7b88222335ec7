package commands

import (
	"fmt"
	"strconv"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

// chooseCertificate asks for one of the configured certificates, current as
// the default. Choosing the Demo certificate needs a confirmation, as on the
// appliance (seed 002): it is the same on every box and so not secure.
func chooseCertificate(s *shell.Session, c *config.Config, current string) (string, error) {
	items := make([]string, len(c.Certificates))
	def := 0
	for i, cert := range c.Certificates {
		items[i] = cert.Name
		if strings.EqualFold(cert.Name, current) {
			def = i + 1
		}
	}
	if len(items) == 0 {
		return "", fmt.Errorf("there are no certificates: create one with certconfig")
	}
	for {
		i, err := s.Choose("Please choose the certificate to apply:", items, def)
		if err != nil {
			return "", err
		}
		name := c.Certificates[i].Name
		if ok, err := confirmDemo(s, name); err != nil || ok {
			return name, err
		}
	}
}

// confirmDemo asks before the Demo certificate is used; other names pass.
func confirmDemo(s *shell.Session, name string) (bool, error) {
	if !strings.EqualFold(name, config.DemoCertificate) {
		return true, nil
	}
	s.Printf("You may use %q, but this will not be secure.\n", name)
	return s.YesNo(fmt.Sprintf("Do you really wish to use the %q certificate?", name), false)
}

// certificateByName resolves a batch-form certificate argument.
func certificateByName(c *config.Config, name string) (string, error) {
	if cert := c.Certificate(name); cert != nil {
		return cert.Name, nil
	}
	return "", fmt.Errorf("certificate %q does not exist: certconfig lists the certificates", name)
}

// askInt asks for a whole number within [lo, hi].
func askInt(s *shell.Session, question string, def, lo, hi int) (int, error) {
	var v int
	_, err := s.Text(question, strconv.Itoa(def), func(a string) error {
		n, err := strconv.Atoi(a)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("Value must be a number from %d to %d", lo, hi)
		}
		v = n
		return nil
	})
	return v, err
}

// splitList splits a comma or space separated answer into its items.
func splitList(a string) []string {
	return strings.FieldsFunc(a, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}
