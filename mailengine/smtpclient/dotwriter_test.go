package smtpclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dotEncode runs body through a DotWriter in chunks of n octets (0 = one
// write) and returns what it wrote.
func dotEncode(t testing.TB, body string, n int) (string, *DotWriter) {
	var out bytes.Buffer
	w := NewDotWriter(&out)
	for rest := body; rest != ""; {
		k := len(rest)
		if n > 0 {
			k = min(n, k)
		}
		if m, err := w.Write([]byte(rest[:k])); err != nil || m != k {
			t.Fatalf("Write of %d octets: %d, %v", k, m, err)
		}
		rest = rest[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String(), w
}

func TestDotWriter(t *testing.T) {
	long := strings.Repeat("a", 2500)
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ".\r\n"},
		{"crlf", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{"no final line end", "a\r\nb", "a\r\nb\r\n.\r\n"},
		{"bare LF", "a\nb\n", "a\r\nb\r\n.\r\n"},
		{"bare CR", "a\rb\r", "a\r\nb\r\n.\r\n"},
		{"CR CR LF is two line ends", "a\r\r\nb", "a\r\n\r\nb\r\n.\r\n"},
		{"smuggling: <CR>.<CR><LF>", "hello\r.\r\nMAIL FROM:<x@y>\r\n", "hello\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n"},
		{"smuggling: <LF>.<LF>", "hello\n.\nRSET\n", "hello\r\n..\r\nRSET\r\n.\r\n"},
		{"smuggling: <LF>.<CR><LF>", "hello\n.\r\nRSET", "hello\r\n..\r\nRSET\r\n.\r\n"},
		{"leading dots", ".a\r\n..b\r\n.\r\n", "..a\r\n...b\r\n..\r\n.\r\n"},
		{"a dot on the first line", ".", "..\r\n.\r\n"},
		{"998 octets stay whole", strings.Repeat("x", 998) + "\r\n", strings.Repeat("x", 998) + "\r\n.\r\n"},
		{"999 octets are broken", strings.Repeat("x", 999), strings.Repeat("x", 998) + "\r\n x\r\n.\r\n"},
		{"2500 octets", long, long[:998] + "\r\n " + long[998:1995] + "\r\n " + long[1995:] + "\r\n.\r\n"},
		{"a stuffing dot counts", "." + strings.Repeat("x", 997), ".." + strings.Repeat("x", 996) + "\r\n x\r\n.\r\n"},
		{"no UTF-8 character is split", strings.Repeat("x", 997) + "é", strings.Repeat("x", 997) + "\r\n é\r\n.\r\n"},
		{"a 4-octet character", strings.Repeat("x", 996) + "😀", strings.Repeat("x", 996) + "\r\n 😀\r\n.\r\n"},
		{"invalid UTF-8 is cut anywhere", strings.Repeat("x", 998) + "\x80\x80", strings.Repeat("x", 998) + "\r\n \x80\x80\r\n.\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 7} {
				got, w := dotEncode(t, tc.in, n)
				assert.Equal(t, tc.want, got, "written in chunks of %d", n)
				assert.Equal(t, rfc1870Size(got), w.Size(), "Size")
			}
		})
	}
}

// rfc1870Size is the size RFC 1870 means for DATA content: without the
// final "." CRLF and without the stuffing dots.
func rfc1870Size(wire string) int64 {
	content := strings.TrimSuffix(wire, ".\r\n")
	n := int64(len(content))
	for _, l := range strings.SplitAfter(content, "\r\n") {
		if strings.HasPrefix(l, ".") {
			n--
		}
	}
	return n
}

func TestDotWriterReportsWriteErrors(t *testing.T) {
	w := NewDotWriter(failingWriter{})
	_, err := w.Write([]byte("a\r\nb\r\n"))
	require.Error(t, err)
	require.Error(t, w.Close())
	_, err = w.Write([]byte("late"))
	require.Error(t, err, "no write after Close")
}

// io.Copy goes through ReadFrom: the same wire as Write, and a read error
// comes back as the reader gave it (the transaction tells our failure from
// the peer's by it).
func TestDotWriterReadFrom(t *testing.T) {
	for _, in := range []string{"", "a\r\nb", ".x\n\r.\r\n", strings.Repeat("y", 70_000) + "\r\n.\r\n"} {
		want, _ := dotEncode(t, in, 0)
		var out bytes.Buffer
		w := NewDotWriter(&out)
		n, err := io.Copy(w, iotest.OneByteReader(strings.NewReader(in)))
		require.NoError(t, err)
		require.NoError(t, w.Close())
		assert.Equal(t, int64(len(in)), n)
		assert.Equal(t, want, out.String())
	}
	boom := errors.New("disk read failed")
	_, err := io.Copy(NewDotWriter(io.Discard), io.MultiReader(strings.NewReader("a\r\n"), iotest.ErrReader(boom)))
	assert.Same(t, boom, err)
	_, err = io.Copy(NewDotWriter(failingWriter{}), strings.NewReader("a\r\n"))
	assert.ErrorIs(t, err, io.ErrClosedPipe)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// normalise is what DotWriter's output means once un-stuffed: every CRLF,
// bare CR and bare LF a CRLF, and a final line end.
func normalise(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if s != "" && !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

// FuzzDotWriter checks what goes on the wire whatever the message: only CRLF
// line ends, no line over 1,000 octets with its CRLF, no end of data before
// the end, and the message back by un-stuffing (once the inserted CRLF
// SPACE are taken out of both sides when a line was broken).
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"", "a\r\n", ".\r\n", "a\r.\r\nb", "\n.\n", strings.Repeat("x", 1200), "." + strings.Repeat("é", 600)} {
		f.Add([]byte(s), uint16(0))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint16) {
		out, w := dotEncode(t, string(in), int(chunk))
		if err := checkWire(out); err != nil {
			t.Fatalf("%v\ninput %q\noutput %q", err, in, out)
		}
		got := unstuff(out)
		want := normalise(string(in))
		if w.Breaks() > 0 {
			got, want = strings.ReplaceAll(got, "\r\n ", ""), strings.ReplaceAll(want, "\r\n ", "")
		}
		if got != want {
			t.Fatalf("un-stuffed output differs (%d breaks)\ninput %q\ngot   %q\nwant  %q", w.Breaks(), in, got, want)
		}
		if w.Size() != int64(len(unstuff(out))) {
			t.Fatalf("Size %d, but %d octets were sent without the stuffing and the final dot", w.Size(), len(unstuff(out)))
		}
	})
}

// checkWire checks DATA content as it went on the wire.
func checkWire(out string) error {
	if !strings.HasSuffix(out, ".\r\n") || (out != ".\r\n" && !strings.HasSuffix(out, "\r\n.\r\n")) {
		return fmt.Errorf("does not end with the final dot")
	}
	content := strings.TrimSuffix(out, ".\r\n")
	for i := 0; i < len(content); i++ {
		switch {
		case content[i] == '\r' && (i+1 == len(content) || content[i+1] != '\n'):
			return fmt.Errorf("bare CR at %d", i)
		case content[i] == '\n' && (i == 0 || content[i-1] != '\r'):
			return fmt.Errorf("bare LF at %d", i)
		}
	}
	for i, l := range strings.SplitAfter(content, "\r\n") {
		if len(l) > 1000 {
			return fmt.Errorf("line %d has %d octets with its CRLF", i+1, len(l))
		}
		if l == ".\r\n" {
			return fmt.Errorf("line %d ends the data early", i+1)
		}
	}
	return nil
}

// unstuff returns DATA content without its final dot and stuffing dots.
func unstuff(out string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(strings.TrimSuffix(out, ".\r\n"), "\r\n") {
		b.WriteString(strings.TrimPrefix(l, "."))
	}
	return b.String()
}

func BenchmarkDotWriter(b *testing.B) {
	line := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 2) + "\r\n"
	msg := []byte(strings.Repeat(line, 1<<14)) // 1.5 MB of 92-octet lines
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		w := NewDotWriter(io.Discard)
		_, _ = w.Write(msg)
		_ = w.Close()
	}
}
