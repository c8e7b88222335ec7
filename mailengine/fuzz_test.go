package mailengine_test

import (
	"strings"
	"testing"

	"relaybox/mailengine"
)

// FuzzAcceptsDomain feeds client-chosen recipient addresses to the recipient
// access table lookup: it must never panic, and an address whose domain is
// not in the table, nor below a ".domain" entry, must never be accepted.
func FuzzAcceptsDomain(f *testing.F) {
	for _, s := range []string{"a@example.test", "a@x.sub.example.test", "a@sub.example.test", "@", "a@", "a@@example.test", "a@EXAMPLE.TEST.", "\x00@example.test", "a@b@example.test"} {
		f.Add(s)
	}
	table := []string{"example.test", ".sub.example.test"}
	f.Fuzz(func(t *testing.T, rcpt string) {
		ok := mailengine.AcceptsDomain(table, rcpt)
		if !ok {
			return
		}
		at := strings.LastIndexByte(rcpt, '@')
		d := strings.ToLower(strings.TrimSuffix(rcpt[at+1:], "."))
		if d != "example.test" && !strings.HasSuffix(d, ".sub.example.test") {
			t.Fatalf("%q accepted for domain %q outside the table", rcpt, d)
		}
	})
}
