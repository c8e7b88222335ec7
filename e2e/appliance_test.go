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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"relaybox/config"
	"relaybox/internal/testnet"
)

// relayboxBin is the binary built once by TestMain.
var relayboxBin string

const (
	adminUser     = "admin"
	adminPassword = "e2e-Secret-42"
	// permissiveCiphers selects CBC-SHA suites usable at TLS 1.0 and 1.1.
	permissiveCiphers = "HIGH:MEDIUM:!aNULL:!eNULL"
	readyTimeout      = 20 * time.Second
	cliTimeout        = 60 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "relaybox-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	relayboxBin = filepath.Join(dir, "relaybox")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the go command is needed to build relaybox:", err)
		return 1
	}
	build := exec.Command(goTool, "build", "-o", relayboxBin, "relaybox/cmd/relaybox")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building relaybox failed:", err)
		return 1
	}
	return m.Run()
}

// requireOpenSSL fails (never skips) when the openssl client is missing.
func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is not on PATH (%v): the end-to-end tests need the real client; run `make test-deps`", err)
	}
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = testnet.FreePort(t)
	}
	return ports
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// lockedBuffer is an io.Writer safe for a process's output copier and the test.
type lockedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	match string
	ready chan struct{}
	once  sync.Once
}

func newLockedBuffer(match string) *lockedBuffer {
	return &lockedBuffer{match: match, ready: make(chan struct{})}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.match != "" && strings.Contains(b.buf.String(), b.match) {
		b.once.Do(func() { close(b.ready) })
		b.match = "" // found: a daemon that logs to stdout must not make each write scan everything
	}
	return n, err
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// appliance is one running "relaybox serve".
type appliance struct {
	dir                                          string
	smtpPort, submissionPort, httpsPort, sshPort int
	domains                                      string
	resolver                                     string // first-start DNS server ("" = a dead loopback port)
	mxPort                                       int    // --mx-port (0 = the default, 25)
	oneTimePassword                              bool

	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	exited chan struct{}
}

type startOptions struct {
	dir      string // "" = a new t.TempDir()
	domains  string
	resolver string // first-start DNS server; "" = 127.0.0.1:1, where nothing answers
	mxPort   int    // port of MX hosts (0 = 25)
	// oneTimePassword starts without RELAYBOX_ADMIN_PASSWORD: the first
	// start makes a one-time password and prints it.
	oneTimePassword bool
}

// startAppliance starts a daemon on fresh ports and waits until it serves.
func startAppliance(t *testing.T, o startOptions) *appliance {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	p := freePorts(t, 4)
	a := &appliance{dir: o.dir, smtpPort: p[0], submissionPort: p[1], httpsPort: p[2], sshPort: p[3], domains: o.domains,
		resolver: o.resolver, mxPort: o.mxPort, oneTimePassword: o.oneTimePassword}
	if a.resolver == "" {
		a.resolver = "127.0.0.1:1" // MX lookups never leave the machine
	}
	a.start(t)
	return a
}

// start runs the daemon (again) on a.dir; on later starts the ports come from
// the committed configuration, the flags only matter on the first start.
func (a *appliance) start(t *testing.T) {
	t.Helper()
	args := []string{"serve", "--data", a.dir,
		"--hostname", "relaybox.e2e.test",
		"--smtp-port", strconv.Itoa(a.smtpPort),
		"--submission-port", strconv.Itoa(a.submissionPort),
		"--https-port", strconv.Itoa(a.httpsPort),
		"--ssh-port", strconv.Itoa(a.sshPort),
		"--resolver", a.resolver}
	if a.mxPort != 0 {
		args = append(args, "--mx-port", strconv.Itoa(a.mxPort))
	}
	if a.domains != "" {
		args = append(args, "--domains", a.domains)
	}
	cmd := exec.Command(relayboxBin, args...)
	cmd.Env = os.Environ()
	if !a.oneTimePassword {
		cmd.Env = append(cmd.Env, "RELAYBOX_ADMIN_PASSWORD="+adminPassword)
	}
	a.stdout, a.stderr = newLockedBuffer("serving"), newLockedBuffer("")
	cmd.Stdout, cmd.Stderr = a.stdout, a.stderr
	require.NoError(t, cmd.Start())
	a.cmd = cmd
	a.exited = make(chan struct{})
	exited := a.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	select {
	case <-a.stdout.ready:
	case <-exited:
		t.Fatalf("relaybox serve exited before it was ready (%v)\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState, a.stdout, a.stderr)
	case <-time.After(readyTimeout):
		t.Fatalf("relaybox serve was not ready within %v\nstdout:\n%s\nstderr:\n%s", readyTimeout, a.stdout, a.stderr)
	}
	_, err := os.Stat(filepath.Join(a.dir, "relaybox.sock"))
	require.NoError(t, err, "the control socket must exist once the daemon says it is serving")
}

// kill SIGKILLs the daemon and waits for it to be gone.
func (a *appliance) kill(t *testing.T) {
	t.Helper()
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("relaybox serve (pid %d) did not die after SIGKILL", a.cmd.Process.Pid)
	}
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// cli pipes script into "relaybox cli" and returns what it printed and its exit status.
func (a *appliance) cli(t *testing.T, script string) cliResult {
	t.Helper()
	return runClient(t, script, relayboxBin, "cli", "--data", a.dir)
}

// runClient runs a client program with stdin, within cliTimeout, and returns
// what it printed and its exit status; a client that cannot run, or runs
// out of time, fails the test.
func runClient(t *testing.T, stdin string, argv ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		res.code = ee.ExitCode()
	default:
		t.Fatalf("%s failed to run: %v (ctx: %v)\nstdin:\n%s\nstdout:\n%s\nstderr:\n%s", argv[0], err, ctx.Err(), stdin, res.stdout, res.stderr)
	}
	return res
}

// mustCommit runs a script that ends in a commit and requires it to succeed.
func (a *appliance) mustCommit(t *testing.T, script string) cliResult {
	t.Helper()
	res := a.cli(t, script)
	require.Equalf(t, 0, res.code, "script failed:\n%s\nstdout:\n%s\nstderr:\n%s", script, res.stdout, res.stderr)
	require.Containsf(t, res.stdout, "Changes committed:", "script:\n%s\nstderr:\n%s", script, res.stderr)
	return res
}

var statusVersionRE = regexp.MustCompile(`Configuration version:\s+(\d+)`)

// statusVersion is the configuration version the status command reports.
func (a *appliance) statusVersion(t *testing.T) int {
	t.Helper()
	res := a.cli(t, "status\n")
	require.Equalf(t, 0, res.code, "status failed: %s", res.stderr)
	m := statusVersionRE.FindStringSubmatch(res.stdout)
	require.NotNilf(t, m, "no configuration version in status output:\n%s", res.stdout)
	v, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return v
}

// liveConfig reads, decodes and validates DIR/config.yaml.
func liveConfig(t *testing.T, dir string) (*config.Config, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, config.ConfigFile))
	require.NoError(t, err)
	c, err := config.Decode(data)
	require.NoErrorf(t, err, "config.yaml does not parse:\n%s", data)
	require.NoErrorf(t, config.Validate(c), "config.yaml is not valid:\n%s", data)
	return c, data
}

// editSavedConfig saves the committed configuration unmasked as name, lets
// edit change it and writes it back for loadconfig.
func (a *appliance) editSavedConfig(t *testing.T, name string, edit func(c *config.Config)) {
	t.Helper()
	res := a.cli(t, "saveconfig unmasked "+name+"\n")
	require.Equalf(t, 0, res.code, "saveconfig failed: %s", res.stderr)
	path := filepath.Join(a.dir, "configs", name)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	c, err := config.Decode(data)
	require.NoError(t, err)
	edit(c)
	out, err := c.Encode()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, out, 0o600))
}

func setListenerPort(t *testing.T, c *config.Config, name string, port int) {
	t.Helper()
	l := c.Listener(name)
	require.NotNilf(t, l, "no listener %s in the saved configuration", name)
	l.Port = port
}

// term stops the daemon with SIGTERM and requires a clean exit (status 0).
func (a *appliance) term(t *testing.T) {
	t.Helper()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("relaybox serve (pid %d) did not exit within 60 s of SIGTERM\nstderr:\n%s", a.cmd.Process.Pid, a.stderr)
	}
	require.Truef(t, a.cmd.ProcessState.Success(), "relaybox serve exited with %v after SIGTERM\nstderr:\n%s", a.cmd.ProcessState, a.stderr)
}
