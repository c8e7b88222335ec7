// Package shell is the appliance's command line: the main prompt, AsyncOS-style
// operation menus and bracketed prompts, script mode for piped input, and the
// per-session pending configuration. It runs over any reader/writer pair, so
// the console, the local control socket and SSH share it unchanged.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"relaybox/config"
)

// Command is one appliance command.
type Command struct {
	Name    string
	Aliases []string
	// Summary is the one-line description shown by help.
	Summary string
	// Help is the full text shown by "help NAME", including the batch form.
	Help string
	// Run performs the command; args are the words after its name (batch form).
	Run func(s *Session, args []string) error
	// Secrets, when set, names the batch arguments that are secrets
	// (passphrases, passwords): given the words after the command's name, it
	// returns their indexes. The shell shows each as Mask wherever it echoes,
	// quotes or keeps the line. Every batch form that takes a secret declares it.
	Secrets func(args []string) []int
}

// Options configure one shell session.
type Options struct {
	Commands []Command
	// Pending is this session's own pending configuration.
	Pending *config.Pending
	User    string
	// Hostname gives the main prompt's host name.
	Hostname func() string
	// Interactive selects readline on Terminal; otherwise In is a script.
	Interactive bool
	Terminal    Terminal
	In          io.Reader
	Out, Err    io.Writer
	// KeepGoing makes a script continue after an invalid line.
	KeepGoing bool
	// Reader, when set, replaces the reader chosen from Interactive.
	Reader LineReader
}

// Session is one running shell: its input, output and pending configuration.
type Session struct {
	opts    Options
	ctx     context.Context
	in      LineReader
	comp    *completer
	out     io.Writer
	errOut  io.Writer
	line    int // input lines consumed (script mode)
	failed  bool
	secrets []string // the secret words of the current command line, longest first
	Pending *config.Pending
	User    string
}

// Context is the session's context, cancelled when the client goes away.
func (s *Session) Context() context.Context { return s.ctx }

// Interactive reports whether the session has a terminal.
func (s *Session) Interactive() bool { return s.opts.Interactive }

// Printf writes dialog output.
func (s *Session) Printf(format string, args ...any) { fmt.Fprintf(s.out, format, args...) }

// Println writes a line of dialog output.
func (s *Session) Println(args ...any) { fmt.Fprintln(s.out, args...) }

// Run runs a shell session until quit or end of input and returns the exit
// status: 0, or 1 when a script line failed.
func Run(ctx context.Context, opts Options) int {
	s := &Session{opts: opts, ctx: ctx, out: opts.Out, errOut: opts.Err, Pending: opts.Pending, User: opts.User, comp: &completer{}}
	if s.errOut == nil {
		s.errOut = s.out
	}
	switch {
	case opts.Reader != nil:
		s.in = opts.Reader
	case opts.Interactive:
		rl, err := newReadline(opts.Terminal, s.comp)
		if err != nil {
			fmt.Fprintf(s.errOut, "cannot start the line editor: %v\n", err)
			return 1
		}
		s.in = rl
	default:
		s.in = NewScriptReader(opts.In, s.out)
	}
	defer s.in.Close()
	s.loop()
	if s.failed {
		return 1
	}
	return 0
}

func (s *Session) commandWords() []string {
	var out []string
	for _, c := range s.opts.Commands {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}

func (s *Session) find(name string) *Command {
	for i, c := range s.opts.Commands {
		if strings.EqualFold(c.Name, name) {
			return &s.opts.Commands[i]
		}
		for _, a := range c.Aliases {
			if strings.EqualFold(a, name) {
				return &s.opts.Commands[i]
			}
		}
	}
	return nil
}

// errQuit ends the session.
var errQuit = errors.New("quit")

func (s *Session) loop() {
	for {
		if s.ctx.Err() != nil {
			return
		}
		s.comp.set(append(s.commandWords(), "help", "quit", "exit"))
		s.secrets = nil
		line, err := s.readCommand(s.opts.Hostname() + "> ")
		switch {
		case errors.Is(err, ErrInterrupt):
			continue
		case errors.Is(err, io.EOF):
			s.atEnd()
			return
		case err != nil:
			s.fail(err)
			return
		}
		spans, quote := splitSpans(line)
		secret := s.secretSpans(spans)
		s.secrets = secretWords(secret)
		if quote != 0 {
			s.report(unterminated(quote, maskSpans(line, secret)))
			if s.stop() {
				return
			}
			continue
		}
		if len(spans) == 0 {
			continue
		}
		if err := s.dispatch(words(spans)); errors.Is(err, errQuit) {
			return
		} else if err != nil && s.stop() {
			return
		}
	}
}

// stop reports whether a failed script must end now.
func (s *Session) stop() bool { return !s.opts.Interactive && !s.opts.KeepGoing }

func (s *Session) dispatch(words []string) error {
	name := strings.ToLower(words[0])
	switch name {
	case "quit", "exit", "q":
		if s.Pending.Changed() && s.opts.Interactive {
			ok, err := s.YesNo("You have uncommitted changes. Do you want to leave and discard them?", false)
			if err != nil || !ok {
				return nil
			}
		} else if s.Pending.Changed() {
			return s.report(fmt.Errorf("quit with uncommitted changes: they were discarded; run commit before quit"))
		}
		return errQuit
	case "help", "?":
		s.help(words[1:])
		return nil
	}
	cmd := s.find(name)
	if cmd == nil {
		return s.report(fmt.Errorf("Unknown command: %s", words[0]))
	}
	snap := s.Pending.Snapshot()
	err := cmd.Run(s, words[1:])
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInterrupt):
		s.Pending.Restore(snap)
		s.Println()
		s.Println("Command aborted; its changes were discarded.")
		return nil
	case errors.Is(err, io.EOF):
		s.Pending.Restore(snap)
		return s.report(fmt.Errorf("%s: the input ended in the middle of the dialog; its changes were discarded", cmd.Name))
	default:
		if !s.opts.Interactive {
			s.Pending.Restore(snap)
		}
		return s.report(err)
	}
}

// report shows an error, with any secret of the command line masked. In
// script mode it goes to stderr as "line N: …", and unless --keep-going the
// session's pending changes are discarded.
func (s *Session) report(err error) error {
	msg := s.redact(err.Error())
	if s.opts.Interactive {
		s.Println(msg)
		return err
	}
	fmt.Fprintf(s.errOut, "line %d: %s\n", s.line, msg)
	s.failed = true
	if !s.opts.KeepGoing && s.Pending.Changed() {
		s.Pending.Clear()
		fmt.Fprintf(s.errOut, "line %d: the session's uncommitted changes were discarded; nothing more was run\n", s.line)
	}
	return err
}

func (s *Session) fail(err error) {
	s.failed = true
	fmt.Fprintf(s.errOut, "input error: %v\n", err)
}

// atEnd handles the end of input at the main prompt.
func (s *Session) atEnd() {
	if s.opts.Interactive {
		s.Println()
		return
	}
	if s.Pending.Changed() {
		s.report(fmt.Errorf("the script ended with uncommitted changes, which were discarded: end it with commit"))
	}
}

func (s *Session) read(prompt string) (string, error) {
	line, err := s.in.ReadLine(prompt)
	if err == nil {
		s.line++
	}
	return line, err
}

func (s *Session) help(args []string) {
	if len(args) > 0 {
		cmd := s.find(args[0])
		if cmd == nil {
			s.Printf("Unknown command: %s\n", args[0])
			return
		}
		s.Printf("%s - %s\n\n%s\n", strings.ToUpper(cmd.Name), cmd.Summary, strings.TrimSpace(cmd.Help))
		return
	}
	s.Println("Commands (type help COMMAND for one; case does not matter):")
	cmds := append([]Command(nil), s.opts.Commands...)
	cmds = append(cmds,
		Command{Name: "help", Summary: "List commands, or explain one: help COMMAND."},
		Command{Name: "quit", Summary: "Leave the shell (asks when changes are uncommitted). Also: exit."})
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	for _, c := range cmds {
		s.Printf("  %-16s %s\n", c.Name, c.Summary)
	}
}

// SplitWords splits a command line into words; double or single quotes group
// words, and a backslash escapes the next character inside double quotes.
func SplitWords(line string) ([]string, error) {
	spans, quote := splitSpans(line)
	if quote != 0 {
		return nil, unterminated(quote, line)
	}
	return words(spans), nil
}
