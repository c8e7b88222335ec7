package commands

import (
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

// dnsconfig chooses the DNS resolver delivery uses for MX and address
// lookups: the system's (resolv.conf) or one DNS server, as the lab needs.
func dnsconfig() shell.Command {
	return command("dnsconfig", "Choose the DNS server delivery asks for MX and address records.", `Shows the DNS resolver delivery uses and changes it: the system's (the
machine's resolv.conf) or one DNS server given as IP or IP:port (a lab's
own server, e.g. 127.0.0.1:5353). Requires commit; the next lookup uses it.

Batch form:
  dnsconfig setup system|IP[:PORT]
  dnsconfig print`, func(s *shell.Session, args []string) error {
		switch {
		case len(args) == 1 && strings.EqualFold(args[0], "print"):
			printResolver(s, s.Pending.Config())
			return nil
		case len(args) == 2 && strings.EqualFold(args[0], "setup"):
			return s.Pending.Config().SetResolver(args[1])
		}
		return usage("dnsconfig", "dnsconfig setup system|IP[:PORT] | dnsconfig print")
	}, func(s *shell.Session) error {
		c := s.Pending.Config()
		return loopMenu(s, func() { printResolver(s, c) }, fixed(menuOp{"SETUP", "Choose the DNS server.", func() error {
			cur := 1
			if c.Delivery.Resolver != config.SystemResolver {
				cur = 2
			}
			i, err := s.Choose("Which DNS servers do you want to use?", []string{"The system's (resolv.conf)", "One DNS server of my own"}, cur)
			if err != nil {
				return err
			}
			if i == 0 {
				return c.SetResolver(config.SystemResolver)
			}
			def := c.Delivery.Resolver
			if def == config.SystemResolver {
				def = ""
			}
			r, err := s.Text("Enter the DNS server's IP address, with :port when it is not 53.", def, config.CheckResolver)
			if err != nil || r == "" {
				return err
			}
			return c.SetResolver(r)
		}}))
	})
}

func printResolver(s *shell.Session, c *config.Config) {
	s.Println()
	if c.Delivery.Resolver == config.SystemResolver {
		s.Println("Currently using the system's DNS servers (resolv.conf).")
		return
	}
	s.Printf("Currently using the DNS server %s.\n", c.Delivery.Resolver)
}
