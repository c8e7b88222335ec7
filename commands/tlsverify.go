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
	return shell.Command{
		Name:    "tlsverify",
		Summary: "Check the TLS connection to a destination domain as delivery would make it.",
		Help: `Connects to the domain's hosts (smtproutes, else MX) with the domain's TLS level
from destination controls and the OUTBOUND TLS settings, prints each step, the
negotiated version and cipher, and the certificate verification result. No mail
is sent. Uses the committed configuration.

Batch form:
  tlsverify DOMAIN`,
		Run: func(s *shell.Session, args []string) error {
			domain := ""
			switch len(args) {
			case 1:
				domain = args[0]
			case 0:
				var err error
				if domain, err = s.Text("Enter the TLS domain to verify against:", "", func(a string) error {
					if a == "" || strings.ContainsAny(a, " @") {
						return fmt.Errorf("Please enter a domain, e.g. example.com")
					}
					return nil
				}); err != nil {
					return err
				}
			default:
				return usage("tlsverify", "tlsverify DOMAIN")
			}
			s.Println()
			return app.Verifier.Verify(s.Context(), strings.ToLower(domain), func(format string, a ...any) {
				s.Printf(format+"\n", a...)
			})
		},
	}
}
