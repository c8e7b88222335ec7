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
	"relaybox/internal/testterm"
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

func TestInteractiveShellOverControlSocket(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	startDaemon(t, bin, dir)
	m := testterm.New(t, bin+" cli --data "+dir)
	m.WaitFor("tty.example.test> ")

	// Tab completes the command and the menu word.
	m.Keys("sslc", "Tab", "Enter")
	m.WaitFor("Choose the operation you want to perform:")
	m.Keys("inb", "Tab", "Enter")
	m.WaitFor("Enter the inbound SMTP ssl method you want to use.")
	// A refused answer is explained and asked again on a terminal.
	m.Keys("1,3", "Enter")
	m.WaitFor("TLS protocols can be enabled only in sequence")
	m.WaitCount("[2-3]> ", 2)
	// Ctrl-C drops the command's edits.
	m.Keys("C-c")
	m.WaitFor("Command aborted; its changes were discarded.")
	m.Keys("showchanges", "Enter")
	m.WaitFor("There are no uncommitted changes.")

	// History: Up recalls the last command.
	m.Keys("sethostname new.example.test", "Enter")
	m.WaitCount("tty.example.test> ", 4)
	m.Keys("Up")
	m.WaitCount("sethostname new.example.test", 2)
	m.Keys("C-u", "quit", "Enter")
	m.WaitFor("You have uncommitted changes. Do you want to leave and discard them? [N]> ")
	m.Keys("n", "Enter")
	m.Keys("commit", "Enter")
	m.WaitFor("Please enter some comments describing your changes:")
	m.Keys("from tmux", "Enter")
	m.WaitFor("Changes committed: ")
	m.WaitFor("new.example.test> ")
	m.Keys("quit", "Enter")
	m.WaitFor("EXIT=0")
	committed, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(committed), "hostname: new.example.test")
	require.Contains(t, string(committed), "comment: from tmux")
}

func TestConsoleModeFirstStart(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	m := testterm.New(t, bin+" console --data "+dir+" "+strings.Join(portFlags(t), " "))
	m.WaitFor("one-time password ")
	m.WaitFor("tty.example.test> ")
	m.Keys("help", "Enter")
	m.WaitFor("sslconfig              Configure TLS methods") // aligned to websecuritydiagnostics
	m.Keys("frobnicate", "Enter")
	m.WaitFor("Unknown command: frobnicate")
	m.Keys("C-d")
	m.WaitFor("EXIT=0")
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
