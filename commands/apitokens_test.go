package commands_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/config"
)

var tokenLineRE = regexp.MustCompile(`(?m)^(rbx_[A-Za-z0-9_-]{43})$`)

// TestAPITokensDialogAndBatch: userconfig APITOKENS (dialog) and
// "userconfig apitokens" (batch) make and revoke tokens the same way; the
// token is shown once and only its hash is kept; operators are refused.
func TestAPITokensDialogAndBatch(t *testing.T) {
	a := startAppliance(t)
	r := script(a, "userconfig\napitokens\nadmin\nnew\nfrom-dialog\n\n\ncommit dialog token\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "admin has no API tokens.")
	assert.Contains(t, r.out, "API token from-dialog of admin (pending until commit; shown only now, keep it secret):")
	m := tokenLineRE.FindStringSubmatch(r.out)
	require.NotNil(t, m, r.out)
	u, label := a.Store.Current().APITokenUser(m[1])
	require.NotNil(t, u)
	assert.Equal(t, "from-dialog", label)

	r = script(a, "userconfig apitokens admin new from-batch\nuserconfig apitokens admin list\nshowchanges\ncommit batch token\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	b := tokenLineRE.FindStringSubmatch(r.out)
	require.NotNil(t, b)
	assert.Contains(t, r.out, "1. from-dialog (created ")
	assert.Contains(t, r.out, "2. from-batch (created ")
	assert.NotContains(t, r.out, config.APITokenHash(b[1]), "showchanges masks the hash")
	assert.Contains(t, r.out, "hash: '********'")
	assert.Len(t, a.Store.Current().Users[0].APITokens, 2)

	refusals := []struct{ name, script, want string }{
		{"same label", "userconfig apitokens admin new FROM-BATCH\n", `admin already has an API token labelled "FROM-BATCH"`},
		{"bad label", "userconfig apitokens admin new -x\n", `"-x" is not a valid API token name`},
		{"unknown user", "userconfig apitokens nobody list\n", "nobody"},
		{"revoke unknown", "userconfig apitokens admin revoke gone\n", `admin has no API token labelled "gone": choose one of from-dialog, from-batch`},
		{"bad form", "userconfig apitokens admin\n", "userconfig print | new"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			before := a.Store.Current()
			r := script(a, tt.script)
			assert.NotEqual(t, 0, r.code)
			assert.Contains(t, r.err, tt.want)
			assert.True(t, config.SameSettings(before, a.Store.Current()))
		})
	}

	// The dialog's REVOKE and the batch form's revoke.
	r = script(a, "userconfig\napitokens\nadmin\nrevoke\nfrom-dialog\n\n\nuserconfig apitokens admin revoke from-batch\ncommit revoked\n")
	require.Equal(t, 0, r.code, r.out+r.err)
	assert.Contains(t, r.out, "API token from-dialog of admin revoked (pending until commit).")
	assert.Empty(t, a.Store.Current().Users[0].APITokens)
	u, _ = a.Store.Current().APITokenUser(m[1])
	assert.Nil(t, u, "a revoked token no longer logs in")
}
