package commands

import (
	"errors"
	"strings"

	"relaybox/config"
	"relaybox/shell"
)

func commit(app *App) shell.Command {
	return shell.Command{
		Name:    "commit",
		Summary: "Validate the pending changes and apply them to the running appliance.",
		Help: `Asks for a comment, validates the whole pending configuration, applies it to the
running engine without dropping connections, then saves it as a new version.
If applying fails, the appliance keeps the previous version, nothing is saved,
and your pending changes stay so you can fix them. Only administrators commit
(operators' changes stay pending until an administrator's session commits them).

Batch form:
  commit [COMMENT WORDS...]`,
		Run: func(s *shell.Session, args []string) error {
			if err := refuseOperator(s, "commit"); err != nil {
				return err
			}
			if !s.Pending.Changed() {
				s.Println("There is no data to commit.")
				return nil
			}
			comment := strings.Join(args, " ")
			if len(args) == 0 {
				var err error
				s.Println()
				s.Println("Please enter some comments describing your changes:")
				comment, err = s.Custom("[]> ", nil)
				if err != nil {
					return err
				}
			}
			c, err := s.Pending.Commit(s.Context(), s.User, comment, app.Engine)
			if errors.Is(err, config.ErrNothingToCommit) {
				s.Println("There is no data to commit.")
				return nil
			}
			if err != nil {
				return err
			}
			s.Println()
			s.Printf("Changes committed: %s\n", stamp(c.Time))
			return nil
		},
	}
}

func clearchanges() shell.Command {
	return shell.Command{
		Name:    "clearchanges",
		Aliases: []string{"clear"},
		Summary: "Discard the pending changes of this session.",
		Help: `Asks for confirmation, then discards every change made since the last commit
in this session.

Batch form:
  clearchanges confirm`,
		Run: func(s *shell.Session, args []string) error {
			switch {
			case len(args) == 1 && strings.EqualFold(args[0], "confirm"):
			case len(args) > 0:
				return usage("clearchanges", "clearchanges confirm")
			default:
				if !s.Pending.Changed() {
					s.Println("There are no changes to clear.")
					return nil
				}
				ok, err := s.YesNo("Are you sure you want to clear all changes since the last commit?", true)
				if err != nil || !ok {
					return err
				}
			}
			s.Pending.Clear()
			s.Println("Changes cleared.")
			return nil
		},
	}
}

func showchanges() shell.Command {
	return shell.Command{
		Name:    "showchanges",
		Summary: "Show the pending changes of this session against the committed configuration.",
		Help: `Prints a line diff of the pending configuration against the committed one:
lines starting with "-" are committed, "+" pending. Secrets are masked.

Batch form:
  showchanges`,
		Run: func(s *shell.Session, args []string) error {
			if len(args) > 0 {
				return usage("showchanges", "showchanges")
			}
			d := s.Pending.Diff()
			if d == "" {
				s.Println("There are no uncommitted changes.")
				return nil
			}
			if secs := config.ChangedSections(s.Pending.Base(), s.Pending.Config()); len(secs) > 0 {
				s.Printf("Uncommitted changes in: %s\n\n", strings.Join(secs, ", "))
			}
			s.Print(d)
			return nil
		},
	}
}
