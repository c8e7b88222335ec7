package ldapcheck

import (
	"testing"

	"github.com/go-ldap/ldap/v3"

	"relaybox/config"
)

// FuzzFilter: whatever the address, the filter of a valid accept query
// compiles, and the value it compares mail with is the address itself (no
// address can change the filter's shape).
func FuzzFilter(f *testing.F) {
	for _, a := range []string{"alice@example.com", "*", "x)(mail=*", `a\b@c`, "josé@exämple.com", "\x00@x", "@", ""} {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got := Filter("(mail={a})", addr)
		p, err := ldap.CompileFilter(got)
		if err != nil {
			t.Fatalf("%q gave %q, which does not compile: %v", addr, got, err)
		}
		if len(p.Children) != 2 {
			t.Fatalf("%q gave %q: not one equality match", addr, got)
		}
		if v := p.Children[1].Data.String(); v != addr {
			t.Fatalf("%q gave %q comparing with %q", addr, got, v)
		}
		back, err := ldap.DecompileFilter(p)
		if err != nil || back != got {
			t.Fatalf("%q: %q decompiles to %q (%v)", addr, got, back, err)
		}
	})
}

// FuzzAcceptQuery: a query config.CheckAcceptQuery takes gives, for any
// address, a filter the LDAP library compiles (a query that passes
// ldapconfig never fails at RCPT time for its syntax).
func FuzzAcceptQuery(f *testing.F) {
	for _, q := range []string{"(mail={a})", "(|(mail={a})(proxyAddresses=smtp:{a}))", "(&(uid={u})(o={d}))", "(mail={a}", "((", "(cn=*{u}*)"} {
		f.Add(q, "alice@example.com")
	}
	f.Fuzz(func(t *testing.T, query, addr string) {
		if config.CheckAcceptQuery(query) != nil {
			return
		}
		if _, err := ldap.CompileFilter(Filter(query, addr)); err != nil {
			t.Fatalf("accepted query %q with %q gives %q: %v", query, addr, Filter(query, addr), err)
		}
	})
}
