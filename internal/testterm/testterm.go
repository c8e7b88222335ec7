// Package testterm runs a command on a real terminal (tmux) for tests that
// drive the shell as an administrator does: line editing, completion,
// Ctrl-C, window sizes, password prompts.
package testterm

import (
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Wait is how long WaitFor and WaitCount poll the screen.
const Wait = 15 * time.Second

var sessions atomic.Int64

// Tmux is one detached tmux session running a command, on a tmux server of
// its own (tmux -L): a session killed at one test's end takes its server
// down, and a new session started meanwhile on a shared server could reach
// the dying one ("server exited unexpectedly").
type Tmux struct {
	t    testing.TB
	name string
}

// tmux runs tmux against the session's own server.
func (m *Tmux) tmux(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-L", m.name}, args...)...)
}

// New runs command in a new 160×50 tmux session, killed at the test's end.
// When the command ends the screen shows EXIT=<status>.
func New(t testing.TB, command string) *Tmux {
	t.Helper()
	return NewWidth(t, command, 160)
}

// NewWidth is New with a window width columns wide.
func NewWidth(t testing.TB, command string, width int) *Tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatal("tmux is not installed: run make test-deps")
	}
	name := fmt.Sprintf("relaybox-test-%d-%d", time.Now().UnixNano(), sessions.Add(1))
	m := &Tmux{t: t, name: name}
	out, err := m.tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", fmt.Sprint(width), "-y", "50", command+"; echo EXIT=$?; sleep 30").CombinedOutput()
	require.NoError(t, err, string(out))
	t.Cleanup(func() { _ = m.tmux("kill-server").Run() })
	return m
}

// Name is the tmux session's name (tmux -t).
func (m *Tmux) Name() string { return m.name }

// Keys sends keys as tmux send-keys takes them ("text", "Enter", "C-c").
func (m *Tmux) Keys(keys ...string) {
	m.t.Helper()
	out, err := m.tmux(append([]string{"send-keys", "-t", m.name}, keys...)...).CombinedOutput()
	require.NoError(m.t, err, string(out))
}

// Line types text and Enter.
func (m *Tmux) Line(text string) {
	m.t.Helper()
	m.Keys("-l", text)
	m.Keys("Enter")
}

// Screen is the pane's text, with 200 lines of scroll-back.
func (m *Tmux) Screen() string {
	out, _ := m.tmux("capture-pane", "-p", "-S", "-200", "-t", m.name).Output()
	return string(out)
}

// WaitFor polls the screen until it contains want (capture-pane trims
// trailing blanks, so want is compared without them).
func (m *Tmux) WaitFor(want string) {
	m.t.Helper()
	m.WaitCount(want, 1)
}

// WaitCount polls until want appears at least n times.
func (m *Tmux) WaitCount(want string, n int) {
	m.t.Helper()
	want = strings.TrimRight(want, " ")
	deadline := time.Now().Add(Wait)
	for time.Now().Before(deadline) {
		if strings.Count(m.Screen(), want) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("the terminal showed %q fewer than %d times; screen:\n%s", want, n, m.Screen())
}

// Settle waits until the screen has stopped changing and returns it, so
// that a count of what it shows is not taken in the middle of a redraw.
func (m *Tmux) Settle() string {
	m.t.Helper()
	last := m.Screen()
	for range 100 {
		time.Sleep(150 * time.Millisecond)
		now := m.Screen()
		if now == last {
			return now
		}
		last = now
	}
	return last
}

// Resize changes the window's width, as a user dragging the terminal does;
// the program in it gets SIGWINCH (and an SSH client sends a window change).
func (m *Tmux) Resize(width int) {
	m.t.Helper()
	out, err := m.tmux("resize-window", "-t", m.name, "-x", fmt.Sprint(width)).CombinedOutput()
	require.NoError(m.t, err, string(out))
}
