package commands

import (
	"fmt"
	"strings"
	"time"

	"relaybox/config"
	"relaybox/shell"
)

const userconfigHelp = `Creates, edits and deletes the accounts that log in over SSH and to the GUI,
and sets the password policy.

Dialog: userconfig lists the accounts and the policy, then
  NEW       user name, full name, role, password (twice, never echoed)
  EDIT      NAME (full name), ROLE, PASSWORDLOGIN (allow or refuse password
            logins: key-only), SSHKEYS (the account's keys, as sshconfig USERKEYS)
  DELETE    remove an account (not your own, not the last administrator who can log in)
  POLICY    minimum password length, not the user name, not the previous password,
            how many failed logins lock an account out, and for how long
  PASSWORD  set a user's password; they must choose their own at the next login
  APITOKENS an account's REST API tokens: NEW makes one and shows it once
            (only its hash is kept), REVOKE removes one
Roles: 1. Administrators (admin: everything) 2. Operators (operator: may look
and edit, but neither commit nor change accounts). A password an administrator
sets (NEW, PASSWORD) is one-time: its user must change it at the next login.
Only administrators change accounts; everyone changes their own password with
passwd.

Batch forms:
  userconfig print
  userconfig new NAME "FULL NAME" admin|operator PASSWORD
  userconfig edit NAME fullname "FULL NAME"
  userconfig edit NAME role admin|operator
  userconfig edit NAME passwordlogin enable|disable
  userconfig delete NAME
  userconfig policy [min_length=N] [not_user_name=yes|no] [not_previous=yes|no]
                    [lockout_after=N] [lockout_seconds=N]
  userconfig password NAME PASSWORD
  userconfig apitokens NAME list
  userconfig apitokens NAME new LABEL
  userconfig apitokens NAME revoke LABEL
A new API token is shown once and works once committed.
Changes are pending until commit (passwd alone takes effect at once).`

const userconfigForm = "userconfig print | new NAME \"FULL NAME\" ROLE PASSWORD | edit NAME fullname|role|passwordlogin VALUE | delete NAME | policy KEY=VALUE… | password NAME PASSWORD | apitokens NAME list|new LABEL|revoke LABEL"

func userconfig() shell.Command {
	cmd := command("userconfig", "Manage user accounts (administrators, operators), their passwords and the password policy.", userconfigHelp,
		userBatch, func(s *shell.Session) error {
			c := s.Pending.Config()
			return loopMenu(s, func() { printUsers(s, c) }, fixed(
				menuOp{"NEW", "Create a new account.", adminOnly(s, "userconfig NEW", func() error { return newUser(s, c) })},
				menuOp{"EDIT", "Modify an account.", adminOnly(s, "userconfig EDIT", func() error { return editUser(s, c) })},
				menuOp{"DELETE", "Remove an account.", adminOnly(s, "userconfig DELETE", func() error { return deleteUser(s, c) })},
				menuOp{"POLICY", "Change password and account policy settings.", adminOnly(s, "userconfig POLICY", func() error { return passwordPolicy(s, c) })},
				menuOp{"PASSWORD", "Change the password for a user.", adminOnly(s, "userconfig PASSWORD", func() error { return setPassword(s, c) })},
				menuOp{"APITOKENS", "Create or revoke the REST API tokens of a user.", adminOnly(s, "userconfig APITOKENS", func() error { return apiTokensDialog(s, c) })},
			))
		})
	cmd.Secrets = func(args []string) []int {
		switch {
		case len(args) > 0 && strings.EqualFold(args[0], "new"):
			return secretsFrom(4)(args)
		case len(args) > 0 && strings.EqualFold(args[0], "password"):
			return secretsFrom(2)(args)
		}
		return nil
	}
	return cmd
}

// userLine is an account as the list shows it: name, full name, role and
// what is special about it.
func userLine(u config.User) string {
	var notes []string
	if u.MustChangePassword {
		notes = append(notes, "must change the password")
	}
	if u.NoPasswordLogin {
		notes = append(notes, "password login off")
	}
	switch len(u.SSHKeys) {
	case 0:
	case 1:
		notes = append(notes, "1 SSH key")
	default:
		notes = append(notes, fmt.Sprintf("%d SSH keys", len(u.SSHKeys)))
	}
	switch len(u.APITokens) {
	case 0:
	case 1:
		notes = append(notes, "1 API token")
	default:
		notes = append(notes, fmt.Sprintf("%d API tokens", len(u.APITokens)))
	}
	return fmt.Sprintf("%s - %q (%s)", u.Name, u.FullName, strings.Join(append([]string{u.Role}, notes...), ", "))
}

func policyLine(p config.PasswordPolicy) string {
	rules := []string{fmt.Sprintf("at least %d characters", p.MinLength)}
	if p.NotUserName {
		rules = append(rules, "not the user name")
	}
	if p.NotPrevious {
		rules = append(rules, "not the previous password")
	}
	return strings.Join(rules, ", ") + fmt.Sprintf("; %d failed logins lock an account out for %s", p.LockoutAfter, time.Duration(p.LockoutTime))
}

func printUsers(s *shell.Session, c *config.Config) {
	lines := make([]string, len(c.Users))
	for i, u := range c.Users {
		lines[i] = fmt.Sprintf("%d. %s", i+1, userLine(u))
	}
	printList(s, "No user accounts are configured.", "Users:", lines)
	s.Println()
	s.Printf("Password policy: %s.\n", policyLine(c.PasswordPolicy))
}

// roleItems is the role menu.
func roleItems() []string {
	out := make([]string, len(config.Roles))
	for i, r := range config.Roles {
		out[i] = r.Label + " - " + r.Description
	}
	return out
}

func askRole(s *shell.Session, name, current string) (string, error) {
	def := len(config.Roles) // operator: the least a new account gets
	for i, r := range config.Roles {
		if r.Value == current {
			def = i + 1
		}
	}
	i, err := s.Choose(fmt.Sprintf("Assign a role to %q:", name), roleItems(), def)
	if err != nil {
		return "", err
	}
	return config.Roles[i].Value, nil
}

func newUser(s *shell.Session, c *config.Config) error {
	name, err := askNew(s, "Enter the new username.", func(a string) error {
		taken := ""
		if u, err := c.FindUser(a); err == nil {
			taken = u.Name
		}
		return config.CheckNewName(config.KindUser, a, taken)
	})
	if err != nil {
		return err
	}
	full, err := s.Text(fmt.Sprintf("Enter the full name for %s.", name), "", config.CheckFullName)
	if err != nil {
		return err
	}
	role, err := askRole(s, name, "")
	if err != nil {
		return err
	}
	s.Println()
	pass, err := askNewPassword(s, fmt.Sprintf("Enter the password for %s:", name), policyCheck(c, name))
	if err != nil {
		return err
	}
	return addUser(s, c, config.User{Name: name, FullName: full, Role: role}, pass)
}

func addUser(s *shell.Session, c *config.Config, u config.User, password string) error {
	if err := c.AddUser(u, password); err != nil {
		return err
	}
	s.Printf("\nUser %s created (pending until commit); %s must choose a new password at the first login.\n", u.Name, u.Name)
	return nil
}

func editUser(s *shell.Session, c *config.Config) error {
	name, err := pickUser(s, c, "Enter the username or number to edit.")
	if err != nil {
		return err
	}
	return loopMenu(s, func() {
		if u, err := c.FindUser(name); err == nil {
			s.Printf("\nUser %s\n", userLine(*u))
		}
	}, fixed(
		menuOp{"NAME", "Change the full name.", func() error {
			u, err := c.FindUser(name)
			if err != nil {
				return err
			}
			full, err := s.Text(fmt.Sprintf("Enter the full name for %s.", u.Name), u.FullName, config.CheckFullName)
			if err != nil {
				return err
			}
			return c.SetFullName(name, full)
		}},
		menuOp{"ROLE", "Change the role.", func() error {
			u, err := c.FindUser(name)
			if err != nil {
				return err
			}
			role, err := askRole(s, u.Name, u.Role)
			if err != nil || role == u.Role {
				return err
			}
			return c.SetRole(name, role)
		}},
		menuOp{"PASSWORDLOGIN", "Allow or refuse logins with a password (key-only).", func() error { return passwordLogin(s, c, name) }},
		menuOp{"SSHKEYS", "Manage the SSH public keys.", func() error { return userKeysMenu(s, name, false) }},
	))
}

// passwordLogin says whether the account may log in with a password and
// offers the one operation that changes it.
func passwordLogin(s *shell.Session, c *config.Config, name string) error {
	u, err := c.FindUser(name)
	if err != nil {
		return err
	}
	on := !u.NoPasswordLogin
	s.Printf("\nPassword login for %s is currently %s.\n", u.Name, strings.ToLower(enableWord(on)))
	if !on || len(u.SSHKeys) > 0 {
		s.Printf("%s has %d SSH key(s).\n", u.Name, len(u.SSHKeys))
	}
	word, verb := "ENABLE", "Allow"
	if on {
		word, verb = "DISABLE", "Refuse"
	}
	op, err := s.Menu([]shell.Op{{Word: word, Description: verb + " logins with a password for " + u.Name + "."}})
	if err != nil || op == "" {
		return err
	}
	if err := c.SetPasswordLogin(name, op == "ENABLE"); err != nil {
		return err
	}
	s.Printf("Password login for %s is now %s (pending until commit).\n", u.Name, strings.ToLower(enableWord(op == "ENABLE")))
	return nil
}

func deleteUser(s *shell.Session, c *config.Config) error {
	name, err := pickUser(s, c, "Enter the username or number to delete.")
	if err != nil {
		return err
	}
	if err := c.Clone().DeleteUser(name, s.User); err != nil {
		return err // refused before asking
	}
	ok, err := s.YesNo(fmt.Sprintf("Are you sure you want to delete the user %q?", name), false)
	if err != nil || !ok {
		return err
	}
	return removeUser(s, c, name)
}

func removeUser(s *shell.Session, c *config.Config, name string) error {
	u, err := c.FindUser(name)
	if err != nil {
		return err
	}
	name = u.Name
	if err := c.DeleteUser(name, s.User); err != nil {
		return err
	}
	s.Printf("User %s deleted (pending until commit).\n", name)
	return nil
}

func passwordPolicy(s *shell.Session, c *config.Config) error {
	p := c.PasswordPolicy
	s.Printf("\nPassword policy: %s.\n", policyLine(p))
	n, err := askInt(s, "Enter the minimum number of characters in passwords.", p.MinLength, config.PasswordLengthRange)
	if err != nil {
		return err
	}
	p.MinLength = n
	if p.NotUserName, err = s.YesNo("Do you want to ensure that passwords are not the same as the user name?", p.NotUserName); err != nil {
		return err
	}
	if p.NotPrevious, err = s.YesNo("Do you want to ensure that a new password is not the same as the previous one?", p.NotPrevious); err != nil {
		return err
	}
	if p.LockoutAfter, err = askInt(s, "Enter the number of failed login attempts (GUI and SSH) that lock an account and its address out.", p.LockoutAfter, config.LockoutAfterRange); err != nil {
		return err
	}
	secs, err := askInt(s, "Enter how long a lock-out lasts, in seconds.", seconds(p.LockoutTime), config.LockoutSecondsRange)
	if err != nil {
		return err
	}
	p.LockoutTime = fromSeconds(secs)
	return c.SetPasswordPolicy(p)
}

func setPassword(s *shell.Session, c *config.Config) error {
	name, err := pickUser(s, c, "Enter the username or number to change the password for.")
	if err != nil {
		return err
	}
	s.Println()
	pass, err := askNewPassword(s, fmt.Sprintf("Enter the new password for %s:", name), policyCheck(c, name))
	if err != nil {
		return err
	}
	return resetPassword(s, c, name, pass)
}

func resetPassword(s *shell.Session, c *config.Config, name, password string) error {
	if err := c.SetPassword(name, password); err != nil {
		return err
	}
	u, _ := c.FindUser(name)
	s.Printf("\nPassword of %s changed (pending until commit); %s must choose a new one at the next login.\n", u.Name, u.Name)
	return nil
}

func userBatch(s *shell.Session, args []string) error {
	c := s.Pending.Config()
	op := strings.ToLower(args[0])
	if containsWord([]string{"new", "edit", "delete", "policy", "password", "apitokens"}, op) {
		if err := refuseOperator(s, "userconfig "+strings.ToUpper(op)); err != nil {
			return err
		}
	}
	switch {
	case op == "print" && len(args) == 1:
		printUsers(s, c)
		return nil
	case op == "new" && len(args) == 5:
		if err := checkBatchSecret("password", args[4]); err != nil {
			return err
		}
		role := strings.ToLower(args[3])
		if err := config.CheckRole(role); err != nil {
			return err
		}
		return addUser(s, c, config.User{Name: args[1], FullName: args[2], Role: role}, args[4])
	case op == "edit" && len(args) == 4:
		return editBatch(c, args[1], strings.ToLower(args[2]), args[3])
	case op == "delete" && len(args) == 2:
		return removeUser(s, c, args[1])
	case op == "policy" && len(args) > 1:
		kv, err := parseKV(args[1:], "min_length", "not_user_name", "not_previous", "lockout_after", "lockout_seconds")
		if err != nil {
			return err
		}
		p := c.PasswordPolicy
		if v, ok := kv["min_length"]; ok {
			if p.MinLength, err = config.PasswordLengthRange.Parse(v); err != nil {
				return err
			}
		}
		if v, ok := kv["lockout_after"]; ok {
			if p.LockoutAfter, err = config.LockoutAfterRange.Parse(v); err != nil {
				return err
			}
		}
		if v, ok := kv["lockout_seconds"]; ok {
			secs, err := config.LockoutSecondsRange.Parse(v)
			if err != nil {
				return err
			}
			p.LockoutTime = fromSeconds(secs)
		}
		for key, b := range map[string]*bool{"not_user_name": &p.NotUserName, "not_previous": &p.NotPrevious} {
			if v, ok := kv[key]; ok {
				if *b, err = onOff("userconfig policy "+key, v); err != nil {
					return err
				}
			}
		}
		return c.SetPasswordPolicy(p)
	case op == "apitokens" && len(args) == 3 && strings.EqualFold(args[2], "list"):
		return printTokens(s, c, args[1])
	case op == "apitokens" && len(args) == 4 && strings.EqualFold(args[2], "new"):
		return newToken(s, c, args[1], args[3])
	case op == "apitokens" && len(args) == 4 && strings.EqualFold(args[2], "revoke"):
		return revokeToken(s, c, args[1], args[3])
	case op == "password" && len(args) == 3:
		if err := checkBatchSecret("password", args[2]); err != nil {
			return err
		}
		return resetPassword(s, c, args[1], args[2])
	}
	return usage("userconfig", userconfigForm)
}

func editBatch(c *config.Config, name, field, value string) error {
	switch field {
	case "fullname":
		return c.SetFullName(name, value)
	case "role":
		return c.SetRole(name, strings.ToLower(value))
	case "passwordlogin":
		on, err := onOff("userconfig edit "+name+" passwordlogin", value)
		if err != nil {
			return err
		}
		return c.SetPasswordLogin(name, on)
	}
	return fmt.Errorf("userconfig edit: %q is not a setting: use fullname, role or passwordlogin (SSH keys: sshconfig userkeys)", field)
}

// apiTokensDialog is APITOKENS: pick an account, then make or revoke its tokens.
func apiTokensDialog(s *shell.Session, c *config.Config) error {
	name, err := pickUser(s, c, "Enter the username or number whose API tokens to manage.")
	if err != nil {
		return err
	}
	return loopMenu(s, func() { _ = printTokens(s, c, name) }, func() []menuOp {
		ops := []menuOp{{"NEW", "Create an API token (shown only once).", func() error {
			label, err := askNew(s, "Enter a label for the new token (e.g. deploy-script).", func(a string) error { return config.CheckName(config.KindAPIToken, a) })
			if err != nil {
				return err
			}
			return newToken(s, c, name, label)
		}}}
		if u, err := c.FindUser(name); err == nil && len(u.APITokens) > 0 {
			ops = append(ops, menuOp{"REVOKE", "Revoke an API token.", func() error {
				u, err := c.FindUser(name)
				if err != nil {
					return err
				}
				labels := make([]string, len(u.APITokens))
				for i, t := range u.APITokens {
					labels[i] = t.Label
				}
				i, err := pickFrom(s, "Enter the label or number of the token to revoke.", numbered(labels, labels), 0)
				if err != nil {
					return err
				}
				return revokeToken(s, c, name, labels[i])
			}})
		}
		return ops
	})
}

func printTokens(s *shell.Session, c *config.Config, name string) error {
	u, err := c.FindUser(name)
	if err != nil {
		return err
	}
	lines := make([]string, len(u.APITokens))
	for i, t := range u.APITokens {
		lines[i] = fmt.Sprintf("%d. %s (created %s)", i+1, t.Label, stamp(t.Created))
	}
	printList(s, fmt.Sprintf("%s has no API tokens.", u.Name), fmt.Sprintf("API tokens of %s:", u.Name), lines)
	return nil
}

// newToken makes a token, keeps its hash in the pending copy and shows the
// token this once.
func newToken(s *shell.Session, c *config.Config, name, label string) error {
	token, hash, err := config.NewAPIToken()
	if err != nil {
		return err
	}
	if err := c.AddAPIToken(name, label, hash, time.Now()); err != nil {
		return err
	}
	u, _ := c.FindUser(name)
	s.Printf("\nAPI token %s of %s (pending until commit; shown only now, keep it secret):\n%s\n", label, u.Name, token)
	return nil
}

func revokeToken(s *shell.Session, c *config.Config, name, label string) error {
	if err := c.RevokeAPIToken(name, label); err != nil {
		return err
	}
	u, _ := c.FindUser(name)
	s.Printf("API token %s of %s revoked (pending until commit).\n", label, u.Name)
	return nil
}
