package commands

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/mailengine/maillog"
)

func TestParseGrepArgs(t *testing.T) {
	type o = maillog.GrepOptions
	tests := []struct {
		args    string // split on spaces
		opts    o
		tail    bool
		wantErr string
	}{
		{args: `-e TLS mail_logs`, opts: o{Pattern: "TLS"}},
		{args: `-e TLS -i mail_logs`, opts: o{Pattern: "TLS", IgnoreCase: true}},
		{args: `-e TLS -c -C 3 -i -t -p mail_logs`, opts: o{Pattern: "TLS", Count: true, Context: 3, IgnoreCase: true}, tail: true},
		{args: `mail_logs -e ICID.*close -C0`, opts: o{Pattern: "ICID.*close"}},
		{args: `-ci -eTLS mail_logs`, opts: o{Pattern: "TLS", Count: true, IgnoreCase: true}},
		{args: `-ite TLS mail_logs`, opts: o{Pattern: "TLS", IgnoreCase: true}, tail: true},
		{args: `-e TLS -e DCID mail_logs`, opts: o{Pattern: "(?:TLS)|(?:DCID)"}},
		{args: `-e -C -- mail_logs`, opts: o{Pattern: "-C"}},
		{args: `-e TLS -C 10000 mail_logs`, opts: o{Pattern: "TLS", Context: 10000}},
		// SPEC's form: the expression without -e.
		{args: `TLS mail_logs`, opts: o{Pattern: "TLS"}},
		{args: `-i TLS mail_logs`, opts: o{Pattern: "TLS", IgnoreCase: true}},
		{args: `TLS -c mail_logs`, opts: o{Pattern: "TLS", Count: true}},
		{args: `-- -x mail_logs`, opts: o{Pattern: "-x"}},

		{args: `mail_logs`, wantErr: "missing the regular expression"},
		{args: `-i mail_logs`, wantErr: "missing the regular expression"},
		{args: `mail_logs -e`, wantErr: "-e needs a regular expression"},
		{args: `-e TLS`, wantErr: "missing log name"},
		{args: `TLS`, wantErr: "missing the regular expression"},
		{args: `-e TLS -x mail_logs`, wantErr: `unknown flag "-x" in "-x"`},
		{args: `-e TLS -iz mail_logs`, wantErr: `unknown flag "-z" in "-iz"`},
		{args: `-e TLS -f * mail_logs`, wantErr: "-f (file name pattern) is not supported"},
		{args: `-e TLS -C mail_logs`, wantErr: `bad -C number "mail_logs"`},
		{args: `-e TLS -C -1 mail_logs`, wantErr: `bad -C number "-1"`},
		{args: `-e TLS -C x mail_logs`, wantErr: `bad -C number "x"`},
		{args: `-e TLS -C 10001 mail_logs`, wantErr: `bad -C number "10001"`},
		{args: `-e TLS -C`, wantErr: "-C needs a number"},
		{args: `-e TLS gui_logs`, wantErr: `unknown log "gui_logs"; the only log is mail_logs`},
		{args: `TLS gui_logs`, wantErr: `unknown log "gui_logs"; the only log is mail_logs`},
		{args: `-e TLS mail_logs mail_logs`, wantErr: `unexpected argument "mail_logs" after log name`},
		{args: `TLS mail_logs mail_logs`, wantErr: `unexpected argument "mail_logs" after log name`},
		{args: `-e ICID(1 mail_logs`, wantErr: `invalid regular expression "ICID(1"`},
		{args: `ICID(1 mail_logs`, wantErr: `invalid regular expression "ICID(1"`},
		{args: `-e a -e b) mail_logs`, wantErr: `invalid regular expression "b)"`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			opts, tail, name, err := ParseGrepArgs(strings.Split(tt.args, " "))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, err.Error(), strings.ToLower(err.Error()[:1])+err.Error()[1:], "errors start lower-case")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.opts, opts)
			assert.Equal(t, tt.tail, tail)
			assert.Equal(t, maillog.LogName, name)
		})
	}
	// Words with spaces, as the shell passes a quoted expression.
	opts, _, _, err := ParseGrepArgs([]string{"-e", "TLS success", "mail_logs"})
	require.NoError(t, err)
	assert.Equal(t, "TLS success", opts.Pattern)
	opts, _, _, err = ParseGrepArgs([]string{"TLS success", "mail_logs"})
	require.NoError(t, err)
	assert.Equal(t, "TLS success", opts.Pattern)
	_, _, _, err = ParseGrepArgs(nil)
	require.ErrorContains(t, err, "missing the regular expression")
}

func FuzzParseGrepArgs(f *testing.F) {
	f.Add("-e TLS mail_logs")
	f.Add("-e TLS -c -C 3 -i -t -p mail_logs")
	f.Add("TLS mail_logs")
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Split(s, " ")
		opts, _, name, err := ParseGrepArgs(args)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if name != maillog.LogName {
			t.Fatalf("accepted log name %q", name)
		}
		if opts.Context < 0 || opts.Context > maillog.MaxContext {
			t.Fatalf("accepted context %d", opts.Context)
		}
		expr := opts.Pattern
		if opts.IgnoreCase {
			expr = "(?i)" + expr
		}
		if _, err := regexp.Compile(expr); err != nil {
			t.Fatalf("accepted pattern %q that does not compile: %v", opts.Pattern, err)
		}
	})
}
