package commands

import (
	"relaybox/config"
	"relaybox/shell"
)

func sethostname() shell.Command {
	return shell.Command{
		Name:    "sethostname",
		Summary: "Set the appliance's fully qualified host name (shown in the prompt and SMTP banners).",
		Help: `Asks for the new host name. Requires commit.

Batch form:
  sethostname NAME`,
		Run: func(s *shell.Session, args []string) error {
			c := s.Pending.Config()
			check := func(a string) error {
				t := c.Clone()
				t.Hostname = a
				return hostnameProblem(t)
			}
			name := ""
			switch len(args) {
			case 1:
				if err := check(args[0]); err != nil {
					return err
				}
				name = args[0]
			case 0:
				var err error
				if name, err = s.Text("Enter the hostname.", c.Hostname, check); err != nil {
					return err
				}
			default:
				return usage("sethostname", "sethostname NAME")
			}
			c.Hostname = name
			return nil
		},
	}
}

// hostnameProblem returns the validation problem of the hostname field, if any.
func hostnameProblem(c *config.Config) error {
	err := config.Validate(c)
	if err == nil {
		return nil
	}
	for _, e := range unwrapAll(err) {
		if p, ok := e.(config.Problem); ok && p.Path == "hostname" {
			return p
		}
	}
	return nil
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
