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
	"slices"
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
	// Role is the logged-in user's role (config.RoleAdmin, config.RoleOperator),
	// fixed at login; "" is the machine owner (the console and the control
	// socket), who may do everything.
	Role string
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
	// StopsAppliance says that leaving this session stops the appliance
	// (console mode): quit, exit and Ctrl-D say so, and so does the question
	// they ask when changes are uncommitted.
	StopsAppliance bool
	// Start, when set, runs before the first prompt (a forced password
	// change at login); an error is shown and ends the session with status 1.
	Start func(*Session) error
	// Activity, when set, is called each time a command line is read (the
	// session registry's idle time).
	Activity func()
	// Done, when set, is called when the session ends, however it ends.
	Done func()
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
	inputs  []string // the long inputs of the current command (noteInput)
	Pending *config.Pending
	User    string
	Role    string // as Options.Role
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
	if opts.Done != nil {
		defer opts.Done()
	}
	s := &Session{opts: opts, ctx: ctx, out: opts.Out, errOut: opts.Err, Pending: opts.Pending, User: opts.User, Role: opts.Role, comp: &completer{}}
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
	if opts.Start != nil {
		if err := opts.Start(s); err != nil {
			fmt.Fprintln(s.errOut, err)
			return 1
		}
	}
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
		s.secrets, s.inputs = nil, nil
		line, err := s.readCommand(s.opts.Hostname() + "> ")
		if s.opts.Activity != nil {
			s.opts.Activity()
		}
		var long *LineTooLongError
		switch {
		case errors.Is(err, ErrInterrupt):
			continue
		case errors.Is(err, ErrCtrlD) && s.opts.Interactive:
			if s.leave() != nil {
				return
			}
			continue
		case errors.Is(err, io.EOF):
			s.atEnd()
			return
		case errors.As(err, &long):
			s.report(err)
			if s.stop() {
				return
			}
			continue
		case err != nil:
			s.fail(err)
			return
		}
		spans, quote := splitSpans(line)
		secret := s.secretSpans(spans)
		s.secrets = secretWords(secret)
		s.noteInput(maskSpans(line, secret))
		for _, sp := range spans {
			if !isSecret(sp, secret) {
				s.noteInput(sp.word)
			}
		}
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
		return s.leave()
	case "help", "?":
		if err := s.help(words[1:]); err != nil {
			return s.report(err)
		}
		return nil
	}
	cmd := s.find(name)
	if cmd == nil {
		return s.report(unknownCommand(words[0]))
	}
	snap := s.Pending.Snapshot()
	err := cmd.Run(s, words[1:])
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInterrupt), errors.Is(err, ErrCtrlD) && s.opts.Interactive:
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
	msg := s.message(err)
	if s.opts.Interactive {
		s.Println(msg)
		return err
	}
	line := s.line
	var le *LineError
	if errors.As(err, &le) && le.Line > 0 && le.Line <= s.line {
		line = le.Line
	}
	fmt.Fprintf(s.errOut, "line %d: %s\n", line, msg)
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
	if err == nil || isTooLong(err) {
		s.line++
	}
	if err == nil {
		s.noteInput(line, strings.TrimSpace(line))
	}
	return line, err
}

func isTooLong(err error) bool {
	var long *LineTooLongError
	return errors.As(err, &long)
}

// unknownCommand is the error for a word that names no command.
func unknownCommand(word string) error {
	return fmt.Errorf("Unknown command: %s", ShowInput(word))
}

// leave ends the session for quit, exit or Ctrl-D (errQuit), or returns nil
// to stay. With uncommitted changes it asks first on a terminal; a script
// that quits with uncommitted changes fails.
func (s *Session) leave() error {
	if s.Pending.Changed() && !s.opts.Interactive {
		return s.report(fmt.Errorf("quit with uncommitted changes: they were discarded; run commit before quit"))
	}
	if s.Pending.Changed() {
		question := "You have uncommitted changes. Do you want to leave and discard them?"
		if s.opts.StopsAppliance {
			question = "You have uncommitted changes. Do you want to discard them and stop the appliance?"
		}
		ok, err := s.YesNo(question, false)
		switch {
		case errors.Is(err, io.EOF) && !errors.Is(err, ErrCtrlD):
			// The terminal went away: nobody is left to ask.
		case err != nil || !ok:
			return nil
		}
	}
	if s.opts.StopsAppliance && s.opts.Interactive {
		s.Println("Stopping the appliance (leaving the console stops it).")
	}
	return errQuit
}

// help lists the commands, or explains one; an unknown name is an error.
func (s *Session) help(args []string) error {
	builtins := s.builtins()
	if len(args) > 0 {
		cmd := s.find(args[0])
		for i, b := range builtins {
			names := append([]string{b.Name}, b.Aliases...)
			if cmd == nil && slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, args[0]) }) {
				cmd = &builtins[i]
			}
		}
		if cmd == nil {
			return fmt.Errorf("%w; type help for the list of commands", unknownCommand(args[0]))
		}
		s.Printf("%s - %s\n\n%s\n", strings.ToUpper(cmd.Name), cmd.Summary, strings.TrimSpace(cmd.Help))
		return nil
	}
	s.Println("Commands (type help COMMAND for one; case does not matter):")
	cmds := append(append([]Command(nil), s.opts.Commands...), builtins...)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Name < cmds[j].Name })
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.Name))
	}
	for _, c := range cmds {
		s.Printf("  %-*s %s\n", width, c.Name, c.Summary)
	}
	return nil
}

// builtins are the commands the shell itself runs: help and quit.
func (s *Session) builtins() []Command {
	leaving := "ends this session"
	if s.opts.StopsAppliance {
		leaving = "ends this session and, on this console (relaybox console), stops the appliance"
	}
	return []Command{
		{Name: "help", Aliases: []string{"?"}, Summary: "List commands, or explain one: help COMMAND.",
			Help: `help lists every command with a one-line description; help COMMAND explains one
and shows its batch form. Command names are case-insensitive. An unknown name
is an error (in a script: line N: Unknown command: …, exit status 1).

Batch form:
  help
  help COMMAND`},
		{Name: "quit", Aliases: []string{"exit", "q"}, Summary: "Leave the shell (asks when changes are uncommitted). Also: exit.",
			Help: `quit (or exit, or Ctrl-D at the main prompt on a terminal) ` + leaving + `.
With uncommitted changes it asks first whether to discard them: answer y to
leave without them, or press Enter (or Ctrl-D, or Ctrl-C) to stay, then use
commit to apply them or clearchanges to drop them. In a script, quit with
uncommitted changes fails the script (line N: …, exit status 1) and the
changes are discarded.

Batch form:
  quit
  exit`},
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
