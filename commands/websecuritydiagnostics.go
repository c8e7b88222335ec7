package commands

import (
	"context"

	"relaybox/config"
	"relaybox/shell"
)

// WebSecurityDiagnoser makes the diagnostic connection to a configuration's
// web security service (websecurity.Diagnostics).
type WebSecurityDiagnoser interface {
	Diagnose(ctx context.Context, c *config.Config, report func(format string, args ...any)) error
}

func websecuritydiagnostics(app *App) shell.Command {
	return command("websecuritydiagnostics", "Test the mutual-TLS connection to the web security service, step by step.", `Connects to the web security service of websecurityconfig as a lookup does and
prints each step: the service's addresses (DNS) and the connection, the TLS
version and cipher, the server's certificate chain and whether it verifies
against the trust store and carries the host name (refused only when
sslconfig PEER_CERT_X509 / PEER_CERT_FQDN is on; said either way), whether the
server asked for and accepted the client certificate, and the HTTP status and
verdict of a test lookup. A step that fails says what to change. Uses the
pending configuration: your uncommitted changes are tested too. No mail is
involved.`, func(s *shell.Session, args []string) error {
		return usage("websecuritydiagnostics", "websecuritydiagnostics")
	}, func(s *shell.Session) error {
		s.Println()
		return app.WebSecurity.Diagnose(s.Context(), s.Pending.Config(), func(format string, a ...any) {
			s.Printf(format+"\n", a...)
		})
	})
}
