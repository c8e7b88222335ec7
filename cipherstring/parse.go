package cipherstring

import (
	"errors"
	"fmt"
	"strings"
)

const (
	keywordHint = `use OpenSSL names such as HIGH, AES128, ECDHE-RSA-AES128-GCM-SHA256; "sslconfig VERIFY" shows what a string selects`
	syntaxHint  = `words are letters, digits and - _ . = separated by ':', ',', ';' or spaces, each optionally prefixed by '!', '-', '+' or '@'`
	noMatch     = "matches no cipher suite this appliance supports"
)

// suiteB maps the Suite B keywords OpenSSL honours at the very start of a
// string to the cipher list that then replaces the whole string. Longer
// keywords come first because OpenSSL tests them as prefixes in this order.
var suiteB = []struct{ word, list string }{
	{"SUITEB128ONLY", "ECDHE-ECDSA-AES128-GCM-SHA256"},
	{"SUITEB128C2", "ECDHE-ECDSA-AES256-GCM-SHA384"},
	{"SUITEB128", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"},
	{"SUITEB192", "ECDHE-ECDSA-AES256-GCM-SHA384"},
}

// Parse evaluates an OpenSSL cipher string into the suites crypto/tls
// implements, in OpenSSL's order. Unknown words and malformed syntax are
// errors; known words that select nothing Go implements are warnings. A
// result without suites is not an error: the caller decides whether the
// suites left are usable for the protocol versions it enables.
//
// Parse is a pure function of s, and results are remembered for the last
// memoSize distinct strings: a script that repeats one cipher string
// thousands of times (each command validates it, and its warnings are
// computed again) evaluates it once. Callers get their own copies.
func Parse(s string) (Result, error) {
	if r, err, ok := memo.get(s); ok {
		return r, err
	}
	r, err := evaluate(s)
	memo.put(s, r, err)
	return r.clone(), err
}

// evaluate is Parse without the memo.
func evaluate(s string) (Result, error) {
	p := &parser{src: s, list: initialList(), secLevel: -1}
	p.list = defaultOrder(p.list)
	if err := p.parse(); err != nil {
		return Result{}, err
	}
	return Result{Suites: selected(p.list), Warnings: p.warnings, SecLevel: p.secLevel}, nil
}

// parser holds the state of one evaluation.
type parser struct {
	src      string // the whole input, for messages
	list     []entry
	warnings []string
	secLevel int
	words    int  // commands seen, to reject strings of separators only
	quiet    bool // no warnings (while expanding DEFAULT)
}

func (p *parser) parse() error {
	if strings.TrimSpace(p.src) == "" {
		return errors.New(`empty cipher string: give an OpenSSL cipher list such as "HIGH:!aNULL"`)
	}
	if done, err := p.suiteB(); done || err != nil {
		return err
	}
	rest, base := p.src, 0
	if strings.HasPrefix(rest, "DEFAULT") {
		if err := p.expandDefault(); err != nil {
			return err
		}
		rest, base = rest[len("DEFAULT"):], len("DEFAULT")
		if strings.HasPrefix(rest, ":") {
			rest, base = rest[1:], base+1
		}
		p.words++
	}
	if err := p.run(rest, base); err != nil {
		return err
	}
	if p.words == 0 {
		return fmt.Errorf("cipher string %q has no words: give an OpenSSL cipher list such as \"HIGH:!aNULL\"", p.src)
	}
	return nil
}

// expandDefault evaluates OpenSSL's default list, as a string starting with
// "DEFAULT" asks.
func (p *parser) expandDefault() error {
	p.quiet = true
	defer func() { p.quiet = false }()
	return p.run(defaultRules, 0)
}

// suiteB handles a string starting with a Suite B keyword: OpenSSL then
// evaluates the fixed Suite B list and ignores the rest of the string. The
// rest is still checked so that typos are reported.
func (p *parser) suiteB() (bool, error) {
	for _, sb := range suiteB {
		if !strings.HasPrefix(p.src, sb.word) {
			continue
		}
		rest := p.src[len(sb.word):]
		check := &parser{src: p.src, list: defaultOrder(initialList()), secLevel: -1, quiet: true}
		if err := check.run(rest, len(sb.word)); err != nil {
			return true, err
		}
		if err := p.run(sb.list, 0); err != nil {
			return true, err
		}
		p.warn(fmt.Sprintf("%q selects the Suite B list %s; Suite B's curve and certificate limits are not applied", sb.word, sb.list))
		if strings.Trim(rest, ": ;,") != "" {
			p.warn(fmt.Sprintf("%q after %q ignored, as OpenSSL does in Suite B mode", rest, sb.word))
		}
		return true, nil
	}
	return false, nil
}

func (p *parser) warn(w string) {
	if p.quiet {
		return
	}
	for _, old := range p.warnings {
		if old == w {
			return
		}
	}
	p.warnings = append(p.warnings, w)
}

func isSep(c byte) bool { return c == ':' || c == ' ' || c == ';' || c == ',' }

func isWordChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '='
}

// scanWord returns the word starting at i and the index after it.
func scanWord(s string, i int) (string, int) {
	j := i
	for j < len(s) && isWordChar(s[j]) {
		j++
	}
	return s[i:j], j
}

// skipToSep returns the index of the next separator at or after i.
func skipToSep(s string, i int) int {
	for i < len(s) && !isSep(s[i]) {
		i++
	}
	return i
}

// run evaluates the commands of str, which starts at offset base of p.src,
// the way ssl_cipher_process_rulestr does.
func (p *parser) run(str string, base int) error {
	var err error
	for l := 0; l < len(str) && err == nil; {
		ch := str[l]
		if isSep(ch) {
			l++
			continue
		}
		p.words++
		o := opAdd
		switch ch {
		case '-':
			o, l = opDel, l+1
		case '+':
			o, l = opOrd, l+1
		case '!':
			o, l = opKill, l+1
		case '@':
			l, err = p.special(str, l+1, base)
			continue
		}
		l, err = p.command(str, l, base, o)
	}
	return err
}

// syntaxError describes the character at i of str where a word should be.
func (p *parser) syntaxError(str string, i, base int) error {
	if i >= len(str) {
		return fmt.Errorf("cipher string %q ends where a word should follow %q: %s", p.src, str[i-1:], syntaxHint)
	}
	return fmt.Errorf("invalid character %q at offset %d of cipher string %q: %s", str[i:i+1], base+i, p.src, syntaxHint)
}

// special handles "@STRENGTH" and "@SECLEVEL=n"; i is just past the '@'.
func (p *parser) special(str string, i, base int) (int, error) {
	w, j := scanWord(str, i)
	if w == "" {
		return j, p.syntaxError(str, i, base)
	}
	switch {
	case w == "STRENGTH":
		p.list = strengthSort(p.list)
	case len(w) == len("SECLEVEL=n") && strings.HasPrefix(w, "SECLEVEL=") && '0' <= w[9] && w[9] <= '5':
		p.secLevel = int(w[9] - '0')
		p.warn(fmt.Sprintf("%q recorded; security levels do not change which suites this appliance offers", "@"+w))
	default:
		return j, fmt.Errorf("unknown command %q in cipher string %q: use @STRENGTH or @SECLEVEL=0 to @SECLEVEL=5", "@"+w, p.src)
	}
	end := skipToSep(str, j)
	if end > j {
		p.warn(fmt.Sprintf("%q after %q ignored, as OpenSSL does", str[j:end], "@"+w))
	}
	return end, nil
}

// command reads one possibly multi-part ("A+B") selector starting at i and
// applies o to what it selects.
func (p *parser) command(str string, i, base int, o op) (int, error) {
	start := i
	var terms []term
	for {
		w, j := scanWord(str, i)
		if w == "" {
			return j, p.syntaxError(str, i, base)
		}
		t, err := p.lookup(w)
		if err != nil {
			return j, err
		}
		terms = append(terms, t)
		i = j
		if i >= len(str) || str[i] != '+' {
			break
		}
		i++
	}
	r, ok := combine(terms)
	if !ok {
		// OpenSSL drops the command and everything up to the next separator.
		end := skipToSep(str, i)
		p.warn(fmt.Sprintf("%q %s (%s); ignored", str[start:end], noMatch, nothingReason(terms)))
		return end, nil
	}
	if !r.matchesAny() {
		p.warn(fmt.Sprintf("%q %s (%s); ignored", str[start:i], noMatch, nothingReason(terms)))
		return i, nil
	}
	p.list = apply(p.list, o, r)
	return i, nil
}
