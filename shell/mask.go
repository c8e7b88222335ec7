package shell

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Mask is shown in place of a secret batch argument (a passphrase or a
// password) wherever the shell echoes, quotes or keeps a command line.
const Mask = "****"

// span is one word of a command line and where it is in the line: the bytes
// line[start:end], quotes included.
type span struct {
	word       string
	start, end int
}

// splitSpans splits line into words as SplitWords does and tells where each
// word is. quote is the quote left open at the end of the line, 0 when none;
// then the last word runs to the end of the line.
func splitSpans(line string) (spans []span, quote rune) {
	var cur strings.Builder
	start := -1
	escaped := false
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		raw := line[i : i+size] // the bytes as typed, also when they are not UTF-8
		switch {
		case escaped:
			cur.WriteString(raw)
			escaped = false
		case quote != 0:
			switch {
			case r == quote:
				quote = 0
			case r == '\\' && quote == '"':
				escaped = true
			default:
				cur.WriteString(raw)
			}
		case r == '"' || r == '\'':
			quote = r
			if start < 0 {
				start = i
			}
		case r == ' ' || r == '\t':
			if start >= 0 {
				spans = append(spans, span{word: cur.String(), start: start, end: i})
				cur.Reset()
				start = -1
			}
		default:
			cur.WriteString(raw)
			if start < 0 {
				start = i
			}
		}
		i += size
	}
	if escaped {
		cur.WriteRune('\\') // a backslash that ends the line inside quotes stays
	}
	if start >= 0 {
		spans = append(spans, span{word: cur.String(), start: start, end: len(line)})
	}
	return spans, quote
}

// words returns the words of spans.
func words(spans []span) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.word)
	}
	return out
}

// unterminated is the error for a line whose quote is never closed; shown is
// the line as it may be shown (masked).
func unterminated(quote rune, shown string) error {
	return fmt.Errorf("unterminated %c quote in %q: close it", quote, shown)
}

// secretSpans returns the words of a command line that its command declares
// secret (Command.Secrets); none for an unknown command.
func (s *Session) secretSpans(spans []span) []span {
	if len(spans) == 0 {
		return nil
	}
	cmd := s.find(spans[0].word)
	if cmd == nil || cmd.Secrets == nil {
		return nil
	}
	args := words(spans[1:])
	var out []span
	for _, i := range cmd.Secrets(args) {
		if i >= 0 && i < len(args) {
			out = append(out, spans[i+1])
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].start < out[b].start })
	return out
}

// maskSpans returns line with each secret word, quotes included, replaced by Mask.
func maskSpans(line string, secret []span) string {
	var b strings.Builder
	at := 0
	for _, sp := range secret {
		if sp.start < at {
			continue // declared twice
		}
		b.WriteString(line[at:sp.start])
		b.WriteString(Mask)
		at = sp.end
	}
	b.WriteString(line[at:])
	return b.String()
}

// maskLine returns a main-prompt line as it may be shown: the secret words of
// its batch form replaced by Mask.
func (s *Session) maskLine(line string) string {
	spans, _ := splitSpans(line)
	return maskSpans(line, s.secretSpans(spans))
}

// isSecret reports whether sp is one of the secret words.
func isSecret(sp span, secret []span) bool {
	return slices.ContainsFunc(secret, func(x span) bool { return x.start == sp.start })
}

// secretWords returns the words of secret, longest first, so that redact
// never replaces a part of a longer secret and leaves the rest.
func secretWords(secret []span) []string {
	out := words(secret)
	sort.SliceStable(out, func(a, b int) bool { return len(out[a]) > len(out[b]) })
	return out
}

// redact replaces every secret of the current command line in text (as
// typed, and as %q quotes it) by Mask, for messages that might quote one.
func (s *Session) redact(text string) string {
	for _, secret := range s.secrets {
		if secret == "" {
			continue
		}
		text = strings.ReplaceAll(text, secret, Mask)
		if q := strconv.Quote(secret); q[1:len(q)-1] != secret {
			text = strings.ReplaceAll(text, q[1:len(q)-1], Mask)
		}
	}
	return text
}

// commandReader is a LineReader that shows or keeps what is typed at the
// main prompt (the script echo, the line editor's history): ReadCommand
// reads like ReadLine but shows and keeps mask(line) instead of the line.
type commandReader interface {
	ReadCommand(prompt string, mask func(string) string) (string, error)
}

// readCommand reads a main-prompt line; the reader shows and keeps it masked.
func (s *Session) readCommand(prompt string) (string, error) {
	cr, ok := s.in.(commandReader)
	if !ok {
		return s.read(prompt)
	}
	line, err := cr.ReadCommand(prompt, s.maskLine)
	if err == nil || isTooLong(err) {
		s.line++
	}
	return line, err
}
