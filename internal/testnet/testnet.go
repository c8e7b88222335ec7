// Package testnet holds what tests need to run real servers on loopback.
package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

// Ports are taken below the kernel's ephemeral range (32768–60999 on Linux),
// where client connections get their source ports: a port that ":0" reports
// free can be taken by any outgoing connection a moment later, which made
// tests that run beside load tests flaky.
const (
	lowPort  = 20000
	highPort = 32000
)

var (
	mu     sync.Mutex
	handed = map[int]bool{} // never hand out a port twice in one test binary
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other caller in this process got.
func FreePort(tb testing.TB) int {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 {
		p := lowPort + rand.IntN(highPort-lowPort)
		if handed[p] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		handed[p] = true
		return p
	}
	tb.Fatalf("no free loopback port found between %d and %d", lowPort, highPort)
	return 0
}
