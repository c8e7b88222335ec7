package cipherstring

import (
	"fmt"
	"slices"
	"strings"
)

// term is one word of a command: an alias, a cipher Go implements, or a
// word OpenSSL knows that can select nothing Go implements (why says why).
type term struct {
	word    string
	alias   *alias
	suite   int // index into goSuites, or -1
	nothing bool
	why     string
}

// nameIndex maps OpenSSL cipher names to opensslNames entries and stdIndex
// maps IANA names to OpenSSL names; both are read-only after init.
var (
	nameIndex = buildNameIndex()
	stdIndex  = buildStdIndex()
)

func buildNameIndex() map[string]int {
	m := make(map[string]int, len(opensslNames))
	for i, n := range opensslNames {
		m[n.name] = i
	}
	return m
}

func buildStdIndex() map[string]string {
	m := make(map[string]string, len(opensslNames))
	for _, n := range opensslNames {
		if n.std != "" {
			m[n.std] = n.name
		}
	}
	return m
}

// lookup classifies a word, or explains why it is not an OpenSSL word.
func (p *parser) lookup(w string) (term, error) {
	if a, ok := aliases[w]; ok {
		return term{word: w, alias: &a, suite: -1}, nil
	}
	if i := goSuiteByName(w); i >= 0 {
		return term{word: w, suite: i}, nil
	}
	if why, ok := nothingWord(w); ok {
		return term{word: w, suite: -1, nothing: true, why: why}, nil
	}
	if name, ok := stdIndex[w]; ok {
		return term{}, fmt.Errorf("%q in cipher string %q is an IANA name, which OpenSSL cipher strings do not accept: write %q instead", w, p.src, name)
	}
	if alt := caseFold(w); alt != "" {
		return term{}, fmt.Errorf("unknown cipher keyword %q in %q: OpenSSL names are case-sensitive, write %q; %s", w, p.src, alt, keywordHint)
	}
	return term{}, fmt.Errorf("unknown cipher keyword %q in %q: %s", w, p.src, keywordHint)
}

// nothingWord recognises the OpenSSL words that cannot select a suite Go
// implements, and says why.
func nothingWord(w string) (string, bool) {
	if i, ok := nameIndex[w]; ok {
		return opensslNames[i].reason(), true
	}
	switch {
	case legacyWords[w]:
		return "OpenSSL 3.0 no longer defines it", true
	case slices.Contains(TLS13Suites, w) || w == "TLS_AES_128_CCM_SHA256" || w == "TLS_AES_128_CCM_8_SHA256":
		return "TLS 1.3 suites are not set by cipher strings", true
	case w == "DEFAULT":
		return "DEFAULT counts only at the very start of the string", true
	case slices.ContainsFunc(suiteB, func(sb struct{ word, list string }) bool { return sb.word == w }):
		return "Suite B keywords count only at the very start of the string", true
	}
	return "", false
}

// caseFold returns the known word w differs from only in case, if any.
func caseFold(w string) string {
	for k := range aliases {
		if strings.EqualFold(k, w) {
			return k
		}
	}
	for _, n := range opensslNames {
		if strings.EqualFold(n.name, w) {
			return n.name
		}
	}
	for k := range legacyWords {
		if strings.EqualFold(k, w) {
			return k
		}
	}
	if strings.EqualFold(w, "DEFAULT") || strings.EqualFold(w, "STRENGTH") {
		return strings.ToUpper(w)
	}
	return ""
}

// reason explains why crypto/tls lacks a suite OpenSSL has.
func (n opensslName) reason() string {
	switch {
	case strings.Contains(n.kx, "PSK"):
		return "Go has no PSK"
	case n.kx == "SRP":
		return "Go has no SRP"
	case strings.HasPrefix(n.kx, "GOST"):
		return "Go has no GOST"
	case n.au == "None" && n.kx == "DH":
		return "Go has no anonymous DH"
	case n.au == "None":
		return "Go has no anonymous ECDH"
	case n.kx == "DH":
		return "Go has no DHE"
	case n.au == "DSS":
		return "Go has no DSS"
	case n.enc == "None":
		return "Go has no NULL encryption"
	case n.mac == "MD5":
		return "Go has no MD5-MAC suites"
	}
	for _, e := range []struct{ prefix, name string }{
		{"Camellia", "CAMELLIA"}, {"ARIA", "ARIA"}, {"AESCCM", "AES-CCM"}, {"SEED", "SEED"}, {"IDEA", "IDEA"},
	} {
		if strings.HasPrefix(n.enc, e.prefix) {
			return "Go has no " + e.name
		}
	}
	return "Go does not implement this suite"
}

// combine ANDs the terms of a command into one rule the way
// ssl_cipher_process_rulestr does. ok is false when OpenSSL would drop the
// command because two parts contradict each other or a part can select
// nothing Go implements.
func combine(terms []term) (rule, bool) {
	var r rule
	for _, t := range terms {
		if t.nothing {
			return r, false
		}
		var ok bool
		if r, ok = r.and(t); !ok {
			return r, false
		}
	}
	return r, true
}

// and merges one term into r.
func (r rule) and(t term) (rule, bool) {
	var a alias
	if t.alias != nil {
		a = *t.alias
	} else {
		g := &goSuites[t.suite]
		a = alias{mkey: g.mkey, auth: g.auth, enc: g.enc, mac: g.mac, strength: g.strength}
		r.hasID, r.id = true, g.id // the suite's own min_tls is not part of the pattern
	}
	var ok [6]bool
	r.mkey, ok[0] = andMask(r.mkey, a.mkey)
	r.auth, ok[1] = andMask(r.auth, a.auth)
	r.enc, ok[2] = andMask(r.enc, a.enc)
	r.mac, ok[3] = andMask(r.mac, a.mac)
	r.strength, ok[4] = andStrength(r.strength, a.strength)
	r.minTLS, ok[5] = andVersion(r.minTLS, a.minTLS)
	return r, !slices.Contains(ok[:], false)
}

// andMask narrows a mask; zero means "not restricted".
func andMask(have, add uint32) (uint32, bool) {
	switch {
	case add == 0:
		return have, true
	case have == 0:
		return add, true
	}
	return have & add, have&add != 0
}

// andStrength narrows the strength class, then the default flag, with
// OpenSSL's quirk: a class added to a pattern without one replaces the
// whole field, dropping an earlier COMPLEMENTOFDEFAULT, so
// "COMPLEMENTOFDEFAULT+FIPS" means FIPS.
func andStrength(have, add uint32) (uint32, bool) {
	if add&strongMask != 0 {
		if have&strongMask == 0 {
			have = add & strongMask
		} else if have &= add&strongMask | ^strongMask; have&strongMask == 0 {
			return have, false
		}
	}
	if add&defaultMask != 0 {
		if have&defaultMask == 0 {
			have |= add & defaultMask
		} else if have &= add&defaultMask | ^defaultMask; have&defaultMask == 0 {
			return have, false
		}
	}
	return have, true
}

func andVersion(have, add uint16) (uint16, bool) {
	if add == 0 || have == 0 {
		return max(have, add), true
	}
	return have, have == add
}

// nothingReason says why a command selects nothing.
func nothingReason(terms []term) string {
	for _, t := range terms {
		if why := t.reason(); why != "" {
			return why
		}
	}
	if len(terms) > 1 {
		return "no suite has all of its parts"
	}
	return "no suite matches it"
}

// reason says why the term alone selects nothing, or "" if it may select
// something.
func (t term) reason() string {
	if t.alias != nil {
		return t.alias.why
	}
	return t.why
}
