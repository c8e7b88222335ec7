package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/chzyer/readline"
)

// ErrInterrupt is returned by a LineReader when the user pressed Ctrl-C.
var ErrInterrupt = errors.New("interrupted")

// LineReader reads one line of input after showing a prompt. It returns
// io.EOF at the end of input and ErrInterrupt on Ctrl-C.
type LineReader interface {
	ReadLine(prompt string) (string, error)
	Close() error
}

// scriptReader reads piped input: no line editing and no terminal tricks.
// It writes each prompt followed by the answer it read, so the output of a
// script is the same transcript an interactive session shows.
type scriptReader struct {
	sc   *bufio.Scanner
	echo io.Writer
}

// NewScriptReader reads lines from r for script mode, echoing prompt and
// answer to echo.
func NewScriptReader(r io.Reader, echo io.Writer) LineReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &scriptReader{sc: sc, echo: echo}
}

func (s *scriptReader) ReadLine(prompt string) (string, error) {
	return s.ReadCommand(prompt, nil)
}

// ReadCommand reads a line like ReadLine but echoes mask(line), so that the
// transcript never shows a secret batch argument.
func (s *scriptReader) ReadCommand(prompt string, mask func(string) string) (string, error) {
	if !s.sc.Scan() {
		if err := s.sc.Err(); err != nil {
			return "", err
		}
		if prompt != "" {
			fmt.Fprintln(s.echo, prompt)
		}
		return "", io.EOF
	}
	line := strings.TrimRight(s.sc.Text(), "\r")
	if prompt != "" {
		shown := line
		if mask != nil {
			shown = mask(line)
		}
		fmt.Fprintf(s.echo, "%s%s\n", prompt, shown)
	}
	return line, nil
}

// ReadSecret reads a line like ReadLine but never echoes the answer.
func (s *scriptReader) ReadSecret(prompt string) (string, error) {
	if !s.sc.Scan() {
		if err := s.sc.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	fmt.Fprintln(s.echo, prompt)
	return strings.TrimRight(s.sc.Text(), "\r"), nil
}

func (s *scriptReader) Close() error { return nil }

// secretReader is implemented by LineReaders that can read without echo.
type secretReader interface {
	ReadSecret(prompt string) (string, error)
}

// Terminal describes the terminal a readline session runs on.
type Terminal struct {
	In  io.ReadCloser
	Out io.Writer
	// Remote is true when the terminal is at the far end of a socket or SSH
	// channel: raw mode is the client's business and width comes from Width.
	Remote bool
	Width  func() int
}

// completer offers the words valid at the current prompt.
type completer struct {
	mu    sync.Mutex
	words []string
}

func (c *completer) set(words []string) {
	c.mu.Lock()
	c.words = words
	c.mu.Unlock()
}

// Do implements readline.AutoCompleter: it completes the word under the cursor
// when it is the first word of the line.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	typed := string(line[:pos])
	if strings.ContainsAny(typed, " \t") {
		return nil, 0
	}
	var out [][]rune
	for _, w := range c.words {
		if strings.HasPrefix(strings.ToLower(w), strings.ToLower(typed)) {
			out = append(out, []rune(w[len(typed):]+" "))
		}
	}
	return out, len([]rune(typed))
}

// historyLimit is how many lines the line editor's history keeps.
const historyLimit = 500

// readlineReader is the interactive LineReader, chzyer/readline underneath.
// It keeps the history itself (readline's auto-save is off), so that a
// main-prompt line is kept masked: Up recalls "certconfig import … ****",
// never the passphrase.
type readlineReader struct {
	rl      *readline.Instance
	comp    *completer
	history []string
}

func newReadline(t Terminal, comp *completer) (*readlineReader, error) {
	cfg := &readline.Config{
		Stdin:                  t.In,
		Stdout:                 t.Out,
		Stderr:                 t.Out,
		AutoComplete:           comp,
		HistoryLimit:           historyLimit,
		DisableAutoSaveHistory: true,
		InterruptPrompt:        "^C",
		EOFPrompt:              "",
	}
	if t.Remote {
		cfg.FuncIsTerminal = func() bool { return true }
		cfg.FuncMakeRaw = func() error { return nil }
		cfg.FuncExitRaw = func() error { return nil }
		cfg.FuncGetWidth = t.Width
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return nil, err
	}
	return &readlineReader{rl: rl, comp: comp}, nil
}

func (r *readlineReader) ReadLine(prompt string) (string, error) {
	return r.ReadCommand(prompt, nil)
}

// ReadCommand reads a line like ReadLine and keeps mask(line) in the history.
func (r *readlineReader) ReadCommand(prompt string, mask func(string) string) (string, error) {
	r.rl.SetPrompt(prompt)
	line, err := r.rl.Readline()
	if err == nil {
		kept := line
		if mask != nil {
			kept = mask(line)
		}
		r.remember(kept)
	}
	r.restoreHistory()
	switch {
	case errors.Is(err, readline.ErrInterrupt):
		return "", ErrInterrupt
	case err != nil:
		return "", err
	}
	return line, nil
}

// remember adds a line to the history as readline would: no empty lines, no
// repeat of the last one, at most historyLimit.
func (r *readlineReader) remember(line string) {
	if line == "" || (len(r.history) > 0 && r.history[len(r.history)-1] == line) {
		return
	}
	r.history = append(r.history, line)
	if len(r.history) > historyLimit {
		r.history = r.history[len(r.history)-historyLimit:]
	}
}

// restoreHistory hands readline the whole history again after every line.
// When the user recalled an entry and edited it, readline's own save would
// keep the edited text (the typed secret) instead of the masked line it is
// given, and the recalled entry would still hold that text; a fresh history
// holds neither.
func (r *readlineReader) restoreHistory() {
	r.rl.ResetHistory()
	for _, h := range r.history {
		_ = r.rl.SaveHistory(h)
	}
}

// ReadSecret reads a passphrase with echo off.
func (r *readlineReader) ReadSecret(prompt string) (string, error) {
	b, err := r.rl.ReadPassword(prompt)
	if errors.Is(err, readline.ErrInterrupt) {
		return "", ErrInterrupt
	}
	return string(b), err
}

func (r *readlineReader) Close() error { return r.rl.Close() }
