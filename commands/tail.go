package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"relaybox/mailengine/maillog"
	"relaybox/shell"
)

// MailLogs is what tail and grep need of mail_logs.
type MailLogs interface {
	Tail(n int) ([]string, error)
	Follow(ctx context.Context, from int, out func(line string)) error
	Grep(opts maillog.GrepOptions, out func(line string)) (int, error)
}

const tailLines = 20

func tail(app *App) shell.Command {
	return shell.Command{
		Name:    "tail",
		Summary: "Show the end of mail_logs and follow it (until Enter or Ctrl-C).",
		Help: `Shows the last lines of mail_logs. On a terminal it then follows the log,
printing new lines as they are written, until you press Enter or Ctrl-C. In a
script it prints the last lines and returns.

Batch form:
  tail mail_logs [LINES]`,
		Run: func(s *shell.Session, args []string) error {
			n := tailLines
			switch {
			case len(args) == 0:
				i, err := s.Choose("Currently configured logs:", []string{maillog.LogName}, 1)
				if err != nil {
					return err
				}
				_ = i
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
		},
	}
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
