package commands_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPasteRefusedAtItsDot: junk or a truncated certificate is refused at
// the "." that ends it, before the key and the intermediates are asked,
// and "line N" points at the offending line of the paste.
func TestPasteRefusedAtItsDot(t *testing.T) {
	a := startAppliance(t)
	demo := a.Store.Current().Certificate("Demo").PEM
	truncated := demo[:len(demo)/2]
	tests := []struct {
		name, paste string
		line        string
		want        string
	}{
		{"junk", "this is not a certificate\n", "line 5:", "holds no complete PEM CERTIFICATE block"},
		{"junk after a blank line", "\nstill not a certificate\n", "line 6:", "holds no complete PEM CERTIFICATE block"},
		{"truncated", "subject=CN=x\n" + truncated + "\n", "line 6:", "is damaged or truncated"},
		{"a key at the certificate prompt", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n", "line 5:", "that is the private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := script(a, "certconfig\ncertificate\npaste\nPasted\n"+tc.paste+".\n")
			assert.Equal(t, 1, r.code)
			assert.Contains(t, r.err, tc.line+" Invalid certificate: ")
			assert.Contains(t, r.err, tc.want)
			assert.NotContains(t, r.out, "Paste private key", "refused before the key is asked")
			assert.Nil(t, a.Store.Current().Certificate("Pasted"))
		})
	}
	// A bad key is refused at its "." too, before the intermediates.
	r := script(a, "certconfig\ncertificate\npaste\nPasted\n"+demo+".\nnot a key\n.\n")
	assert.Contains(t, r.err, "Invalid private key")
	assert.True(t, strings.HasPrefix(r.err, "line "), r.err)
	assert.NotContains(t, r.out, "intermediate certificate?")
}
