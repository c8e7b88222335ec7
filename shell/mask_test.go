package shell

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vaultCommands has a command with a secret batch argument:
// "vault set NAME PASSWORD" (alias "v"); "vault list" has none.
func vaultCommands(seen *[]string) []Command {
	return []Command{{
		Name: "vault", Aliases: []string{"v"}, Summary: "Keeps a password.",
		Secrets: func(args []string) []int {
			if len(args) == 3 && strings.EqualFold(args[0], "set") {
				return []int{2}
			}
			return nil
		},
		Run: func(s *Session, args []string) error {
			*seen = append(*seen, strings.Join(args, " "))
			if len(args) == 3 && args[2] != "right-pass" {
				return fmt.Errorf("password %q is wrong for %s (quoted: %s)", args[2], args[1], args[2])
			}
			return nil
		},
	}}
}

func TestMaskLine(t *testing.T) {
	s := &Session{opts: Options{Commands: vaultCommands(new([]string))}}
	tests := []struct{ line, want string }{
		{"vault set db hunter2", "vault set db ****"},
		{"  vault   set  db   hunter2  ", "  vault   set  db   ****  "},
		{`vault set db "two words"`, "vault set db ****"},
		{`vault set db 'it''s'`, "vault set db ****"},
		{`vault set db "a \"q\" b"`, "vault set db ****"},
		{`vault set db "unterminated secret`, "vault set db ****"},
		{"VAULT SET db hunter2", "VAULT SET db ****"},
		{"v set db hunter2", "v set db ****"},
		{"vault list", "vault list"},
		{"vault set db", "vault set db"},
		{"vault set db a b", "vault set db a b"}, // the command declares no secret for that form
		{"other set db hunter2", "other set db hunter2"},
		{"", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s.maskLine(tt.line), tt.line)
	}
}

func TestSplitWordsAgreesWithSpans(t *testing.T) {
	for _, line := range []string{"a b", `"a b" c`, `'x'`, `x "\"" y`, "\t\tq\t", `a"b c"d e`, `x \y`, `é "ü ö" ß`} {
		words, err := SplitWords(line)
		require.NoError(t, err, line)
		spans, quote := splitSpans(line)
		require.Zero(t, quote, line)
		for i, sp := range spans {
			w, err := SplitWords(line[sp.start:sp.end])
			require.NoError(t, err, line)
			assert.Equal(t, []string{words[i]}, w, "the span of word %d of %q holds that word", i, line)
		}
	}
}

func TestScriptModeNeverShowsSecrets(t *testing.T) {
	tests := []struct {
		name, script string
		keepGoing    bool
		out, err     []string
	}{
		{name: "echo", script: "vault set db right-pass\n", out: []string{"box> vault set db ****\n"}},
		{name: "failing line", script: "vault set db hunter2\n",
			out: []string{"box> vault set db ****\n"}, err: []string{`line 1: password "****" is wrong for db (quoted: ****)`}},
		{name: "quotes in the secret", script: `vault set db "hun\"ter2"` + "\n",
			err: []string{`line 1: password "****" is wrong for db`}},
		{name: "unterminated quote", script: "vault set db \"hunter2 and more\nvault list\n", keepGoing: true,
			out: []string{"box> vault set db ****\n", "box> vault list\n"},
			err: []string{`line 1: unterminated " quote in "vault set db ****": close it`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []string
			var out, errOut bytes.Buffer
			code := Run(context.Background(), Options{
				Commands: vaultCommands(&seen), Pending: testPending(t), Hostname: func() string { return "box" },
				In: strings.NewReader(tt.script), Out: &out, Err: &errOut, KeepGoing: tt.keepGoing,
			})
			for _, w := range tt.out {
				assert.Contains(t, out.String(), w)
			}
			for _, w := range tt.err {
				assert.Contains(t, errOut.String(), w)
			}
			assert.NotContains(t, out.String()+errOut.String(), "hunter2")
			assert.NotContains(t, out.String()+errOut.String(), "right-pass")
			if len(tt.err) == 0 {
				assert.Equal(t, 0, code, errOut.String())
			}
		})
	}
}

// syncBuffer is an io.Writer for output written by the shell and readline's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func TestLineEditorHistoryKeepsSecretsMasked(t *testing.T) {
	const up, backspace4, ctrlC = "\x1b[A", "\x7f\x7f\x7f\x7f", "\x03"
	ran := make(chan string, 10)
	record := func(_ *Session, args []string) error {
		ran <- strings.Join(args, " ")
		return nil
	}
	cmds := []Command{
		{Name: "vault", Secrets: func(args []string) []int { return []int{len(args) - 1} }, Run: record},
		{Name: "other", Run: record},
	}
	in, typing := io.Pipe()
	var out syncBuffer
	done := make(chan int)
	go func() {
		done <- Run(context.Background(), Options{
			Commands: cmds, Pending: testPending(t), Hostname: func() string { return "box" }, Interactive: true,
			Terminal: Terminal{In: in, Out: &out, Remote: true, Width: func() int { return 200 }}, Out: &out,
		})
	}()
	// each types keys and returns the arguments the command ran with.
	each := func(keys string) string {
		t.Helper()
		_, err := io.WriteString(typing, keys)
		require.NoError(t, err)
		select {
		case got := <-ran:
			return got
		case <-time.After(10 * time.Second):
			t.Fatalf("the command did not run after %q", keys)
			return ""
		}
	}
	assert.Equal(t, "set db hunter2", each("vault set db hunter2\r"))
	assert.Equal(t, "set db ****", each(up+"\r"), "Up recalls the masked line")
	// Recall it, type the real secret over the mask, and recall it again.
	assert.Equal(t, "set db pass-two", each(up+backspace4+"pass-two\r"))
	assert.Equal(t, "set db ****", each(up+"\r"), "the edited line is kept masked too")
	// The same from further back in the history.
	assert.Equal(t, "in between", each("other in between\r"))
	assert.Equal(t, "set db pass-two", each(up+up+backspace4+"pass-two\r"))
	assert.Equal(t, "set db ****", each(up+"\r"), "the edited older line is kept masked")
	// Type a secret over a recalled line and abort with Ctrl-C: nothing of it stays.
	_, err := io.WriteString(typing, up+backspace4+"pass-three"+ctrlC)
	require.NoError(t, err)
	assert.Equal(t, "set db ****", each(up+"\r"))
	require.NoError(t, typing.Close())
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not end at the end of input")
	}
}
