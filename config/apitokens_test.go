package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

func TestAPITokens(t *testing.T) {
	c := config.Defaults(config.FirstStart{Hostname: "box.example.test", AdminHash: "$2a$10$" + strings.Repeat("a", 53)})
	tok, hash, err := config.NewAPIToken()
	require.NoError(t, err)
	assert.Regexp(t, `^rbx_[A-Za-z0-9_-]{43}$`, tok)
	assert.Equal(t, config.APITokenHash(tok), hash)
	assert.NotContains(t, hash, tok, "only a hash is kept")
	tok2, _, _ := config.NewAPIToken()
	assert.NotEqual(t, tok, tok2)

	require.NoError(t, c.AddAPIToken("admin", "ci", hash, time.Now()))
	u, label := c.APITokenUser(tok)
	require.NotNil(t, u)
	assert.Equal(t, "admin", u.Name)
	assert.Equal(t, "ci", label)
	for _, wrong := range []string{tok2, "", tok[:len(tok)-1], strings.TrimPrefix(tok, "rbx_"), hash} {
		u, _ := c.APITokenUser(wrong)
		assert.Nil(t, u, "%q is not a token", wrong)
	}

	refusals := []struct {
		name string
		err  error
		want string
	}{
		{"same label", c.AddAPIToken("admin", "CI", hash, time.Now()), `admin already has an API token labelled "CI": revoke it first or choose another label`},
		{"bad label", c.AddAPIToken("admin", "9 x", hash, time.Now()), `"9 x" is not a valid API token name`},
		{"not a hash", c.AddAPIToken("admin", "x", "rbx_plain", time.Now()), "not a token hash"},
		{"no user", c.AddAPIToken("nobody", "x", hash, time.Now()), "nobody"},
		{"revoke unknown", c.RevokeAPIToken("admin", "deploy"), `admin has no API token labelled "deploy": choose one of ci`},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			require.Error(t, tt.err)
			assert.Contains(t, tt.err.Error(), tt.want)
			assert.Len(t, c.Users[0].APITokens, 1, "nothing changed")
		})
	}

	m := config.Masked(c)
	assert.Equal(t, config.MaskedSecret, m.Users[0].APITokens[0].Hash)
	assert.Equal(t, hash, c.Users[0].APITokens[0].Hash, "masking a copy leaves the original")
	assert.True(t, config.HasMaskedSecrets(m), "a masked file cannot be loaded")
	clone := c.Clone()
	clone.Users[0].APITokens[0].Label = "changed"
	assert.Equal(t, "ci", c.Users[0].APITokens[0].Label, "Clone copies the tokens")

	bad := c.Clone()
	bad.Users[0].APITokens[0].Hash = "plain-token"
	err = config.Validate(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `users[0].api_tokens[0].hash: user "admin": API token "ci" has no token hash`)

	require.NoError(t, c.RevokeAPIToken("admin", "CI"))
	u, _ = c.APITokenUser(tok)
	assert.Nil(t, u, "revoked")
}
