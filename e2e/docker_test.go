package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers of the container tests (container_test.go, lab_test.go): a private
// Docker daemon per test, the image built by "make image", and a way to take
// a process's listening socket out of the listen state from outside it.

// dockerEnv is a private dockerd on its own socket, data root and exec root:
// no bridge and no iptables, so containers run with --network host and bind
// the host's loopback only.
type dockerEnv struct {
	dir    string // DOCKER_HOST's socket, data root, exec root, log
	host   string // unix://…/docker.sock
	client string // the docker command
	cmd    *exec.Cmd
	exited chan struct{}
}

// dockerClient is the docker command of Debian's docker.io (/usr/bin/docker),
// else the first on PATH.
func dockerClient() (string, error) {
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker", nil
	}
	return exec.LookPath("docker")
}

// startDocker starts a private Docker daemon and stops it, with every
// container it ran, when the test ends. A machine without Docker fails the
// test, saying what to install: the image is part of the product.
func startDocker(t *testing.T) *dockerEnv {
	t.Helper()
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		t.Fatalf("dockerd is not installed (%v): the container tests need Docker: apt-get install docker.io (make test-deps does)", err)
	}
	client, err := dockerClient()
	if err != nil {
		t.Fatalf("the docker command is not installed (%v): apt-get install docker.io (make test-deps does)", err)
	}
	// Short, and not under t.TempDir(): the socket path must stay below 108 bytes.
	dir, err := os.MkdirTemp("", "rb-docker-")
	require.NoError(t, err)
	d := &dockerEnv{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), client: client, exited: make(chan struct{})}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	require.NoError(t, err)
	d.cmd = exec.Command(dockerd, "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
		"--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", d.host)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	require.NoError(t, d.cmd.Start())
	go func() { _ = d.cmd.Wait(); logf.Close(); close(d.exited) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, _, err := d.try("version"); err == nil {
			return d
		}
		select {
		case <-d.exited:
			t.Fatalf("dockerd exited at start (%v); its log:\n%s", d.cmd.ProcessState, d.log())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer within 60 s; its log:\n%s", d.log())
		}
	}
}

func (d *dockerEnv) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "dockerd.log"))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// stop removes every container, stops the daemon and removes its directory.
func (d *dockerEnv) stop(t *testing.T) {
	if ids, _, err := d.try("ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
		_, _, _ = d.try(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
	// dockerd leaves its bind mount of the host's network namespace
	// (exec-root/netns/default) behind: unmount what is below dir first.
	for _, m := range mountsBelow(d.dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", m, err)
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("removing the Docker directory %s: %v", d.dir, err)
	}
}

// mountsBelow lists the mount points below dir, deepest first.
func mountsBelow(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT …; the mount point escapes spaces as \040.
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// env is the environment of a command that talks to this daemon.
func (d *dockerEnv) env() []string {
	return append(os.Environ(), "DOCKER_HOST="+d.host)
}

// try runs docker with args; err is set when it fails.
func (d *dockerEnv) try(args ...string) (stdout, stderr string, err error) {
	return d.tryInput("", args...)
}

// tryInput runs docker with args and input on its stdin.
func (d *dockerEnv) tryInput(input string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.client, args...)
	cmd.Env = d.env()
	cmd.Stdin = strings.NewReader(input)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("docker %s timed out: %w", strings.Join(args, " "), ctx.Err())
	}
	return out.String(), errOut.String(), err
}

// run runs docker with args and requires it to succeed; it returns stdout.
func (d *dockerEnv) run(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := d.try(args...)
	require.NoErrorf(t, err, "docker %s:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out
}

// exitCode is the exit status in err (0 for nil; -1 if the command did not run).
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// repoRoot is the repository (the e2e tests run in e2e/).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "Dockerfile"))
	require.NoError(t, err, "the repository root must hold the Dockerfile")
	return root
}

// buildImage runs "make image" against this daemon: relaybox:VERSION and relaybox:latest.
func (d *dockerEnv) buildImage(t *testing.T, version string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is not installed (%v): apt-get install make", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", repoRoot(t), "image", "VERSION="+version, "DOCKER="+d.client)
	cmd.Env = d.env()
	out, err := cmd.CombinedOutput()
	require.NoErrorf(t, err, "make image failed:\n%s\ndockerd log:\n%s", out, d.log())
}

// inspect formats docker inspect of a container or image with a Go template.
func (d *dockerEnv) inspect(t *testing.T, what, format string) string {
	t.Helper()
	return strings.TrimSpace(d.run(t, "inspect", "--format", format, what))
}

// waitHealth waits until Docker reports the container's health as want
// ("healthy", "unhealthy") and returns how long that took.
func (d *dockerEnv) waitHealth(t *testing.T, name, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := d.inspect(t, name, "{{.State.Status}} {{.State.Health.Status}}")
		if got == "running "+want {
			return time.Since(start)
		}
		if !strings.HasPrefix(got, "running") || time.Since(start) > within {
			logs, errs, _ := d.try("logs", name)
			health, _, _ := d.try("inspect", "--format", "{{json .State.Health}}", name)
			t.Fatalf("container %s: state %q, want running and %s within %v\nhealth: %s\nlogs:\n%s%s", name, got, want, within, health, logs, errs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pidfd_open(2) and pidfd_getfd(2): the same numbers on every Linux architecture.
const (
	sysPidfdOpen  = 434
	sysPidfdGetfd = 438
)

// stopListeningIn takes the listening TCP socket of process pid bound to
// addr out of the listen state from outside that process: it borrows the
// socket (pidfd_getfd, as root) and shuts it down, which the kernel answers
// as "ss -K" does for a plain TCP socket (Go's listeners are MPTCP sockets,
// which ss -K cannot destroy). The process still holds its socket; only the
// kernel's listen state is gone, as when a socket is closed under a daemon.
func stopListeningIn(t *testing.T, pid int, addr string) {
	t.Helper()
	want, err := net.ResolveTCPAddr("tcp", addr)
	require.NoError(t, err)
	pidfd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
	require.Zerof(t, errno, "pidfd_open(%d): %v", pid, errno)
	defer syscall.Close(int(pidfd))
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		var target int
		if _, err := fmt.Sscan(e.Name(), &target); err != nil {
			continue
		}
		fd, _, errno := syscall.Syscall(sysPidfdGetfd, pidfd, uintptr(target), 0)
		require.Zerof(t, errno, "pidfd_getfd(%d, %d): %v (needs root or ptrace rights over the process)", pid, target, errno)
		done := func() bool {
			defer syscall.Close(int(fd))
			sa, err := syscall.Getsockname(int(fd))
			in4, ok := sa.(*syscall.SockaddrInet4)
			if err != nil || !ok || in4.Port != want.Port || !net.IP(in4.Addr[:]).Equal(want.IP) {
				return false
			}
			if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN); err != nil || v != 1 {
				return false
			}
			require.NoError(t, syscall.Shutdown(int(fd), syscall.SHUT_RD))
			return true
		}()
		if done {
			return
		}
	}
	t.Fatalf("process %d has no listening socket on %s", pid, addr)
}
