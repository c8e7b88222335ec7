// Package address parses and checks SMTP envelope addresses: the reverse-
// and forward-paths of MAIL and RCPT (RFC 5321 §4.1.2), with the UTF-8
// extension of SMTPUTF8 (RFC 6531 §3.3). An address is kept exactly as the
// client wrote it, quoting included, so what is delivered is what was
// accepted and logged; Key gives the form two addresses are compared by.
//
// The parser is lenient where real mail needs it (no angle brackets, a space
// after the colon, dot-strings with empty atoms such as "a..b", a trailing
// dot in the domain) and strict where leniency would be unsafe: control
// characters, NUL, invalid UTF-8, 8-bit bytes without SMTPUTF8, and the
// RFC 5321 §4.5.3.1 length limits are refused.
package address

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// RFC 5321 §4.5.3.1 size limits, in octets.
const (
	MaxLocalPart = 64
	MaxDomain    = 255
	MaxPath      = 256 // including the angle brackets
)

// Kind says what is wrong with an address, so the server can choose its reply.
type Kind int

// The kinds of error.
const (
	Syntax   Kind = iota + 1 // not an RFC 5321 path
	TooLong                  // over a §4.5.3.1 limit
	Control                  // a control character, NUL or DEL
	NonASCII                 // 8-bit bytes without SMTPUTF8, or invalid UTF-8
)

// Error is a refused address.
type Error struct {
	Kind Kind
	Text string // what is wrong, for the SMTP reply and the log
}

func (e *Error) Error() string { return e.Text }

func errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Text: fmt.Sprintf(format, args...)}
}

// Path is a parsed reverse- or forward-path.
type Path struct {
	// Addr is the mailbox exactly as written, without the angle brackets and
	// any source route; "" for the null reverse-path <>.
	Addr string
	// Local and Domain are Addr's two parts (Local still quoted if it was).
	Local, Domain string
}

// UTF8 reports whether the address has non-ASCII characters (and so needs
// SMTPUTF8 to be relayed).
func (p Path) UTF8() bool { return !isASCII(p.Addr) }

// ParsePath parses the path at the start of s (the argument of MAIL FROM: or
// RCPT TO: after the colon) and returns it and the rest of s (the ESMTP
// parameters, leading space included). utf8OK allows non-ASCII characters
// (SMTPUTF8 was given). nullOK allows the null path <> (MAIL only).
func ParsePath(s string, utf8OK, nullOK bool) (Path, string, error) {
	s = strings.TrimLeft(s, " ")
	if err := checkBytes(s, utf8OK); err != nil {
		return Path{}, "", err
	}
	bracket := strings.HasPrefix(s, "<")
	var inner, rest string
	if bracket {
		end := closingBracket(s)
		if end < 0 {
			return Path{}, "", errorf(Syntax, "the address has no closing '>'")
		}
		if end+1 > MaxPath {
			return Path{}, "", errorf(TooLong, "the path is longer than %d octets (RFC 5321 §4.5.3.1.3)", MaxPath)
		}
		inner, rest = s[1:end], s[end+1:]
	} else {
		// Without brackets (RFC 821 style, still sent by some clients): the
		// path ends at the first space outside a quoted string.
		end := pathEnd(s)
		inner, rest = s[:end], s[end:]
		if len(inner)+2 > MaxPath {
			return Path{}, "", errorf(TooLong, "the path is longer than %d octets (RFC 5321 §4.5.3.1.3)", MaxPath)
		}
	}
	if rest != "" && rest[0] != ' ' {
		return Path{}, "", errorf(Syntax, "unexpected characters after the address")
	}
	if inner == "" {
		if bracket && nullOK {
			return Path{}, rest, nil
		}
		return Path{}, "", errorf(Syntax, "the address is empty")
	}
	inner = stripSourceRoute(inner)
	p, err := ParseMailbox(inner, utf8OK)
	if err != nil {
		return Path{}, "", err
	}
	return p, rest, nil
}

// ParseMailbox parses a mailbox, local-part "@" domain, written as it goes
// on the wire (quoted local part in quotes). utf8OK allows non-ASCII.
func ParseMailbox(s string, utf8OK bool) (Path, error) {
	if err := checkBytes(s, utf8OK); err != nil {
		return Path{}, err
	}
	local, n, err := localPart(s)
	if err != nil {
		return Path{}, err
	}
	if n >= len(s) || s[n] != '@' {
		return Path{}, errorf(Syntax, "the address has no '@domain'")
	}
	domain := s[n+1:]
	if len(local) > MaxLocalPart {
		return Path{}, errorf(TooLong, "the local part is longer than %d octets (RFC 5321 §4.5.3.1.1)", MaxLocalPart)
	}
	if err := checkDomain(domain); err != nil {
		return Path{}, err
	}
	return Path{Addr: s, Local: local, Domain: domain}, nil
}

// Valid reports whether s is a mailbox ParseMailbox accepts with UTF-8
// allowed: what the delivery side checks before it puts s on the wire.
func Valid(s string) error {
	_, err := ParseMailbox(s, true)
	return err
}

// Key is the form two addresses are compared by: the local part without
// its quoting, lower-cased, and the domain lower-cased without a trailing
// dot. RFC 5321 §4.1.2 makes all quoted forms of a local part equivalent;
// local parts are case-sensitive in theory, but no real mailbox relies on
// it, and a gateway that sent <dup@x> and <DUP@x> the same message twice
// would be wrong in practice.
func Key(addr string) string {
	p, err := ParseMailbox(addr, true)
	if err != nil {
		return strings.ToLower(addr)
	}
	return strings.ToLower(Unquote(p.Local)) + "@" + strings.ToLower(strings.TrimSuffix(p.Domain, "."))
}

// DomainOf returns the domain of an address, lower-cased without a trailing
// dot ("" when there is none). It works on the raw form: the domain follows
// the last '@', which a domain cannot contain.
func DomainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}

// Unquote returns a local part's value: a quoted string without its quotes
// and backslashes; a dot-string as it is.
func Unquote(local string) string {
	if len(local) < 2 || local[0] != '"' || local[len(local)-1] != '"' {
		return local
	}
	var b strings.Builder
	inner := local[1 : len(local)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		}
		b.WriteByte(inner[i])
	}
	return b.String()
}

// checkBytes refuses what may never be in an address: control characters
// (NUL, CR, LF, ESC …) and DEL anywhere, and 8-bit bytes unless utf8OK, and
// then only as valid UTF-8 (RFC 6531 §3.3).
func checkBytes(s string, utf8OK bool) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return errorf(Control, "the address contains a control character (0x%02x)", c)
		}
	}
	if isASCII(s) {
		return nil
	}
	if !utf8OK {
		return errorf(NonASCII, "the address contains 8-bit characters but MAIL did not ask for SMTPUTF8")
	}
	if !utf8.ValidString(s) {
		return errorf(NonASCII, "the address is not valid UTF-8")
	}
	for _, r := range s {
		if r >= 0x80 && r < 0xa0 {
			return errorf(Control, "the address contains a control character (U+%04X)", r)
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// closingBracket finds the '>' that ends a bracketed path, skipping quoted
// strings; -1 when there is none.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return i
		}
	}
	return -1
}

// pathEnd finds the end of an unbracketed path: the first space outside a
// quoted string, or the end of s.
func pathEnd(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == ' ':
			return i
		}
	}
	return len(s)
}

// stripSourceRoute drops an RFC 5321 A-d-l ("@a,@b:"), which §3.3 says to
// ignore.
func stripSourceRoute(s string) string {
	if !strings.HasPrefix(s, "@") {
		return s
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// localPart reads a dot-string or quoted-string at the start of s and
// returns it as written and its length.
func localPart(s string) (string, int, error) {
	if strings.HasPrefix(s, `"`) {
		for i := 1; i < len(s); i++ {
			switch c := s[i]; {
			case c == '\\':
				if i+1 >= len(s) {
					return "", 0, errorf(Syntax, "the quoted local part ends in a backslash")
				}
				i++
			case c == '"':
				return s[:i+1], i + 1, nil
			}
		}
		return "", 0, errorf(Syntax, "the quoted local part has no closing quote")
	}
	n := 0
	for n < len(s) && s[n] != '@' {
		if !atext(s[n]) && s[n] != '.' {
			return "", 0, errorf(Syntax, "the local part contains %q: quote it (\"…\"@domain)", s[n])
		}
		n++
	}
	if n == 0 {
		return "", 0, errorf(Syntax, "the local part is empty")
	}
	return s[:n], n, nil
}

// atext is RFC 5322 atext; bytes of UTF-8 sequences count (RFC 6531),
// checked for validity by checkBytes.
func atext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDomain accepts a domain name (letters, digits, hyphens and, leniently,
// underscores per label; UTF-8 labels under SMTPUTF8; a trailing dot) or an
// address literal ([192.0.2.1], [IPv6:2001:db8::1]).
func checkDomain(d string) error {
	if d == "" {
		return errorf(Syntax, "the domain is empty")
	}
	if len(d) > MaxDomain {
		return errorf(TooLong, "the domain is longer than %d octets (RFC 5321 §4.5.3.1.2)", MaxDomain)
	}
	if strings.HasPrefix(d, "[") {
		if !strings.HasSuffix(d, "]") {
			return errorf(Syntax, "the address literal %s has no closing ']'", d)
		}
		lit := d[1 : len(d)-1]
		if v6, ok := strings.CutPrefix(lit, "IPv6:"); ok {
			if a, err := netip.ParseAddr(v6); err == nil && a.Is6() {
				return nil
			}
		} else if a, err := netip.ParseAddr(lit); err == nil && a.Is4() {
			return nil
		}
		return errorf(Syntax, "%s is not an IPv4 or IPv6 address literal", d)
	}
	labels := strings.Split(strings.TrimSuffix(d, "."), ".")
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return err
		}
	}
	return nil
}

func checkLabel(l string) error {
	if l == "" {
		return errorf(Syntax, "the domain has an empty label (two dots in a row, or a leading dot)")
	}
	if len(l) > 63 {
		return errorf(TooLong, "a domain label is longer than 63 octets")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errorf(Syntax, "the domain label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80 {
			continue
		}
		return errorf(Syntax, "the domain contains %q", c)
	}
	return nil
}
