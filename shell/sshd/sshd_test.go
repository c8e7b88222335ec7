package sshd

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/afero"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"relaybox/config"
	"relaybox/shell"
)

const testPassword = "correct horse"

// users accepts testPassword for admin and the keys in keys.
type users struct {
	mu   sync.Mutex
	keys []ssh.PublicKey
	log  []string
}

func (u *users) Password(_ context.Context, user, password, source string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.log = append(u.log, "password "+user+" "+source)
	if user == "admin" && password == testPassword {
		return nil
	}
	return errors.New("wrong password")
}

func (u *users) KeyLogin(user, source string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.log = append(u.log, "key login "+user+" "+source)
}

func (u *users) KeysRefused(user, source string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.log = append(u.log, "keys refused "+user+" "+source)
}

func (u *users) logged() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.log...)
}

func (u *users) PublicKey(_ context.Context, user string, key ssh.PublicKey, _ string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, k := range u.keys {
		if user == "admin" && string(k.Marshal()) == string(key.Marshal()) {
			return nil
		}
	}
	return errors.New("unknown key")
}

// sessions runs a shell with two commands over a real pending configuration.
type sessions struct {
	store *config.Store
	mu    sync.Mutex
	ended int
}

func (s *sessions) Session(user, _ string) (shell.Options, func(), error) {
	cmds := []shell.Command{
		{Name: "hello", Summary: "say hello", Run: func(sess *shell.Session, args []string) error {
			sess.Printf("hello %s %s\n", sess.User, strings.Join(args, " "))
			return nil
		}},
		{Name: "fail", Summary: "fail", Run: func(*shell.Session, []string) error { return errors.New("this command fails") }},
	}
	return shell.Options{Commands: cmds, Pending: s.store.NewPending(), User: user, Hostname: func() string { return "box.example.test" }},
		func() { s.mu.Lock(); s.ended++; s.mu.Unlock() }, nil
}

type fixture struct {
	srv   *Server
	users *users
	port  int
	key   string // the client's private key file
	sess  *sessions
}

func start(t *testing.T, edit func(*Options)) *fixture {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatalf("the OpenSSH client is needed (run make test-deps): %v", err)
	}
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	require.NoError(t, err)

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile).CombinedOutput()
	require.NoError(t, err, "%s", out)
	pubText, err := os.ReadFile(keyFile + ".pub")
	require.NoError(t, err)
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
	require.NoError(t, err)

	store, err := config.Open(afero.NewMemMapFs(), "/data", func() (*config.Config, error) {
		f := config.DefaultPorts
		f.Hostname = "box.example.test"
		f.Demo = config.Certificate{Name: "Demo", PEM: "-----BEGIN CERTIFICATE-----\nMAo=\n-----END CERTIFICATE-----\n", Key: strings.Repeat("ab", 32)}
		f.AdminHash = "$2a$10$abcdefghijklmnopqrstuv"
		return config.Defaults(f), nil
	})
	require.NoError(t, err)
	sess := &sessions{store: store}
	u := &users{keys: []ssh.PublicKey{pub}}
	opts := Options{HostKeys: []ssh.Signer{hostKey}, Users: u, Sessions: sess, Goodbye: "The appliance is shutting down."}
	if edit != nil {
		edit(&opts)
	}
	srv, err := New(opts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &fixture{srv: srv, users: u, port: ln.Addr().(*net.TCPAddr).Port, key: keyFile, sess: sess}
}

// sshArgs are the client options of every test: no known_hosts, no agent,
// no user configuration.
func (f *fixture) sshArgs(extra ...string) []string {
	return append(f.baseArgs(), append([]string{"-o", "BatchMode=yes", "-i", f.key, "-o", "IdentitiesOnly=yes"}, extra...)...)
}

// baseArgs are the options without a key (ssh takes the first value given
// for an option, so the password logins must not inherit BatchMode=yes).
func (f *fixture) baseArgs() []string {
	return []string{"-F", "/dev/null", "-p", strconv.Itoa(f.port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"}
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, name string, args []string, stdin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "%s timed out", name)
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return r
}

func TestExecOneLinerWithKey(t *testing.T) {
	f := start(t, nil)
	r := run(t, "ssh", f.sshArgs("admin@127.0.0.1", `hello one; hello "two; three"`), "")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "hello admin one\n")
	assert.Equal(t, []string{"key login admin 127.0.0.1"}, f.users.logged())
	assert.Contains(t, r.stdout, "hello admin two; three\n", "a ; inside quotes does not split")
}

func TestExecStatusIsTheScripts(t *testing.T) {
	f := start(t, nil)
	r := run(t, "ssh", f.sshArgs("admin@127.0.0.1", "hello; fail; hello never"), "")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "line 2: this command fails")
	assert.NotContains(t, r.stdout, "never", "a script stops at its first failing line")
}

func TestScriptOnStdin(t *testing.T) {
	f := start(t, nil)
	r := run(t, "ssh", f.sshArgs("-T", "admin@127.0.0.1"), "hello from a script\nfail\n")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "box.example.test> hello from a script\nhello admin from a script\n")
	assert.Contains(t, r.stderr, "line 2: this command fails")
}

func TestPasswordLogin(t *testing.T) {
	if _, err := exec.LookPath("sshpass"); err != nil {
		t.Fatalf("sshpass is needed for password logins (run make test-deps): %v", err)
	}
	f := start(t, nil)
	pw := func(password string) result {
		args := append([]string{"-p", password, "ssh"}, f.baseArgs()...)
		args = append(args, "-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no",
			"-o", "NumberOfPasswordPrompts=1", "admin@127.0.0.1", "hello")
		return run(t, "sshpass", args, "")
	}
	r := pw(testPassword)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "hello admin")
	r = pw("wrong")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "Permission denied")
}

func TestUnknownKeyRefused(t *testing.T) {
	f := start(t, nil)
	other := filepath.Join(t.TempDir(), "other")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput()
	require.NoError(t, err, "%s", out)
	args := f.sshArgs("admin@127.0.0.1", "hello")
	for i, a := range args {
		if a == f.key {
			args[i] = other
		}
	}
	r := run(t, "ssh", args, "")
	assert.Equal(t, 255, r.code)
	assert.Contains(t, r.stderr, "Permission denied")
	// The server hears of the refusal when the client hangs up, which may
	// be a moment after ssh has exited.
	require.Eventually(t, func() bool { return len(f.users.logged()) > 0 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond) // a second report would come now
	assert.Equal(t, []string{"keys refused admin 127.0.0.1"}, f.users.logged(), "one failure for the connection")
}

func TestSessionLimit(t *testing.T) {
	f := start(t, func(o *Options) { o.MaxSessions = 1 })
	held := exec.Command("ssh", f.sshArgs("-T", "admin@127.0.0.1")...)
	stdin, err := held.StdinPipe()
	require.NoError(t, err)
	out := &syncBuffer{}
	held.Stdout = out
	require.NoError(t, held.Start())
	defer func() { _ = stdin.Close(); _ = held.Wait() }()
	_, _ = fmt.Fprintln(stdin, "hello held")
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "hello admin held") }, 10*time.Second, 20*time.Millisecond)

	r := run(t, "ssh", f.sshArgs("admin@127.0.0.1", "hello"), "")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "too many sessions (at most 1)")
}

func TestShutdownSaysGoodbye(t *testing.T) {
	f := start(t, nil)
	held := exec.Command("ssh", f.sshArgs("-T", "admin@127.0.0.1")...)
	stdin, err := held.StdinPipe()
	require.NoError(t, err)
	out := &syncBuffer{}
	held.Stdout = out
	require.NoError(t, held.Start())
	_, _ = fmt.Fprintln(stdin, "hello before")
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "hello admin before") }, 10*time.Second, 20*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	require.NoError(t, f.srv.Shutdown(ctx))
	assert.Less(t, time.Since(begin), 5*time.Second)
	done := make(chan error, 1)
	go func() { done <- held.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not end after the shutdown")
	}
	assert.Contains(t, out.String(), "The appliance is shutting down.")
	f.sess.mu.Lock()
	defer f.sess.mu.Unlock()
	assert.Equal(t, 1, f.sess.ended, "the session ended once")
}

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"status", []string{"status"}},
		{"sslconfig inbound methods 1-3; commit tls13", []string{"sslconfig inbound methods 1-3", "commit tls13"}},
		{`commit "a; b"`, []string{`commit "a; b"`}},
		{`commit 'it''s; ok'`, []string{`commit 'it''s; ok'`}}, // two quoted strings side by side, as the shell reads them
		{"a\nb\r\nc;;", []string{"a", "b", "c"}},
		{`x "a \" ; b"; y`, []string{`x "a \" ; b"`, "y"}},
		{"  ", nil},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, SplitCommand(tc.in), tc.in)
	}
}

// FuzzSplitCommand: the splitter never panics, never returns an empty or
// untrimmed line, and joining its lines with ";" splits the same way again.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"a; b", `a "b; c"`, "x\ny", `'q;' r`, `"\";"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lines := SplitCommand(s)
		for _, l := range lines {
			if l == "" || l != strings.TrimSpace(l) {
				t.Fatalf("SplitCommand(%q) gave line %q", s, l)
			}
		}
		if quotesBalanced(s) {
			again := SplitCommand(strings.Join(lines, "; "))
			if len(again) != len(lines) {
				t.Fatalf("SplitCommand(%q) = %q, but joined it splits into %q", s, lines, again)
			}
		}
	})
}

// quotesBalanced reports whether s leaves no quote open (as SplitCommand reads it).
func quotesBalanced(s string) bool {
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case quote != 0 && r == quote:
			quote = 0
		case quote == '"' && r == '\\':
			escaped = true
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		}
	}
	return quote == 0 && !escaped
}

// syncBuffer is an output buffer safe for a process's copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLimitsApplyWhileRunning: Limits is asked as sessions come and go: a
// lowered session cap refuses the next session, and an idle timeout set
// while a session is open closes it once it has been idle that long.
func TestLimitsApplyWhileRunning(t *testing.T) {
	var mu sync.Mutex
	limits := Limits{MaxSessions: 5, IdleTimeout: time.Hour}
	set := func(l Limits) { mu.Lock(); limits = l; mu.Unlock() }
	f := start(t, func(o *Options) {
		o.Limits = func() Limits { mu.Lock(); defer mu.Unlock(); return limits }
	})
	held := exec.Command("ssh", f.sshArgs("-T", "admin@127.0.0.1")...)
	stdin, err := held.StdinPipe()
	require.NoError(t, err)
	out := &syncBuffer{}
	held.Stdout = out
	require.NoError(t, held.Start())
	done := make(chan error, 1)
	go func() { done <- held.Wait() }()
	defer func() { _ = stdin.Close(); _ = held.Process.Kill() }()
	_, _ = fmt.Fprintln(stdin, "hello held")
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "hello admin held") }, 10*time.Second, 20*time.Millisecond)

	set(Limits{MaxSessions: 1, IdleTimeout: time.Hour})
	r := run(t, "ssh", f.sshArgs("admin@127.0.0.1", "hello"), "")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "too many sessions (at most 1)", "the lowered cap counts the open session")

	set(Limits{MaxSessions: 1, IdleTimeout: 400 * time.Millisecond})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle session was not closed")
	}
	assert.Contains(t, out.String(), "idle for 400ms: the session is closed")
}

// TestLoginGraceFromLimits: a client that never logs in is dropped after
// the login grace time that Limits gives when it connects.
func TestLoginGraceFromLimits(t *testing.T) {
	f := start(t, func(o *Options) {
		o.Limits = func() Limits { return Limits{LoginGrace: 300 * time.Millisecond} }
	})
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.port)))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	begin := time.Now()
	_, err = io.ReadAll(c) // the server's version line, then the close
	require.NoError(t, err, "the server closes the connection (a read deadline would be an error)")
	took := time.Since(begin)
	assert.GreaterOrEqual(t, took, 250*time.Millisecond)
	assert.Less(t, took, 5*time.Second, "dropped after the grace time, not the default minute")
}
