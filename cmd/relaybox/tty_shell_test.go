package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests drive the real binary on a real terminal (tmux) for what the
// shell does with Ctrl-D, Tab and long prompts, and through a pipe for what it
// echoes of awkward input.

// newTmuxWidth is newTmux with a window of the given width.
func newTmuxWidth(t *testing.T, command string, width int) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed: run make test-deps")
	}
	name := fmt.Sprintf("relaybox-test-%d", time.Now().UnixNano())
	out, err := exec.Command("tmux", "new-session", "-d", "-s", name, "-x", fmt.Sprint(width), "-y", "50", command+"; echo EXIT=$?; sleep 30").CombinedOutput()
	require.NoError(t, err, string(out))
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", name).Run() })
	return &tmux{t: t, name: name}
}

// settle waits until the screen has stopped changing, so that a count of
// what it shows is not taken in the middle of a redraw.
func (m *tmux) settle() string {
	m.t.Helper()
	last := m.screen()
	for i := 0; i < 100; i++ {
		time.Sleep(150 * time.Millisecond)
		now := m.screen()
		if now == last {
			return now
		}
		last = now
	}
	return last
}

func TestShellOnTerminal(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	startDaemon(t, bin, dir)
	prompt := "tty.example.test> "

	t.Run("Ctrl-D asks like quit", func(t *testing.T) {
		m := newTmuxWidth(t, bin+" cli --data "+dir, 160)
		m.waitFor(prompt)
		m.keys("sethostname changed.example.test", "Enter")
		m.waitCount(prompt, 2)
		question := "You have uncommitted changes. Do you want to leave and discard them? [N]> "
		m.keys("C-d")
		m.waitFor(question)
		m.keys("Enter") // N: stay
		m.waitCount(prompt, 3)
		m.keys("C-d")
		m.waitCount(question, 2)
		m.keys("C-d") // Ctrl-D at the question: stay too
		m.waitCount(prompt, 4)
		m.keys("showchanges", "Enter")
		m.waitFor("Uncommitted changes in: ")
		m.keys("C-d")
		m.waitCount(question, 3)
		m.keys("y", "Enter")
		m.waitFor("EXIT=0")
		require.NotContains(t, m.screen(), "appliance", "leaving relaybox cli does not stop the appliance")
		committed, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
		require.NoError(t, err)
		require.NotContains(t, string(committed), "changed.example.test")
		// The daemon still runs: attach again, and Ctrl-D without changes leaves at once.
		m = newTmuxWidth(t, bin+" cli --data "+dir, 160)
		m.waitFor(prompt)
		m.keys("C-d")
		m.waitFor("EXIT=0")
		require.NotContains(t, m.screen(), "uncommitted")
	})

	t.Run("Tab completes in the case typed", func(t *testing.T) {
		m := newTmuxWidth(t, bin+" cli --data "+dir, 160)
		m.waitFor(prompt)
		m.keys("sslc", "Tab")
		m.waitFor(prompt + "sslconfig ")
		m.keys("Enter")
		m.waitFor("Choose the operation you want to perform:")
		m.keys("in", "Tab")
		m.waitFor("[]> inbound ")
		m.keys("C-u", "OUT", "Tab")
		m.waitFor("[]> OUTBOUND ")
		m.keys("C-u", "inb", "Tab", "Enter")
		m.waitFor("Enter the inbound SMTP ssl method you want to use.")
		require.NotContains(t, m.screen(), "inbOUND")
		m.keys("C-c")
		m.waitFor("Command aborted; its changes were discarded.")
		m.keys("quit", "Enter")
		m.waitFor("EXIT=0")
	})

	t.Run("long prompts on a narrow terminal are drawn once", func(t *testing.T) {
		m := newTmuxWidth(t, bin+" cli --data "+dir, 60)
		m.waitFor(prompt)
		m.keys("sslconfig", "Enter")
		m.waitFor("Choose the operation you want to perform:")
		m.keys("inbound", "Enter")
		m.waitFor("Enter the inbound SMTP ssl method you want to use.")
		// The TLS method menu as documented: a gap is refused and asked again.
		m.keys("1,3", "Enter")
		m.waitFor("TLS protocols can be enabled only in")
		m.waitCount("[2-3]> ", 2)
		m.keys("1-3", "Enter")
		m.waitFor("Enter the inbound SMTP ssl cipher you want to use.")
		m.keys("abc", "BSpace", "x")
		m.waitFor("> abx")
		screen := m.settle()
		assert.Equal(t, 1, strings.Count(screen, "[HIGH:MEDIUM:@STRENGTH"), "the default is drawn once; screen:\n%s", screen)
		assert.Contains(t, screen, "]\n> abx\n", "the default sits on its own lines above a short prompt")
		m.keys("C-u", "Enter") // Enter keeps the default
		m.waitFor("Do you want to enable TLS renegotiation for inbound SMTP?")
		m.keys("nn", "BSpace")
		m.waitFor("[N]> n")
		screen = m.settle()
		assert.Equal(t, 1, strings.Count(screen, "Do you want to enable TLS renegotiation"), "screen:\n%s", screen)
		m.keys("Enter")
		m.waitCount("Choose the operation you want to perform:", 2)
		m.keys("Enter")
		m.waitCount(prompt, 2)
		m.keys("showchanges", "Enter")
		m.waitFor("+       - TLSv1.3")
		m.keys("clearchanges confirm", "Enter")
		m.waitFor("Changes cleared.")
		m.keys("quit", "Enter")
		m.waitFor("EXIT=0")
	})

	t.Run("a script sees escaped and shortened input", func(t *testing.T) {
		huge := strings.Repeat("z", 1<<20+1)
		cmd := exec.Command(bin, "cli", "--data", dir)
		cmd.Stdin = strings.NewReader("\x1b[2J\x1b[31mfrob\nhelp bogus\n" + huge + "\nhelp quit\nsethostname " + strings.Repeat("y", 200<<10) + "\n")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		require.Error(t, err)
		require.Equal(t, 1, cmd.ProcessState.ExitCode())
		assert.NotContains(t, stdout.String()+stderr.String(), "\x1b")
		assert.Contains(t, stdout.String(), `tty.example.test> \x1b[2J\x1b[31mfrob`)
		assert.Contains(t, stderr.String(), `line 1: Unknown command: \x1b[2J\x1b[31mfrob`)
		assert.NotContains(t, stdout.String(), "QUIT", "the script stopped at line 1")

		cmd = exec.Command(bin, "cli", "--data", dir, "--keep-going")
		cmd.Stdin = strings.NewReader("help bogus\n" + huge + "\nhelp quit\nsethostname " + strings.Repeat("y", 200<<10) + "\n")
		stdout.Reset()
		stderr.Reset()
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		require.Equal(t, 1, cmd.ProcessState.ExitCode())
		assert.Contains(t, stderr.String(), "line 1: Unknown command: bogus")
		assert.Contains(t, stderr.String(), "line 2: the line is longer than 1048576 bytes")
		assert.Contains(t, stdout.String(), "QUIT - Leave the shell")
		assert.Contains(t, stderr.String(), "line 4: ")
		assert.Less(t, stderr.Len(), 1500, stderr.String())
		assert.Less(t, stdout.Len(), 20000, "the echo of the 200 KB line is cut")
	})
}

func TestConsoleCtrlDSaysItStopsTheAppliance(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	m := newTmuxWidth(t, bin+" console --data "+dir+" "+strings.Join(portFlags(t), " "), 160)
	prompt := "tty.example.test> "
	m.waitFor(prompt)
	m.keys("sethostname changed.example.test", "Enter")
	m.waitCount(prompt, 2)
	question := "You have uncommitted changes. Do you want to discard them and stop the appliance? [N]> "
	m.keys("C-d")
	m.waitFor(question)
	m.keys("n", "Enter")
	m.waitCount(prompt, 3)
	m.keys("quit", "Enter")
	m.waitCount(question, 2)
	m.keys("Enter")
	m.waitCount(prompt, 4)
	m.keys("help quit", "Enter")
	m.waitFor("stops the appliance")
	m.keys("clearchanges confirm", "Enter")
	m.waitFor("Changes cleared.")
	m.keys("C-d") // no changes: it leaves, and says what that does
	m.waitFor("Stopping the appliance")
	m.waitFor("The appliance has stopped.")
	m.waitFor("EXIT=0")
	require.Equal(t, 2, strings.Count(m.screen(), strings.TrimSpace(question)), m.screen())
}
