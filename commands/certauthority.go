package commands

import (
	"fmt"
	"strings"

	"relaybox/certstore"
	"relaybox/config"
	"relaybox/shell"
)

// This file is certconfig CERTAUTHORITY: the trust store used to verify
// peers, the system authorities and the custom ones.

func authorityMenu(s *shell.Session, app *App) error {
	t := func() *config.Trust { return &s.Pending.Config().Trust }
	return loopMenu(s, func() {
		s.Println()
		s.Printf("System authorities: %s (the operating system's trusted roots)\n", enableWord(t().System))
		n := len(t().CustomCAs)
		s.Printf("Custom authorities: %s (%d %s)\n", enableWord(t().Custom), n, map[bool]string{true: "certificate", false: "certificates"}[n == 1])
	}, fixed(
		menuOp{"CUSTOM", "Manage Custom Authorities", func() error { return customAuthorities(s, app, t) }},
		menuOp{"SYSTEM", "Manage System Authorities", func() error {
			return toggleMenu(s, "verification against the system authorities", &t().System)
		}},
	))
}

func printAuthorities(s *shell.Session, t *config.Trust) {
	lines := make([]string, len(t.CustomCAs))
	for i, ca := range t.CustomCAs {
		lines[i] = fmt.Sprintf("%d. %s (%s)", i+1, ca.Name, authoritySubject(ca))
	}
	printList(s, "There are no custom authorities.", "Custom authorities:", lines)
}

func authoritySubject(ca config.CA) string {
	cert, err := certstore.ParseCA(ca.PEM)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return fmt.Sprintf("%s, valid until %s", cert.Subject, stamp(cert.NotAfter))
}

func customAuthorities(s *shell.Session, app *App, t func() *config.Trust) error {
	add := func(fromFile bool) func() error {
		return func() error {
			name, err := askNew(s, "Enter a name for this authority:", func(a string) error { return config.CheckName(config.KindAuthority, a) })
			if err != nil {
				return err
			}
			var data []byte
			if fromFile {
				data, err = askConfigFile(s, app, "Enter the name of the PEM file to import:")
			} else {
				var text string
				text, err = s.Block("Paste the authority's certificate in PEM format.")
				data = []byte(text)
			}
			if err != nil {
				return err
			}
			return addAuthority(t(), name, string(data))
		}
	}
	return loopMenu(s, func() { printAuthorities(s, t()) }, func() []menuOp {
		toggle := menuOp{"ENABLE", "Enable the custom authorities.", func() error { t().Custom = true; return nil }}
		if t().Custom {
			toggle = menuOp{"DISABLE", "Disable the custom authorities.", func() error { t().Custom = false; return nil }}
		}
		return []menuOp{
			toggle,
			{"IMPORT", "Import a custom authority from a PEM file in the configuration directory.", add(true)},
			{"PASTE", "Paste a custom authority in PEM format.", add(false)},
			{"EXPORT", "Export the custom authorities to a PEM file in the configuration directory.", func() error {
				file, err := askNew(s, "Enter the name of the PEM file to export to:", check(func(a string) (string, error) { return configFile(app, a) }))
				if err != nil {
					return err
				}
				return exportAuthorities(s, app, t(), file)
			}},
			{"DELETE", "Remove a custom authority.", func() error {
				names := make([]string, len(t().CustomCAs))
				for i, ca := range t().CustomCAs {
					names[i] = ca.Name
				}
				i, err := pickFrom(s, "Select the authority to remove:", numbered(names, names), 0)
				if err != nil {
					return err
				}
				return t().DeleteAuthority(names[i])
			}},
			{"PRINT", "Display the custom authorities.", func() error {
				for _, ca := range t().CustomCAs {
					s.Printf("\n%s: %s\n", ca.Name, authoritySubject(ca))
					s.Print(ca.PEM)
				}
				return nil
			}},
		}
	})
}

func addAuthority(t *config.Trust, name, text string) error {
	if err := config.CheckName(config.KindAuthority, name); err != nil {
		return err
	}
	if _, err := certstore.ParseCA(text); err != nil {
		return fmt.Errorf("Could not read PEM data from file: %w", err)
	}
	return t.AddAuthority(config.CA{Name: name, PEM: text})
}

func exportAuthorities(s *shell.Session, app *App, t *config.Trust, file string) error {
	if len(t.CustomCAs) == 0 {
		return fmt.Errorf("there are no custom authorities to export: import one with certconfig CERTAUTHORITY CUSTOM")
	}
	var pems strings.Builder
	for _, ca := range t.CustomCAs {
		pems.WriteString(ca.PEM)
	}
	return writeConfigFile(s, app, file, []byte(pems.String()))
}

func caBatch(s *shell.Session, app *App, args []string) error {
	t := &s.Pending.Config().Trust
	switch {
	case len(args) == 3 && strings.EqualFold(args[0], "import"):
		data, err := readConfigFile(app, args[2])
		if err != nil {
			return err
		}
		return addAuthority(t, args[1], string(data))
	case len(args) == 2 && strings.EqualFold(args[0], "delete"):
		return t.DeleteAuthority(args[1])
	case len(args) == 2 && strings.EqualFold(args[0], "export"):
		return exportAuthorities(s, app, t, args[1])
	case len(args) == 2 && (strings.EqualFold(args[0], "system") || strings.EqualFold(args[0], "custom")):
		on, err := onOff("certconfig ca "+strings.ToLower(args[0]), args[1])
		if err != nil {
			return err
		}
		if strings.EqualFold(args[0], "system") {
			t.System = on
		} else {
			t.Custom = on
		}
		return nil
	}
	return usage("certconfig", "certconfig ca import NAME FILE | ca delete NAME | ca export FILE | ca system|custom enable|disable")
}
