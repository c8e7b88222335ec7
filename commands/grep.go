package commands

import (
	"fmt"

	"relaybox/mailengine/maillog"
	"relaybox/shell"
)

func grep(app *App) shell.Command {
	return shell.Command{
		Name:    "grep",
		Summary: "Search mail_logs with a regular expression.",
		Help: `Searches mail_logs (all rotated files, oldest first) with a regular expression.

Dialog: the log, the regular expression, case-insensitive?, tail (follow)?

Batch form (AsyncOS):
  grep -e "REGEXP" [-c] [-C N] [-i] [-t] mail_logs
  -c counts the matching lines, -C N shows N lines of context, -i ignores case,
  -t follows the log afterwards (on a terminal).`,
		Run: func(s *shell.Session, args []string) error {
			var opts maillog.GrepOptions
			follow := false
			if len(args) > 0 {
				var err error
				if opts, follow, _, err = maillog.ParseGrepArgs(args); err != nil {
					return fmt.Errorf("Unable to grep: %w", err)
				}
			} else {
				if _, err := s.Choose("Currently configured logs:", []string{maillog.LogName}, 1); err != nil {
					return err
				}
				re, err := s.Text("Enter the regular expression to grep.", "", func(a string) error {
					if a == "" {
						return fmt.Errorf("Please enter a value: the regular expression to search for")
					}
					_, _, _, err := maillog.ParseGrepArgs([]string{"-e", a, maillog.LogName})
					return err
				})
				if err != nil {
					return err
				}
				opts.Pattern = re
				if opts.IgnoreCase, err = s.YesNo("Do you want this search to be case insensitive?", true); err != nil {
					return err
				}
				if follow, err = s.YesNo("Do you want to tail the logs?", false); err != nil {
					return err
				}
			}
			n, err := app.Log.Grep(opts, func(line string) {
				if !opts.Count {
					s.Println(line)
				}
			})
			if err != nil {
				return fmt.Errorf("Unable to grep: %w", err)
			}
			switch {
			case opts.Count:
				s.Println(n)
			case n == 0:
				s.Println("No results were found.")
			}
			if follow {
				return tailLog(s, app.Log, 0)
			}
			return nil
		},
	}
}
