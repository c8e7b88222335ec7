package commands

import (
	"fmt"
	"strconv"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

const rollbackconfigHelp = `Makes an earlier committed version this session's pending configuration, and
offers to commit it. Both the dialog and the batch form speak versions: the
number of a version in the list is its version number.

Dialog: rollbackconfig shows whether Rollback Configuration is enabled, then
  ROLLBACK  the kept versions (version, time, user, comment); choose one
  SETUP     enable or disable Rollback Configuration (disabled: no ROLLBACK)
The last 50 committed versions are kept either way. User accounts, their
passwords and keys, and the password policy are not rolled back.

Batch forms:
  rollbackconfig VERSION [commit]
  rollbackconfig setup enable|disable
Changes are pending until commit.`

func rollbackconfig(app *App) shell.Command {
	return command("rollbackconfig", "Make an earlier committed version pending again (and optionally commit it).", rollbackconfigHelp,
		func(s *shell.Session, args []string) error {
			if strings.EqualFold(args[0], "setup") && len(args) == 2 {
				on, err := onOff("rollbackconfig setup", args[1])
				if err == nil {
					s.Pending.Config().Rollback.Disabled = !on
				}
				return err
			}
			if len(args) > 2 || (len(args) == 2 && !strings.EqualFold(args[1], "commit")) {
				return usage("rollbackconfig", "rollbackconfig VERSION [commit] | setup enable|disable")
			}
			v, err := strconv.Atoi(args[0])
			if err != nil {
				return fmt.Errorf("That value is not valid: %q is not a version number; rollbackconfig lists them", args[0])
			}
			if err := rollbackEnabled(s); err != nil {
				return err
			}
			return rollbackTo(s, app, v, len(args) == 2)
		},
		func(s *shell.Session) error {
			r := func() *config.Rollback { return &s.Pending.Config().Rollback }
			return loopMenu(s, func() {
				s.Printf("\nRollback Configuration: %s (the last %d commits are kept)\n", enableWord(!r().Disabled), config.HistorySize)
			}, func() []menuOp {
				setup := menuOp{"SETUP", "Enable or disable Rollback Configuration.", func() error {
					verb := "disable"
					if r().Disabled {
						verb = "enable"
					}
					change, err := s.YesNo(fmt.Sprintf("Do you want to %s the Rollback Configuration?", verb), false)
					if change {
						r().Disabled = !r().Disabled
					}
					return err
				}}
				if r().Disabled {
					return []menuOp{setup}
				}
				return []menuOp{{"ROLLBACK", "Roll back to a committed version.", func() error { return rollbackDialog(s, app) }}, setup}
			})
		})
}

func rollbackEnabled(s *shell.Session) error {
	if s.Pending.Config().Rollback.Disabled {
		return fmt.Errorf("Rollback Configuration is disabled: enable it with rollbackconfig SETUP (or rollbackconfig setup enable)")
	}
	return nil
}

func rollbackDialog(s *shell.Session, app *App) error {
	hist := app.Store.History()
	if len(hist) < 2 {
		s.Println("There is no earlier configuration to roll back to.")
		return nil
	}
	items := make([]listItem, len(hist))
	for i, h := range hist {
		items[i] = listItem{num: h.Version, text: fmt.Sprintf("%s, %s: %s", stamp(h.Time), config.EscapeControl(h.User), config.EscapeControl(h.Comment))}
		if h.Version == app.Store.Current().Version {
			items[i].text += " (committed now)"
		}
	}
	i, err := pickFrom(s, "Enter the number of the config to revert to (the number is the version).", items, 0)
	if err != nil {
		return err
	}
	ok, err := s.YesNo(fmt.Sprintf("Do you want to roll back the configuration to version %d?", hist[i].Version), true)
	if err != nil || !ok {
		return err
	}
	now, err := s.YesNo("Do you want to commit this configuration now?", false)
	if err != nil {
		return err
	}
	return rollbackTo(s, app, hist[i].Version, now)
}

func rollbackTo(s *shell.Session, app *App, v int, commitNow bool) error {
	if commitNow {
		if err := refuseOperator(s, "commit"); err != nil {
			return err
		}
	}
	old, err := app.Store.Version(v)
	if err != nil {
		return err
	}
	// The rollback setting itself is not rolled back: it is how the admin
	// reached this version. Nor are the accounts and the password policy: a
	// rollback must not bring back an old password, a deleted account or a
	// removed key.
	old = old.Clone()
	cur := s.Pending.Config()
	old.Rollback = cur.Rollback
	old.Users, old.PasswordPolicy = cur.Clone().Users, cur.PasswordPolicy
	s.Pending.Replace(old)
	if !s.Pending.Changed() {
		s.Printf("Version %d has the same settings as the committed configuration; nothing to roll back.\n", v)
		return nil
	}
	if !commitNow {
		s.Printf("Version %d is now pending. Use commit to apply it.\n", v)
		return nil
	}
	c, err := s.Pending.Commit(s.Context(), s.User, fmt.Sprintf("rollback to version %d", v), app.Engine)
	if err != nil {
		return err
	}
	s.Printf("Changes committed: %s\n", stamp(c.Time))
	return nil
}
