package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListenFlag: --listen / RELAYBOX_LISTEN set the first-start address of
// interface Management (what a container needs to be reachable), and an
// address that is not an IP address is refused before anything starts.
func TestListenFlag(t *testing.T) {
	for _, tc := range []struct {
		name, env, want, wantErr string
		args                     []string
	}{
		{name: "default", want: "127.0.0.1"},
		{name: "flag", args: []string{"--listen", "0.0.0.0"}, want: "0.0.0.0"},
		{name: "environment", env: "127.0.0.2", want: "127.0.0.2"},
		{name: "flag over environment", args: []string{"--listen", "::1"}, env: "0.0.0.0", want: "::1"},
		{name: "not an address", args: []string{"--listen", "localhost"}, wantErr: `serve: --listen (or RELAYBOX_LISTEN): "localhost" is not an IP address`},
		{name: "bad environment", env: "0.0.0.0:2525", wantErr: `"0.0.0.0:2525" is not an IP address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("RELAYBOX_LISTEN", tc.env)
			b, err := parseBoot("serve", append([]string{"--data", t.TempDir()}, tc.args...))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, b.first.Address)
			given := false
			for _, g := range b.given {
				given = given || g.Flag == "--listen" && g.Env == "RELAYBOX_LISTEN" && g.Value == tc.want
			}
			assert.Equal(t, tc.want != "127.0.0.1", given, "a chosen address is reported when a later start ignores it")
		})
	}
}
