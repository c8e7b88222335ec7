package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/chzyer/readline"
)

// ErrInterrupt is returned by a LineReader when the user pressed Ctrl-C.
var ErrInterrupt = errors.New("interrupted")

// ErrCtrlD is returned by a LineReader when the user pressed Ctrl-D on an
// empty line of a terminal whose input goes on. It wraps io.EOF, so that code
// that only knows "the input ended" treats it so; the main prompt tells the
// two apart: Ctrl-D asks like quit, the end of the input just ends.
var ErrCtrlD = fmt.Errorf("Ctrl-D: %w", io.EOF)

// MaxLine is the longest line, in bytes, a script may hold.
const MaxLine = 1 << 20

// LineTooLongError is a script line longer than MaxLine. The reader skipped
// it to its end, so the next read returns the next line.
type LineTooLongError struct {
	// Prefix is the line's beginning.
	Prefix string
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("the line is longer than %d bytes, the most the shell reads as one line; it was skipped: %q",
		MaxLine, Shorten(e.Prefix, QuoteLimit))
}

// LineReader reads one line of input after showing a prompt. It returns
// io.EOF at the end of input (ErrCtrlD for Ctrl-D on a terminal), ErrInterrupt
// on Ctrl-C and a *LineTooLongError for a line longer than MaxLine.
type LineReader interface {
	ReadLine(prompt string) (string, error)
	Close() error
}

// scriptReader reads piped input: no line editing and no terminal tricks.
// It writes each prompt followed by the answer it read, so the output of a
// script is the same transcript an interactive session shows. The answer is
// shown cut to echoLimit characters and with control characters escaped.
type scriptReader struct {
	r    *bufio.Reader
	echo io.Writer
	err  error // the read error that ended the input
}

// NewScriptReader reads lines from r for script mode, echoing prompt and
// answer to echo.
func NewScriptReader(r io.Reader, echo io.Writer) LineReader {
	return &scriptReader{r: bufio.NewReaderSize(r, 64<<10), echo: echo}
}

// next returns the next line without its line end. A line longer than
// MaxLine is read to its end and dropped; its beginning comes back in a
// *LineTooLongError.
func (s *scriptReader) next() (string, error) {
	if s.err != nil {
		return "", s.err
	}
	var line []byte
	long := false
	for {
		chunk, err := s.r.ReadSlice('\n')
		if !long {
			line = append(line, chunk...)
			if len(line) > MaxLine+2 { // +2: room for the line end, "\r\n"
				long = true
				line = line[:4<<10] // enough to show its beginning
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil && len(line) == 0:
			s.err = err
			return "", err
		case err != nil:
			s.err = err // the last line had no line end; the next read ends
		}
		break
	}
	text := strings.TrimRight(strings.TrimSuffix(string(line), "\n"), "\r")
	if long || len(text) > MaxLine {
		return "", &LineTooLongError{Prefix: text}
	}
	return text, nil
}

func (s *scriptReader) ReadLine(prompt string) (string, error) {
	return s.ReadCommand(prompt, nil)
}

// ReadCommand reads a line like ReadLine but echoes mask(line), so that the
// transcript never shows a secret batch argument.
func (s *scriptReader) ReadCommand(prompt string, mask func(string) string) (string, error) {
	line, err := s.next()
	var long *LineTooLongError
	switch {
	case errors.As(err, &long):
		if prompt != "" {
			fmt.Fprintf(s.echo, "%s%s\n", prompt, Printable(Shorten(long.Prefix, QuoteLimit)))
		}
		return "", err
	case errors.Is(err, io.EOF):
		if prompt != "" {
			fmt.Fprintln(s.echo, prompt)
		}
		return "", io.EOF
	case err != nil:
		return "", err
	}
	if prompt != "" {
		shown := line
		if mask != nil {
			shown = mask(line)
		}
		fmt.Fprintf(s.echo, "%s%s\n", prompt, Printable(Shorten(shown, echoLimit)))
	}
	return line, nil
}

// ReadSecret reads a line like ReadLine but never echoes the answer.
func (s *scriptReader) ReadSecret(prompt string) (string, error) {
	line, err := s.next()
	var long *LineTooLongError
	if errors.As(err, &long) {
		fmt.Fprintln(s.echo, prompt)
		return "", &LineTooLongError{Prefix: Mask} // a secret is never shown, not even its beginning
	}
	if err != nil {
		return "", err
	}
	fmt.Fprintln(s.echo, prompt)
	return line, nil
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
// when it is the first word of the line. Words match whatever their case.
// What is typed stays as typed (readline only appends); the rest of the word
// is appended in lower case when the typed part has letters and all of them
// are lower case ("in" → "inbound", "sslc" → "sslconfig"), otherwise in the
// case the word is listed in ("IN" → "INBOUND", and Tab on nothing lists
// the words as the menu shows them).
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	typed := line[:pos]
	if strings.ContainsAny(string(typed), " \t") {
		return nil, 0
	}
	lower := typedLower(typed)
	var out [][]rune
	for _, w := range c.words {
		wr := []rune(w)
		if len(wr) < len(typed) || !strings.EqualFold(string(wr[:len(typed)]), string(typed)) {
			continue
		}
		rest := string(wr[len(typed):])
		if lower {
			rest = strings.ToLower(rest)
		}
		out = append(out, []rune(rest+" "))
	}
	return out, len(typed)
}

// typedLower reports whether typed has letters and none of them is upper case.
func typedLower(typed []rune) bool {
	letters := false
	for _, r := range typed {
		if unicode.IsUpper(r) || unicode.IsTitle(r) {
			return false
		}
		letters = letters || unicode.IsLetter(r)
	}
	return letters
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
	out     io.Writer
	in      *endWatch
	history []string
	remote  bool // the terminal is a client's (SSH, the control socket), not this process's
}

// endWatch tells whether the terminal's input really ended (the terminal
// closed, the client went away), as opposed to a Ctrl-D key: readline
// reports both as io.EOF.
type endWatch struct {
	r     io.ReadCloser
	ended atomic.Bool
}

func (e *endWatch) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.ended.Store(true)
	}
	return n, err
}

func (e *endWatch) Close() error { return e.r.Close() }

func newReadline(t Terminal, comp *completer) (*readlineReader, error) {
	in := &endWatch{r: t.In}
	if t.In == nil {
		in.r = os.Stdin
	}
	cfg := &readline.Config{
		Stdin:                  in,
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
	out := t.Out
	if out == nil {
		out = os.Stdout
	}
	return &readlineReader{rl: rl, comp: comp, out: out, in: in, remote: t.Remote}, nil
}

func (r *readlineReader) ReadLine(prompt string) (string, error) {
	return r.ReadCommand(prompt, nil)
}

// ReadCommand reads a line like ReadLine and keeps mask(line) in the history.
func (r *readlineReader) ReadCommand(prompt string, mask func(string) string) (string, error) {
	if r.in.ended.Load() {
		return "", io.EOF // readline would wait for ever on an input that ended
	}
	r.rl.SetPrompt(r.fit(prompt))
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
	case errors.Is(err, io.EOF) && !r.in.ended.Load():
		return "", ErrCtrlD
	case err != nil:
		return "", err
	}
	return line, nil
}

// minTyping is how many columns a prompt leaves at least for the answer on
// its line; a longer prompt is split (fit).
const minTyping = 16

// fit returns the prompt readline is to show. readline redraws its prompt
// at every key, and one wider than the terminal comes out several times, so
// a prompt that leaves fewer than minTyping columns is split: what does not
// fit is written above as ordinary output (the terminal wraps it once) and
// readline gets the short rest. "Question? [N]> " becomes "Question?" above
// "[N]> "; a long default, "[HIGH:MEDIUM:…]> ", becomes "[HIGH:MEDIUM:…]"
// above "> ".
func (r *readlineReader) fit(prompt string) string {
	width := r.rl.Config.FuncGetWidth()
	if width <= 0 {
		return prompt
	}
	head, tail := splitPrompt(prompt, width-minTyping)
	for _, h := range head {
		fmt.Fprintln(r.out, h)
	}
	return tail
}

// splitPrompt splits prompt so that the part readline shows is at most
// room columns wide where it can: the lines to write above it and that part.
func splitPrompt(prompt string, room int) (head []string, tail string) {
	fits := func(p string) bool { return readline.Runes{}.WidthAll([]rune(p)) <= room }
	if fits(prompt) {
		return nil, prompt
	}
	body := strings.TrimRight(prompt, " ")
	body = strings.TrimSuffix(body, ">")
	marker := "> "
	if body == strings.TrimRight(prompt, " ") { // no "> ": "Enter passphrase: "
		return []string{body}, marker
	}
	if i := strings.LastIndex(body, " ["); i > 0 && strings.HasSuffix(body, "]") {
		head = append(head, body[:i])
		body = body[i+1:]
		if fits(body + marker) {
			return head, body + marker
		}
	}
	return append(head, body), marker
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
	if r.in.ended.Load() {
		return "", io.EOF
	}
	cfg := r.rl.GenPasswordConfig()
	cfg.Prompt = r.fit(prompt)
	if r.remote {
		// readline's password configuration asks this process's stdin
		// whether it is a terminal; a client's terminal is one, whatever
		// the daemon's stdin is, and has the client's width.
		main := r.rl.Config
		cfg.FuncIsTerminal, cfg.FuncMakeRaw, cfg.FuncExitRaw, cfg.FuncGetWidth = main.FuncIsTerminal, main.FuncMakeRaw, main.FuncExitRaw, main.FuncGetWidth
	}
	b, err := r.rl.ReadPasswordWithConfig(cfg)
	switch {
	case errors.Is(err, readline.ErrInterrupt):
		return "", ErrInterrupt
	case errors.Is(err, io.EOF) && !r.in.ended.Load():
		return "", ErrCtrlD
	}
	return string(b), err
}

func (r *readlineReader) Close() error { return r.rl.Close() }
