package commands

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"relaybox/config"
	"relaybox/shell"
)

// maskChoice asks whether secrets are masked (the AsyncOS passphrase menu).
// Only administrators may see the password hashes.
func maskChoice(s *shell.Session, args []string, cmd string) (mask bool, rest []string, err error) {
	mask, rest, err = askMask(s, args, cmd)
	if err == nil && !mask && !isAdmin(s) {
		return false, nil, fmt.Errorf("operators cannot see password hashes: you are not in the correct access group to use %s unmasked (your role is %s); use %s mask", cmd, shell.ShowInput(s.Role), cmd)
	}
	return mask, rest, err
}

func askMask(s *shell.Session, args []string, cmd string) (mask bool, rest []string, err error) {
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "mask":
			return true, args[1:], nil
		case "unmasked":
			return false, args[1:], nil
		}
		form := cmd + " mask|unmasked"
		if cmd == "saveconfig" {
			form += " [FILE]"
		}
		return false, nil, usage(cmd, form)
	}
	i, err := s.Choose("Choose the passphrase option:", []string{
		"Mask passphrases (Files with masked passphrases cannot be loaded using loadconfig command)",
		"Include password hashes",
	}, 1)
	return i == 0, nil, err
}

func showconfig(app *App) shell.Command {
	return shell.Command{
		Name:    "showconfig",
		Summary: "Print the committed configuration.",
		Help: `Prints the committed configuration as YAML. Password hashes are masked unless you
choose to include them; private keys are never part of it.

Batch form:
  showconfig mask|unmasked`,
		Run: func(s *shell.Session, args []string) error {
			mask, rest, err := maskChoice(s, args, "showconfig")
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return usage("showconfig", "showconfig mask|unmasked")
			}
			c := app.Store.Current()
			if mask {
				c = config.Masked(c)
			}
			data, err := c.Encode()
			if err != nil {
				return err
			}
			s.Println()
			s.Print(string(data))
			return nil
		},
	}
}

func saveconfig(app *App) shell.Command {
	return shell.Command{
		Name:    "saveconfig",
		Summary: "Save the committed configuration to a file in the configuration directory.",
		Help: `Writes the committed configuration as a YAML file into DATA/configs (owner-only).
Masked files cannot be loaded again with loadconfig.

Batch form:
  saveconfig mask|unmasked [FILE]`,
		Run: func(s *shell.Session, args []string) error {
			mask, rest, err := maskChoice(s, args, "saveconfig")
			if err != nil {
				return err
			}
			c := app.Store.Current()
			name := fmt.Sprintf("config-%s-v%d-%s.yaml", c.Hostname, c.Version, time.Now().UTC().Format("20060102T150405"))
			switch len(rest) {
			case 0:
			case 1:
				name = rest[0]
			default:
				return usage("saveconfig", "saveconfig mask|unmasked [FILE]")
			}
			if mask {
				c = config.Masked(c)
			}
			data, err := c.Encode()
			if err != nil {
				return err
			}
			return writeConfigFile(s, app, name, data)
		},
	}
}

func loadconfig(app *App) shell.Command {
	return command("loadconfig", "Load a configuration from a file or a paste into the pending configuration.", `Reads a configuration (YAML, as saveconfig writes it), validates it, and makes it
this session's pending configuration; run commit to apply it.

Batch form:
  loadconfig FILE        (a file in DATA/configs)`, func(s *shell.Session, args []string) error {
		if len(args) != 1 {
			return usage("loadconfig", "loadconfig FILE")
		}
		data, err := readConfigFile(app, args[0])
		if err != nil {
			return err
		}
		return load(s, data)
	}, func(s *shell.Session) error {
		if s.Pending.Changed() {
			ok, err := s.YesNo("You have uncommitted changes. Do you want to clear them and load a configuration?", false)
			if err != nil || !ok {
				return err
			}
		}
		how, err := s.Choose("Choose the method to load the configuration:", []string{"Paste via CLI", "Load from file"}, 2)
		if err != nil {
			return err
		}
		var data []byte
		if how == 0 {
			text, err := s.Block("Paste the configuration now.")
			if err != nil {
				return err
			}
			data = []byte(text)
		} else if data, err = askConfigFile(s, app, "Enter the name of the file to load."); err != nil {
			return err
		}
		return load(s, data)
	})
}

// load makes a configuration document the pending one.
func load(s *shell.Session, data []byte) error {
	if len(data) == 0 {
		return errors.New("No data to load")
	}
	c, err := config.Decode(data)
	if err != nil {
		return fmt.Errorf("Parsing failed: %w", err)
	}
	if config.HasMaskedSecrets(c) {
		return errors.New("the file has masked passphrases and cannot be loaded: save it with saveconfig unmasked")
	}
	if err := config.Validate(c); err != nil {
		return fmt.Errorf("the configuration is not valid, nothing was loaded:\n%w", err)
	}
	s.Pending.Replace(c)
	if !s.Pending.Changed() {
		s.Println("No changes detected.")
		return nil
	}
	s.Println("Values have been loaded. Use showchanges to review them and commit to apply them.")
	return nil
}
