package maillog

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// escapeCases are texts a client can put in a log line, and how each line must read.
var escapeCases = []struct {
	name, text, want string
}{
	{"printable ASCII", `HELO mail.example.test "quoted" 'x' ~!@#$%^&*()`, `HELO mail.example.test "quoted" 'x' ~!@#$%^&*()`},
	{"printable UTF-8", "From: <jürgen@zürich.example> 日本語 😀 \uFFFD", "From: <jürgen@zürich.example> 日本語 😀 \uFFFD"},
	{"terminal escape", "HELO \x1b[2J\x1b]0;owned\x07evil", `HELO \x1b[2J\x1b]0;owned\x07evil`},
	{"NUL", "From: <a\x00b@example.test>", `From: <a\x00b@example.test>`},
	{"other C0 and DEL", "\x01\x08\x0b\x0c\x1f\x7f", `\x01\x08\x0b\x0c\x1f\x7f`},
	{"line breaks and tab", "a\nb\rc\td", `a\nb\rc\td`},
	{"invalid UTF-8", "bad \xff\xfe \xc3 \xe2\x82 ok", `bad \xff\xfe \xc3 \xe2\x82 ok`},
	{"C1 controls", "csi \u009b31m nel \u0085 \u0080", `csi \u009b31m nel \u0085 \u0080`},
	{"C1 as raw bytes", "\x9b31m", `\x9b31m`},
	{"format and separators", "bidi \u202egnp.exe line\u2028sep nbsp\u00a0 bom\ufeff tag\U000e0041", `bidi \u202egnp.exe line\u2028sep nbsp\u00a0 bom\ufeff tag\U000e0041`},
	{"backslash", `C:\temp\x1b and \n literally`, `C:\\temp\\x1b and \\n literally`},
}

func TestLogfEscapesUnsafeBytes(t *testing.T) {
	for _, tt := range escapeCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, 1<<20, 2)
			l.Infof("MID 1 %s", tt.text)

			b, err := os.ReadFile(filepath.Join(dir, LogName))
			require.NoError(t, err)
			assert.Equal(t, "Wed Jan 17 21:09:12 2024 Info: MID 1 "+tt.want+"\n", string(b))
			assertSafe(t, strings.TrimSuffix(string(b), "\n"))

			lines, err := l.Tail(5)
			require.NoError(t, err)
			assert.Equal(t, []string{"Wed Jan 17 21:09:12 2024 Info: MID 1 " + tt.want}, lines, "Tail shows the line as written")

			out, n := grepLines(t, l, GrepOptions{Pattern: "MID 1"})
			assert.Equal(t, 1, n)
			assert.Equal(t, lines, out, "Grep shows the line as written")
		})
	}
}

// TestReadingOldFileEscapes covers a file written by an older version, which escaped only line
// breaks: what Tail, Grep and Follow print is still safe, and a backslash is left alone.
func TestReadingOldFileEscapes(t *testing.T) {
	dir := t.TempDir()
	raw := "Wed Jan 17 21:09:12 2024 Info: New SMTP ICID 1 HELO \x1b[31mred\x1b[0m\n" +
		"Wed Jan 17 21:09:13 2024 Info: MID 1 From: <a\x00\x7f\xff\u009b@x> C:\\dir\n"
	want := []string{
		`Wed Jan 17 21:09:12 2024 Info: New SMTP ICID 1 HELO \x1b[31mred\x1b[0m`,
		`Wed Jan 17 21:09:13 2024 Info: MID 1 From: <a\x00\x7f\xff\u009b@x> C:\dir`,
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, LogName+".1"), []byte(raw), 0o600))
	l := openLog(t, dir, 1<<20, 2)

	lines, err := l.Tail(10)
	require.NoError(t, err)
	assert.Equal(t, want, lines)

	out, n := grepLines(t, l, GrepOptions{Pattern: `\\x1b\[31m|\\x00`})
	assert.Equal(t, 2, n, "the pattern matches what is shown")
	assert.Equal(t, want, out)

	// Follow: the old lines, then a raw line appended by hand (as an old binary would).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() { done <- l.Follow(ctx, 10, func(line string) { got <- line }) }()
	recv := func() string {
		t.Helper()
		select {
		case line := <-got:
			return line
		case <-ctx.Done():
			t.Fatal("timed out waiting for a followed line")
			return ""
		}
	}
	for _, w := range want {
		assert.Equal(t, w, recv())
	}
	f, err := os.OpenFile(filepath.Join(dir, LogName), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("Wed Jan 17 21:09:14 2024 Info: raw \x1bc\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	l.Infof("next %s", "\x1b[H") // wakes the follower
	assert.Equal(t, `Wed Jan 17 21:09:14 2024 Info: raw \x1bc`, recv())
	assert.Equal(t, `Wed Jan 17 21:09:12 2024 Info: next \x1b[H`, recv())
	cancel()
	require.NoError(t, <-done)
}

// assertSafe fails if s holds anything a terminal would act on.
func assertSafe(t *testing.T, s string) {
	t.Helper()
	assert.True(t, utf8.ValidString(s), "invalid UTF-8 in %q", s)
	for _, r := range s {
		assert.True(t, strconv.IsPrint(r), "unprintable %U in %q", r, s)
	}
}

// unescape undoes escape(s, true); it exists to prove the escaping loses nothing.
func unescape(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		require.Less(t, i+1, len(s), "dangling backslash in %q", s)
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i]]
			require.LessOrEqual(t, i+1+width, len(s), "short escape in %q", s)
			v, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
			require.NoError(t, err, "bad escape in %q", s)
			if s[i] == 'x' {
				b.WriteByte(byte(v))
			} else {
				b.WriteRune(rune(v))
			}
			i += width
		default:
			t.Fatalf("unknown escape \\%c in %q", s[i], s)
		}
	}
	return b.String()
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, tt := range escapeCases {
		assert.Equal(t, tt.text, unescape(t, escape(tt.text, true)), tt.name)
	}
}

func FuzzEscape(f *testing.F) {
	for _, tt := range escapeCases {
		f.Add(tt.text)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := escape(s, true)
		assertSafe(t, e)
		if unescape(t, e) != s {
			t.Fatalf("escape(%q) = %q does not round-trip", s, e)
		}
		if got := escape(e, false); got != e {
			t.Fatalf("reading changes a written line: %q became %q", e, got)
		}
		r := escape(s, false)
		assertSafe(t, r)
		if escape(r, false) != r {
			t.Fatalf("read escaping is not idempotent on %q", s)
		}
	})
}
