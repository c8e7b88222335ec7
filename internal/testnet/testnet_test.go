package testnet

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFreePortIsFreeDistinctAndBelowEphemeralRange(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
		require.GreaterOrEqual(t, p, lowPort)
		require.Less(t, p, highPort)
	}
	p := FreePort(t)
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	require.NoError(t, err, "the port is free")
	ln.Close()
}
