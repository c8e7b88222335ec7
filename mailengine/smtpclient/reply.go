package smtpclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on what a server may send as one reply. RFC 5321 §4.5.3.1.5 caps a
// reply line at 512 octets; real servers exceed that slightly, so allow more.
const (
	maxReplyLine  = 4096 // bytes per line, CRLF included (also the bufio.Reader size)
	maxReplyLines = 512  // lines per multi-line reply
)

// reply is one (possibly multi-line) SMTP reply.
type reply struct {
	Code     int      // three-digit reply code, 200–599
	Enhanced string   // RFC 3463 enhanced status code of the first line ("5.1.1"), "" when absent
	Lines    []string // text after "ddd-"/"ddd " of each line, enhanced code included
}

// Text returns the reply's text for logs and results: every line without a
// leading copy of the enhanced status code, joined with a space (as Postfix
// does), so it fits one log line.
func (r reply) Text() string {
	parts := make([]string, 0, len(r.Lines))
	for _, l := range r.Lines {
		if r.Enhanced != "" {
			if l == r.Enhanced {
				l = ""
			} else if rest, ok := strings.CutPrefix(l, r.Enhanced+" "); ok {
				l = rest
			}
		}
		if l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// String formats the reply as one line: "250 2.0.0 queued as X".
func (r reply) String() string {
	s := fmt.Sprint(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if t := r.Text(); t != "" {
		s += " " + t
	}
	return s
}

func (r reply) positive() bool  { return r.Code >= 200 && r.Code < 400 }
func (r reply) transient() bool { return r.Code >= 400 && r.Code < 500 }

// errMalformed marks a reply that does not follow RFC 5321 §4.2.
var errMalformed = errors.New("malformed SMTP reply")

// readReply reads one reply from br. It accepts CRLF and bare LF line ends.
// Every line must start with the same three-digit code (first digit 2–5),
// followed by '-' on all lines but the last, and ' ' or nothing on the last.
func readReply(br *bufio.Reader) (reply, error) {
	var r reply
	for n := 0; ; n++ {
		if n == maxReplyLines {
			return reply{}, fmt.Errorf("%w: more than %d lines", errMalformed, maxReplyLines)
		}
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return reply{}, fmt.Errorf("%w: line longer than %d bytes", errMalformed, maxReplyLine)
			}
			if errors.Is(err, io.EOF) {
				if len(line) > 0 || n > 0 {
					err = io.ErrUnexpectedEOF
				}
				return reply{}, fmt.Errorf("connection closed by server: %w", err)
			}
			return reply{}, err
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
		code, more, text, err := parseReplyLine(s)
		if err != nil {
			return reply{}, err
		}
		if n == 0 {
			r.Code = code
		} else if code != r.Code {
			return reply{}, fmt.Errorf("%w: line %q has code %d inside a %d reply", errMalformed, s, code, r.Code)
		}
		r.Lines = append(r.Lines, text)
		if !more {
			break
		}
	}
	r.Enhanced = enhancedCode(r.Code, r.Lines[0])
	return r, nil
}

// parseReplyLine splits one reply line into its code, its continuation mark
// and its text.
func parseReplyLine(s string) (code int, more bool, text string, err error) {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, false, "", fmt.Errorf("%w: line %q does not start with a reply code", errMalformed, clip(s))
	}
	code = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if len(s) == 3 {
		return code, false, "", nil
	}
	switch s[3] {
	case '-':
		more = true
	case ' ':
	default:
		return 0, false, "", fmt.Errorf("%w: line %q: expected ' ' or '-' after the code", errMalformed, clip(s))
	}
	text = s[4:]
	if strings.ContainsAny(text, "\r\x00") {
		return 0, false, "", fmt.Errorf("%w: line %q contains CR or NUL", errMalformed, clip(s))
	}
	return code, more, text, nil
}

// enhancedCode returns the RFC 3463 status code ("class.subject.detail",
// subject and detail of 1–3 digits) at the start of text when its class
// matches the reply code's first digit, else "".
func enhancedCode(code int, text string) string {
	tok, _, _ := strings.Cut(text, " ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || int(parts[0][0]-'0') != code/100 {
		return ""
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return ""
		}
		for i := 0; i < len(p); i++ {
			if !isDigit(p[i]) {
				return ""
			}
		}
	}
	return tok
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// clip shortens s for error messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
