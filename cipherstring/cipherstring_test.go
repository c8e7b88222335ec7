package cipherstring

import (
	"bytes"
	"crypto/tls"
	"math/rand"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	applianceInbound  = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA:!DHE-RSA-AES128-CCM:!DHE-RSA-AES256-CCM:!DHE-RSA-AES256-SHA"
	applianceOutbound = "ECDH+aRSA:ECDH+ECDSA:DHE+DSS+AES:AES128:AES256:!3DES:!IDEA:!SRP:!AESGCM+DH+aRSA:!AESGCM+RSA:!aNULL:!eNULL:!kRSA:@STRENGTH:-aNULL:-EXPORT:-IDEA:!DHE-RSA-AES128-CCM:!DHE-RSA-AES256-CCM:!ECDHE-ECDSA-CAMELLIA128-SHA256:!ECDHE-RSA-CAMELLIA128-SHA256:!ECDHE-ECDSA-CAMELLIA256-SHA384:!ECDHE-RSA-CAMELLIA256-SHA384:!ECDHE-ECDSA-AES128-CCM:!ECDHE-ECDSA-AES256-CCM:!DHE-RSA-AES256-SHA"
)

// weakNames are the suites Debian's OpenSSL is built without.
var weakNames = []string{"DES-CBC3-SHA", "ECDHE-RSA-DES-CBC3-SHA", "RC4-SHA", "ECDHE-RSA-RC4-SHA", "ECDHE-ECDSA-RC4-SHA"}

// opensslOrder runs the real `openssl ciphers` and keeps the suites Go has.
func opensslOrder(t *testing.T, s string) []string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	require.NoError(t, err, "the golden tests need the openssl command (OpenSSL 3.0): install it with `apt-get install openssl` (the Makefile's test target does)")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "ciphers", "-V", "--", s+":@SECLEVEL=0")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		require.Contains(t, stderr.String(), "no cipher match", "openssl ciphers %q failed: %s", s, stderr.String())
		return nil
	}
	var names []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		hex := strings.ReplaceAll(strings.ReplaceAll(f[0], "0x", ""), ",", "")
		id, err := strconv.ParseUint(hex, 16, 16)
		require.NoError(t, err, "unexpected openssl output line %q", line)
		if i := goSuiteIndex(uint16(id)); i >= 0 {
			require.Equal(t, goSuites[i].name, f[2], "openssl names suite %#04x differently", id)
			names = append(names, f[2])
		}
	}
	return names
}

func names(r Result) []string {
	var out []string
	for _, s := range r.Suites {
		out = append(out, s.Name)
	}
	return out
}

func withoutWeak(in []string) []string {
	var out []string
	for _, n := range in {
		if !slices.Contains(weakNames, n) {
			out = append(out, n)
		}
	}
	return out
}

func TestGoldenOpenSSL(t *testing.T) {
	kRSAAll := []string{"AES256-GCM-SHA384", "AES128-GCM-SHA256", "AES128-SHA256", "AES256-SHA", "AES128-SHA", "RC4-SHA", "DES-CBC3-SHA"}
	weakOnly := []string{"ECDHE-ECDSA-RC4-SHA", "ECDHE-RSA-RC4-SHA", "ECDHE-RSA-DES-CBC3-SHA", "RC4-SHA", "DES-CBC3-SHA"}
	tests := []struct {
		s string
		// weak is the hand-written expectation for strings that select 3DES
		// or RC4, which Debian's OpenSSL lacks; its other suites must still
		// come out in openssl's order.
		weak []string
	}{
		{s: applianceInbound},
		{s: applianceOutbound, weak: []string{
			"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES256-SHA",
			"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES256-SHA",
			"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-RC4-SHA",
			"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-RC4-SHA",
		}},
		{s: "HIGH"},
		{s: "MEDIUM", weak: weakOnly},
		{s: "LOW"},
		{s: "ALL", weak: names(Result{Suites: All()})},
		{s: "ALL:COMPLEMENTOFALL", weak: names(Result{Suites: All()})},
		{s: "DEFAULT"},
		{s: "DEFAULT:!kRSA"},
		{s: "DEFAULT:+AES128"},
		{s: "COMPLEMENTOFDEFAULT", weak: weakOnly},
		{s: "HIGH:!aNULL"},
		{s: "kRSA", weak: kRSAAll},
		{s: "RSA", weak: kRSAAll},
		{s: "ECDH+aRSA", weak: []string{
			"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES128-GCM-SHA256",
			"ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-RC4-SHA",
			"ECDHE-RSA-DES-CBC3-SHA",
		}},
		{s: "ECDH+RSA"},
		{s: "AESGCM"},
		{s: "AES128:@STRENGTH"},
		{s: "CHACHA20:AESGCM:@STRENGTH"},
		{s: "SHA", weak: []string{
			"ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
			"ECDHE-ECDSA-RC4-SHA", "ECDHE-RSA-RC4-SHA", "ECDHE-RSA-DES-CBC3-SHA",
			"AES256-SHA", "AES128-SHA", "RC4-SHA", "DES-CBC3-SHA",
		}},
		{s: "ECDHE-RSA-AES128-GCM-SHA256"},
		{s: "AES128+SHA256:ECDHE-ECDSA-AES256-SHA:AES128-SHA"},
		{s: "HIGH:+AES256"},
		{s: "AES256:AES128:+SHA1"},
		{s: "HIGH:-ECDSA:+kRSA:ECDSA", weak: []string{
			"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-AES128-GCM-SHA256",
			"ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA",
			"AES256-GCM-SHA384", "AES128-GCM-SHA256", "AES128-SHA256", "AES256-SHA", "AES128-SHA",
			"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256",
			"ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-RC4-SHA",
		}},
		{s: "AES:-AES128:AES128"},
		{s: "AES:!AES128:AES128"},
		{s: "ALL:-ECDHE:ECDHE+AES256", weak: []string{
			"AES256-GCM-SHA384", "AES128-GCM-SHA256", "AES128-SHA256", "AES256-SHA", "AES128-SHA", "RC4-SHA",
			"DES-CBC3-SHA", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-SHA",
			"ECDHE-RSA-AES256-SHA",
		}},
		{s: "-ALL:HIGH:!SHA1:!SHA256"},
		{s: "TLSv1", weak: []string{
			"ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
			"ECDHE-ECDSA-RC4-SHA", "ECDHE-RSA-RC4-SHA", "ECDHE-RSA-DES-CBC3-SHA",
		}},
		{s: "TLSv1.2"},
		{s: "SSLv3", weak: []string{"AES256-SHA", "AES128-SHA", "RC4-SHA", "DES-CBC3-SHA"}},
		{s: "FIPS", weak: []string{
			"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256",
			"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
			"ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
			"ECDHE-RSA-DES-CBC3-SHA", "AES256-GCM-SHA384", "AES128-GCM-SHA256", "AES128-SHA256", "AES256-SHA",
			"AES128-SHA", "DES-CBC3-SHA",
		}},
		{s: "CBC", weak: []string{
			"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
			"ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-DES-CBC3-SHA", "AES128-SHA256",
			"AES256-SHA", "AES128-SHA", "DES-CBC3-SHA",
		}},
		{s: "3DES:RC4", weak: []string{"ECDHE-RSA-DES-CBC3-SHA", "DES-CBC3-SHA", "ECDHE-ECDSA-RC4-SHA", "ECDHE-RSA-RC4-SHA", "RC4-SHA"}},
		{s: "EECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH"},
		{s: "ECDHE:!ECDSA:@STRENGTH:!RC4:!3DES"},
		{s: "SUITEB128"},
		{s: "kECDHE+AESGCM,kECDHE+CHACHA20 kRSA+AES;!SHA1"},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			r, err := Parse(tc.s)
			require.NoError(t, err)
			got := names(r)
			oracle := opensslOrder(t, tc.s)
			if tc.weak == nil {
				assert.Equal(t, oracle, got, "order differs from openssl ciphers")
				assert.Empty(t, slices.DeleteFunc(slices.Clone(got), func(n string) bool { return !slices.Contains(weakNames, n) }),
					"selects 3DES/RC4: give a hand-written expectation")
				return
			}
			assert.Equal(t, tc.weak, got, "hand-written expectation")
			assert.Equal(t, oracle, withoutWeak(tc.weak), "hand-written expectation disagrees with openssl on the suites it has")
		})
	}
}

func TestAllIsGoTLS12Suites(t *testing.T) {
	versions := map[uint16][]uint16{}
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !slices.Equal(c.SupportedVersions, []uint16{tls.VersionTLS13}) {
			versions[c.ID] = c.SupportedVersions
		}
	}
	all := All()
	require.Len(t, all, 22)
	require.Len(t, versions, 22)
	for _, s := range all {
		v, ok := versions[s.ID]
		require.True(t, ok, "%s is not a crypto/tls TLS 1.2 suite", s.Name)
		assert.Equal(t, v[0], s.MinTLS, s.Name)
		assert.Equal(t, v[len(v)-1], s.MaxTLS, s.Name)
		assert.Equal(t, tls.CipherSuiteName(s.ID), s.GoName)
		assert.NotEmpty(t, s.Kx+s.Au+s.Enc+s.Mac)
	}
	r, err := Parse("ALL")
	require.NoError(t, err)
	assert.Equal(t, all, r.Suites, "All() must be in the order ALL selects")
}

func TestSuiteAttributes(t *testing.T) {
	byName := map[string]Suite{}
	for _, s := range All() {
		byName[s.Name] = s
	}
	tests := []struct {
		name             string
		id               uint16
		kx, au, enc, mac string
		bits             int
		minTLS           uint16
	}{
		{"ECDHE-RSA-AES128-GCM-SHA256", 0xC02F, "kECDHE", "aRSA", "AESGCM", "AEAD", 128, tls.VersionTLS12},
		{"AES128-SHA", 0x002F, "kRSA", "aRSA", "AES128", "SHA1", 128, tls.VersionTLS10},
		{"DES-CBC3-SHA", 0x000A, "kRSA", "aRSA", "3DES", "SHA1", 112, tls.VersionTLS10},
		{"ECDHE-RSA-DES-CBC3-SHA", 0xC012, "kECDHE", "aRSA", "3DES", "SHA1", 112, tls.VersionTLS10},
		{"RC4-SHA", 0x0005, "kRSA", "aRSA", "RC4", "SHA1", 128, tls.VersionTLS10},
		{"ECDHE-RSA-RC4-SHA", 0xC011, "kECDHE", "aRSA", "RC4", "SHA1", 128, tls.VersionTLS10},
		{"ECDHE-ECDSA-RC4-SHA", 0xC007, "kECDHE", "aECDSA", "RC4", "SHA1", 128, tls.VersionTLS10},
		{"ECDHE-RSA-CHACHA20-POLY1305", 0xCCA8, "kECDHE", "aRSA", "CHACHA20", "AEAD", 256, tls.VersionTLS12},
		{"ECDHE-ECDSA-AES128-SHA256", 0xC023, "kECDHE", "aECDSA", "AES128", "SHA256", 128, tls.VersionTLS12},
		{"ECDHE-RSA-AES256-GCM-SHA384", 0xC030, "kECDHE", "aRSA", "AESGCM", "AEAD", 256, tls.VersionTLS12},
	}
	for _, tc := range tests {
		s, ok := byName[tc.name]
		require.True(t, ok, tc.name)
		assert.Equal(t, Suite{
			ID: tc.id, Name: tc.name, GoName: tls.CipherSuiteName(tc.id), Kx: tc.kx, Au: tc.au, Enc: tc.enc, Mac: tc.mac,
			Bits: tc.bits, MinTLS: tc.minTLS, MaxTLS: tls.VersionTLS12,
		}, s)
	}
}

func TestApplianceDefaults(t *testing.T) {
	in, err := Parse(applianceInbound)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305", "AES256-GCM-SHA384",
		"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA256", "AES128-GCM-SHA256", "AES128-SHA256",
	}, names(in))
	assert.Empty(t, in.UsableAt(tls.VersionTLS10), "the inbound default is TLS 1.2-only")
	assert.Empty(t, in.UsableAt(tls.VersionTLS11))
	assert.Len(t, in.UsableAt(tls.VersionTLS12), 7)
	assert.Contains(t, in.Warnings, `"DHE-RSA-AES256-SHA" matches no cipher suite this appliance supports (Go has no DHE); ignored`)

	out, err := Parse(applianceOutbound)
	require.NoError(t, err)
	assert.Len(t, out.Suites, 14)
	assert.Equal(t, []string{"ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-RC4-SHA", "ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-RC4-SHA"},
		names(Result{Suites: out.UsableAt(tls.VersionTLS10)}))
	assert.Contains(t, out.Warnings, `"DHE+DSS+AES" matches no cipher suite this appliance supports (Go has no DHE); ignored`)
	assert.Equal(t, -1, out.SecLevel)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		s    string
		want []string // substrings of the error
	}{
		{"", []string{"empty cipher string"}},
		{"  \t", []string{"empty cipher string"}},
		{":::", []string{"has no words"}},
		{"HIHG:!aNULL", []string{`unknown cipher keyword "HIHG" in "HIHG:!aNULL"`, "use OpenSSL names such as HIGH", `"sslconfig VERIFY"`}},
		{"ECDH+HIHG", []string{`"HIHG"`}},
		{"!DHE-RSA-AES256-SHA:HIHG", []string{`"HIHG"`}},
		{"high", []string{`"high"`, `write "HIGH"`}},
		{"%%", []string{`invalid character "%" at offset 0`}},
		{"HIGH:%%", []string{`invalid character "%" at offset 5 of cipher string "HIGH:%%"`}},
		{"HIGH\x00", []string{`invalid character "\x00"`}},
		{"HIGH:é", []string{"invalid character"}},
		{"AES+", []string{`ends where a word should follow "+"`}},
		{"HIGH:!", []string{`ends where a word should follow "!"`}},
		{"@FOO", []string{`unknown command "@FOO"`, "@STRENGTH"}},
		{"@SECLEVEL=9", []string{`unknown command "@SECLEVEL=9"`}},
		{"@STRENGTHS", []string{`unknown command "@STRENGTHS"`}},
		{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", []string{"IANA name", `write "ECDHE-RSA-AES128-GCM-SHA256"`}},
		{"SUITEB128:HIHG", []string{`"HIHG"`}},
		{"DEFAULTS", []string{`unknown cipher keyword "S"`}},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			_, err := Parse(tc.s)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, strings.ToLower(err.Error()[:1]), err.Error()[:1], "errors start lower-case")
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		s     string
		n     int    // suites selected
		warns string // substring of the only warning
	}{
		{"DHE", 0, `"DHE" matches no cipher suite this appliance supports (Go has no DHE); ignored`},
		{"CAMELLIA:AES128-SHA", 1, "(Go has no CAMELLIA)"},
		{"ECDHE-ECDSA-CAMELLIA128-SHA256", 0, "(Go has no CAMELLIA)"},
		{"ECDHE-ECDSA-AES128-CCM:AES128-SHA", 1, "(Go has no AES-CCM)"},
		{"AES128-SHA:DHE-RSA-AES128-CCM", 1, "(Go has no DHE)"},
		{"PSK", 0, "(Go has no PSK)"},
		{"HIGH:!SRP", 17, "(Go has no SRP)"},
		{"HIGH:!SSLv2", 17, "OpenSSL 3.0 no longer defines it"},
		{"HIGH:-EXPORT", 17, "OpenSSL 3.0 no longer defines it"},
		{"AES256-SHA256", 0, "(Go does not implement this suite)"},
		{"ECDH+RSA", 0, "(no suite has all of its parts)"},
		{"ECDH+RSA!AES:AES128-SHA", 1, `"ECDH+RSA!AES" matches no`},
		{"TLS_AES_128_GCM_SHA256:AES128-SHA", 1, "TLS 1.3 suites are not set by cipher strings"},
		{"HIGH:DEFAULT", 17, "DEFAULT counts only at the very start"},
		{"AES:SUITEB128", 15, "Suite B keywords count only at the very start"},
		{"SUITEB128ONLY", 1, "selects the Suite B list ECDHE-ECDSA-AES128-GCM-SHA256"},
		{"AES128:@SECLEVEL=3", 9, `"@SECLEVEL=3" recorded`},
		{"AES128:@STRENGTH+X", 9, `"+X" after "@STRENGTH" ignored`},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			r, err := Parse(tc.s)
			require.NoError(t, err)
			assert.Len(t, r.Suites, tc.n)
			require.Len(t, r.Warnings, 1, "%q", r.Warnings)
			assert.Contains(t, r.Warnings[0], tc.warns)
		})
	}
	r, err := Parse("HIGH:!aNULL:!aNULL")
	require.NoError(t, err)
	assert.Len(t, r.Warnings, 1, "warnings are not repeated")
	r, err = Parse("AES128-SHA:@SECLEVEL=2")
	require.NoError(t, err)
	assert.Equal(t, 2, r.SecLevel)
}

func TestIDsAndUsableAt(t *testing.T) {
	r, err := Parse("ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:DES-CBC3-SHA")
	require.NoError(t, err)
	assert.Equal(t, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, r.IDs())
	assert.Equal(t, []string{"AES128-SHA", "DES-CBC3-SHA"}, names(Result{Suites: r.UsableAt(tls.VersionTLS11)}))
	assert.Len(t, r.UsableAt(tls.VersionTLS12), 3)
	assert.Empty(t, r.UsableAt(tls.VersionTLS13))
	assert.Empty(t, Result{}.IDs())
}

func TestLogName(t *testing.T) {
	assert.Equal(t, "ECDHE-RSA-AES128-GCM-SHA256", LogName(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256))
	assert.Equal(t, "DES-CBC3-SHA", LogName(tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA))
	assert.Equal(t, "TLS_AES_256_GCM_SHA384", LogName(tls.TLS_AES_256_GCM_SHA384))
	assert.Equal(t, "TLS_CHACHA20_POLY1305_SHA256", LogName(tls.TLS_CHACHA20_POLY1305_SHA256))
	assert.Equal(t, "TLS_AES_128_GCM_SHA256", LogName(tls.TLS_AES_128_GCM_SHA256))
	assert.Equal(t, "0x1234", LogName(0x1234))
	for _, n := range TLS13Suites {
		assert.True(t, strings.HasPrefix(n, "TLS_"))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{applianceInbound, applianceOutbound, "HIGH:!aNULL", "DEFAULT:+AES128", "SUITEB128:AES", "ECDH+RSA!AES", "@SECLEVEL=2:@STRENGTH", "a+b+", "!-+@"} {
		f.Add(s)
	}
	all := All()
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		again, err2 := Parse(s)
		if (err == nil) != (err2 == nil) || !assert.ObjectsAreEqual(r, again) {
			t.Fatalf("Parse(%q) is not deterministic", s)
		}
		if err != nil {
			return
		}
		seen := map[uint16]bool{}
		for _, su := range r.Suites {
			if !slices.Contains(all, su) {
				t.Fatalf("Parse(%q) returned %+v, not in All()", s, su)
			}
			if seen[su.ID] {
				t.Fatalf("Parse(%q) returned %s twice", s, su.Name)
			}
			seen[su.ID] = true
		}
	})
}

// TestRandomStringsMatchOpenSSL compares random cipher strings with the real
// openssl on the suites Debian's build has.
func TestRandomStringsMatchOpenSSL(t *testing.T) {
	words := []string{
		"ALL", "HIGH", "MEDIUM", "AES", "AES128", "AES256", "AESGCM", "CHACHA20", "ECDHE", "kECDHE", "ECDH",
		"EECDH", "aECDSA", "ECDSA", "aRSA", "RSA", "kRSA", "SHA", "SHA1", "SHA256", "SHA384", "TLSv1",
		"TLSv1.0", "TLSv1.2", "SSLv3", "FIPS", "CBC", "COMPLEMENTOFDEFAULT", "COMPLEMENTOFALL", "DHE", "aNULL",
		"eNULL", "CAMELLIA", "3DES", "RC4", "PSK", "DEFAULT", "ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA",
		"ECDHE-ECDSA-AES256-SHA", "AES256-GCM-SHA384", "DES-CBC3-SHA", "DHE-RSA-AES256-SHA",
	}
	prefixes := []string{"", "", "", "!", "-", "+"}
	rng := rand.New(rand.NewSource(7))
	for n := 0; n < 150; n++ {
		var parts []string
		if rng.Intn(5) == 0 {
			parts = append(parts, "DEFAULT")
		}
		for k := 1 + rng.Intn(6); k > 0; k-- {
			if rng.Intn(8) == 0 {
				parts = append(parts, "@STRENGTH")
				continue
			}
			w := prefixes[rng.Intn(len(prefixes))] + words[rng.Intn(len(words))]
			if rng.Intn(4) == 0 {
				w += "+" + words[rng.Intn(len(words))]
			}
			parts = append(parts, w)
		}
		s := strings.Join(parts, ":")
		r, err := Parse(s)
		require.NoError(t, err, s)
		require.Equal(t, opensslOrder(t, s), withoutWeak(names(r)), s)
	}
}
