package commands

import (
	"errors"
	"strings"

	"relaybox/shell"
)

// healthChecker is what health needs of the engine (mailengine.Engine.Health).
type healthChecker interface {
	Health() error
}

// health is the check a container's HEALTHCHECK runs (relaybox health): it
// fails, naming each socket, when a configured listener or an interface's
// HTTPS or SSH port is not served.
func health(app *App) shell.Command {
	return shell.Command{
		Name:    "health",
		Summary: "Check that every configured listener and HTTPS/SSH port is served.",
		Help: `Checks that the engine serves everything the committed configuration names: every
SMTP listener, and each interface's HTTPS port (and SSH port), bound and listening.
Prints "healthy" and what it checked; otherwise fails, naming each socket that is not
served. "relaybox health" runs it over the control socket, so a container's
HEALTHCHECK (or a monitoring script) gets its exit status.

Batch form:
  health`,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 0 {
				return usage("health", "health")
			}
			hc, ok := app.Engine.(healthChecker)
			if !ok {
				return errors.New("health: this engine cannot report its health")
			}
			if err := hc.Health(); err != nil {
				return errors.New("unhealthy: " + strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			st := app.Engine.Status()
			s.Printf("healthy: configuration version %d, %d sockets listening\n", st.ConfigVersion, len(st.Endpoints))
			return nil
		},
	}
}
