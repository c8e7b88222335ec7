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
		fmt.Fprintf(s.echo, "%s%s\n", prompt, line)
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

// readlineReader is the interactive LineReader, chzyer/readline underneath.
type readlineReader struct {
	rl   *readline.Instance
	comp *completer
}

func newReadline(t Terminal, comp *completer) (*readlineReader, error) {
	cfg := &readline.Config{
		Stdin:                  t.In,
		Stdout:                 t.Out,
		Stderr:                 t.Out,
		AutoComplete:           comp,
		HistoryLimit:           500,
		DisableAutoSaveHistory: false,
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
	r.rl.SetPrompt(prompt)
	line, err := r.rl.Readline()
	switch {
	case errors.Is(err, readline.ErrInterrupt):
		return "", ErrInterrupt
	case err != nil:
		return "", err
	}
	return line, nil
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
