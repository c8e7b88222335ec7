package appliance

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"relaybox/config"
	"relaybox/internal/testnet"
	"relaybox/shell"
)

func testOptions(t testing.TB, dir string, out *bytes.Buffer) Options {
	first := config.DefaultPorts
	first.Hostname = "box.example.test"
	first.Resolver = "127.0.0.1:1" // MX lookups never leave the machine
	first.SMTPPort, first.SubmissionPort, first.HTTPSPort, first.SSHPort = testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t), testnet.FreePort(t)
	return Options{DataDir: dir, First: first, Version: "test", Out: out}
}

func start(t testing.TB, opts Options) *Appliance {
	t.Helper()
	a, err := Start(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Close(ctx)
	})
	return a
}

func TestFirstStartPrintsOneTimePasswordOnce(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	opts := testOptions(t, dir, &out)
	a := start(t, opts)
	require.Contains(t, out.String(), "one-time password ")
	pass := strings.Fields(strings.SplitAfter(out.String(), "one-time password ")[1])[0]
	hash := a.Store.Current().Users[0].PasswordHash
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass)))
	demo := a.Store.Current().Certificate(config.DemoCertificate)
	require.NotNil(t, demo)
	cert, err := a.Keys.TLSCertificate(*demo)
	require.NoError(t, err)
	assert.Equal(t, "Relaybox Demo", cert.Leaf.Subject.CommonName)
	assert.Equal(t, "SHA256-RSA", cert.Leaf.SignatureAlgorithm.String())
	keyFile := filepath.Join(dir, "keys", demo.Key+".pem")
	st, err := os.Stat(keyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	assert.NotContains(t, out.String(), "PRIVATE KEY")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.Close(ctx))
	out.Reset()
	start(t, opts)
	assert.NotContains(t, out.String(), "password", "the password is shown only on first start")
}

func TestAdminPasswordFromOptions(t *testing.T) {
	var out bytes.Buffer
	opts := testOptions(t, t.TempDir(), &out)
	opts.AdminPassword = "chosen-secret"
	a := start(t, opts)
	assert.NotContains(t, out.String(), "chosen-secret")
	require.NoError(t, bcrypt.CompareHashAndPassword([]byte(a.Store.Current().Users[0].PasswordHash), []byte("chosen-secret")))
}

func TestSecondApplianceOnSameDirectoryRefused(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	start(t, testOptions(t, dir, &out))
	_, err := Start(context.Background(), testOptions(t, dir, &out))
	require.ErrorContains(t, err, "another Relaybox is already running")
}

func TestStartFailsClearlyWhenPortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	var out bytes.Buffer
	opts := testOptions(t, t.TempDir(), &out)
	opts.First.SMTPPort = busy.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), opts)
	require.ErrorContains(t, err, "cannot listen on")
}

// attach runs a script through the real control socket, as "relaybox cli" does.
func attach(t testing.TB, a *Appliance, ln net.Listener, script string) (int, string, string) {
	t.Helper()
	conn, err := net.Dial("unix", ln.Addr().String())
	require.NoError(t, err)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	go func() {
		_, _ = w.WriteString(script)
		w.Close()
	}()
	defer r.Close()
	var out, errOut bytes.Buffer
	code, err := shell.Attach(conn, r, &out, &errOut, false)
	require.NoError(t, err)
	return code, out.String(), errOut.String()
}

func serveControl(t testing.TB, a *Appliance) net.Listener {
	t.Helper()
	ln, err := a.ListenControl()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = a.ServeControl(ctx, ln) }()
	return ln
}

func TestControlSocketOwnerOnlyAndSessionsIndependent(t *testing.T) {
	var out bytes.Buffer
	a := start(t, testOptions(t, t.TempDir(), &out))
	ln := serveControl(t, a)
	st, err := os.Stat(ln.Addr().String())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	// Session one edits and stops without committing; session two sees nothing pending.
	code, _, stderr := attach(t, a, ln, "sslconfig inbound methods 1\n")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "ended with uncommitted changes")
	code, stdout, _ := attach(t, a, ln, "showchanges\nsslconfig gui methods 1-2\ncommit from two\n")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "There are no uncommitted changes.")
	assert.Contains(t, stdout, "Changes committed:")
	assert.Equal(t, []config.Method{config.TLS12, config.TLS13}, a.Store.Current().SSL.GUI.Methods)

	code, _, stderr = attach(t, a, ln, "sslconfig inbound methods 1,3\ncommit never\n")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 1: TLS protocols can be enabled only in sequence")
	assert.Equal(t, 2, a.Store.Current().Version)
}

// BenchmarkScript10kCommands pipes 10,000 shell commands through script mode
// over the real control socket.
func BenchmarkScript10kCommands(b *testing.B) {
	var out bytes.Buffer
	a := start(b, testOptions(b, b.TempDir(), &out))
	ln := serveControl(b, a)
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "sslconfig inbound methods %s\n", []string{"1-2", "2-3"}[i%2])
	}
	script := sb.String()
	b.ResetTimer()
	for b.Loop() {
		code, _, stderr := attach(b, a, ln, script+"clearchanges confirm\n")
		if code != 0 {
			b.Fatalf("script failed: %s", stderr)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/command")
}

// BenchmarkCommitToEffect measures a commit that changes the inbound methods
// until a new STARTTLS handshake negotiates the new version.
func BenchmarkCommitToEffect(b *testing.B) {
	var out bytes.Buffer
	a := start(b, testOptions(b, b.TempDir(), &out))
	addr := fmt.Sprintf("127.0.0.1:%d", a.Store.Current().Listeners[0].Port)
	p := a.Store.NewPending()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		want := []uint16{tls.VersionTLS13, tls.VersionTLS12}[i%2]
		methods := map[uint16][]config.Method{tls.VersionTLS13: {config.TLS13}, tls.VersionTLS12: {config.TLS12}}[want]
		p.Config().SSL.Inbound.Methods = methods
		if _, err := p.Commit(context.Background(), "bench", "toggle", a.Engine); err != nil {
			b.Fatal(err)
		}
		if got := startTLSVersion(b, addr); got != want {
			b.Fatalf("after commit negotiated %x, want %x", got, want)
		}
	}
}

func startTLSVersion(b *testing.B, addr string) uint16 {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	read := func() string {
		n, err := conn.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		return string(buf[:n])
	}
	read()
	fmt.Fprintf(conn, "EHLO bench.test\r\n")
	for !strings.Contains(read(), "250 ") {
	}
	fmt.Fprintf(conn, "STARTTLS\r\n")
	read()
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}})
	if err := tc.Handshake(); err != nil {
		b.Fatal(err)
	}
	return tc.ConnectionState().Version
}

// What the spool finds damaged at start (here the torn tail a crash leaves
// in the newest segment) is in mail_logs for the operator.
func TestSpoolWarningsLogged(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	opts := testOptions(t, dir, &out)
	a := start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, a.Close(ctx))
	seg := filepath.Join(dir, "queue", "seg", "00000000000000000001.seg")
	require.NoError(t, os.WriteFile(seg, []byte("RBQ1 torn"), 0o600))

	a = start(t, opts)
	lines, err := a.Log.Tail(50)
	require.NoError(t, err)
	assert.Contains(t, strings.Join(lines, "\n"), "Warning: queue: spool segment "+seg+" ended in an incomplete write")
}
