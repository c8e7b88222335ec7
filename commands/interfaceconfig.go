package commands

import (
	"fmt"
	"net/netip"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

const interfaceconfigHelp = `Creates, edits and deletes IP interfaces: address, netmask, host name, the HTTPS
(GUI) port and its certificate, and the SSH port.

Choosing the "Demo" certificate asks for confirmation: it is the same on every
appliance and so not secure.

Batch forms:
  interfaceconfig new NAME ADDRESS/PREFIX HOSTNAME [HTTPS_PORT CERTIFICATE]
  interfaceconfig edit NAME certificate CERTIFICATE
  interfaceconfig edit NAME https_port PORT        (0 turns HTTPS off)
  interfaceconfig edit NAME ssh_port PORT          (0 turns SSH off)
  interfaceconfig edit NAME hostname HOSTNAME
  interfaceconfig delete NAME
Renaming an interface renames it in the listeners and the delivery setting
that use it. Changes are pending until commit.`

func interfaceconfig() shell.Command {
	return command("interfaceconfig", "Configure IP interfaces: address, host name, HTTPS and SSH ports, certificate.", interfaceconfigHelp,
		func(s *shell.Session, args []string) error { return interfaceBatch(s.Pending.Config(), args) },
		func(s *shell.Session) error {
			c := s.Pending.Config()
			pick := func(verb string, then func(ifc config.Interface) error) func() error {
				return func() error {
					i, err := pickFrom(s, fmt.Sprintf("Enter the name or number of the interface you wish to %s.", verb), interfaceItems(c), 0)
					if err != nil {
						return err
					}
					return then(c.Interfaces[i])
				}
			}
			return loopMenu(s, func() {
				s.Println()
				s.Println("Currently configured interfaces:")
				for _, it := range interfaceItems(c) {
					s.Printf("%d. %s\n", it.num, it.text)
				}
			}, fixed(
				menuOp{"NEW", "Create a new interface.", func() error {
					return editInterface(s, c, "", config.NewInterface("", "", config.DefaultNetmask, ""))
				}},
				menuOp{"EDIT", "Modify an interface.", pick("edit", func(ifc config.Interface) error { return editInterface(s, c, ifc.Name, ifc) })},
				menuOp{"DELETE", "Remove an interface.", pick("delete", func(ifc config.Interface) error {
					if err := refuseUsedInterface(c, ifc.Name); err != nil {
						return err
					}
					ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the interface %q?", ifc.Name), false)
					if err != nil || !ok {
						return err
					}
					return c.DeleteInterface(ifc.Name)
				})},
			))
		})
}

// refuseUsedInterface says what uses an interface before asking to delete it.
func refuseUsedInterface(c *config.Config, name string) error {
	if len(c.InterfaceUsers(name)) > 0 {
		return c.DeleteInterface(name) // refused, naming the users
	}
	return nil
}

// editInterface asks every setting of an interface (old "" for a new one),
// the current values as defaults, and stores it with PutInterface.
func editInterface(s *shell.Session, c *config.Config, old string, ifc config.Interface) error {
	var err error
	ask := askNew
	if old != "" {
		ask = func(s *shell.Session, q string, valid func(string) error) (string, error) {
			return s.Text(q, ifc.Name, valid)
		}
	}
	if ifc.Name, err = ask(s, "IP interface name (Ex: \"InternalNet\"):", func(a string) error {
		taken := ""
		if other := c.Interface(a); other != nil && !strings.EqualFold(a, old) {
			taken = other.Name
		}
		return config.CheckNewName(config.KindInterface, a, taken)
	}); err != nil {
		return err
	}
	if ifc.Address, err = s.Text("IP Address (Ex: 192.168.1.2 or 2001:db8::1):", ifc.Address, config.CheckAddress); err != nil {
		return err
	}
	if ifc.Netmask, err = askInt(s, "Netmask as a prefix length (Ex: 24):", ifc.Netmask, config.Range{Min: 0, Max: netmaskMax(ifc.Address)}); err != nil {
		return err
	}
	if ifc.Hostname, err = s.Text("Hostname:", ifc.Hostname, config.CheckHostname); err != nil {
		return err
	}
	if ifc.SSHPort, err = askService(s, "SSH", ifc.SSHPort, config.DefaultSSHPort, false); err != nil {
		return err
	}
	if ifc.HTTPSPort, err = askService(s, "HTTPS", ifc.HTTPSPort, config.DefaultHTTPSPort, old == ""); err != nil {
		return err
	}
	if ifc.HTTPSPort != 0 {
		def := ifc.Certificate
		if def == "" {
			def = config.DemoCertificate
		}
		if ifc.Certificate, err = chooseCertificate(s, c, ifc.Certificate, def); err != nil {
			return err
		}
	}
	return c.PutInterface(old, ifc)
}

func netmaskMax(address string) int {
	if strings.Contains(address, ":") {
		return 128
	}
	return 32
}

// askService asks whether a service runs on the interface and on which
// port; 0 is off.
func askService(s *shell.Session, name string, port, def int, onByDefault bool) (int, error) {
	on, err := s.YesNo(fmt.Sprintf("Do you want to enable %s on this interface?", name), port != 0 || onByDefault)
	if err != nil || !on {
		return 0, err
	}
	return askPort(s, fmt.Sprintf("Which port do you want to use for %s?", name), orDefault(port, def))
}

func interfaceBatch(c *config.Config, args []string) error {
	verb := strings.ToLower(args[0])
	switch {
	case verb == "new" && (len(args) == 4 || len(args) == 6):
		p, err := netip.ParsePrefix(args[2])
		if err != nil {
			return fmt.Errorf("%q is not ADDRESS/PREFIX: write it as 127.0.0.2/8", args[2])
		}
		ifc := config.NewInterface(args[1], p.Addr().String(), p.Bits(), args[3])
		if len(args) == 6 {
			if err := editInterfaceField(&ifc, "https_port", args[4]); err != nil {
				return err
			}
			ifc.Certificate = args[5]
		}
		return c.PutInterface("", ifc)
	case verb == "delete" && len(args) == 2:
		return c.DeleteInterface(args[1])
	case verb == "edit" && len(args) == 4:
		ifc, err := c.FindInterface(args[1])
		if err != nil {
			return err
		}
		next := *ifc
		if err := editInterfaceField(&next, strings.ToLower(args[2]), args[3]); err != nil {
			return err
		}
		return c.PutInterface(ifc.Name, next)
	}
	return usage("interfaceconfig", "interfaceconfig new|edit|delete … (see help interfaceconfig)")
}

// editInterfaceField applies "interfaceconfig edit NAME FIELD VALUE" to a copy.
func editInterfaceField(ifc *config.Interface, field, value string) error {
	var err error
	switch field {
	case "certificate":
		ifc.Certificate = value
	case "https_port":
		ifc.HTTPSPort, err = servicePort(value)
	case "ssh_port":
		ifc.SSHPort, err = servicePort(value)
	case "hostname":
		ifc.Hostname = value
	default:
		return usage("interfaceconfig", "interfaceconfig edit NAME certificate|https_port|ssh_port|hostname VALUE")
	}
	return err
}

// servicePort is a service's port in a batch form: a TCP port, or 0 for off.
func servicePort(value string) (int, error) {
	if value == "0" {
		return 0, nil
	}
	return config.ParsePort(value)
}
