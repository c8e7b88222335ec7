package commands

import (
	"fmt"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

func deliveryconfig() shell.Command {
	return command("deliveryconfig", "Configure mail delivery: the default delivery interface and outbound concurrency.", `Shows and changes the interface outbound connections come from (Auto: the
system's choice) and the system-wide maximum of outbound connections.

Batch form:
  deliveryconfig setup [interface=Auto|NAME] [concurrency=N]
Changes are pending until commit.`, func(s *shell.Session, args []string) error {
		c := s.Pending.Config()
		if !strings.EqualFold(args[0], "setup") {
			return usage("deliveryconfig", "deliveryconfig setup [interface=Auto|NAME] [concurrency=N]")
		}
		kv, err := parseKV(args[1:], "interface", "concurrency")
		if err != nil {
			return err
		}
		n := c.Delivery.MaxConnections
		if v, ok := kv["concurrency"]; ok {
			if n, err = config.DeliveryConnectionRange.Parse(v); err != nil {
				return fmt.Errorf("concurrency=%q: %w", v, err)
			}
		}
		if v, ok := kv["interface"]; ok {
			if err := c.SetDeliveryInterface(v); err != nil {
				return err
			}
		}
		return c.Delivery.SetMaxConnections(n)
	}, func(s *shell.Session) error {
		c := s.Pending.Config()
		d := &c.Delivery
		return loopMenu(s, func() {
			s.Println()
			s.Printf("Default interface to deliver mail: %s\n", d.Interface)
			s.Printf("System wide maximum outbound message delivery concurrency: %d\n", d.MaxConnections)
		}, fixed(menuOp{"SETUP", "Configure mail delivery.", func() error {
			items := append([]listItem{{1, config.AutoInterface, config.AutoInterface}}, interfaceItems(c)...)
			for i := range items[1:] {
				items[i+1].num = i + 2
			}
			def := 1
			for i, it := range items {
				if strings.EqualFold(it.name, d.Interface) {
					def = i + 1
				}
			}
			i, err := pickFrom(s, "Choose the default interface to deliver mail.", items, def)
			if err != nil {
				return err
			}
			n, err := askInt(s, "Please enter the system wide maximum outbound message delivery concurrency", d.MaxConnections, config.DeliveryConnectionRange)
			if err != nil {
				return err
			}
			if err := c.SetDeliveryInterface(items[i].name); err != nil {
				return err
			}
			return d.SetMaxConnections(n)
		}}))
	})
}
