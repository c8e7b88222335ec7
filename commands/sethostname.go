package commands

import (
	"relaybox/config"
	"relaybox/shell"
)

func sethostname() shell.Command {
	return command("sethostname", "Set the appliance's fully qualified host name (shown in the prompt and SMTP banners).", `Asks for the new host name: a fully qualified domain name such as
mail.example.com (not a single label, not an IP address). Requires commit.

Batch form:
  sethostname NAME`, func(s *shell.Session, args []string) error {
		if len(args) != 1 {
			return usage("sethostname", "sethostname NAME")
		}
		return s.Pending.Config().SetHostname(args[0])
	}, func(s *shell.Session) error {
		c := s.Pending.Config()
		name, err := s.Text("Enter the hostname.", c.Hostname, config.CheckHostname)
		if err != nil {
			return err
		}
		return c.SetHostname(name)
	})
}
