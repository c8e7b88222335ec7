package commands

import (
	"fmt"
	"net/netip"
	"strconv"
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
  interfaceconfig edit NAME hostname HOSTNAME
  interfaceconfig delete NAME
Changes are pending until commit.`

func interfaceconfig() shell.Command {
	return shell.Command{
		Name:    "interfaceconfig",
		Summary: "Configure IP interfaces: address, host name, HTTPS port and certificate.",
		Help:    interfaceconfigHelp,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 0 {
				return interfaceBatch(s.Pending.Config(), args)
			}
			for {
				c := s.Pending.Config()
				s.Println()
				s.Println("Currently configured interfaces:")
				for i, it := range interfaceItems(c) {
					s.Printf("%d. %s\n", i+1, it)
				}
				op, err := s.Menu([]shell.Op{
					{Word: "NEW", Description: "Create a new interface."},
					{Word: "EDIT", Description: "Modify an interface."},
					{Word: "DELETE", Description: "Remove an interface."},
				})
				if err != nil || op == "" {
					return err
				}
				switch op {
				case "NEW":
					ifc := config.Interface{Netmask: 24}
					if err = editInterface(s, c, &ifc, true); err == nil {
						c.Interfaces = append(c.Interfaces, ifc)
					}
				case "EDIT":
					var i int
					if i, err = s.Choose("Enter the number of the interface you wish to edit.", interfaceItems(c), 0); err == nil {
						err = editInterface(s, c, &c.Interfaces[i], false)
					}
				case "DELETE":
					var i int
					if i, err = s.Choose("Enter the number of the interface you wish to delete.", interfaceItems(c), 0); err == nil {
						err = deleteInterface(s, c, i)
					}
				}
				if err != nil {
					return err
				}
			}
		},
	}
}

func editInterface(s *shell.Session, c *config.Config, ifc *config.Interface, isNew bool) error {
	old := ifc.Name
	var err error
	if ifc.Name, err = s.Text("IP interface name (Ex: \"InternalNet\"):", ifc.Name, checkName("interface", func(n string) bool {
		return !(!isNew && strings.EqualFold(n, old)) && c.Interface(n) != nil
	})); err != nil {
		return err
	}
	if ifc.Address, err = s.Text("IP Address (Ex: 192.168.1.2 or 2001:db8::1):", ifc.Address, func(a string) error {
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("Not a valid IP address: %q", a)
		}
		return nil
	}); err != nil {
		return err
	}
	if ifc.Netmask, err = askInt(s, "Netmask as a prefix length (Ex: 24):", ifc.Netmask, 0, 128); err != nil {
		return err
	}
	if ifc.Hostname, err = s.Text("Hostname:", ifc.Hostname, func(a string) error {
		t := config.Config{Hostname: a}
		return hostnameProblem(&t)
	}); err != nil {
		return err
	}
	ssh, err := s.YesNo("Do you want to enable SSH on this interface?", ifc.SSHPort != 0)
	if err != nil {
		return err
	}
	if !ssh {
		ifc.SSHPort = 0
	} else if ifc.SSHPort, err = askPort(s, "Which port do you want to use for SSH?", orDefault(ifc.SSHPort, 22)); err != nil {
		return err
	}
	https, err := s.YesNo("Do you want to enable HTTPS on this interface?", ifc.HTTPSPort != 0 || isNew)
	if err != nil {
		return err
	}
	if !https {
		ifc.HTTPSPort = 0
		return nil
	}
	if ifc.HTTPSPort, err = askPort(s, "Which port do you want to use for HTTPS?", orDefault(ifc.HTTPSPort, 443)); err != nil {
		return err
	}
	ifc.Certificate, err = chooseCertificate(s, c, ifc.Certificate)
	return err
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// interfaceUsers names what uses an interface.
func interfaceUsers(c *config.Config, name string) []string {
	var out []string
	for _, l := range c.Listeners {
		if strings.EqualFold(l.Interface, name) {
			out = append(out, "listener "+l.Name)
		}
	}
	return out
}

func deleteInterface(s *shell.Session, c *config.Config, i int) error {
	name := c.Interfaces[i].Name
	if users := interfaceUsers(c, name); len(users) > 0 {
		return fmt.Errorf("interface %s is used by %s: move or delete them first (listenerconfig)", name, strings.Join(users, ", "))
	}
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the interface %q?", name), false)
	if err != nil || !ok {
		return err
	}
	c.Interfaces = append(c.Interfaces[:i], c.Interfaces[i+1:]...)
	return nil
}

func interfaceBatch(c *config.Config, args []string) error {
	verb := strings.ToLower(args[0])
	switch {
	case verb == "new" && (len(args) == 4 || len(args) == 6):
		if err := checkName("interface", func(n string) bool { return c.Interface(n) != nil })(args[1]); err != nil {
			return err
		}
		p, err := netip.ParsePrefix(args[2])
		if err != nil {
			return fmt.Errorf("%q is not ADDRESS/PREFIX: write it as 127.0.0.2/8", args[2])
		}
		ifc := config.Interface{Name: args[1], Address: p.Addr().String(), Netmask: p.Bits(), Hostname: args[3]}
		if len(args) == 6 {
			if err := checkPort(args[4]); err != nil {
				return err
			}
			ifc.HTTPSPort, _ = strconv.Atoi(args[4])
			if ifc.Certificate, err = certificateByName(c, args[5]); err != nil {
				return err
			}
		}
		c.Interfaces = append(c.Interfaces, ifc)
		return nil
	case verb == "delete" && len(args) == 2:
		for i, ifc := range c.Interfaces {
			if strings.EqualFold(ifc.Name, args[1]) {
				if users := interfaceUsers(c, ifc.Name); len(users) > 0 {
					return fmt.Errorf("interface %s is used by %s: move or delete them first (listenerconfig)", ifc.Name, strings.Join(users, ", "))
				}
				c.Interfaces = append(c.Interfaces[:i], c.Interfaces[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("interface %q does not exist: interfaceconfig lists them", args[1])
	case verb == "edit" && len(args) == 4:
		ifc := c.Interface(args[1])
		if ifc == nil {
			return fmt.Errorf("interface %q does not exist: interfaceconfig lists them", args[1])
		}
		switch strings.ToLower(args[2]) {
		case "certificate":
			name, err := certificateByName(c, args[3])
			if err != nil {
				return err
			}
			ifc.Certificate = name
			return nil
		case "https_port":
			if args[3] == "0" {
				ifc.HTTPSPort = 0
				return nil
			}
			if err := checkPort(args[3]); err != nil {
				return err
			}
			ifc.HTTPSPort, _ = strconv.Atoi(args[3])
			return nil
		case "hostname":
			t := config.Config{Hostname: args[3]}
			if err := hostnameProblem(&t); err != nil {
				return err
			}
			ifc.Hostname = args[3]
			return nil
		}
	}
	return usage("interfaceconfig", "interfaceconfig new|edit|delete … (see help interfaceconfig)")
}
