package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The checkers below hold one rule and one message for each kind of value.
// Validate applies them to the whole document, and the prompts and batch
// forms of package commands apply the same ones to an answer, so an admin
// reads the same words wherever a value is refused. Each message names the
// input and says how to fix it.

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
	labelRE  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	keyRefRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Kinds of named objects, as the messages name them.
const (
	KindListener    = "listener"
	KindInterface   = "interface"
	KindCertificate = "certificate"
	KindAuthority   = "custom authority"
	KindUser        = "user"
)

// CheckName checks the name of a listener, interface, certificate profile,
// custom authority or user: a letter, then up to 63 letters, digits, '_', '-'
// or '.'. Control characters can therefore never reach a name.
func CheckName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q is not a valid %s name: start with a letter, then up to 63 letters, digits, '_', '-' or '.'", name, kind)
	}
	return nil
}

// nameClash reports a name that one of others already has (case-insensitive).
func nameClash(kind, name string, others []string) error {
	for _, o := range others {
		if strings.EqualFold(o, name) {
			return nameTaken(kind, name)
		}
	}
	return nil
}

// nameTaken is the refusal of a name that another kind already has.
func nameTaken(kind, name string) error {
	return fmt.Errorf("%s %s named %q already exists: choose another name", article(kind), kind, name)
}

// CheckNewName checks the name typed for a new or renamed kind at its
// prompt: a valid name (CheckName), and not taken, the name of the one
// that already has it ("" when none does, or when it is the one renamed).
// Its refusal is the one the configuration gives when it is validated.
func CheckNewName(kind, name, taken string) error {
	if err := CheckName(kind, name); err != nil {
		return err
	}
	if taken != "" {
		return nameTaken(kind, taken)
	}
	return nil
}

// article is the article of a kind as it is spoken: "an interface", "an
// LDAP server profile", "an API token", but "a user", "a URL list".
func article(kind string) string {
	for _, an := range []string{KindInterface, KindLDAPProfile, KindAPIToken} {
		if kind == an {
			return "an"
		}
	}
	return "a"
}

// CheckHostname checks a host name: a fully qualified domain name such as
// mail.example.com (at least two labels, not an IP address).
func CheckHostname(h string) error {
	const fix = "use a fully qualified domain name such as mail.example.com"
	if _, err := netip.ParseAddr(h); err == nil {
		return fmt.Errorf("%q is not a valid hostname: it is an IP address; %s", h, fix)
	}
	labels := strings.Split(h, ".")
	if !validLabels(labels) || len(h) > 253 {
		return fmt.Errorf("%q is not a valid hostname: %s, in labels of letters, digits and '-' separated by '.'", h, fix)
	}
	if len(labels) < 2 {
		return fmt.Errorf("%q is not a valid hostname: it has no domain; %s", h, fix)
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return fmt.Errorf("%q is not a valid hostname: its last label is a number; %s", h, fix)
	}
	return nil
}

func validLabels(labels []string) bool {
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return true
}

// CheckDomain checks a recipient or route domain: example.com, or
// .example.com for its subdomains.
func CheckDomain(d string) error {
	if !validLabels(strings.Split(strings.TrimPrefix(d, "."), ".")) || len(d) > 254 {
		return fmt.Errorf("%q is not a domain: write example.com, or .example.com for its subdomains", d)
	}
	return nil
}

// CheckPort checks a TCP port.
func CheckPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d is out of range: use 1 to 65535", p)
	}
	return nil
}

// ParsePort reads a TCP port typed at a prompt or in a batch form.
func ParsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port: use a number from 1 to 65535", s)
	}
	return n, CheckPort(n)
}

// CheckAddress checks an IP address.
func CheckAddress(a string) error {
	if _, err := netip.ParseAddr(a); err != nil {
		return fmt.Errorf("%q is not an IP address: write it as 192.0.2.10 or 2001:db8::10", a)
	}
	return nil
}

// CheckNetmask checks a prefix length for an address.
func CheckNetmask(address string, bits int) error {
	max := 128
	if a, err := netip.ParseAddr(address); err == nil {
		max = a.BitLen()
	}
	if bits < 0 || bits > max {
		return fmt.Errorf("netmask /%d is out of range for %s: use 0 to %d", bits, address, max)
	}
	return nil
}

// CheckNetwork checks a relay network as stored: CIDR, e.g. 192.0.2.0/24.
func CheckNetwork(n string) error {
	if _, err := netip.ParsePrefix(n); err != nil {
		return fmt.Errorf("Invalid IP or IP range %q: write an address or a CIDR network such as 192.0.2.0/24", n)
	}
	return nil
}

// ParseNetwork reads a relay network as typed: a CIDR network, or an
// address, which becomes its host network (127.0.0.1 → 127.0.0.1/32).
func ParseNetwork(n string) (string, error) {
	if a, err := netip.ParseAddr(n); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String(), nil
	}
	return n, CheckNetwork(n)
}

// CheckEmail checks an alert recipient address.
func CheckEmail(a string) error {
	local, domain, ok := strings.Cut(a, "@")
	if !ok || local == "" || strings.Contains(domain, "@") || CheckDomain(domain) != nil || strings.ContainsFunc(local, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%q is not an email address: write it as name@example.com", a)
	}
	return nil
}

// CheckRouteHost checks one smtproutes destination: USEDNS, host or host:port.
func CheckRouteHost(h string) error {
	if strings.EqualFold(h, UseDNS) || h == RouteDiscard {
		return nil
	}
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		// [host] or [host]:port: the host (a name or an address) without an MX lookup.
		end := strings.Index(h, "]")
		if end < 0 || end+1 < len(h) && h[end+1] != ':' {
			return fmt.Errorf("%q is not a host name or IP address (or USEDNS): close the bracket, as in [mx.example.com]:25", h)
		}
		host = h[1:end]
		if end+1 < len(h) {
			port = h[end+2:]
		}
	} else if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[:i], ":") {
		host, port = h[:i], h[i+1:]
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || CheckPort(n) != nil || strconv.Itoa(n) != port {
			return fmt.Errorf("%q has a bad port: write host or host:port with a port from 1 to 65535", h)
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validLabels(strings.Split(host, ".")) {
		return fmt.Errorf("%q is not a host name or IP address (or USEDNS)", h)
	}
	return nil
}

// CheckTLSLevel checks a listener's TLS level.
func CheckTLSLevel(level string) error {
	for _, l := range TLSLevels {
		if l.Value == level {
			return nil
		}
	}
	return fmt.Errorf("%q is not a TLS level: use off, preferred, required, preferred-verify or required-verify", level)
}

// CheckDestTLSLevel checks a destination's TLS level; a domain entry may
// also follow DEFAULT (DestTLSDefault), the DEFAULT entry itself may not.
func CheckDestTLSLevel(level string, isDefault bool) error {
	if level == DestTLSDefault && !isDefault {
		return nil
	}
	for _, l := range DestTLSLevels {
		if l.Value == level {
			return nil
		}
	}
	also := " (or default)"
	if isDefault {
		also = ""
	}
	return fmt.Errorf("%q is not a TLS level: use none, preferred, required, preferred-verify or required-verify%s", level, also)
}

// Range is the interval of a number the dialogs ask for and Validate checks.
type Range struct{ Min, Max int }

// The numbers of the dialogs.
var (
	MessageSizeRange        = Range{1024, 1 << 30}
	ListenerConnectionRange = Range{1, 100000}
	RecipientRange          = Range{1, 100000}
	IdleSecondsRange        = Range{5, 86400}
	InboundConnectionRange  = Range{0, 100000} // 0: no global limit
	DestConnectionRange     = Range{1, 10000}
	DestMessageRange        = Range{1, 1000}
	DeliveryConnectionRange = Range{1, 10000}
)

// Check refuses a number outside the range.
func (r Range) Check(n int) error {
	if n < r.Min || n > r.Max {
		return fmt.Errorf("Value must be a number from %d to %d, not %d", r.Min, r.Max, n)
	}
	return nil
}

// Parse reads a number typed at a prompt or in a batch form.
func (r Range) Parse(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("Value must be a number from %d to %d, not %q", r.Min, r.Max, s)
	}
	return n, r.Check(n)
}

// EscapeControl returns s with every control character (C0, DEL, C1, the
// bidirectional overrides) and every invalid UTF-8 byte written as \xNN or
// \uNNNN, so that text another admin typed (a commit comment) cannot drive
// the terminal it is printed on. Printable text is returned unchanged, and
// escaping twice changes nothing more.
func EscapeControl(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// CheckResolver checks a DNS resolver setting: "system" (resolv.conf) or a
// DNS server as IP:port; a bare IP means port 53 (see ParseResolver).
func CheckResolver(r string) error {
	_, err := ParseResolver(r)
	return err
}

// ParseResolver reads a resolver setting: "system" in any case, an IP
// address (port 53), or IP:port.
func ParseResolver(r string) (string, error) {
	r = strings.TrimSpace(r)
	if strings.EqualFold(r, SystemResolver) {
		return SystemResolver, nil
	}
	if a, err := netip.ParseAddr(r); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	if ap, err := netip.ParseAddrPort(r); err == nil && ap.Port() != 0 {
		return ap.String(), nil
	}
	return "", fmt.Errorf("%q is neither system nor a DNS server as IP or IP:port (e.g. 127.0.0.1 or 127.0.0.1:5353)", r)
}
