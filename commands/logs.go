package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"relaybox/mailengine/maillog"
	"relaybox/shell"
)

// This file is tail and grep of mail_logs; grepargs.go parses grep's batch form.

// MailLogs is what tail and grep need of mail_logs.
type MailLogs interface {
	Tail(n int) ([]string, error)
	Follow(ctx context.Context, from int, out func(line string)) error
	Grep(opts maillog.GrepOptions, out func(line string)) (int, error)
}

const tailLines = 20

// chooseLog asks which log (there is one), by number or name.
func chooseLog(s *shell.Session) error {
	_, err := pickFrom(s, "Currently configured logs:", numbered([]string{maillog.LogName}, []string{maillog.LogName}), 1)
	return err
}

func tail(app *App) shell.Command {
	return command("tail", "Show the end of mail_logs and follow it (until Enter or Ctrl-C).", `Shows the last lines of mail_logs. On a terminal it then follows the log,
printing new lines as they are written, until you press Enter or Ctrl-C. In a
script it prints the last lines and returns.

Batch form:
  tail mail_logs [LINES]`, func(s *shell.Session, args []string) error {
		n := tailLines
		switch {
		case args[0] != maillog.LogName || len(args) > 2:
			return fmt.Errorf("Unable to tail: %q is not a log; the logs are: %s (usage: tail mail_logs [LINES])", strings.Join(args, " "), maillog.LogName)
		case len(args) == 2:
			v, err := strconv.Atoi(args[1])
			if err != nil || v < 1 {
				return fmt.Errorf("Unable to tail: %q is not a number of lines", args[1])
			}
			n = v
		}
		return tailLog(s, app.Log, n)
	}, func(s *shell.Session) error {
		if err := chooseLog(s); err != nil {
			return err
		}
		return tailLog(s, app.Log, tailLines)
	})
}

// tailLog prints the last n lines; on a terminal it follows until a key.
func tailLog(s *shell.Session, logs MailLogs, n int) error {
	if !s.Interactive() {
		lines, err := logs.Tail(n)
		if err != nil {
			return fmt.Errorf("Unable to tail: %w", err)
		}
		for _, l := range lines {
			s.Println(l)
		}
		return nil
	}
	s.Println("Press Enter or Ctrl-C to stop.")
	ctx, cancel := context.WithCancel(s.Context())
	done := make(chan error, 1)
	go func() { done <- logs.Follow(ctx, n, func(line string) { s.Println(line) }) }()
	_, err := s.WaitKey()
	cancel()
	if ferr := <-done; ferr != nil && ctx.Err() == nil {
		return fmt.Errorf("Unable to tail: %w", ferr)
	}
	if err == shell.ErrInterrupt {
		return nil
	}
	return err
}

func grep(app *App) shell.Command {
	return command("grep", "Search mail_logs with a regular expression.", `Searches mail_logs (all rotated files, oldest first) with a regular expression.

Dialog: the log, the regular expression (Enter goes back), case-insensitive?,
tail (follow)?

Batch forms (SPEC's, and AsyncOS's with -e):
  grep "REGEXP" [-c] [-C N] [-i] [-t] mail_logs
  grep -e "REGEXP" [-e "REGEXP"…] [-c] [-C N] [-i] [-t] mail_logs
  -c counts the matching lines, -C N shows N lines of context, -i ignores case,
  -t follows the log afterwards (on a terminal).`, func(s *shell.Session, args []string) error {
		opts, follow, _, err := ParseGrepArgs(args)
		if err != nil {
			return fmt.Errorf("Unable to grep: %w", err)
		}
		return runGrep(s, app, opts, follow)
	}, func(s *shell.Session) error {
		if err := chooseLog(s); err != nil {
			return err
		}
		re, err := askNew(s, "Enter the regular expression to grep.", func(a string) error {
			_, _, _, err := ParseGrepArgs([]string{"-e", a, maillog.LogName})
			return err
		})
		if err != nil {
			return err
		}
		opts := maillog.GrepOptions{Pattern: re}
		if opts.IgnoreCase, err = s.YesNo("Do you want this search to be case insensitive?", true); err != nil {
			return err
		}
		follow, err := s.YesNo("Do you want to tail the logs?", false)
		if err != nil {
			return err
		}
		return runGrep(s, app, opts, follow)
	})
}

func runGrep(s *shell.Session, app *App, opts maillog.GrepOptions, follow bool) error {
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
}
