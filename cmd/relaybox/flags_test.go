package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMXPortFlag(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     string
		want    int
		wantErr string
	}{
		{name: "default", want: 25},
		{name: "flag", args: []string{"--mx-port", "2525"}, want: 2525},
		{name: "environment", env: "10025", want: 10025},
		{name: "flag over environment", args: []string{"--mx-port", "26"}, env: "10025", want: 26},
		{name: "zero", args: []string{"--mx-port", "0"}, wantErr: "--mx-port (or RELAYBOX_MX_PORT) 0 is not a TCP port (1-65535)"},
		{name: "too large", args: []string{"--mx-port", "70000"}, wantErr: "RELAYBOX_MX_PORT) 70000 is not a TCP port"},
		{name: "not a number", args: []string{"--mx-port", "smtp"}, wantErr: "invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("RELAYBOX_MX_PORT", tc.env)
			b, err := parseBoot("serve", append([]string{"--data", t.TempDir()}, tc.args...))
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, b.mxPort)
		})
	}
}
