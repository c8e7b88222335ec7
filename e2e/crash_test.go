package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/config"
)

const crashRounds = 25

// TestCrashDuringCommit kills the daemon with SIGKILL at random moments while
// a shell commits, and checks after each kill that the appliance starts again
// and that config.yaml is a whole committed version, the old one or the new
// one, identical to its history entry.
func TestCrashDuringCommit(t *testing.T) {
	// First start creates the data directory; each round restarts on it.
	a := startAppliance(t, startOptions{})
	a.kill(t)
	var committed, interrupted, acked int
	for round := range crashRounds {
		before, _ := liveConfig(t, a.dir)
		old := before.Version
		sel := "2"
		if slices.Equal(before.SSL.Inbound.Methods, []config.Method{config.TLS12}) {
			sel = "1-2"
		}

		a.start(t)
		began := time.Now()
		require.Equalf(t, old, a.statusVersion(t), "round %d: the restarted daemon must run config.yaml's version", round)
		// A shell needs about this long to attach and run one command; the
		// commit starts around then. Kill from a little before that point to
		// well after it, so rounds end before, during and after the commit.
		attach := max(time.Since(began)-25*time.Millisecond, 0)

		ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
		cmd := exec.CommandContext(ctx, relayboxBin, "cli", "--data", a.dir)
		cmd.Stdin = strings.NewReader(fmt.Sprintf("sslconfig inbound methods %s\nsslconfig gui methods %s\ncommit crash round %d\n", sel, sel, round))
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		require.NoError(t, cmd.Start())
		time.Sleep(attach + time.Duration(rand.IntN(41))*time.Millisecond)
		a.kill(t)
		_ = cmd.Wait() // the shell ends when the daemon dies
		ctxErr := ctx.Err()
		cancel()
		require.NoErrorf(t, ctxErr, "round %d: the cli did not end after the daemon was killed", round)

		after, data := liveConfig(t, a.dir)
		if strings.Contains(out.String(), "Changes committed:") {
			acked++
			require.Equalf(t, old+1, after.Version, "round %d: the shell reported the commit, so it must be on disk", round)
		}
		require.Containsf(t, []int{old, old + 1}, after.Version, "round %d: config.yaml has version %d, want %d or %d", round, after.Version, old, old+1)
		hist, err := os.ReadFile(filepath.Join(a.dir, config.HistoryDir, fmt.Sprintf("v%08d.yaml", after.Version)))
		require.NoErrorf(t, err, "round %d: the history entry of version %d", round, after.Version)
		hc, err := config.Decode(hist)
		require.NoErrorf(t, err, "round %d: history v%d does not parse", round, after.Version)
		require.Truef(t, config.SameSettings(after, hc), "round %d: config.yaml and history v%d differ:\n%s\n---\n%s", round, after.Version, data, hist)
		require.Equalf(t, string(hist), string(data), "round %d: config.yaml must be byte-identical to history v%d", round, after.Version)
		if after.Version == old+1 {
			committed++
			want := []config.Method{config.TLS12}
			if sel == "1-2" {
				want = []config.Method{config.TLS12, config.TLS13}
			}
			require.Equalf(t, want, after.SSL.Inbound.Methods, "round %d: version %d must hold the committed methods", round, after.Version)
		} else {
			interrupted++
			require.Truef(t, config.SameSettings(before, after), "round %d: config.yaml changed without a new version", round)
		}
	}
	t.Logf("%d rounds: %d commits persisted (%d of them reported to the shell), %d interrupted before persisting", crashRounds, committed, acked, interrupted)

	// The last state starts and serves its version.
	final, _ := liveConfig(t, a.dir)
	a.start(t)
	require.Equal(t, final.Version, a.statusVersion(t))
	c := dialSMTP(t, addr(a.smtpPort))
	c.cmd("EHLO probe.test", 250)
	c.cmd("QUIT", 221)
}
