package commands

import (
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

const smtproutesHelp = `Static routes: mail for a domain goes to the listed hosts (tried in order)
instead of the domain's MX hosts. ".example.com" matches its subdomains; the most
specific route wins. A host is "host", "host:port" or USEDNS (MX lookup).

Batch forms:
  smtproutes new DOMAIN HOST[:PORT][,HOST[:PORT]…]|USEDNS
  smtproutes delete DOMAIN
  smtproutes print
  smtproutes clear
Changes are pending until commit.`

func smtproutes() shell.Command {
	return command("smtproutes", "Set up permanent domain redirections (static delivery routes).", smtproutesHelp,
		func(s *shell.Session, args []string) error { return routesBatch(s, s.Pending.Config(), args) },
		func(s *shell.Session) error {
			c := s.Pending.Config()
			return loopMenu(s, func() { s.Printf("\nThere are currently %d routes configured.\n", len(c.Routes)) }, fixed(
				menuOp{"NEW", "Create a new route.", func() error { return newRoute(s, c) }},
				menuOp{"EDIT", "Edit destinations of an existing route.", func() error { return editRoute(s, c) }},
				menuOp{"DELETE", "Remove a route.", func() error {
					r, err := askRoute(s, c, "Enter the hostname you want to delete.")
					if err != nil {
						return err
					}
					return c.DeleteRoute(r.Domain)
				}},
				menuOp{"PRINT", "Display all routes.", func() error { printRoutes(s, c); return nil }},
				menuOp{"CLEAR", "Remove all routes.", func() error {
					ok, err := s.YesNo("Are you sure you want to delete all of the configured routes?", false)
					if err == nil && ok {
						c.Routes = nil
					}
					return err
				}},
			))
		})
}

func printRoutes(s *shell.Session, c *config.Config) {
	lines := make([]string, len(c.Routes))
	for i, r := range c.Routes {
		lines[i] = r.Domain + " => " + strings.Join(r.Hosts, ", ")
	}
	printList(s, "There are no routes configured.", "Host routes:", lines)
}

// askRoute asks for the domain of an existing route; Enter goes back.
func askRoute(s *shell.Session, c *config.Config, question string) (*config.Route, error) {
	return askExisting(s, question, c.FindRoute)
}

// askHosts asks for a route's destinations; Enter goes back.
func askHosts(s *shell.Session, question string) ([]string, error) {
	a, err := askNew(s, question, check(func(a string) ([]string, error) { return config.ParseRouteHosts(splitList(a)) }))
	if err != nil {
		return nil, err
	}
	return config.ParseRouteHosts(splitList(a))
}

func newRoute(s *shell.Session, c *config.Config) error {
	domain, err := askNew(s, "Enter the domain for which you want to set up a permanent route (.example.com for its subdomains).", c.CheckNewRoute)
	if err != nil {
		return err
	}
	hosts, err := askHosts(s, "Enter the destination hosts, separated by commas, which you want mail for "+domain+" to be delivered to (host, host:port, [host] for no MX lookup, USEDNS, or /dev/null to discard).")
	if err != nil {
		return err
	}
	if err := c.AddRoute(config.Route{Domain: domain, Hosts: hosts}); err != nil {
		return err
	}
	s.Printf("Mapping for %s to %s created.\n", domain, strings.Join(hosts, ", "))
	return nil
}

func editRoute(s *shell.Session, c *config.Config) error {
	r, err := askRoute(s, c, "Enter the hostname you want to edit.")
	if err != nil {
		return err
	}
	s.Printf("\n%s => %s\n", r.Domain, strings.Join(r.Hosts, ", "))
	op, err := s.Menu([]shell.Op{
		{Word: config.RouteAdd, Description: "Add new destination hosts."},
		{Word: config.RouteRemove, Description: "Remove a destination host."},
		{Word: config.RouteReplace, Description: "Specify a new destination or set of destinations."},
	})
	if err != nil || op == "" {
		return err
	}
	hosts, err := askHosts(s, "Enter the destination hosts, separated by commas.")
	if err != nil {
		return err
	}
	return r.EditHosts(op, hosts)
}

func routesBatch(s *shell.Session, c *config.Config, args []string) error {
	switch {
	case strings.EqualFold(args[0], "new") && len(args) == 3:
		if err := c.CheckNewRoute(args[1]); err != nil {
			return err
		}
		hosts, err := config.ParseRouteHosts(splitList(args[2]))
		if err != nil {
			return err
		}
		return c.AddRoute(config.Route{Domain: args[1], Hosts: hosts})
	case strings.EqualFold(args[0], "delete") && len(args) == 2:
		return c.DeleteRoute(args[1])
	case strings.EqualFold(args[0], "print") && len(args) == 1:
		printRoutes(s, c)
		return nil
	case strings.EqualFold(args[0], "clear") && len(args) == 1:
		c.Routes = nil
		return nil
	}
	return usage("smtproutes", "smtproutes new DOMAIN HOSTS | delete DOMAIN | print | clear")
}
