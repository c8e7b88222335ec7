package commands

import (
	"fmt"
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
	return shell.Command{
		Name:    "smtproutes",
		Summary: "Set up permanent domain redirections (static delivery routes).",
		Help:    smtproutesHelp,
		Run: func(s *shell.Session, args []string) error {
			c := s.Pending.Config()
			if len(args) > 0 {
				return routesBatch(s, c, args)
			}
			for {
				printRoutes(s, c)
				op, err := s.Menu([]shell.Op{
					{Word: "NEW", Description: "Create a new route."},
					{Word: "EDIT", Description: "Edit destinations of an existing route."},
					{Word: "DELETE", Description: "Remove a route."},
					{Word: "PRINT", Description: "Display all routes."},
					{Word: "CLEAR", Description: "Remove all routes."},
				})
				if err != nil || op == "" {
					return err
				}
				switch op {
				case "NEW":
					err = newRoute(s, c)
				case "EDIT":
					err = editRoute(s, c)
				case "DELETE":
					var d string
					if d, err = s.Text("Enter the hostname you want to delete.", "", nil); err == nil {
						err = deleteRoute(c, d)
					}
				case "PRINT":
					printRoutes(s, c)
				case "CLEAR":
					var ok bool
					if ok, err = s.YesNo("Are you sure you want to delete all of the configured routes?", false); err == nil && ok {
						c.Routes = nil
					}
				}
				if err != nil {
					return err
				}
			}
		},
	}
}

func printRoutes(s *shell.Session, c *config.Config) {
	s.Println()
	if len(c.Routes) == 0 {
		s.Println("There are no routes configured.")
		return
	}
	s.Println("Host routes:")
	for _, r := range c.Routes {
		s.Printf("%s => %s\n", r.Domain, strings.Join(r.Hosts, ", "))
	}
}

func checkRouteDomain(c *config.Config) func(string) error {
	return func(a string) error {
		if a == "" || fieldProblem(config.Listener{Domains: []string{a}}, "domains") != nil {
			return fmt.Errorf("%q is not a domain: write example.com, or .example.com for its subdomains", a)
		}
		for _, r := range c.Routes {
			if strings.EqualFold(r.Domain, a) {
				return fmt.Errorf("The value %s is already in the routing table.", a)
			}
		}
		return nil
	}
}

func parseHosts(a string) ([]string, error) {
	hosts := splitList(a)
	if len(hosts) == 0 {
		return nil, fmt.Errorf("Please enter a value: host, host:port or USEDNS")
	}
	for i, h := range hosts {
		if err := config.ValidRouteHost(h); err != nil {
			return nil, err
		}
		if strings.EqualFold(h, config.UseDNS) {
			hosts[i] = config.UseDNS
		}
	}
	return hosts, nil
}

func newRoute(s *shell.Session, c *config.Config) error {
	domain, err := s.Text("Enter the domain for which you want to set up a permanent route (.example.com for its subdomains).", "", checkRouteDomain(c))
	if err != nil {
		return err
	}
	var hosts []string
	if _, err := s.Text("Enter the destination hosts, separated by commas, which you want mail for "+domain+" to be delivered to (host, host:port, or USEDNS).", "", func(a string) error {
		var err error
		hosts, err = parseHosts(a)
		return err
	}); err != nil {
		return err
	}
	c.Routes = append(c.Routes, config.Route{Domain: domain, Hosts: hosts})
	s.Printf("Mapping for %s to %s created.\n", domain, strings.Join(hosts, ", "))
	return nil
}

func findRoute(c *config.Config, domain string) (int, error) {
	for i, r := range c.Routes {
		if strings.EqualFold(r.Domain, domain) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("The route %q does not appear to be in the routing table: smtproutes print lists them", domain)
}

func editRoute(s *shell.Session, c *config.Config) error {
	domain, err := s.Text("Enter the hostname you want to edit.", "", nil)
	if err != nil {
		return err
	}
	i, err := findRoute(c, domain)
	if err != nil {
		return err
	}
	r := &c.Routes[i]
	op, err := s.Menu([]shell.Op{
		{Word: "ADD", Description: "Add new destination hosts."},
		{Word: "REMOVE", Description: "Remove a destination host."},
		{Word: "REPLACE", Description: "Specify a new destination or set of destinations."},
	})
	if err != nil || op == "" {
		return err
	}
	hostsText, err := s.Text("Enter the destination hosts, separated by commas.", "", nil)
	if err != nil {
		return err
	}
	hosts, err := parseHosts(hostsText)
	if err != nil {
		return err
	}
	switch op {
	case "ADD":
		r.Hosts = append(r.Hosts, hosts...)
	case "REPLACE":
		r.Hosts = hosts
	case "REMOVE":
		kept := r.Hosts[:0:0]
		for _, h := range r.Hosts {
			if !containsFold(hosts, h) {
				kept = append(kept, h)
			}
		}
		if len(kept) == 0 {
			return fmt.Errorf("a route needs at least one destination: use DELETE to remove the route")
		}
		r.Hosts = kept
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func deleteRoute(c *config.Config, domain string) error {
	i, err := findRoute(c, domain)
	if err != nil {
		return err
	}
	c.Routes = append(c.Routes[:i], c.Routes[i+1:]...)
	return nil
}

func routesBatch(s *shell.Session, c *config.Config, args []string) error {
	switch {
	case strings.EqualFold(args[0], "new") && len(args) == 3:
		if err := checkRouteDomain(c)(args[1]); err != nil {
			return err
		}
		hosts, err := parseHosts(args[2])
		if err != nil {
			return err
		}
		c.Routes = append(c.Routes, config.Route{Domain: args[1], Hosts: hosts})
		return nil
	case strings.EqualFold(args[0], "delete") && len(args) == 2:
		return deleteRoute(c, args[1])
	case strings.EqualFold(args[0], "print") && len(args) == 1:
		printRoutes(s, c)
		return nil
	case strings.EqualFold(args[0], "clear") && len(args) == 1:
		c.Routes = nil
		return nil
	}
	return usage("smtproutes", "smtproutes new DOMAIN HOSTS | delete DOMAIN | print | clear")
}
