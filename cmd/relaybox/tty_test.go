package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/internal/testnet"
)

// These tests drive the real binary on a real terminal (tmux), as an
// administrator would: line editing, completion, history, Ctrl-C.

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "relaybox")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

func portFlags(t *testing.T) []string {
	return []string{"--hostname", "tty.example.test",
		"--smtp-port", fmt.Sprint(testnet.FreePort(t)), "--submission-port", fmt.Sprint(testnet.FreePort(t)),
		"--https-port", fmt.Sprint(testnet.FreePort(t)), "--ssh-port", fmt.Sprint(testnet.FreePort(t)),
		"--resolver", "127.0.0.1:1"}
}

// startDaemon runs "relaybox serve" and waits until it says it is serving.
func startDaemon(t *testing.T, bin, dir string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", dir}, portFlags(t)...)...)
	cmd.Env = append(os.Environ(), "RELAYBOX_ADMIN_PASSWORD=tty-test")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "serving") {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("the daemon did not start")
	}
}

type tmux struct {
	t    *testing.T
	name string
}

func newTmux(t *testing.T, command string) *tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed: run make test-deps")
	}
	name := fmt.Sprintf("relaybox-test-%d", time.Now().UnixNano())
	out, err := exec.Command("tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "50", command+"; echo EXIT=$?; sleep 30").CombinedOutput()
	require.NoError(t, err, string(out))
	t.Cleanup(func() { _ = exec.Command("tmux", "kill-session", "-t", name).Run() })
	return &tmux{t: t, name: name}
}

func (m *tmux) keys(keys ...string) {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"send-keys", "-t", m.name}, keys...)...).CombinedOutput()
	require.NoError(m.t, err, string(out))
}

func (m *tmux) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-S", "-200", "-t", m.name).Output()
	return string(out)
}

// waitFor polls the screen until it contains want (capture-pane trims
// trailing blanks, so want is compared without them).
func (m *tmux) waitFor(want string) {
	m.t.Helper()
	want = strings.TrimRight(want, " ")
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(m.screen(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("the terminal never showed %q; screen:\n%s", want, m.screen())
}

// waitCount polls until want appears at least n times.
func (m *tmux) waitCount(want string, n int) {
	m.t.Helper()
	want = strings.TrimRight(want, " ")
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(m.screen(), want) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("the terminal showed %q fewer than %d times; screen:\n%s", want, n, m.screen())
}

func TestInteractiveShellOverControlSocket(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	startDaemon(t, bin, dir)
	m := newTmux(t, bin+" cli --data "+dir)
	m.waitFor("tty.example.test> ")

	// Tab completes the command and the menu word.
	m.keys("sslc", "Tab", "Enter")
	m.waitFor("Choose the operation you want to perform:")
	m.keys("inb", "Tab", "Enter")
	m.waitFor("Enter the inbound SMTP ssl method you want to use.")
	// A refused answer is explained and asked again on a terminal.
	m.keys("1,3", "Enter")
	m.waitFor("TLS protocols can be enabled only in sequence")
	m.waitCount("[2-3]> ", 2)
	// Ctrl-C drops the command's edits.
	m.keys("C-c")
	m.waitFor("Command aborted; its changes were discarded.")
	m.keys("showchanges", "Enter")
	m.waitFor("There are no uncommitted changes.")

	// History: Up recalls the last command.
	m.keys("sethostname new.example.test", "Enter")
	m.waitCount("tty.example.test> ", 4)
	m.keys("Up")
	m.waitCount("sethostname new.example.test", 2)
	m.keys("C-u", "quit", "Enter")
	m.waitFor("You have uncommitted changes. Do you want to leave and discard them? [N]> ")
	m.keys("n", "Enter")
	m.keys("commit", "Enter")
	m.waitFor("Please enter some comments describing your changes:")
	m.keys("from tmux", "Enter")
	m.waitFor("Changes committed: ")
	m.waitFor("new.example.test> ")
	m.keys("quit", "Enter")
	m.waitFor("EXIT=0")
	committed, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(committed), "hostname: new.example.test")
	require.Contains(t, string(committed), "comment: from tmux")
}

func TestConsoleModeFirstStart(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	m := newTmux(t, bin+" console --data "+dir+" "+strings.Join(portFlags(t), " "))
	m.waitFor("one-time password ")
	m.waitFor("tty.example.test> ")
	m.keys("help", "Enter")
	m.waitFor("sslconfig        Configure TLS methods")
	m.keys("frobnicate", "Enter")
	m.waitFor("Unknown command: frobnicate")
	m.keys("C-d")
	m.waitFor("EXIT=0")
	_, err := os.Stat(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
}

func TestNoArgumentsAttachesToRunningDaemon(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	startDaemon(t, bin, dir)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "RELAYBOX_DATA="+dir)
	cmd.Stdin = strings.NewReader("status\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "Configuration version:   1")
	require.NotContains(t, string(out), "one-time password", "it attached instead of starting a second appliance")
}

func TestVersionAndUsage(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err)
	require.Contains(t, string(out), "Relaybox ")
	require.Contains(t, string(out), "go1.")
	cmd := exec.Command(bin, "frob")
	out, _ = cmd.CombinedOutput()
	require.Equal(t, 2, cmd.ProcessState.ExitCode())
	require.Contains(t, string(out), `unknown command "frob"`)
	cmd = exec.Command(bin, "cli", "--data", t.TempDir())
	out, _ = cmd.CombinedOutput()
	require.Equal(t, 1, cmd.ProcessState.ExitCode())
	require.Contains(t, string(out), "no appliance is running")
}
