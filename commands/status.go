package commands

import (
	"cmp"
	"slices"
	"time"

	"relaybox/config"
	"relaybox/mailengine"
	"relaybox/shell"
)

func status(app *App) shell.Command {
	return shell.Command{
		Name:    "status",
		Summary: "Show uptime, listeners, connections and the configuration version.",
		Help: `Prints what the appliance is running now.

Batch form:
  status`,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 0 {
				return usage("status", "status")
			}
			st := app.Engine.Status()
			c := app.Store.Current()
			s.Println()
			s.Printf("Status as of:            %s\n", stamp(time.Now()))
			s.Printf("Up since:                %s (%s)\n", stamp(st.Started), time.Since(st.Started).Round(time.Second))
			s.Printf("Version:                 %s\n", app.Version)
			s.Printf("Configuration version:   %d (committed %s by %s: \"%s\")\n", c.Version, stamp(c.Time), config.EscapeControl(c.User), config.EscapeControl(c.Comment))
			s.Printf("Uncommitted changes:     %s\n", map[bool]string{true: "yes (this session)", false: "none"}[s.Pending.Changed()])
			if app.Queue != nil {
				s.Printf("Messages in queue:       %d\n", app.Queue.Count())
			}
			if app.Outbound != nil {
				open, idle := app.Outbound.OutboundConnections()
				s.Printf("Outbound connections:    %d open, %d of them idle\n", open, idle)
			}
			s.Println()
			s.Printf("%-6s %-14s %-22s %-17s %s\n", "Kind", "Name", "Address", "TLS", "Connections")
			endpoints := slices.Clone(st.Endpoints)
			slices.SortStableFunc(endpoints, func(x, y mailengine.EndpointStatus) int {
				return cmp.Or(cmp.Compare(kindOrder(x.Kind), kindOrder(y.Kind)), cmp.Compare(x.Name, y.Name))
			})
			for _, e := range endpoints {
				s.Printf("%-6s %-14s %-22s %-17s %d\n", e.Kind, e.Name, e.Addr, e.TLS, e.Active)
			}
			if len(app.HostKeys) > 0 {
				s.Println()
				s.Println("SSH host keys (compare with what ssh shows at the first login):")
				for _, k := range app.HostKeys {
					s.Printf("  %s\n", k)
				}
			}
			return nil
		},
	}
}

// kindOrder lists the SMTP listeners first, then the other services.
func kindOrder(kind string) int {
	if i := slices.Index([]string{"smtp", "https", "ssh"}, kind); i >= 0 {
		return i
	}
	return 9
}

func version(app *App) shell.Command {
	return shell.Command{
		Name:    "version",
		Summary: "Show the Relaybox version, commit and Go version.",
		Help:    "Batch form:\n  version",
		Run: func(s *shell.Session, args []string) error {
			s.Println(app.Version)
			return nil
		},
	}
}
