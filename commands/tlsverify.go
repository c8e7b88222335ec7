package commands

import (
	"context"
	"fmt"
	"strings"

	"relaybox/shell"
)

// Verifier checks delivery to a domain without sending mail.
type Verifier interface {
	Verify(ctx context.Context, domain string, report func(format string, args ...any)) error
}

func tlsverify(app *App) shell.Command {
	verify := func(s *shell.Session, domain string) error {
		s.Println()
		return app.Verifier.Verify(s.Context(), strings.ToLower(domain), func(format string, a ...any) {
			s.Printf(format+"\n", a...)
		})
	}
	return command("tlsverify", "Check the TLS connection to a destination domain as delivery would make it.", `Connects to the domain's hosts (smtproutes, else MX) with the domain's TLS level
from destination controls and the OUTBOUND TLS settings, prints each step, the
negotiated version and cipher, and the certificate verification result. No mail
is sent. Uses the committed configuration.

Batch form:
  tlsverify DOMAIN`, func(s *shell.Session, args []string) error {
		if len(args) != 1 {
			return usage("tlsverify", "tlsverify DOMAIN")
		}
		return verify(s, args[0])
	}, func(s *shell.Session) error {
		domain, err := askNew(s, "Enter the TLS domain to verify against:", func(a string) error {
			if strings.ContainsAny(a, " @") {
				return fmt.Errorf("Please enter a domain, e.g. example.com")
			}
			return nil
		})
		if err != nil {
			return err
		}
		return verify(s, domain)
	})
}
