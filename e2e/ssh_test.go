package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"relaybox/internal/testterm"
)

// These tests log in to the real daemon with OpenSSH's ssh (and sshpass for
// passwords), as administrators do.

func requireSSHClients(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ssh", "sshpass", "ssh-keygen", "ssh-keyscan"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (openssh-client, sshpass): run make test-deps", tool)
		}
	}
}

// sshOptions are the client options of every test login: no known_hosts,
// nothing from the user's ~/.ssh, one password prompt.
func (a *appliance) sshOptions(port int) []string {
	return []string{"-p", strconv.Itoa(port), "-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes"}
}

// sshCommand is the command line of a login: with a password (sshpass) when
// password is set, else with the key file.
func (a *appliance) sshCommand(port int, user, password, key string, args ...string) []string {
	cmd := []string{"ssh"}
	if password != "" {
		cmd = []string{"sshpass", "-p", password, "ssh", "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "PubkeyAuthentication=no"}
	}
	cmd = append(cmd, a.sshOptions(port)...)
	if key != "" {
		cmd = append(cmd, "-i", key, "-o", "BatchMode=yes", "-o", "PreferredAuthentications=publickey")
	}
	cmd = append(cmd, args...)
	return append(cmd, user+"@127.0.0.1")
}

// ssh logs in and runs command (a one-liner; "" runs the shell on stdin,
// without a terminal), returning what it printed and ssh's exit status.
func (a *appliance) ssh(t *testing.T, user, password, key, stdin, command string) cliResult {
	t.Helper()
	argv := a.sshCommand(a.sshPort, user, password, key, "-T")
	if command != "" {
		argv = append(argv, command)
	}
	return runClient(t, stdin, argv...)
}

// sshPipe is a login whose shell reads script lines as the test writes
// them: two of them open at once are two administrators at work.
type sshPipe struct {
	t      *testing.T
	in     io.WriteCloser
	out    *lockedBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

func (a *appliance) openSSH(t *testing.T, port int, user, password string) *sshPipe {
	t.Helper()
	argv := a.sshCommand(port, user, password, "", "-T")
	cmd := exec.Command(argv[0], argv[1:]...)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	p := &sshPipe{t: t, in: in, out: newLockedBuffer(""), cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.exited })
	return p
}

// send writes one script line.
func (p *sshPipe) send(line string) {
	p.t.Helper()
	_, err := io.WriteString(p.in, line+"\n")
	require.NoError(p.t, err)
}

// waitCount waits until the session printed want n times.
func (p *sshPipe) waitCount(want string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(cliTimeout)
	for time.Now().Before(deadline) {
		if strings.Count(p.out.String(), want) >= n {
			return
		}
		select {
		case <-p.exited:
			if strings.Count(p.out.String(), want) >= n {
				return
			}
			p.t.Fatalf("the ssh session ended (%v) before it printed %q %d times:\n%s", p.cmd.ProcessState, want, n, p.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("the ssh session never printed %q %d times:\n%s", want, n, p.out)
}

// authLog is DATA/logs/authentication.
func (a *appliance) authLog(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.dir, "logs", "authentication"))
	require.NoError(t, err)
	return string(data)
}

// hostKeyFingerprints asks the daemon for its host keys (ssh-keyscan) and
// fingerprints them with ssh-keygen, sorted: "SHA256:… (ED25519)".
func (a *appliance) hostKeyFingerprints(t *testing.T) []string {
	t.Helper()
	scan, err := exec.Command("ssh-keyscan", "-p", strconv.Itoa(a.sshPort), "-t", "ed25519,rsa", "127.0.0.1").Output()
	require.NoError(t, err)
	keygen := exec.Command("ssh-keygen", "-l", "-f", "-")
	keygen.Stdin = bytes.NewReader(scan)
	out, err := keygen.Output()
	require.NoError(t, err, "ssh-keyscan printed:\n%s", scan)
	var fps []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l) // 256 SHA256:… [127.0.0.1]:port (ED25519)
		require.Len(t, f, 4, l)
		fps = append(fps, f[1]+" "+f[3])
	}
	sort.Strings(fps)
	return fps
}

// newClientKey makes an ed25519 key pair with ssh-keygen and returns the
// private key's file and the public key's authorized_keys line.
func newClientKey(t *testing.T, name string) (string, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file).CombinedOutput()
	require.NoError(t, err, "%s", out)
	pub, err := os.ReadFile(file + ".pub")
	require.NoError(t, err)
	return file, strings.TrimSpace(string(pub))
}

// TestSSHLogins: password and key logins; one-liners, scripts on stdin and
// their exit statuses; the host keys ssh sees are the ones status shows;
// each login and each refusal is in the authentication log.
func TestSSHLogins(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{})

	r := a.ssh(t, adminUser, adminPassword, "", "", "status; who")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Regexp(t, fmt.Sprintf(`ssh +Management +127\.0\.0\.1:%d +- +1\n`, a.sshPort), r.stdout, "status lists the SSH socket and this connection")
	assert.Regexp(t, `admin +\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \w+ +\d+s +127\.0\.0\.1 +ssh\n`, r.stdout, "who lists this SSH session")
	for _, fp := range a.hostKeyFingerprints(t) {
		sum, kind, _ := strings.Cut(fp, " ")
		want := map[string]string{"(ED25519)": "ssh-ed25519", "(RSA)": "ssh-rsa"}[kind]
		assert.Contains(t, r.stdout, "  "+want+" "+sum+"\n", "status shows the host key ssh sees")
	}
	assert.Contains(t, a.authLog(t), "Info: User admin logged in from 127.0.0.1 (ssh)")

	r = a.ssh(t, adminUser, adminPassword, "", "", "version; frob")
	assert.Equal(t, 1, r.code, "a failing one-liner fails the login's exit status")
	assert.Contains(t, r.stdout, "Relaybox")
	assert.Contains(t, r.stderr, "Unknown command: frob")

	r = a.ssh(t, adminUser, adminPassword, "", "sethostname script.e2e.test\ncommit over ssh\n", "")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	c, _ := liveConfig(t, a.dir)
	assert.Equal(t, "script.e2e.test", c.Hostname, "the script on stdin committed")
	assert.Equal(t, "admin", c.User)
	assert.Equal(t, "over ssh", c.Comment)

	r = a.ssh(t, adminUser, "not-the-password", "", "", "status")
	assert.Equal(t, 255, r.code, "ssh: permission denied")
	assert.Contains(t, r.stderr, "Permission denied")
	assert.Contains(t, a.authLog(t), "Info: A failed login attempt for user admin from 127.0.0.1 (ssh)")

	key, pub := newClientKey(t, "admin-key")
	a.mustCommit(t, "sshconfig userkeys new admin "+pub+"\ncommit the admin key\n")
	r = a.ssh(t, adminUser, "", key, "", "who")
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "127.0.0.1")
	assert.Contains(t, a.authLog(t), "Info: User admin logged in from 127.0.0.1 (ssh, publickey)")

	other, _ := newClientKey(t, "stranger-key")
	before := strings.Count(a.authLog(t), "(ssh, publickey)")
	r = a.ssh(t, adminUser, "", other, "", "who")
	assert.Equal(t, 255, r.code, "a key that is not the account's is refused")
	// The server counts the refusal when the client hangs up, a moment after ssh exits.
	require.Eventually(t, func() bool { return strings.Count(a.authLog(t), "(ssh, publickey)") > before }, 5*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // a second line would come now
	log := a.authLog(t)
	assert.Equal(t, 1, strings.Count(log, "Info: A failed login attempt for user admin from 127.0.0.1 (ssh, publickey)"), log)
	assert.Equal(t, before+1, strings.Count(log, "(ssh, publickey)"), "one refused connection, one line")
}

// TestSSHLockOutIsSharedWithTheGUI: five wrong SSH passwords lock the
// account; the right one is then refused over SSH and over the GUI, whose
// logins count in the same authenticator.
func TestSSHLockOutIsSharedWithTheGUI(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{})
	for i := range 5 {
		r := a.ssh(t, adminUser, "wrong-password", "", "", "status")
		require.Equal(t, 255, r.code, "attempt %d", i+1)
	}
	log := a.authLog(t)
	assert.Equal(t, 5, strings.Count(log, "Info: A failed login attempt for user admin from 127.0.0.1 (ssh)"), log)
	assert.Contains(t, log, "Warning: User admin locked out for 15m0s after 5 failed attempts from 127.0.0.1 (ssh)")

	r := a.ssh(t, adminUser, adminPassword, "", "", "status")
	assert.Equal(t, 255, r.code, "the right password is refused during the lock-out")
	assert.NotContains(t, a.authLog(t), "logged in")

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS(tls.VersionTLS12)}}
	req, err := http.NewRequest(http.MethodGet, "https://"+addr(a.httpsPort)+"/api/v1/status", nil)
	require.NoError(t, err)
	req.SetBasicAuth(adminUser, adminPassword)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the GUI is locked too")
}

// TestSSHOperatorAndForcedPasswordChange: an operator made with userconfig
// must choose a new password at the first login, on a terminal; without one
// the login says how. Once in, an operator edits but cannot commit.
func TestSSHOperatorAndForcedPasswordChange(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{})
	a.mustCommit(t, "userconfig new bob \"Bob Operator\" operator Bob-Start-123\ncommit add bob\n")

	r := a.ssh(t, "bob", "Bob-Start-123", "", "", "status")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "The password of bob is a one-time password and must be changed before anything else: log in with a terminal (ssh -t)")
	assert.NotContains(t, r.stdout, "Status as of", "nothing ran")

	m := testterm.New(t, strings.Join(a.sshCommand(a.sshPort, "bob", "Bob-Start-123", "", "-t"), " "))
	m.WaitFor("You must choose a new password for bob before you continue.")
	m.WaitFor("New password:")
	m.Line("Bob-Chosen-456")
	m.WaitFor("again:")
	m.Line("Bob-Chosen-456")
	m.WaitFor("Password changed: it is in force now")
	prompt := "relaybox.e2e.test> "
	m.WaitFor(prompt)
	assert.NotContains(t, m.Screen(), "Bob-Chosen-456", "a password is never echoed")

	// who, from another session, lists bob's.
	r = a.ssh(t, adminUser, adminPassword, "", "", "who")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `\nbob +.+ +127\.0\.0\.1 +ssh\n`, r.stdout)

	m.Line("sethostname operator.e2e.test")
	m.WaitCount(prompt, 2)
	m.Line("commit by an operator")
	m.WaitFor("operators cannot commit: you are not in the correct access group to use commit (your role is operator)")
	m.Keys("sethostname", "Enter")
	m.WaitFor("[operator.e2e.test]>")
	m.Keys("C-c")
	m.WaitCount(prompt, 4)
	m.Line("clearchanges confirm")
	m.WaitCount(prompt, 5)
	m.Line("quit")
	m.WaitFor("EXIT=0")

	c, _ := liveConfig(t, a.dir)
	assert.Equal(t, "relaybox.e2e.test", c.Hostname, "the operator's edit was not committed")
	assert.Equal(t, "passwd: bob changed their password at login", c.Comment)
	assert.Contains(t, a.authLog(t), "Info: User bob logged in from 127.0.0.1 (ssh)")

	r = a.ssh(t, "bob", "Bob-Chosen-456", "", "", "status")
	assert.Equal(t, 0, r.code, "the new password logs in: %s", r.stderr)
	r = a.ssh(t, "bob", "Bob-Start-123", "", "", "status")
	assert.Equal(t, 255, r.code, "the one-time password is gone")
	r = a.ssh(t, "bob", "Bob-Chosen-456", "", "", "userconfig delete admin")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "operator")
}

// TestSSHFirstStartOneTimePassword: without RELAYBOX_ADMIN_PASSWORD the
// first start prints a one-time password; the first SSH login replaces it.
func TestSSHFirstStartOneTimePassword(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{oneTimePassword: true})
	m := regexp.MustCompile(`the one-time password (\S+)`).FindStringSubmatch(a.stdout.String())
	require.NotNil(t, m, "the first start prints the password:\n%s", a.stdout)
	oneTime := m[1]

	r := a.ssh(t, adminUser, oneTime, "", "", "status")
	assert.Equal(t, 1, r.code, "a script cannot answer the forced change")
	assert.Contains(t, r.stderr, "one-time password")

	term := testterm.New(t, strings.Join(a.sshCommand(a.sshPort, adminUser, oneTime, "", "-t"), " "))
	term.WaitFor("New password:")
	term.Line("short")
	term.WaitFor("The password must be at least 8 characters long.")
	term.WaitCount("New password:", 2)
	term.Line("Admin-Chosen-789")
	term.WaitFor("again:")
	term.Line("Admin-Chosen-789")
	term.WaitFor("relaybox.e2e.test> ")
	term.Line("quit")
	term.WaitFor("EXIT=0")

	r = a.ssh(t, adminUser, "Admin-Chosen-789", "", "", "status")
	assert.Equal(t, 0, r.code, r.stderr)
	r = a.ssh(t, adminUser, oneTime, "", "", "status")
	assert.Equal(t, 255, r.code, "the one-time password no longer logs in")
}

// TestSSHConcurrentSessions: two administrators edit at once; edits of
// different sections merge at commit, edits of the same section are
// refused to whoever commits second.
func TestSSHConcurrentSessions(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{})
	// The shell reads a script line when the previous one is done, and
	// echoes it after its prompt: a line's echo says the one before ran.
	one, two := a.openSSH(t, a.sshPort, adminUser, adminPassword), a.openSSH(t, a.sshPort, adminUser, adminPassword)
	one.send("sethostname merged.e2e.test")
	two.send("listenerconfig edit IncomingMail domains two.e2e.test")
	one.send("commit from one")
	one.waitCount("Changes committed", 1)
	two.send("commit from two")
	two.waitCount("Changes committed", 1)
	c, _ := liveConfig(t, a.dir)
	assert.Equal(t, "merged.e2e.test", c.Hostname, "one's edit is in")
	assert.Equal(t, []string{"two.e2e.test"}, c.Listener("IncomingMail").Domains, "two's edit is in")
	assert.Equal(t, "from two", c.Comment)

	one.send("sethostname first.e2e.test")
	two.send("sethostname second.e2e.test")
	one.send("commit first")
	one.waitCount("Changes committed", 2)
	two.send("commit second")
	two.waitCount("changed the same settings as you (hostname); nothing was committed", 1)
	c, _ = liveConfig(t, a.dir)
	assert.Equal(t, "first.e2e.test", c.Hostname)
	assert.Equal(t, "first", c.Comment)
}

// TestSSHPortMoveKeepsSessions: interfaceconfig moves the SSH port; the
// session that committed it goes on, the new port takes logins and the old
// one is closed. At SIGTERM an open session is told goodbye; after the
// restart the host keys are the same.
func TestSSHPortMoveKeepsSessions(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{})
	keys := a.hostKeyFingerprints(t)
	s := a.openSSH(t, a.sshPort, adminUser, adminPassword)
	oldPort, newPort := a.sshPort, freePorts(t, 1)[0]
	s.send(fmt.Sprintf("interfaceconfig edit Management ssh_port %d", newPort))
	s.send("commit move ssh")
	s.waitCount("Changes committed", 1)
	s.send("status")
	s.waitCount(fmt.Sprintf("127.0.0.1:%d", newPort), 1)

	a.sshPort = newPort
	r := a.ssh(t, adminUser, adminPassword, "", "", "version")
	assert.Equal(t, 0, r.code, "the new port takes logins: %s", r.stderr)
	_, err := net.DialTimeout("tcp", addr(oldPort), time.Second)
	assert.Error(t, err, "the old port is closed")

	a.term(t)
	s.waitCount("The appliance is shutting down: the session is closed.", 1)
	<-s.exited
	a.start(t)
	assert.Equal(t, keys, a.hostKeyFingerprints(t), "the host keys survive a restart")
}

// TestSSHLimitsAndLockOutAreSettable: sshconfig SETUP caps the sessions
// from the commit on; userconfig POLICY sets how many failures lock out and
// for how long, and the lock-out ends by itself once that time is over.
func TestSSHLimitsAndLockOutAreSettable(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{})
	a.mustCommit(t, "sshconfig setup max_sessions=1\nuserconfig policy lockout_after=3 lockout_seconds=10\ncommit tighter\n")

	held := a.openSSH(t, a.sshPort, adminUser, adminPassword)
	held.send("version")
	held.waitCount("Relaybox", 1)
	r := a.ssh(t, adminUser, adminPassword, "", "", "version")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "too many sessions (at most 1): log out of another one")
	held.send("quit")
	<-held.exited

	for i := range 3 {
		r := a.ssh(t, adminUser, "wrong-password", "", "", "status")
		require.Equal(t, 255, r.code, "attempt %d", i+1)
	}
	assert.Contains(t, a.authLog(t), "Warning: User admin locked out for 10s after 3 failed attempts from 127.0.0.1 (ssh)")
	locked := time.Now()
	r = a.ssh(t, adminUser, adminPassword, "", "", "version")
	assert.Equal(t, 255, r.code, "refused during the lock-out")

	time.Sleep(time.Until(locked.Add(11 * time.Second)))
	r = a.ssh(t, adminUser, adminPassword, "", "", "version")
	assert.Equal(t, 0, r.code, "the lock-out is over: %s", r.stderr)
}

// TestSSHInteractiveTerminal: on a pty over SSH the shell is the console's:
// Tab completes, Up recalls, Ctrl-C abandons a dialog, and a window change
// reaches the shell (a prompt wider than the window is split).
func TestSSHInteractiveTerminal(t *testing.T) {
	requireSSHClients(t)
	a := startAppliance(t, startOptions{})
	m := testterm.New(t, strings.Join(a.sshCommand(a.sshPort, adminUser, adminPassword, "", "-t"), " "))
	prompt := "relaybox.e2e.test> "
	m.WaitFor(prompt)

	m.Keys("-l", "sethostn")
	m.Keys("Tab")
	m.WaitFor(prompt + "sethostname")
	m.Keys("Enter")
	m.WaitFor("[relaybox.e2e.test]> ")
	m.Keys("C-c")
	m.WaitCount(prompt, 2)
	m.Keys("Up")
	m.WaitFor(prompt + "sethostname")
	m.Keys("C-c")
	m.WaitCount(prompt, 3)

	m.Resize(30) // the dialog's prompt no longer fits with room to type
	time.Sleep(300 * time.Millisecond)
	m.Line("sethostname")
	m.WaitFor("[relaybox.e2e.test]\n> ")
	m.Keys("C-c")
	m.Line("quit")
	m.WaitFor("EXIT=0")
}
