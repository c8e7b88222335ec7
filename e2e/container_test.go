package e2e

import (
	"crypto/tls"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const imageVersion = "0.1.0-e2e"

// boxPorts are a container's first-start ports: SMTP, submission, HTTPS, SSH.
type boxPorts [4]int

// runBox starts the image as container name on volume (mounted on /data)
// with the host's network, bound to 127.0.0.1 on ports (first start), with
// Docker checking its health every second.
func runBox(t *testing.T, d *dockerEnv, name, volume string, p boxPorts, extra ...string) {
	t.Helper()
	args := []string{"run", "-d", "--name", name, "--network", "host",
		"--health-interval", "1s", "--health-retries", "1", "--health-timeout", "10s",
		"-e", "RELAYBOX_LISTEN=127.0.0.1", // the host's network: never beyond its loopback
		"-e", "RELAYBOX_HOSTNAME=box.e2e.test",
		"-e", "RELAYBOX_SMTP_PORT=" + strconv.Itoa(p[0]), "-e", "RELAYBOX_SUBMISSION_PORT=" + strconv.Itoa(p[1]),
		"-e", "RELAYBOX_HTTPS_PORT=" + strconv.Itoa(p[2]), "-e", "RELAYBOX_SSH_PORT=" + strconv.Itoa(p[3]),
		"-e", "RELAYBOX_DOMAINS=example.test", "-e", "RELAYBOX_RESOLVER=127.0.0.1:1",
		"-v", volume + ":/data"}
	args = append(args, extra...)
	d.run(t, append(args, "relaybox:"+imageVersion)...)
}

// boxCLI pipes script into "relaybox cli" in the container (docker exec -i).
func boxCLI(d *dockerEnv, name, script string) (stdout, stderr string, code int) {
	out, errOut, err := d.tryInput(script, "exec", "-i", name, "relaybox", "cli")
	return out, errOut, exitCode(err)
}

// volumeDir is where the private daemon keeps a named volume's files.
func (d *dockerEnv) volumeDir(volume string) string {
	return filepath.Join(d.dir, "root", "volumes", volume, "_data")
}

var queueCountRE = regexp.MustCompile(`Messages in queue:\s+(\d+)`)

// TestContainerImage builds the image with make image and runs it as a lab
// would: first start with the one-time password in docker logs, mail over
// STARTTLS (swaks), a TLS commit through docker exec -i … relaybox cli, a
// stop (SIGTERM, exit 0), docker rm and a new container on the same volume
// that keeps the configuration and the queued message; a second box whose
// SMTP port is taken exits saying so; and Docker's health check turns
// unhealthy, with our check's words, once a listener stops listening.
func TestContainerImage(t *testing.T) {
	requireSwaks(t)
	requireOpenSSL(t)
	d := startDocker(t)
	d.buildImage(t, imageVersion)

	// The image as the issue describes it.
	img := "relaybox:" + imageVersion
	assert.Equal(t, d.inspect(t, img, "{{.Id}}"), d.inspect(t, "relaybox:latest", "{{.Id}}"), ":VERSION and :latest are one image")
	assert.Equal(t, "10001:10001", d.inspect(t, img, "{{.Config.User}}"), "a non-root numeric user")
	assert.Equal(t, `["/relaybox","serve","--data","/data"]`, d.inspect(t, img, "{{json .Config.Entrypoint}}"))
	assert.Equal(t, "SIGTERM", d.inspect(t, img, "{{.Config.StopSignal}}"))
	assert.Equal(t, `{"/data":{}}`, d.inspect(t, img, "{{json .Config.Volumes}}"))
	assert.Equal(t, `{"2222/tcp":{},"2525/tcp":{},"2587/tcp":{},"8443/tcp":{}}`, d.inspect(t, img, "{{json .Config.ExposedPorts}}"))
	assert.Equal(t, `["CMD","/relaybox","health","--data","/data"]`, d.inspect(t, img, "{{json .Config.Healthcheck.Test}}"))
	size, err := strconv.Atoi(d.inspect(t, img, "{{.Size}}"))
	require.NoError(t, err)
	t.Logf("image size: %.1f MB", float64(size)/1e6)
	assert.Less(t, size, 40_000_000, "scratch, a static binary and a CA bundle")
	version := d.run(t, "run", "--rm", "--network", "host", "--entrypoint", "/relaybox", img, "version")
	assert.Regexp(t, `^Relaybox `+regexp.QuoteMeta(imageVersion)+` \(commit [0-9a-f]+, go1\.\d+`, version, "the Makefile's LDFLAGS stamp the version and commit")
	// RELAYBOX_DATA=/data is the image's: relaybox health (and cli) need no --data.
	out, errOut, err := d.try("run", "--rm", "--network", "host", "--entrypoint", "/relaybox", img, "health")
	assert.Equal(t, 1, exitCode(err), out)
	assert.Contains(t, errOut, "relaybox health: unhealthy: no appliance is running on /data")

	// The image's own defaults (RELAYBOX_LISTEN=0.0.0.0, the default ports) in a network namespace of
	// its own (--network none: only its loopback, never the host's addresses): it binds every address
	// of the container and takes mail there (swaks run inside that namespace with nsenter).
	d.run(t, "run", "-d", "--name", "isolated", "--network", "none", "--health-interval", "1s",
		"-e", "RELAYBOX_DOMAINS=example.test", "-e", "RELAYBOX_ADMIN_PASSWORD="+adminPassword, "-v", "isolated:/data", img)
	d.waitHealth(t, "isolated", "healthy", 90*time.Second)
	logs, _, err := d.try("logs", "isolated")
	require.NoError(t, err)
	assert.Contains(t, logs, "smtp IncomingMail on 0.0.0.0:2525 (TLS TLSv1.1-TLSv1.2)")
	assert.NotContains(t, logs, "one-time password", "RELAYBOX_ADMIN_PASSWORD chooses it")
	swaks, err := exec.Command("nsenter", "-t", d.inspect(t, "isolated", "{{.State.Pid}}"), "-n",
		"swaks", "--server", "127.0.0.1:2525", "--tls", "--to", "bob@example.test", "--timeout", "10").CombinedOutput()
	require.NoErrorf(t, err, "swaks in the container's network namespace:\n%s", swaks)
	assert.Regexp(t, swaksQueuedRE, string(swaks))
	d.run(t, "rm", "-f", "isolated")

	ports := freePorts(t, 4)
	p := boxPorts{ports[0], ports[1], ports[2], ports[3]}
	runBox(t, d, "box", "boxdata", p)
	ready := d.waitHealth(t, "box", "healthy", 90*time.Second)
	var logErr string
	t.Logf("first start to healthy (Docker polls every 1 s): %v", ready)
	logs, logErr, err = d.try("logs", "box")
	require.NoError(t, err)
	assert.Regexp(t, `First start: the administrator account is "admin" with the one-time password [A-Za-z0-9]{16}\n`, logs)
	assert.Contains(t, logs, "smtp IncomingMail on 127.0.0.1:"+strconv.Itoa(p[0]))
	assert.NotContains(t, logErr, "error")

	// Mail for RELAYBOX_DOMAINS over STARTTLS. No MX answers (the resolver
	// is a dead port), so the message stays queued.
	token := uniqueToken("container")
	res := runSwaks(t, addr(p[0]), "bob@example.test", token, "--tls")
	require.Equalf(t, 0, res.exit, "swaks:\n%s", res.out)
	require.Regexp(t, swaksQueuedRE, res.out)
	assert.Contains(t, res.out, "TLS started with cipher TLSv1.2")
	require.Eventually(t, func() bool {
		logs, _, _ := d.try("logs", "box")
		return strings.Contains(logs, "TLS success protocol TLSv1.2") && strings.Contains(logs, "queued for delivery")
	}, 10*time.Second, 100*time.Millisecond, "mail_logs lines reach docker logs")

	// A TLS change committed through docker exec -i … relaybox cli, with its exit status.
	v13 := versionByID(t, tls.VersionTLS13)
	require.True(t, opensslProbe(t, addr(p[0]), true, v13).refusedByTLS(), "TLS 1.3 is off on first start")
	var code int
	out, errOut, code = boxCLI(d, "box", "sslconfig inbound methods 1,3\ncommit never\n")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, errOut, "line 1: TLS protocols can be enabled only in sequence")
	out, errOut, code = boxCLI(d, "box", "sslconfig inbound methods 1-3\ncommit TLS 1.3 inbound\n")
	require.Equalf(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "Changes committed:")
	require.True(t, opensslProbe(t, addr(p[0]), true, v13).accepted(v13), "TLS 1.3 after the commit")
	status := func(name string) (version, queued string) {
		t.Helper()
		out, errOut, code := boxCLI(d, name, "status\n")
		require.Equalf(t, 0, code, "status: %s", errOut)
		v, q := statusVersionRE.FindStringSubmatch(out), queueCountRE.FindStringSubmatch(out)
		require.NotNilf(t, v, "status:\n%s", out)
		require.NotNilf(t, q, "status:\n%s", out)
		return v[1], q[1]
	}
	v, q := status("box")
	assert.Equal(t, "2", v)
	assert.Equal(t, "1", q)

	// docker stop sends SIGTERM: the appliance drains and exits 0. A new
	// container on the same volume has the configuration and the message.
	d.run(t, "stop", "--time", "60", "box")
	assert.Equal(t, "exited 0", d.inspect(t, "box", "{{.State.Status}} {{.State.ExitCode}}"))
	d.run(t, "rm", "box")
	runBox(t, d, "box", "boxdata", p)
	d.waitHealth(t, "box", "healthy", 90*time.Second)
	logs, logErr, err = d.try("logs", "box")
	require.NoError(t, err)
	assert.NotContains(t, logs, "one-time password")
	assert.Contains(t, logs, "serving; configuration version 2;")
	assert.Contains(t, logErr, "--smtp-port "+strconv.Itoa(p[0])+" (RELAYBOX_SMTP_PORT) was ignored")
	v, q = status("box")
	assert.Equal(t, "2", v)
	assert.Equal(t, "1", q)
	assert.True(t, opensslProbe(t, addr(p[0]), true, v13).accepted(v13), "the committed TLS 1.3 after the new container")
	found := false
	for _, m := range readSpool(t, d.volumeDir("boxdata")) {
		found = found || strings.Contains(m.body, token)
	}
	assert.True(t, found, "the queued message is the one swaks sent")

	// A second box whose SMTP port the first one has: it does not run half
	// configured; it exits 1 naming the listener and the port.
	other := freePorts(t, 3)
	runBox(t, d, "box2", "box2data", boxPorts{p[0], other[0], other[1], other[2]})
	require.Eventually(t, func() bool { return d.inspect(t, "box2", "{{.State.Status}}") == "exited" }, 60*time.Second, 100*time.Millisecond)
	assert.Equal(t, "1", d.inspect(t, "box2", "{{.State.ExitCode}}"))
	_, logErr, _ = d.try("logs", "box2")
	assert.Contains(t, logErr, "smtp IncomingMail cannot listen on 127.0.0.1:"+strconv.Itoa(p[0])+": listen tcp 127.0.0.1:"+strconv.Itoa(p[0])+": bind: address already in use; choose a free port")
	assert.Equal(t, "unhealthy", d.inspect(t, "box2", "{{.State.Health.Status}}"), "Docker marks a stopped container unhealthy")

	// The first box's SMTP listener stops listening under it: Docker's
	// health check (relaybox health) turns unhealthy and says which one; a
	// restart binds it again.
	pid, err := strconv.Atoi(d.inspect(t, "box", "{{.State.Pid}}"))
	require.NoError(t, err)
	stopListeningIn(t, pid, addr(p[0]))
	d.waitHealth(t, "box", "unhealthy", 30*time.Second)
	healthLog := d.inspect(t, "box", "{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}")
	assert.Contains(t, healthLog, "1 relaybox health: unhealthy: SMTP listener IncomingMail on "+addr(p[0])+" is bound but no longer listening")
	d.run(t, "restart", "--time", "60", "box")
	d.waitHealth(t, "box", "healthy", 90*time.Second)
}
