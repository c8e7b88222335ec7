package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	idleConns = 1000
	// idleConnLimit is IncomingMail's connection limit in the test.
	idleConnLimit = 1100
	// maxKiBPerIdleConn is a generous bound on the daemon's memory per idle session.
	maxKiBPerIdleConn = 200
)

// raiseNoFile raises the soft RLIMIT_NOFILE (up to the hard limit) and
// requires at least need; daemons started afterwards inherit it.
func raiseNoFile(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if want := min(lim.Max, max(2*need, 8192)); lim.Cur < want {
		lim.Cur = want
		require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	}
	require.GreaterOrEqualf(t, lim.Cur, need, "the open-files limit (hard %d) is below the %d this test needs; raise it (ulimit -Hn)", lim.Max, need)
}

// vmRSS is a process's resident set size in KiB, from /proc/PID/status.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			require.Lenf(t, f, 2, "VmRSS line %q", line)
			require.Equal(t, "kB", f[1])
			n, err := strconv.ParseInt(f[0], 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// greeting is the first reply line a connection got.
type greeting struct {
	conn net.Conn
	line string
	err  error
}

// openIdle opens n connections concurrently and reads each one's first line.
func openIdle(address string, n int) []greeting {
	out := make([]greeting, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				conn, err := net.DialTimeout("tcp", address, 10*time.Second)
				if err != nil {
					out[i].err = err
					continue
				}
				out[i].conn = conn
				_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				// One byte at a time: nothing beyond the greeting is read.
				line, err := bufio.NewReaderSize(conn, 16).ReadString('\n')
				_ = conn.SetReadDeadline(time.Time{})
				out[i].line, out[i].err = line, err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func closeAll(gs []greeting) {
	for _, g := range gs {
		if g.conn != nil {
			_ = g.conn.Close()
		}
	}
}

// requireGreeted asserts every connection got a 220 greeting (none a 421).
func requireGreeted(t *testing.T, gs []greeting, what string) {
	t.Helper()
	var refused, failed int
	var example string
	for _, g := range gs {
		switch {
		case g.err != nil:
			failed++
			example = g.err.Error()
		case strings.HasPrefix(g.line, "421"):
			refused++
			example = g.line
		case !strings.HasPrefix(g.line, "220 "):
			failed++
			example = g.line
		}
	}
	require.Zerof(t, refused, "%s: %d connections were refused with 421 below the limit of %d (e.g. %q)", what, refused, idleConnLimit, example)
	require.Zerof(t, failed, "%s: %d connections got no 220 greeting (e.g. %q)", what, failed, example)
}

// TestThousandIdleConnections holds 1,000 idle sessions on IncomingMail,
// measures the daemon's memory per session and checks the limit above them.
func TestThousandIdleConnections(t *testing.T) {
	raiseNoFile(t, idleConnLimit+500) // the test's client ends and the daemon's sessions, each in its process
	a := startAppliance(t, startOptions{domains: inboundDomain})
	a.mustCommit(t, fmt.Sprintf("listenerconfig edit IncomingMail limits 10485760 100 %d %d\nlistenerconfig setup 0\ncommit room for idle connections\n", idleConnLimit, idleConnLimit))
	srv := addr(a.smtpPort)
	pid := a.cmd.Process.Pid

	// Warm up: a few sessions, so the baseline includes what any session touches.
	warm := openIdle(srv, 20)
	requireGreeted(t, warm, "warm-up")
	closeAll(warm)
	time.Sleep(200 * time.Millisecond)
	before := vmRSS(t, pid)

	start := time.Now()
	conns := openIdle(srv, idleConns)
	t.Cleanup(func() { closeAll(conns) })
	requireGreeted(t, conns, fmt.Sprintf("%d idle connections", idleConns))
	opened := time.Since(start)
	time.Sleep(500 * time.Millisecond) // let the sessions settle into their idle read
	with := vmRSS(t, pid)
	perConn := float64(with-before) / idleConns
	t.Logf("daemon RSS %d KiB before, %d KiB with %d idle connections (opened in %v): %.1f KiB per idle connection",
		before, with, idleConns, opened.Round(time.Millisecond), perConn)
	require.Lessf(t, perConn, float64(maxKiBPerIdleConn), "an idle SMTP connection must cost less than %d KiB of daemon memory", maxKiBPerIdleConn)

	// The held sessions are alive, not merely accepted.
	for _, i := range []int{0, idleConns / 2, idleConns - 1} {
		c := &smtpConn{t: t, conn: conns[i].conn, r: bufio.NewReader(conns[i].conn)}
		c.cmd("NOOP", 250)
	}

	// Up to the limit everything is served; one more gets 421.
	more := openIdle(srv, idleConnLimit-idleConns)
	t.Cleanup(func() { closeAll(more) })
	requireGreeted(t, more, fmt.Sprintf("connections %d to %d", idleConns+1, idleConnLimit))
	over := openIdle(srv, 1)
	closeAll(over)
	require.NoError(t, over[0].err)
	require.Truef(t, strings.HasPrefix(over[0].line, "421 "), "connection %d is over the limit and must get 421, got %q", idleConnLimit+1, over[0].line)

	closeAll(more)
	closeAll(conns)
	// Once the sessions are gone, a new one is served and takes mail.
	require.Eventually(t, func() bool {
		g := openIdle(srv, 1)
		closeAll(g)
		return g[0].err == nil && strings.HasPrefix(g[0].line, "220 ")
	}, 10*time.Second, 50*time.Millisecond, "after the idle connections close, a new session must be served")
	c := dialSMTP(t, srv)
	c.cmd("EHLO probe.test", 250)
	c.cmd("MAIL FROM:<"+senderAddr+">", 250)
	c.cmd("RCPT TO:<user@"+inboundDomain+">", 250)
	tok := uniqueToken("after-idle")
	c.cmd("DATA", 354)
	c.send(inboundMessage("user@"+inboundDomain, tok) + ".")
	c.expect(250)
	c.cmd("QUIT", 221)
	requireSpooledOnce(t, a.dir, tok)
}
