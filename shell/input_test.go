package shell

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests cover what the shell does with awkward input: help for the
// built-in commands, huge lines, control characters, completion case, long
// prompts and Ctrl-D.

func TestHelpExplainsQuitAndRefusesUnknownNames(t *testing.T) {
	for _, name := range []string{"quit", "exit", "QUIT", "q"} {
		r := runScript(t, "help "+name+"\n", false)
		assert.Equal(t, 0, r.code, r.err)
		assert.Contains(t, r.out, "QUIT - Leave the shell")
		assert.Contains(t, r.out, "Ctrl-D at the main prompt")
		assert.Contains(t, r.out, "asks first whether to discard them")
		assert.NotContains(t, r.out+r.err, "Unknown command")
	}
	r := runScript(t, "help help\n", false)
	assert.Equal(t, 0, r.code, r.err)
	assert.Contains(t, r.out, "HELP - List commands")

	r = runScript(t, "help\nhelp bogus\nhelp sethost\n", false)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "line 2: Unknown command: bogus; type help for the list of commands")
	assert.NotContains(t, r.out, "SETHOST", "the script stopped at the failing line")

	r = runScript(t, "help bogus\nhelp sethost\n", true)
	assert.Equal(t, 1, r.code, "--keep-going still fails")
	assert.Contains(t, r.out, "SETHOST")

	var out bytes.Buffer
	code := Run(context.Background(), Options{
		Commands: testCommands(), Pending: testPending(t), Hostname: func() string { return "box" },
		Interactive: true, Out: &out, StopsAppliance: true,
		Reader: &replayReader{lines: []string{"help bogus", "help exit"}},
	})
	assert.Equal(t, 0, code, "on a terminal an error does not end the session")
	assert.Contains(t, out.String(), "Unknown command: bogus")
	assert.Contains(t, out.String(), "stops the appliance")
}

// Every summary in the list starts in one column, however long a name is.
func TestHelpListAligned(t *testing.T) {
	var out bytes.Buffer
	cmds := append(testCommands(), Command{Name: "averyveryverylongcommandname", Summary: "Long."})
	code := Run(context.Background(), Options{
		Commands: cmds, Pending: testPending(t), Hostname: func() string { return "box" },
		In: strings.NewReader("help\n"), Out: &out, Err: io.Discard,
	})
	require.Equal(t, 0, code)
	column := -1
	for line := range strings.Lines(out.String()) {
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		name := strings.Fields(line)[0]
		at := strings.Index(line[2+len(name):], strings.TrimLeft(line[2+len(name):], " ")) + 2 + len(name)
		if column == -1 {
			column = at
		}
		assert.Equal(t, column, at, "summary of %s starts at column %d, want %d: %q", name, at, column, line)
	}
	require.NotEqual(t, -1, column, out.String())
}

func TestHugeLines(t *testing.T) {
	huge := strings.Repeat("x", MaxLine+10)
	t.Run("too long for a line: line N, the script stops", func(t *testing.T) {
		r := runScript(t, "sethost a.example.test\n"+huge+"\nsethost b.example.test\ncommit\n", false)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.err, fmt.Sprintf("line 2: the line is longer than %d bytes", MaxLine))
		assert.Contains(t, r.err, "line 2: the session's uncommitted changes were discarded")
		assert.NotContains(t, r.out, "b.example.test", "nothing after the line ran")
		assert.NotContains(t, r.err, "bufio")
		assert.Less(t, len(r.out)+len(r.err), 2000, "stdout:\n%s\nstderr:\n%s", Shorten(r.out, 3000), Shorten(r.err, 3000))
	})
	t.Run("too long for a line: --keep-going reads on", func(t *testing.T) {
		r := runScript(t, huge+"\r\nsethost b.example.test\n", true)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.err, "line 1: the line is longer than")
		assert.Contains(t, r.out, "box> sethost b.example.test")
		assert.Equal(t, "b.example.test", r.pending.Config().Hostname)
		assert.Contains(t, r.err, "line 2: the script ended with uncommitted changes", "line numbers go on after the long line")
	})
	t.Run("too long inside a dialog", func(t *testing.T) {
		r := runScript(t, "menu\n"+huge+"\n", false)
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.err, "line 2: the line is longer than")
		assert.Less(t, len(r.out)+len(r.err), 2000)
	})
	t.Run("the last line without a line end", func(t *testing.T) {
		r := runScript(t, "sethost a.example.test\n"+huge, false)
		assert.Contains(t, r.err, "line 2: the line is longer than")
	})
	long := strings.Repeat("y", 200<<10)
	t.Run("a long input is quoted by its beginning", func(t *testing.T) {
		for _, script := range []string{
			long + "\n",                  // unknown command
			"menu\n" + long + "\n",       // Unknown option: %q
			"sethost \"" + long + "\n",   // unterminated quote, quoting the line
			"menu\n  " + long + "  \n",   // the answer is trimmed before it is quoted
			"menu\n" + long + "\x1b\n",   // quoted with an escape
			"menu\nzz " + long + " zz\n", // a part of the answer
		} {
			r := runScript(t, script, false)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.err, "line ")
			assert.Contains(t, r.err, strings.Repeat("y", QuoteLimit-10))
			assert.Contains(t, r.err, "…")
			assert.Less(t, len(r.err), 800, Shorten(r.err, 3000))
			assert.Less(t, len(r.out), echoLimit+800, "the transcript echo is cut too")
		}
	})
	t.Run("the echo keeps a long cipher string whole", func(t *testing.T) {
		cipher := strings.Repeat("HIGH:!aNULL:", 40)[:450]
		r := runScript(t, "sethost "+cipher+"\nquit\n", false)
		assert.Contains(t, r.out, "box> sethost "+cipher+"\n")
	})
}

func TestControlCharactersAreEscaped(t *testing.T) {
	cmds := append(testCommands(), Command{Name: "say", Run: func(s *Session, args []string) error {
		v, err := s.Text("Value?", "", nil)
		if err != nil {
			return err
		}
		return fmt.Errorf("the value %s is not valid (arguments %s)", v, strings.Join(args, " "))
	}})
	run := func(script string) result {
		var out, errOut bytes.Buffer
		p := testPending(t)
		code := Run(context.Background(), Options{Commands: cmds, Pending: p, Hostname: func() string { return "box" },
			In: strings.NewReader(script), Out: &out, Err: &errOut})
		return result{code, out.String(), errOut.String(), p}
	}
	r := run("\x1b[2J\x1b[31mfrob\r\x07\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, `line 1: Unknown command: \x1b[2J\x1b[31mfrob\r\a`)
	assert.Contains(t, r.out, `box> \x1b[2J\x1b[31mfrob\r\a`, "the script echo is escaped too")

	r = run("fr\xffob\u202e\n")
	assert.Contains(t, r.err, `Unknown command: fr\xffob\u202e`)

	r = run("say \x1b]0;owned\x07 \x9b \u009b\nab\x1bc\x00d\n")
	assert.Contains(t, r.err, `line 2: the value ab\x1bc\x00d is not valid (arguments \x1b]0;owned\a \x9b \u009b)`)

	r = run("menu\n\x1b[H\n")
	assert.Contains(t, r.err, `Unknown option: "\x1b[H"`)

	for _, text := range []string{r.out, r.err} {
		assert.NotContains(t, text, "\x1b")
		assert.NotContains(t, text, "\r")
	}

	// On a terminal the re-asked question's explanation is escaped as well.
	var out bytes.Buffer
	Run(context.Background(), Options{Commands: cmds, Pending: testPending(t), Hostname: func() string { return "box" },
		Interactive: true, Out: &out, Reader: &replayReader{lines: []string{"frob\x1b[2J", "say \x1b[2J", "\x1b[3J"}}})
	assert.Contains(t, out.String(), `Unknown command: frob\x1b[2J`)
	assert.Contains(t, out.String(), `the value \x1b[3J is not valid (arguments \x1b[2J)`)
	assert.NotContains(t, out.String(), "\x1b")
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, é ü —": "plain text, é ü —",
		"a\tb":              "a\tb",
		`back\slash "q"`:    `back\slash "q"`,
		"\x1b[2J":           `\x1b[2J`,
		"a\nb\rc":           `a\nb\rc`,
		"\xff\xfe":          `\xff\xfe`,
		"\u202eevil":        `\u202eevil`,
		"\ufffd":            `\ufffd`,
		"\x7f\u0085":        `\x7f\u0085`,
	} {
		assert.Equal(t, want, Printable(in), "%q", in)
	}
	assert.Equal(t, "abc", Shorten("abc", 3))
	assert.Equal(t, "ab…", Shorten("abc", 2))
	assert.Equal(t, "éé…", Shorten("ééé", 2))
	assert.Equal(t, strings.Repeat("x", QuoteLimit)+"…", ShowInput(strings.Repeat("x", 1000)))
}

func TestCompletionCase(t *testing.T) {
	c := &completer{}
	c.set([]string{"GUI", "INBOUND", "OUTBOUND", "OTHER_CLIENT_TLSV10"})
	complete := func(typed string) []string {
		cands, n := c.Do([]rune(typed), len([]rune(typed)))
		require.Equal(t, len([]rune(typed)), n)
		var out []string
		for _, cand := range cands {
			out = append(out, typed+string(cand)) // what the line shows after Tab
		}
		return out
	}
	assert.Equal(t, []string{"inbound "}, complete("in"), "typed in lower case: completed in lower case")
	assert.Equal(t, []string{"INBOUND "}, complete("IN"), "typed in upper case: the listed case")
	assert.Equal(t, []string{"InBOUND "}, complete("In"), "the typed part stays as typed")
	assert.Equal(t, []string{"outbound ", "other_client_tlsv10 "}, complete("o"))
	assert.Equal(t, []string{"GUI ", "INBOUND ", "OUTBOUND ", "OTHER_CLIENT_TLSV10 "}, complete(""), "Tab on nothing lists the words as the menu shows them")
	assert.Nil(t, complete("x"))
	cands, _ := c.Do([]rune("inbound x"), 9)
	assert.Nil(t, cands, "only the first word is completed")

	c.set([]string{"sslconfig", "status", "help", "quit", "exit"})
	assert.Equal(t, []string{"sslconfig "}, complete("ssl"))
	assert.Equal(t, []string{"SSLconfig "}, complete("SSL"), "command names are listed in lower case")

	c.set([]string{"Straße"})
	assert.Equal(t, []string{"straße "}, complete("str"), "runes, not bytes")
}

func TestSplitPrompt(t *testing.T) {
	cipher := "[" + strings.Repeat("HIGH:MEDIUM:", 25) + "]> "
	for _, tt := range []struct {
		prompt string
		room   int
		head   []string
		tail   string
	}{
		{prompt: "[2-3]> ", room: 40, tail: "[2-3]> "},
		{prompt: "box> ", room: 4, head: []string{"box"}, tail: "> "},
		{prompt: cipher, room: 64, head: []string{strings.TrimSuffix(cipher, "> ")}, tail: "> "},
		{prompt: "Do you want to enable TLS renegotiation for inbound SMTP? [N]> ", room: 44,
			head: []string{"Do you want to enable TLS renegotiation for inbound SMTP?"}, tail: "[N]> "},
		{prompt: "Question? " + cipher, room: 64, head: []string{"Question?", strings.TrimSuffix(cipher, "> ")}, tail: "> "},
		{prompt: "Enter a rather long passphrase for the file: ", room: 20, head: []string{"Enter a rather long passphrase for the file:"}, tail: "> "},
	} {
		head, tail := splitPrompt(tt.prompt, tt.room)
		assert.Equal(t, tt.head, head, tt.prompt)
		assert.Equal(t, tt.tail, tail, tt.prompt)
	}
}

// keyReader replays a terminal: each entry is a typed line, or an error for a
// key (ErrCtrlD, ErrInterrupt) or the end of the input (io.EOF).
type keyReader struct {
	keys []any
	out  io.Writer // gets the prompts, as a terminal shows them
}

func (r *keyReader) ReadLine(prompt string) (string, error) {
	io.WriteString(r.out, prompt)
	if len(r.keys) == 0 {
		return "", io.EOF
	}
	k := r.keys[0]
	r.keys = r.keys[1:]
	if err, ok := k.(error); ok {
		return "", err
	}
	return k.(string), nil
}

func (r *keyReader) Close() error { return nil }

func TestCtrlDAsksLikeQuit(t *testing.T) {
	run := func(console bool, keys ...any) (string, *keyReader, int) {
		var out bytes.Buffer
		p := testPending(t)
		kr := &keyReader{keys: keys, out: &out}
		code := Run(context.Background(), Options{Commands: testCommands(), Pending: p, Hostname: func() string { return "box" },
			Interactive: true, Out: &out, Reader: kr, StopsAppliance: console})
		return out.String(), kr, code
	}
	// Ctrl-D, "n": stays; Ctrl-D at the question: stays; Ctrl-D, "y": leaves.
	out, kr, code := run(false, "sethost c.example.test", ErrCtrlD, "n", ErrCtrlD, ErrCtrlD, ErrCtrlD, "y", "never read")
	assert.Equal(t, 0, code)
	assert.Equal(t, 3, strings.Count(out, "You have uncommitted changes. Do you want to leave and discard them? [N]> "))
	assert.Equal(t, []any{"never read"}, kr.keys)
	assert.NotContains(t, out, "appliance")

	// Without changes Ctrl-D leaves at once.
	out, kr, _ = run(false, ErrCtrlD, "never read")
	assert.NotContains(t, out, "uncommitted")
	assert.Len(t, kr.keys, 1)

	// The end of the input (the terminal went away) leaves without asking twice.
	_, kr, _ = run(false, "sethost c.example.test", ErrCtrlD, io.EOF, "never read")
	assert.Len(t, kr.keys, 1)

	// Console mode names what leaving does.
	out, _, _ = run(true, "sethost c.example.test", ErrCtrlD, "", "quit", "y")
	assert.Equal(t, 2, strings.Count(out, "You have uncommitted changes. Do you want to discard them and stop the appliance? [N]> "))
	assert.Contains(t, out, "Stopping the appliance")
	out, _, _ = run(true, ErrCtrlD)
	assert.Contains(t, out, "Stopping the appliance")

	// Ctrl-D inside a dialog aborts the command like Ctrl-C.
	out, _, _ = run(false, "sethost", ErrCtrlD)
	assert.Contains(t, out, "Command aborted; its changes were discarded.")
}
