package commands

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"relaybox/mailengine/maillog"
)

// ParseGrepArgs parses the batch form after the word "grep":
//
//	grep [-e] "<regexp>" [-c] [-C <n>] [-i] [-t] [-p] mail_logs
//
// The expression is the first word that is not a flag (SPEC's
// grep PATTERN mail_logs), or given with -e (AsyncOS's form); -e may be
// repeated (a line matches if any expression matches); -c, -i, -t and -p may
// be combined as in -ci; -p (paginate) is accepted and left to the caller's
// pager. args are already split into words, with quotes removed, by the
// shell. It returns the options, whether -t (tail: keep following) was
// given, and the log name. The expression is compiled, so an invalid one is
// reported here.
func ParseGrepArgs(args []string) (maillog.GrepOptions, bool, string, error) {
	var (
		opts       maillog.GrepOptions
		tail       bool
		patterns   []string
		positional []string
	)
	fail := func(format string, a ...any) (maillog.GrepOptions, bool, string, error) {
		return maillog.GrepOptions{}, false, "", fmt.Errorf(format, a...)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		// A cluster of flags, as getopt reads it: "-ci", "-eTLS", "-C3", "-ie TLS".
	cluster:
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 'c':
				opts.Count = true
			case 'i':
				opts.IgnoreCase = true
			case 't':
				tail = true
			case 'p':
			case 'e', 'C':
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						if c == 'e' {
							return fail(`-e needs a regular expression, as in: grep -e "TLS" %s`, maillog.LogName)
						}
						return fail(`-C needs a number of context lines, as in: grep -e "TLS" -C 2 %s`, maillog.LogName)
					}
					i++
					val = args[i]
				}
				if c == 'e' {
					patterns = append(patterns, val)
				} else if n, err := strconv.Atoi(val); err != nil || n < 0 || n > maillog.MaxContext {
					return fail("bad -C number %q; give a number of context lines from 0 to %d", val, maillog.MaxContext)
				} else {
					opts.Context = n
				}
				break cluster
			case 'f':
				return fail("-f (file name pattern) is not supported; leave it out to search all %s files", maillog.LogName)
			default:
				return fail("unknown flag %q in %q; use -e <regexp>, -c, -C <n>, -i, -p or -t", "-"+string(rune(c)), a)
			}
		}
	}
	if len(patterns) == 0 && len(positional) >= 2 {
		patterns, positional = []string{positional[0]}, positional[1:]
	}
	switch {
	case len(patterns) == 0:
		return fail(`missing the regular expression; for example: grep "TLS" %s, or grep -e "TLS" %s`, maillog.LogName, maillog.LogName)
	case len(positional) == 0:
		return fail("missing log name; the only log is %s", maillog.LogName)
	case len(positional) > 1:
		return fail("unexpected argument %q after log name %q; give one log name, such as %s", positional[1], positional[0], maillog.LogName)
	case positional[0] != maillog.LogName:
		return fail("unknown log %q; the only log is %s", positional[0], maillog.LogName)
	}
	opts.Pattern = patterns[0]
	if len(patterns) > 1 {
		opts.Pattern = "(?:" + strings.Join(patterns, ")|(?:") + ")"
	}
	for _, p := range append(patterns, opts.Pattern) { // each alone first, for a message that names the bad one
		if opts.IgnoreCase {
			p = "(?i)" + p
		}
		if _, err := regexp.Compile(p); err != nil {
			return fail("invalid regular expression %q: %v; fix the expression (Go RE2 syntax)", strings.TrimPrefix(p, "(?i)"), err)
		}
	}
	return opts, tail, positional[0], nil
}
