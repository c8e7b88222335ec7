package address

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePath(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name, in     string
		utf8, null   bool
		addr, domain string
		rest         string
		kind         Kind
	}{
		{name: "plain", in: "<bob@example.test>", addr: "bob@example.test", domain: "example.test"},
		{name: "quoted local part kept as written", in: `<"john doe"@example.test>`, addr: `"john doe"@example.test`, domain: "example.test"},
		{name: "quoted with escapes and @", in: `<"a\"b@c"@example.test> SIZE=10`, addr: `"a\"b@c"@example.test`, domain: "example.test", rest: " SIZE=10"},
		{name: "quoted > inside", in: `<"a>b"@x.test>`, addr: `"a>b"@x.test`, domain: "x.test"},
		{name: "space after colon", in: "  <a@b.test>", addr: "a@b.test", domain: "b.test"},
		{name: "no brackets", in: "a@b.test BODY=8BITMIME", addr: "a@b.test", domain: "b.test", rest: " BODY=8BITMIME"},
		{name: "source route ignored", in: "<@relay.test,@other.test:a@b.test>", addr: "a@b.test", domain: "b.test"},
		{name: "lenient dot-string", in: "<a..b.@docomo.test>", addr: "a..b.@docomo.test", domain: "docomo.test"},
		{name: "trailing dot domain", in: "<a@b.test.>", addr: "a@b.test.", domain: "b.test."},
		{name: "ipv4 literal", in: "<a@[192.0.2.1]>", addr: "a@[192.0.2.1]", domain: "[192.0.2.1]"},
		{name: "ipv6 literal", in: "<a@[IPv6:2001:db8::1]>", addr: "a@[IPv6:2001:db8::1]", domain: "[IPv6:2001:db8::1]"},
		{name: "utf8 with SMTPUTF8", in: "<grå@bücher.test>", utf8: true, addr: "grå@bücher.test", domain: "bücher.test"},
		{name: "null path", in: "<>", null: true},
		{name: "null path with params", in: "<> SIZE=5", null: true, rest: " SIZE=5"},

		{name: "null path refused for RCPT", in: "<>", kind: Syntax},
		{name: "no domain", in: "<bob>", kind: Syntax},
		{name: "empty domain", in: "<bob@>", kind: Syntax},
		{name: "unbalanced", in: "<bob@x.test", kind: Syntax},
		{name: "space in dot-string", in: "<john doe@x.test>", kind: Syntax},
		{name: "junk after bracket", in: "<a@b.test>x", kind: Syntax},
		{name: "unterminated quote", in: `<"abc@x.test>`, kind: Syntax},
		{name: "bad domain char", in: "<a@b!c.test>", kind: Syntax},
		{name: "double dot domain", in: "<a@b..test>", kind: Syntax},
		{name: "hyphen label", in: "<a@-b.test>", kind: Syntax},
		{name: "bad literal", in: "<a@[300.1.1.1]>", kind: Syntax},
		{name: "NUL", in: "<a\x00b@x.test>", kind: Control},
		{name: "NUL in quotes", in: "<\"a\x00b\"@x.test>", kind: Control},
		{name: "ESC", in: "<a@x\x1b[31m.test>", kind: Control},
		{name: "CR", in: "<a\rb@x.test>", kind: Control},
		{name: "DEL", in: "<a\x7f@x.test>", kind: Control},
		{name: "C1 control in UTF-8", in: "<a\u0085@x.test>", utf8: true, kind: Control},
		{name: "8-bit without SMTPUTF8", in: "<grå@x.test>", kind: NonASCII},
		{name: "invalid UTF-8 with SMTPUTF8", in: "<a\xff@x.test>", utf8: true, kind: NonASCII},
		{name: "invalid UTF-8 without", in: "<a\xc3@x.test>", kind: NonASCII},
		{name: "local part over 64", in: "<" + long + "@x.test>", kind: TooLong},
		{name: "path over 256", in: "<a@" + strings.Repeat("b.", 127) + "test>", kind: TooLong},
		{name: "label over 63", in: "<a@" + long + ".test>", kind: TooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, rest, err := ParsePath(tc.in, tc.utf8, tc.null)
			if tc.kind != 0 {
				var ae *Error
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, tc.kind, ae.Kind, ae.Text)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.addr, p.Addr)
			assert.Equal(t, tc.domain, p.Domain)
			assert.Equal(t, tc.rest, rest)
		})
	}
}

func TestLocalPartLimitIsOctets(t *testing.T) {
	// 32 two-byte characters are 64 octets: allowed; one more is not.
	ok := strings.Repeat("å", 32)
	_, _, err := ParsePath("<"+ok+"@x.test>", true, false)
	require.NoError(t, err)
	_, _, err = ParsePath("<"+ok+"a@x.test>", true, false)
	var ae *Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, TooLong, ae.Kind)
}

func TestKeyMergesEquivalentForms(t *testing.T) {
	assert.Equal(t, Key("dup@x.test"), Key("DUP@X.TEST"))
	assert.Equal(t, Key("dup@x.test"), Key(`"dup"@x.test.`))
	assert.Equal(t, Key(`"a\"b"@x.test`), `a"b@x.test`)
	assert.NotEqual(t, Key("a@x.test"), Key("b@x.test"))
}

func TestUnquoteAndDomainOf(t *testing.T) {
	assert.Equal(t, "john doe", Unquote(`"john doe"`))
	assert.Equal(t, `a\b"c`, Unquote(`"a\\b\"c"`))
	assert.Equal(t, "plain", Unquote("plain"))
	assert.Equal(t, "example.test", DomainOf(`"a@b"@Example.Test.`))
	assert.Equal(t, "", DomainOf("nodomain"))
}

func TestValidAcceptsWhatParsePathKeeps(t *testing.T) {
	for _, a := range []string{`"john doe"@x.test`, "a..b@x.test", "grå@x.test", "a@[IPv6:::1]"} {
		assert.NoError(t, Valid(a), a)
	}
	for _, a := range []string{"john doe@x.test", "a\x00@x.test", "", "a@", "a\xff@x.test"} {
		assert.Error(t, Valid(a), a)
	}
}

// FuzzParsePath: whatever the input, the parser never panics, and an
// address it accepts is a substring of the input, carries no control
// character, is accepted again by Valid and parses back to itself.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"<a@b.test>", `<"john doe"@x.test> SIZE=1`, "<>", "a@b", "<@r:a@b.c>", "<grå@x.test>", `<"a\"@b"@c.d>`, "<a@[IPv6:::1]>"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, utf8OK bool) {
		p, rest, err := ParsePath(in, utf8OK, true)
		if err != nil {
			return
		}
		if p.Addr == "" {
			return
		}
		if !strings.Contains(in, p.Addr) || !strings.HasSuffix(in, rest) {
			t.Fatalf("ParsePath(%q) = %q, %q: not taken from the input", in, p.Addr, rest)
		}
		for i := 0; i < len(p.Addr); i++ {
			if p.Addr[i] < ' ' || p.Addr[i] == 0x7f {
				t.Fatalf("ParsePath(%q) kept a control character", in)
			}
		}
		if !utf8OK && p.UTF8() {
			t.Fatalf("ParsePath(%q) accepted 8-bit without SMTPUTF8", in)
		}
		if err := Valid(p.Addr); err != nil {
			t.Fatalf("ParsePath(%q) accepted %q, which Valid refuses: %v", in, p.Addr, err)
		}
		again, _, err := ParsePath("<"+p.Addr+">", true, false)
		if err != nil || again.Addr != p.Addr {
			t.Fatalf("%q does not parse back to itself: %q, %v", p.Addr, again.Addr, err)
		}
	})
}
