package commands

import (
	"fmt"
	"strconv"
	"strings"

	"relaybox/shell"
)

func deliveryconfig() shell.Command {
	return shell.Command{
		Name:    "deliveryconfig",
		Summary: "Configure mail delivery: the default delivery interface and outbound concurrency.",
		Help: `Shows and changes the interface outbound connections come from (Auto: the
system's choice) and the system-wide maximum of outbound connections.

Batch form:
  deliveryconfig setup [interface=Auto|NAME] [concurrency=N]
Changes are pending until commit.`,
		Run: func(s *shell.Session, args []string) error {
			c := s.Pending.Config()
			d := &c.Delivery
			if len(args) > 0 {
				if !strings.EqualFold(args[0], "setup") {
					return usage("deliveryconfig", "deliveryconfig setup [interface=Auto|NAME] [concurrency=N]")
				}
				kv, err := parseKV(args[1:], "interface", "concurrency")
				if err != nil {
					return err
				}
				if v, ok := kv["interface"]; ok {
					if strings.EqualFold(v, "auto") {
						d.Interface = "Auto"
					} else if ifc := c.Interface(v); ifc != nil {
						d.Interface = ifc.Name
					} else {
						return fmt.Errorf("interface %q does not exist: use Auto or one listed by interfaceconfig", v)
					}
				}
				if v, ok := kv["concurrency"]; ok {
					n, err := strconv.Atoi(v)
					if err != nil || n < 1 || n > 10000 {
						return fmt.Errorf("concurrency=%q is not a number from 1 to 10000", v)
					}
					d.MaxConnections = n
				}
				return nil
			}
			for {
				s.Println()
				s.Printf("Default interface to deliver mail: %s\n", d.Interface)
				s.Printf("System wide maximum outbound message delivery concurrency: %d\n", d.MaxConnections)
				op, err := s.Menu([]shell.Op{{Word: "SETUP", Description: "Configure mail delivery."}})
				if err != nil || op == "" {
					return err
				}
				items := []string{"Auto"}
				def := 1
				for i, ifc := range c.Interfaces {
					items = append(items, fmt.Sprintf("%s (%s/%d: %s)", ifc.Name, ifc.Address, ifc.Netmask, ifc.Hostname))
					if strings.EqualFold(ifc.Name, d.Interface) {
						def = i + 2
					}
				}
				i, err := s.Choose("Choose the default interface to deliver mail.", items, def)
				if err != nil {
					return err
				}
				d.Interface = "Auto"
				if i > 0 {
					d.Interface = c.Interfaces[i-1].Name
				}
				if d.MaxConnections, err = askInt(s, "Please enter the system wide maximum outbound message delivery concurrency", d.MaxConnections, 1, 10000); err != nil {
					return err
				}
			}
		},
	}
}
