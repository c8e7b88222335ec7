package commands

import (
	"fmt"
	"strconv"
	"strings"

	"relaybox/shell"
)

func rollbackconfig(app *App) shell.Command {
	return shell.Command{
		Name:    "rollbackconfig",
		Summary: "Make an earlier committed version pending again (and optionally commit it).",
		Help: `Lists the last committed versions (version, time, user, comment), makes the one
you choose this session's pending configuration, and offers to commit it.

Batch form:
  rollbackconfig VERSION [commit]`,
		Run: func(s *shell.Session, args []string) error {
			hist := app.Store.History()
			if len(args) > 0 {
				if len(args) > 2 || (len(args) == 2 && !strings.EqualFold(args[1], "commit")) {
					return usage("rollbackconfig", "rollbackconfig VERSION [commit]")
				}
				v, err := strconv.Atoi(args[0])
				if err != nil {
					return fmt.Errorf("That value is not valid: %q is not a version number; rollbackconfig lists them", args[0])
				}
				return rollbackTo(s, app, v, len(args) == 2)
			}
			if len(hist) < 2 {
				s.Println("There is no earlier configuration to roll back to.")
				return nil
			}
			items := make([]string, len(hist))
			for i, h := range hist {
				items[i] = fmt.Sprintf("Version %d, %s, %s: %s", h.Version, stamp(h.Time), h.User, h.Comment)
			}
			i, err := s.Choose("Enter the number of the config to revert to.", items, 0)
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
		},
	}
}

func rollbackTo(s *shell.Session, app *App, v int, commitNow bool) error {
	old, err := app.Store.Version(v)
	if err != nil {
		return err
	}
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
