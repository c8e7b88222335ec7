package commands

import (
	"fmt"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

// This file is the one implementation of an account's SSH public keys,
// behind both sshconfig USERKEYS and userconfig EDIT SSHKEYS.

// keyLine is how a key is listed: type, fingerprint, comment.
func keyLine(line string) string {
	f := strings.Fields(line)
	out := f[0] + " " + config.SSHKeyFingerprint(line)
	if len(f) > 2 {
		out += " " + strings.Join(f[2:], " ")
	}
	return out
}

func printUserKeys(s *shell.Session, c *config.Config, user string) {
	u, err := c.FindUser(user)
	if err != nil {
		s.Println()
		s.Println(err)
		return
	}
	lines := make([]string, len(u.SSHKeys))
	for i, k := range u.SSHKeys {
		lines[i] = fmt.Sprintf("%d. %s", i+1, keyLine(k))
	}
	printList(s, fmt.Sprintf("No keys are installed for %s.", u.Name), fmt.Sprintf("Currently installed keys for %s:", u.Name), lines)
}

// userKeysMenu edits an account's keys: NEW, DELETE, PRINT, and USER to
// switch to another account when switchable. Operators may look (PRINT,
// USER) but not change keys.
func userKeysMenu(s *shell.Session, user string, switchable bool) error {
	c := s.Pending.Config()
	return loopMenu(s, func() { printUserKeys(s, c, user) }, func() []menuOp {
		ops := []menuOp{{"NEW", "Create a new key.", adminOnly(s, "sshconfig USERKEYS NEW", func() error {
			line, err := askNew(s, "Please enter the public SSH key for authorization (one line of an authorized_keys file: type, key and an optional comment).", config.CheckSSHKey)
			if err != nil {
				return err
			}
			return addUserKey(s, c, user, line)
		})}}
		if u, err := c.FindUser(user); err == nil && len(u.SSHKeys) > 0 {
			ops = append(ops,
				menuOp{"DELETE", "Remove a key.", adminOnly(s, "sshconfig USERKEYS DELETE", func() error {
					n, err := pickKey(s, c, user, "Enter the number of the key you wish to delete.")
					if err != nil {
						return err
					}
					u, _ := c.FindUser(user)
					ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete key %d (%s) of %s?", n, config.SSHKeyFingerprint(u.SSHKeys[n-1]), u.Name), false)
					if err != nil || !ok {
						return err
					}
					return deleteUserKey(s, c, user, n)
				})},
				menuOp{"PRINT", "Display a key.", func() error {
					n, err := pickKey(s, c, user, "Enter the number of the key you wish to print.")
					if err != nil {
						return err
					}
					u, _ := c.FindUser(user)
					s.Println()
					s.Println(u.SSHKeys[n-1])
					return nil
				}})
		}
		if switchable {
			ops = append(ops, menuOp{"USER", "Switch to a different user to edit.", func() error {
				name, err := pickUser(s, c, "Enter the username or number of the user whose keys you wish to edit.")
				if err == nil {
					user = name
				}
				return err
			}})
		}
		return ops
	})
}

// pickKey asks for one of an account's keys by number; Enter goes back.
func pickKey(s *shell.Session, c *config.Config, user, question string) (int, error) {
	u, err := c.FindUser(user)
	if err != nil {
		return 0, err
	}
	names, texts := make([]string, len(u.SSHKeys)), make([]string, len(u.SSHKeys))
	for i, k := range u.SSHKeys {
		texts[i] = keyLine(k)
	}
	i, err := pickFrom(s, question, numbered(names, texts), 0)
	return i + 1, err
}

func addUserKey(s *shell.Session, c *config.Config, user, line string) error {
	if err := c.AddSSHKey(user, line); err != nil {
		return err
	}
	u, _ := c.FindUser(user)
	s.Printf("\nKey %s added for %s (pending until commit).\n", config.SSHKeyFingerprint(u.SSHKeys[len(u.SSHKeys)-1]), u.Name)
	return nil
}

func deleteUserKey(s *shell.Session, c *config.Config, user string, n int) error {
	u, err := c.FindUser(user)
	if err != nil {
		return err
	}
	name := u.Name
	if err := c.DeleteSSHKey(name, n); err != nil {
		return err
	}
	s.Printf("Key %d of %s deleted (pending until commit).\n", n, name)
	return nil
}

// userKeysBatch runs "… print [USER] | new USER KEY… | delete USER NUMBER"
// (the words after sshconfig userkeys); self is the account print shows by default.
func userKeysBatch(s *shell.Session, args []string, form string) error {
	c := s.Pending.Config()
	if len(args) == 0 {
		return usage("sshconfig", form)
	}
	switch op := strings.ToLower(args[0]); {
	case op == "print" && len(args) <= 2:
		user := keysOwner(s, c)
		if len(args) == 2 {
			user = args[1]
		}
		if _, err := c.FindUser(user); err != nil {
			return err
		}
		printUserKeys(s, c, user)
		return nil
	case op == "new" && len(args) >= 3:
		if err := refuseOperator(s, "sshconfig USERKEYS NEW"); err != nil {
			return err
		}
		return addUserKey(s, c, args[1], strings.Join(args[2:], " "))
	case op == "delete" && len(args) == 3:
		if err := refuseOperator(s, "sshconfig USERKEYS DELETE"); err != nil {
			return err
		}
		n, err := config.Range{Min: 1, Max: 1 << 20}.Parse(args[2])
		if err != nil {
			return err
		}
		return deleteUserKey(s, c, args[1], n)
	}
	return usage("sshconfig", form)
}

// keysOwner is the account whose keys USERKEYS shows first: the session's
// own, else the first account.
func keysOwner(s *shell.Session, c *config.Config) string {
	if u, err := c.FindUser(s.User); err == nil {
		return u.Name
	}
	if len(c.Users) > 0 {
		return c.Users[0].Name
	}
	return s.User
}
