package appliance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a settable time for the registry.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRegistryWhoAndLast(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	r := newRegistry(c.now)
	touchA, endA := r.begin("admin", "", KindConsole)
	c.t = c.t.Add(time.Minute)
	_, endB := r.begin("bob", "127.0.0.1", KindSSH)
	c.t = c.t.Add(30 * time.Second)
	touchA()
	c.t = c.t.Add(10 * time.Second)

	who := r.Who()
	require.Len(t, who, 2)
	assert.Equal(t, "admin", who[0].User, "oldest first")
	assert.Equal(t, 10*time.Second, who[0].Idle, "idle since the last input")
	assert.Equal(t, "bob", who[1].User)
	assert.Equal(t, 40*time.Second, who[1].Idle)
	assert.Equal(t, "127.0.0.1", who[1].From)

	endB()
	endB() // a second end changes nothing
	logout := c.t
	c.t = c.t.Add(time.Hour)
	who = r.Who()
	require.Len(t, who, 1)
	assert.Equal(t, "admin", who[0].User)
	last := r.Last()
	require.Len(t, last, 2)
	assert.True(t, last[0].Logout.IsZero(), "admin is still logged in")
	assert.Equal(t, logout, last[1].Logout)
	endA()
	assert.Empty(t, r.Who())
}

func TestRegistryKeepsTheLastLogins(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	r := newRegistry(c.now)
	_, openEnd := r.begin("admin", "", KindConsole) // stays open throughout
	for i := range maxLoginRecords + 20 {
		c.t = c.t.Add(time.Second)
		_, end := r.begin("bob", "127.0.0.1", KindSSH)
		if i < maxLoginRecords+19 {
			end()
		}
	}
	last := r.Last()
	require.Len(t, last, maxLoginRecords+2, "the open logins and the last ended ones")
	assert.Equal(t, "admin", last[0].User, "an open login is never dropped")
	assert.True(t, last[len(last)-1].Logout.IsZero())
	openEnd()
	assert.Len(t, r.Last(), maxLoginRecords+1, "an ended login beyond the cap is dropped")
}
