package shell

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

func testPending(t *testing.T) *config.Pending {
	t.Helper()
	s, err := config.Open(afero.NewMemMapFs(), "/data", func() (*config.Config, error) {
		f := config.DefaultPorts
		f.Hostname = "mail.example.test"
		f.Demo = config.Certificate{Name: "Demo", PEM: "-----BEGIN CERTIFICATE-----\nMAo=\n-----END CERTIFICATE-----\n", Key: strings.Repeat("ab", 32)}
		f.AdminHash = "$2a$10$abcdefghijklmnopqrstuv"
		return config.Defaults(f), nil
	})
	require.NoError(t, err)
	return s.NewPending()
}

// testCommands are small commands that exercise every prompt kind.
func testCommands() []Command {
	return []Command{
		{Name: "sethost", Summary: "Set the host name.", Help: "Batch form:\n  sethost NAME",
			Run: func(s *Session, args []string) error {
				c := s.Pending.Config()
				if len(args) == 1 {
					c.Hostname = args[0]
					return nil
				}
				v, err := s.Text("Enter the hostname.", c.Hostname, func(a string) error {
					if strings.Contains(a, "*") {
						return errors.New("A hostname must not contain '*'")
					}
					return nil
				})
				if err != nil {
					return err
				}
				c.Hostname = v
				return nil
			}},
		{Name: "menu", Summary: "A menu.", Run: func(s *Session, _ []string) error {
			for {
				w, err := s.Menu([]Op{{"ONE", "First."}, {"TWO", "Second."}})
				if err != nil || w == "" {
					return err
				}
				s.Printf("chose %s\n", w)
			}
		}},
		{Name: "twostep", Summary: "Edits, then asks yes/no.", Run: func(s *Session, _ []string) error {
			s.Pending.Config().Hostname = "twostep.example.test"
			ok, err := s.YesNo("Really?", false)
			if err != nil {
				return err
			}
			s.Printf("answer %v\n", ok)
			return nil
		}},
		{Name: "pick", Summary: "A numbered list.", Run: func(s *Session, _ []string) error {
			i, err := s.Choose("Pick one.", []string{"a", "b", "c"}, 2)
			s.Printf("picked %d\n", i)
			return err
		}},
		{Name: "paste", Summary: "A block.", Run: func(s *Session, _ []string) error {
			b, err := s.Block("Paste.")
			s.Printf("got %q\n", b)
			return err
		}},
	}
}

type result struct {
	code     int
	out, err string
	pending  *config.Pending
}

func runScript(t *testing.T, script string, keepGoing bool) result {
	t.Helper()
	var out, errOut bytes.Buffer
	p := testPending(t)
	code := Run(context.Background(), Options{
		Commands: testCommands(), Pending: p, User: "admin",
		Hostname: func() string { return "box" },
		In:       strings.NewReader(script), Out: &out, Err: &errOut, KeepGoing: keepGoing,
	})
	return result{code, out.String(), errOut.String(), p}
}

func TestScriptMode(t *testing.T) {
	tests := []struct {
		name, script string
		keepGoing    bool
		code         int
		out, err     []string
		host         string
	}{
		{name: "unknown command", script: "frob\n", code: 1, err: []string{"line 1: Unknown command: frob"}},
		{name: "blank lines and CRLF are ignored", script: "\r\n\n  \nsethost a.example.test\r\n", code: 1,
			err: []string{"uncommitted changes"}, host: "mail.example.test"},
		{name: "menu word any case, Enter goes back", script: "menu\none\nTwo\n\n", code: 0,
			out: []string{"Choose the operation you want to perform:", "- ONE - First.", "chose ONE", "chose TWO"}},
		{name: "menu junk fails the script", script: "menu\nthree\nsethost x.example.test\n", code: 1,
			err: []string{`line 2: Unknown option: "three"`}},
		{name: "text default on Enter", script: "sethost\n\nquit\n", code: 0, out: []string{"[mail.example.test]> "}, host: "mail.example.test"},
		{name: "invalid answer aborts and discards", script: "sethost ok.example.test\nsethost\nbad*name\nsethost late.example.test\n", code: 1,
			err: []string{"line 3: A hostname must not contain '*'", "uncommitted changes were discarded"}, host: "mail.example.test"},
		{name: "keep going continues", script: "sethost\nbad*name\nsethost ok.example.test\n", keepGoing: true, code: 1,
			err: []string{"line 2: A hostname must not contain '*'"}},
		{name: "yes/no junk", script: "twostep\nmaybe\n", code: 1, err: []string{"line 2: Please answer Y or N"}, host: "mail.example.test"},
		{name: "yes/no default", script: "twostep\n\nclear\n", code: 1, out: []string{"answer false"}},
		{name: "numbered list default and range", script: "pick\n\npick\n4\n", code: 1,
			out: []string{"1. a", "picked 1"}, err: []string{"line 4: That value is not valid"}},
		{name: "block until dot", script: "paste\nline one\nline two\n.\n", code: 0, out: []string{`got "line one\nline two\n"`}},
		{name: "input ends inside a dialog", script: "sethost\n", code: 1, err: []string{"the input ended in the middle of the dialog"}},
		{name: "help lists commands", script: "help\nhelp sethost\n", code: 0,
			out: []string{"sethost", "Set the host name.", "quit", "SETHOST - Set the host name.", "sethost NAME"}},
		{name: "unterminated quote", script: "sethost \"abc\n", code: 1, err: []string{"unterminated \" quote"}},
		{name: "quit with changes fails", script: "sethost q.example.test\nquit\n", code: 1, err: []string{"quit with uncommitted changes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runScript(t, tt.script, tt.keepGoing)
			assert.Equal(t, tt.code, r.code, "stdout:\n%s\nstderr:\n%s", r.out, r.err)
			for _, w := range tt.out {
				assert.Contains(t, r.out, w)
			}
			for _, w := range tt.err {
				assert.Contains(t, r.err, w)
			}
			if tt.host != "" {
				assert.Equal(t, tt.host, r.pending.Config().Hostname)
			}
		})
	}
}

func TestKeepGoingKeepsEarlierEdits(t *testing.T) {
	r := runScript(t, "sethost ok.example.test\nsethost\nbad*name\n", true)
	assert.Equal(t, "ok.example.test", r.pending.Config().Hostname)
}

// replayReader replays lines and then a Ctrl-C, as a terminal user would type.
type replayReader struct {
	lines []string
	err   error // returned after the lines
}

func (r *replayReader) ReadLine(string) (string, error) {
	if len(r.lines) == 0 {
		if r.err != nil {
			err := r.err
			r.err = io.EOF
			return "", err
		}
		return "", io.EOF
	}
	l := r.lines[0]
	r.lines = r.lines[1:]
	return l, nil
}

func (r *replayReader) Close() error { return nil }

func TestCtrlCDropsOnlyTheCommandsEdits(t *testing.T) {
	var out bytes.Buffer
	p := testPending(t)
	// sethost is recorded; twostep edits the hostname, then Ctrl-C at its question.
	Run(context.Background(), Options{
		Commands: testCommands(), Pending: p, Hostname: func() string { return "box" },
		Interactive: true, Out: &out,
		Reader: &replayReader{lines: []string{"sethost kept.example.test", "twostep"}, err: ErrInterrupt},
	})
	assert.Contains(t, out.String(), "Command aborted; its changes were discarded.")
	assert.Equal(t, "kept.example.test", p.Config().Hostname)
}

func TestInteractiveReasksAfterBadAnswer(t *testing.T) {
	var out bytes.Buffer
	p := testPending(t)
	code := Run(context.Background(), Options{
		Commands: testCommands(), Pending: p, Hostname: func() string { return "box" },
		Interactive: true, Out: &out,
		Reader: &replayReader{lines: []string{"sethost", "bad*one", "good.example.test"}},
	})
	assert.Equal(t, 0, code)
	assert.Contains(t, out.String(), "A hostname must not contain '*'")
	assert.Equal(t, "good.example.test", p.Config().Hostname)
}

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "", want: nil},
		{in: "  sslconfig   inbound methods 1-3 ", want: []string{"sslconfig", "inbound", "methods", "1-3"}},
		{in: `grep -e "TLS success" -i mail_logs`, want: []string{"grep", "-e", "TLS success", "-i", "mail_logs"}},
		{in: `commit 'it''s'`, want: []string{"commit", "its"}},
		{in: `say "a \"q\" b"`, want: []string{"say", `a "q" b`}},
		{in: `x ""`, want: []string{"x", ""}},
		{in: `x "open`, err: "unterminated"},
	}
	for _, tt := range tests {
		got, err := SplitWords(tt.in)
		if tt.err != "" {
			assert.ErrorContains(t, err, tt.err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func FuzzSplitWords(f *testing.F) {
	for _, s := range []string{"a b", `"a b" c`, `'x'`, `"\"`, "\t\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitWords(s)
		if err != nil {
			return
		}
		for _, w := range words {
			if !strings.ContainsAny(s, `"'`) && strings.ContainsAny(w, " \t") {
				t.Fatalf("unquoted word %q contains a blank", w)
			}
		}
	})
}

func TestSecretIsNeverEchoed(t *testing.T) {
	var out, errOut bytes.Buffer
	p := testPending(t)
	cmds := []Command{{Name: "ask", Run: func(s *Session, _ []string) error {
		v, err := s.Secret("Enter passphrase:", func(a string) error {
			if a == "" {
				return errors.New("The passphrase must not be empty")
			}
			return nil
		})
		s.Printf("length %d\n", len(v))
		return err
	}}}
	code := Run(context.Background(), Options{Commands: cmds, Pending: p, Hostname: func() string { return "box" },
		In: strings.NewReader("ask\nhunter2-secret\nask\n\n"), Out: &out, Err: &errOut})
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "Enter passphrase:")
	assert.Contains(t, out.String(), "length 14")
	assert.NotContains(t, out.String(), "hunter2")
	assert.Contains(t, errOut.String(), "line 4: The passphrase must not be empty")
}

func TestSessionHooks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		startErr error
		code     int
		out      []string
		notOut   string
	}{
		{name: "start passes", code: 0, out: []string{"started as admin, interactive false", "box> "}},
		{name: "start refuses", startErr: errors.New("change your password first"), code: 1, notOut: "box> "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			lines, done := 0, 0
			code := Run(context.Background(), Options{
				Commands: testCommands(), Pending: testPending(t), User: "admin",
				Hostname: func() string { return "box" },
				In:       strings.NewReader("help\nquit\n"), Out: &out, Err: &errOut,
				Start: func(s *Session) error {
					s.Printf("started as %s, interactive %v\n", s.User, s.Interactive())
					return tc.startErr
				},
				Activity: func() { lines++ },
				Done:     func() { done++ },
			})
			assert.Equal(t, 1, done, "Done is called once, however the session ends")
			assert.Equal(t, tc.code, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
			for _, w := range tc.out {
				assert.Contains(t, out.String(), w)
			}
			if tc.startErr != nil {
				assert.Contains(t, errOut.String(), tc.startErr.Error())
				assert.NotContains(t, out.String(), tc.notOut, "no prompt after a refused start")
				assert.Zero(t, lines, "no line is read")
			} else {
				assert.Equal(t, 2, lines, "Activity is called for each command line read")
			}
		})
	}
}
