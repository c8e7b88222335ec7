package shell

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// How much of an input the shell shows back.
const (
	// QuoteLimit is how many characters of an input an error message shows;
	// a longer input is shown as its first QuoteLimit characters and "…".
	QuoteLimit = 80
	// echoLimit is how many characters of a line the script-mode transcript
	// shows; a longer line is shown as its first echoLimit characters and "…".
	// It is larger than QuoteLimit so that a transcript still shows a cipher
	// string or a domain list whole.
	echoLimit = 1000
	// tokenLimit is the longest run of non-blank characters an error message
	// keeps as it is: a longer one is a piece of some huge input the shell
	// could not recognise (a command split it up) and is cut to QuoteLimit.
	tokenLimit = 1000
)

// Printable returns s as it may be written to a terminal: every control
// character (escape sequences, carriage returns, backspaces…), every other
// non-printable rune (bidirectional overrides, zero-width characters) and
// every byte that is not UTF-8 is written as a Go escape (\x1b, \r, \u202e,
// \xff). A tab and printable characters, backslashes included, stay as they
// are. Every place the shell writes user input back (the unknown-command
// message, error messages quoting an input, the script echo) goes through it.
func Printable(s string) string { return escape(s, false) }

// escape is Printable; keepNewlines keeps line ends, for messages of several
// lines.
func escape(s string, keepNewlines bool) string {
	clean := true
	for _, r := range s {
		if !printable(r, keepNewlines) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case printable(r, keepNewlines):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

func printable(r rune, keepNewlines bool) bool {
	switch {
	case r == utf8.RuneError:
		return false // also a real U+FFFD: shown as \ufffd, so it cannot pass for a bad byte
	case r == '\t', r == '\n' && keepNewlines:
		return true
	}
	return unicode.IsPrint(r)
}

// Shorten returns s cut to its first n characters followed by "…" when it is
// longer than n characters.
func Shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// ShowInput returns an input as a message may quote it: cut to QuoteLimit
// characters and escaped as Printable does.
func ShowInput(s string) string { return Printable(Shorten(s, QuoteLimit)) }

// noteInput records an input of the current command, so that an error
// message quoting it quotes only its beginning. Short inputs need nothing.
func (s *Session) noteInput(in ...string) {
	for _, v := range in {
		if utf8.RuneCountInString(v) > QuoteLimit {
			s.inputs = append(s.inputs, v)
		}
	}
}

// message returns an error message as the shell shows it: the secrets of the
// command line masked, each long input of the command (as typed or as %q
// quotes it) cut to its beginning, any other huge run of characters cut too,
// and control characters escaped (line ends stay: messages may have several
// lines).
func (s *Session) message(err error) string {
	msg := s.redact(err.Error())
	inputs := append([]string(nil), s.inputs...)
	sort.SliceStable(inputs, func(a, b int) bool { return len(inputs[a]) > len(inputs[b]) })
	for _, in := range inputs {
		short := Shorten(in, QuoteLimit)
		msg = strings.ReplaceAll(msg, in, short)
		if q := quoteInner(in); q != in {
			msg = strings.ReplaceAll(msg, q, quoteInner(short))
		}
	}
	return escape(cutLongRuns(msg), true)
}

// quoteInner is s as %q shows it, without the quotes.
func quoteInner(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// cutLongRuns cuts every run of more than tokenLimit non-blank characters to
// its first QuoteLimit characters and "…".
func cutLongRuns(msg string) string {
	if len(msg) <= tokenLimit {
		return msg
	}
	var b strings.Builder
	start, n := -1, 0
	flush := func(end int) {
		if start < 0 {
			return
		}
		run := msg[start:end]
		if n > tokenLimit {
			run = Shorten(run, QuoteLimit)
		}
		b.WriteString(run)
		start, n = -1, 0
	}
	for i, r := range msg {
		if unicode.IsSpace(r) {
			flush(i)
			b.WriteRune(r)
			continue
		}
		if start < 0 {
			start = i
		}
		n++
	}
	flush(len(msg))
	return b.String()
}
