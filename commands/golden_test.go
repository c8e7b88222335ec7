package commands_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/appliance"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/golden from what the commands print now")

// goldenSeparator splits a golden file: comment lines (#) and the script
// above it, the script's masked standard output below.
const goldenSeparator = "\n-- output --\n"

// TestGoldenTranscripts runs each testdata/golden/*.txt script on one
// appliance and compares what it prints, volatile fields masked, with the
// file: a change of wording is one reviewed diff. Regenerate with
// "go test ./commands/ -update". The scripts must not commit: they share
// the appliance, in file name order.
func TestGoldenTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	a := goldenFixture(t)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			head, want, ok := strings.Cut(string(data), goldenSeparator)
			require.True(t, ok, "%s has no %q line", file, strings.TrimSpace(goldenSeparator))
			var input []string
			for _, l := range strings.Split(head, "\n") {
				if !strings.HasPrefix(l, "#") {
					input = append(input, l)
				}
			}
			version := a.Store.Current().Version
			r := script(a, strings.Join(input, "\n")+"\n")
			require.Equal(t, 0, r.code, "stderr:\n%s", r.err)
			require.Equal(t, version, a.Store.Current().Version, "a golden script must not commit")
			got := maskVolatile(a, r.out)
			if *update {
				require.NoError(t, os.WriteFile(file, []byte(head+goldenSeparator+got), 0o644))
				return
			}
			assert.Equal(t, want, got, "%s differs; if the change is intended, run go test ./commands/ -update and review the diff", file)
		})
	}
}

// goldenFixture is the appliance of the transcripts: the first start plus
// one commit with a certificate, an authority, a route and a destination.
func goldenFixture(t *testing.T) *appliance.Appliance {
	a := startAppliance(t)
	writeCA(t, a, "lab-ca.pem")
	r := script(a, strings.Join([]string{
		"certconfig new Spare cn=spare.example.test c=US o=Example ou=Mail l=Tokyo st=Tokyo days=365",
		"certconfig ca import LabCA lab-ca.pem",
		"smtproutes new example.net 192.0.2.25:2525,usedns",
		"destconfig new example.net tls=required conns=10",
		"commit golden setup",
	}, "\n")+"\n")
	require.Equal(t, 0, r.code, r.err)
	return a
}

var (
	stampRE    = regexp.MustCompile(`\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} [A-Z][A-Za-z0-9+-]*`)
	isoTimeRE  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	uptimeRE   = regexp.MustCompile(`\((\d+h)?(\d+m)?\d+(\.\d+)?s\)`)
	keyRefRE   = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	daysRE     = regexp.MustCompile(`\b\d+ days\b`)
	pemBlockRE = regexp.MustCompile(`(?m)^([ \t]*)(-----BEGIN [A-Z ]+-----)\n(?:[ \t]*[A-Za-z0-9+/=]+\n)+([ \t]*-----END [A-Z ]+-----)`)
	serialRE   = regexp.MustCompile(`(Serial: +)[0-9A-F]+`)
	sha256RE   = regexp.MustCompile(`([0-9A-F]{2}:){31}[0-9A-F]{2}`)
	goVersion  = regexp.MustCompile(`go1\.\d+(\.\d+)?`)
)

// maskVolatile replaces what differs from run to run: times, ports,
// durations, key references, PEM bodies, the data directory.
func maskVolatile(a *appliance.Appliance, out string) string {
	c := a.Store.Current()
	out = strings.ReplaceAll(out, a.Store.Dir(), "<data>")
	for _, k := range a.App.HostKeys { // made anew for each appliance
		kind, _, _ := strings.Cut(k, " ")
		out = strings.ReplaceAll(out, k, kind+" <host-key-fingerprint>")
	}
	out = pemBlockRE.ReplaceAllString(out, "$1$2\n$1<base64>\n$3")
	out = stampRE.ReplaceAllString(out, "<time>")
	out = isoTimeRE.ReplaceAllString(out, "<time>")
	out = uptimeRE.ReplaceAllString(out, "(<uptime>)")
	out = keyRefRE.ReplaceAllString(out, "<sha256>")
	out = serialRE.ReplaceAllString(out, "$1<serial>")
	out = sha256RE.ReplaceAllString(out, "<fingerprint>")
	out = daysRE.ReplaceAllString(out, "<n> days")
	out = goVersion.ReplaceAllString(out, "<go>")
	ports := map[int]string{c.Listeners[0].Port: "<smtp-port>", c.Listeners[1].Port: "<submission-port>",
		c.Interfaces[0].HTTPSPort: "<https-port>", c.Interfaces[0].SSHPort: "<ssh-port>"}
	for port, name := range ports {
		out = regexp.MustCompile(fmt.Sprintf(`\b%d\b`, port)).ReplaceAllString(out, name)
	}
	return out
}
