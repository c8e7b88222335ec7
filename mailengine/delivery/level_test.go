package delivery

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"relaybox/config"
	"relaybox/mailengine/smtpclient"
)

// TestEveryDestconfigLevelMapsToItsClientLevel: each of destconfig's five
// levels has its own client level, in menu order.
func TestEveryDestconfigLevelMapsToItsClientLevel(t *testing.T) {
	want := []smtpclient.Level{smtpclient.None, smtpclient.Preferred, smtpclient.Required, smtpclient.PreferredVerify, smtpclient.RequiredVerify}
	assert.Len(t, config.DestTLSLevels, len(want), "a new destconfig level needs its client level here")
	for i, l := range config.DestTLSLevels {
		got := levelOf(l.Value)
		assert.True(t, got.Valid(), l.Label)
		assert.Equal(t, want[i], got, l.Label)
	}
	assert.Equal(t, smtpclient.Required, levelOf("sometimes"), "an unknown level fails safe")
}
