package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/internal/testterm"
)

// These tests drive the real binary on a real terminal (tmux) for what the
// shell does with Ctrl-D, Tab and long prompts, and through a pipe for what it
// echoes of awkward input.

func TestShellOnTerminal(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	startDaemon(t, bin, dir)
	prompt := "tty.example.test> "

	t.Run("Ctrl-D asks like quit", func(t *testing.T) {
		m := testterm.NewWidth(t, bin+" cli --data "+dir, 160)
		m.WaitFor(prompt)
		m.Keys("sethostname changed.example.test", "Enter")
		m.WaitCount(prompt, 2)
		question := "You have uncommitted changes. Do you want to leave and discard them? [N]> "
		m.Keys("C-d")
		m.WaitFor(question)
		m.Keys("Enter") // N: stay
		m.WaitCount(prompt, 3)
		m.Keys("C-d")
		m.WaitCount(question, 2)
		m.Keys("C-d") // Ctrl-D at the question: stay too
		m.WaitCount(prompt, 4)
		m.Keys("showchanges", "Enter")
		m.WaitFor("Uncommitted changes in: ")
		m.Keys("C-d")
		m.WaitCount(question, 3)
		m.Keys("y", "Enter")
		m.WaitFor("EXIT=0")
		require.NotContains(t, m.Screen(), "appliance", "leaving relaybox cli does not stop the appliance")
		committed, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
		require.NoError(t, err)
		require.NotContains(t, string(committed), "changed.example.test")
		// The daemon still runs: attach again, and Ctrl-D without changes leaves at once.
		m = testterm.NewWidth(t, bin+" cli --data "+dir, 160)
		m.WaitFor(prompt)
		m.Keys("C-d")
		m.WaitFor("EXIT=0")
		require.NotContains(t, m.Screen(), "uncommitted")
	})

	t.Run("Tab completes in the case typed", func(t *testing.T) {
		m := testterm.NewWidth(t, bin+" cli --data "+dir, 160)
		m.WaitFor(prompt)
		m.Keys("sslc", "Tab")
		m.WaitFor(prompt + "sslconfig ")
		m.Keys("Enter")
		m.WaitFor("Choose the operation you want to perform:")
		m.Keys("in", "Tab")
		m.WaitFor("[]> inbound ")
		m.Keys("C-u", "OUT", "Tab")
		m.WaitFor("[]> OUTBOUND ")
		m.Keys("C-u", "inb", "Tab", "Enter")
		m.WaitFor("Enter the inbound SMTP ssl method you want to use.")
		require.NotContains(t, m.Screen(), "inbOUND")
		m.Keys("C-c")
		m.WaitFor("Command aborted; its changes were discarded.")
		m.Keys("quit", "Enter")
		m.WaitFor("EXIT=0")
	})

	t.Run("long prompts on a narrow terminal are drawn once", func(t *testing.T) {
		m := testterm.NewWidth(t, bin+" cli --data "+dir, 60)
		m.WaitFor(prompt)
		m.Keys("sslconfig", "Enter")
		m.WaitFor("Choose the operation you want to perform:")
		m.Keys("inbound", "Enter")
		m.WaitFor("Enter the inbound SMTP ssl method you want to use.")
		// The TLS method menu as documented: a gap is refused and asked again.
		m.Keys("1,3", "Enter")
		m.WaitFor("TLS protocols can be enabled only in")
		m.WaitCount("[2-3]> ", 2)
		m.Keys("1-3", "Enter")
		m.WaitFor("Enter the inbound SMTP ssl cipher you want to use.")
		m.Keys("abc", "BSpace", "x")
		m.WaitFor("> abx")
		screen := m.Settle()
		assert.Equal(t, 1, strings.Count(screen, "[HIGH:MEDIUM:@STRENGTH"), "the default is drawn once; screen:\n%s", screen)
		assert.Contains(t, screen, "]\n> abx\n", "the default sits on its own lines above a short prompt")
		m.Keys("C-u", "Enter") // Enter keeps the default
		m.WaitFor("Do you want to enable TLS renegotiation for inbound SMTP?")
		m.Keys("nn", "BSpace")
		m.WaitFor("[N]> n")
		screen = m.Settle()
		assert.Equal(t, 1, strings.Count(screen, "Do you want to enable TLS renegotiation"), "screen:\n%s", screen)
		m.Keys("Enter")
		m.WaitCount("Choose the operation you want to perform:", 2)
		m.Keys("Enter")
		m.WaitCount(prompt, 2)
		m.Keys("showchanges", "Enter")
		m.WaitFor("+       - TLSv1.3")
		m.Keys("clearchanges confirm", "Enter")
		m.WaitFor("Changes cleared.")
		m.Keys("quit", "Enter")
		m.WaitFor("EXIT=0")
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
	m := testterm.NewWidth(t, bin+" console --data "+dir+" "+strings.Join(portFlags(t), " "), 160)
	prompt := "tty.example.test> "
	m.WaitFor(prompt)
	m.Keys("sethostname changed.example.test", "Enter")
	m.WaitCount(prompt, 2)
	question := "You have uncommitted changes. Do you want to discard them and stop the appliance? [N]> "
	m.Keys("C-d")
	m.WaitFor(question)
	m.Keys("n", "Enter")
	m.WaitCount(prompt, 3)
	m.Keys("quit", "Enter")
	m.WaitCount(question, 2)
	m.Keys("Enter")
	m.WaitCount(prompt, 4)
	m.Keys("help quit", "Enter")
	m.WaitFor("stops the appliance")
	m.Keys("clearchanges confirm", "Enter")
	m.WaitFor("Changes cleared.")
	m.Keys("C-d") // no changes: it leaves, and says what that does
	m.WaitFor("Stopping the appliance")
	m.WaitFor("The appliance has stopped.")
	m.WaitFor("EXIT=0")
	require.Equal(t, 2, strings.Count(m.Screen(), strings.TrimSpace(question)), m.Screen())
}
