package commands

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"relaybox/config"
	"relaybox/shell"
)

func who(app *App) shell.Command {
	return command("who", "List the users logged in now: from where, since when, idle, how.", `Lists the open shell sessions: user name, login time, idle time, where from
(the client's address over SSH) and how (console, socket or ssh).

Batch form:
  who`, func(s *shell.Session, args []string) error {
		return usage("who", "who")
	}, func(s *shell.Session) error {
		s.Println()
		list := slices.Clone(app.Sessions.Who())
		slices.SortStableFunc(list, func(a, b SessionInfo) int { return a.Since.Compare(b.Since) })
		rows := make([][]string, len(list))
		for i, si := range list {
			rows[i] = []string{si.User, stamp(si.Since), span(si.Idle), orDash(si.From), si.Kind}
		}
		printTable(s, []string{"Username", "Login Time", "Idle Time", "Remote Host", "What"}, rows)
		return nil
	})
}

func last(app *App) shell.Command {
	return command("last", "List the recent logins, newest first, with their logout time and duration.", `Lists the recent logins, newest first: user name, where from, login time,
logout time ("still logged in" for an open session), how long, and how
(console, socket or ssh).

Batch form:
  last`, func(s *shell.Session, args []string) error {
		return usage("last", "last")
	}, func(s *shell.Session) error {
		s.Println()
		list := slices.Clone(app.Sessions.Last())
		if len(list) == 0 {
			s.Println("No logins are recorded.")
			return nil
		}
		slices.SortStableFunc(list, func(a, b LoginRecord) int { return cmp.Compare(b.Login.UnixNano(), a.Login.UnixNano()) })
		now := time.Now()
		rows := make([][]string, len(list))
		for i, r := range list {
			out, end := "still logged in", now
			if !r.Logout.IsZero() {
				out, end = stamp(r.Logout), r.Logout
			}
			rows[i] = []string{r.User, orDash(r.From), stamp(r.Login), out, span(end.Sub(r.Login)), r.Kind}
		}
		printTable(s, []string{"Username", "Remote Host", "Login Time", "Logout Time", "Total Time", "What"}, rows)
		return nil
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// span prints a duration as AsyncOS's who and last do: 42s, 15m, 3h 12m, 2d 5h.
func span(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// printTable prints rows under a header and a rule of '=', each column as
// wide as its widest cell. Cells are escaped: a user name or an address
// cannot drive the terminal.
func printTable(s *shell.Session, header []string, rows [][]string) {
	width := make([]int, len(header))
	all := append([][]string{header}, rows...)
	for r := range all {
		for i := range all[r] {
			all[r][i] = config.EscapeControl(all[r][i])
			width[i] = max(width[i], len([]rune(all[r][i])))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i < len(cells)-1 {
				fmt.Fprintf(&b, "%-*s  ", width[i], c)
			} else {
				b.WriteString(c)
			}
		}
		s.Println(b.String())
	}
	line(header)
	rule := make([]string, len(header))
	for i := range header {
		rule[i] = strings.Repeat("=", len([]rune(header[i])))
	}
	line(rule)
	for _, r := range rows {
		line(r)
	}
}
