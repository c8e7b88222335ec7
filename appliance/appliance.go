// Package appliance boots Relaybox from a data directory: first-start
// defaults (Demo certificate, one-time admin password), the committed
// configuration, the engine, and the local control socket that shells attach to.
package appliance

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"relaybox/auth"
	"relaybox/certstore"
	"relaybox/commands"
	"relaybox/config"
	"relaybox/mailengine"
	"relaybox/mailengine/delivery"
	"relaybox/mailengine/ldapcheck"
	"relaybox/mailengine/maillog"
	"relaybox/mailengine/queue"
	"relaybox/mailengine/websecurity"
	"relaybox/shell"
	"relaybox/shell/sshd"
)

// SocketName is the control socket's file name in the data directory.
const SocketName = "relaybox.sock"

// Options describe how to boot.
type Options struct {
	DataDir string
	// First holds the first-start choices: hostname, address, ports, domains.
	First config.FirstStart
	// AdminPassword is used on first start instead of a generated one.
	AdminPassword string
	Version       string
	// MXPort is the port delivery uses for MX hosts (default 25; labs move it).
	MXPort int
	// Out receives first-start notices such as the generated password.
	Out io.Writer
	// ErrorLog receives engine errors.
	ErrorLog io.Writer
	// LogCopy, when set, also gets every mail_logs line (the daemon's stdout).
	LogCopy io.Writer
}

// Appliance is a booted Relaybox.
type Appliance struct {
	Store  *config.Store
	Keys   *certstore.KeyStore
	Engine *mailengine.Engine
	Spool  *queue.Spool
	Log    *maillog.Logger
	// AuthLog is the authentication log next to mail_logs; Auth decides
	// logins, one instance for every way in.
	AuthLog *maillog.Logger
	GUILog  *maillog.Logger // gui_logs: the HTTPS server's own complaints
	Auth    *auth.Authenticator
	// FirstStart is set when this start made the configuration (the data
	// directory had none): the first-start choices were used.
	FirstStart bool
	App        *commands.App
	// SSH serves the interfaces' SSH ports (the engine opens the sockets);
	// HostKeys are its keys, made on the first start and kept.
	SSH      *sshd.Server
	HostKeys []ssh.Signer
	sessions *registry
	dir      string
	lock     *os.File
	// stopDelivery ends the delivery loop and waits for attempts in flight.
	stopDelivery func()
	// directory answers LDAP accept queries (ldapconfig) for the engine and ldaptest.
	directory *ldapcheck.Checker
}

// Start boots the appliance and applies the committed configuration.
func Start(ctx context.Context, opts Options) (*Appliance, error) {
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", dir, err)
	}
	if err := secureDataDir(dir, logWriter(opts.ErrorLog)); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	fs := afero.NewOsFs()
	keys, err := certstore.NewKeyStore(fs, dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	first := false
	store, err := config.Open(fs, dir, func() (*config.Config, error) { first = true; return firstStart(keys, opts) })
	if err != nil {
		lock.Close()
		return nil, err
	}
	removeLeftovers(dir, keys, logWriter(opts.ErrorLog))
	spool, err := queue.Open(filepath.Join(dir, "queue"))
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("opening the mail queue: %w", err)
	}
	var copyOpts []maillog.Option
	if opts.LogCopy != nil {
		copyOpts = append(copyOpts, maillog.WithCopy(opts.LogCopy))
	}
	mlog, err := maillog.Open(filepath.Join(dir, "logs"), 10<<20, 10, copyOpts...)
	if err != nil {
		spool.Close()
		lock.Close()
		return nil, fmt.Errorf("opening mail_logs: %w", err)
	}
	for _, w := range spool.Warnings() { // what the spool found after a crash or on a bad disk
		mlog.Warningf("queue: %s", w)
	}
	alog, err := maillog.Open(filepath.Join(dir, "logs"), 10<<20, 10, maillog.WithName(maillog.AuthLogName))
	if err != nil {
		mlog.Close()
		spool.Close()
		lock.Close()
		return nil, fmt.Errorf("opening the authentication log: %w", err)
	}
	glog, err := maillog.Open(filepath.Join(dir, "logs"), 10<<20, 10, maillog.WithName(maillog.GUILogName))
	if err != nil {
		alog.Close()
		mlog.Close()
		spool.Close()
		lock.Close()
		return nil, fmt.Errorf("opening gui_logs: %w", err)
	}
	// One authenticator for every way in (GUI, SSH): they share delays
	// and lock-outs.
	authn := auth.New(auth.Options{Log: alog, Lockout: func() (int, time.Duration) {
		p := store.Current().PasswordPolicy // userconfig POLICY, as committed
		return p.LockoutAfter, time.Duration(p.LockoutTime)
	}})
	closeLogs := func() { glog.Close(); alog.Close(); mlog.Close(); spool.Close(); lock.Close() }
	hkeys, err := hostKeys(dir, logWriter(opts.ErrorLog))
	if err != nil {
		closeLogs()
		return nil, err
	}
	deliverer := delivery.New(delivery.Options{Spool: spool, Log: mlog, StateDir: filepath.Join(dir, "delivery"), Port: opts.MXPort})
	a := &Appliance{Store: store, Keys: keys, Spool: spool, Log: mlog, AuthLog: alog, GUILog: glog, Auth: authn, FirstStart: first, dir: dir, lock: lock,
		HostKeys: hkeys, sessions: newRegistry(nil)}
	if a.SSH, err = a.newSSHServer(hkeys); err != nil {
		closeLogs()
		return nil, err
	}
	// One LDAP client for the listeners' accept queries and ldaptest.
	a.directory = ldapcheck.New(ldapcheck.Options{Keys: keys, TrustPool: certstore.TrustPool})
	eng := mailengine.New(mailengine.Options{Keys: keys, ErrorLog: opts.ErrorLog, Version: opts.Version, TrustPool: certstore.TrustPool,
		Spool: spool, Log: mlog, GUILog: glog, Deliverer: deliverer, Auth: authn, SSH: a.SSH, Handler: a.newGUI(opts.Version), Directory: a.directory})
	a.Engine = eng
	a.App = &commands.App{Store: store, Engine: eng, Version: opts.Version, Certs: keys, Log: mlog, Queue: spool, Verifier: deliverer, Outbound: deliverer,
		WebSecurity: websecurity.Diagnostics{Keys: keys, Trust: certstore.TrustPool},
		Sessions:    a.sessions, HostKeys: Fingerprints(hkeys), LDAP: a.directory}
	if err := eng.Apply(ctx, store.Current()); err != nil {
		closeLogs()
		return nil, fmt.Errorf("starting configuration version %d: %w", store.Current().Version, err)
	}
	runCtx, stopDelivery := context.WithCancel(context.Background())
	delivered := make(chan struct{})
	go func() { deliverer.Run(runCtx); close(delivered) }()
	a.stopDelivery = func() { stopDelivery(); <-delivered }
	return a, nil
}

// lockDir makes sure only one appliance runs on a data directory.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "relaybox.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another Relaybox is already running on %s: attach to it with \"relaybox cli --data %s\"", dir, dir)
	}
	return f, nil
}

func firstStart(keys *certstore.KeyStore, opts Options) (*config.Config, error) {
	f := opts.First
	if f.Hostname == "" {
		f.Hostname, _ = os.Hostname()
	}
	// The configuration needs a fully qualified name ("vm" → vm.localdomain);
	// the Demo certificate is made for the same name.
	f.Hostname = config.QualifyHostname(f.Hostname)
	demo, err := keys.Demo(f.Hostname)
	if err != nil {
		return nil, fmt.Errorf("making the Demo certificate: %w", err)
	}
	f.Demo = demo
	pass := opts.AdminPassword
	if pass == "" {
		if pass, err = randomPassword(); err != nil {
			return nil, err
		}
		fmt.Fprintf(opts.Out, "First start: the administrator account is %q with the one-time password %s\n(shown only now; set RELAYBOX_ADMIN_PASSWORD on first start to choose it)\n", config.DefaultAdminUser, pass)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	f.AdminHash = string(hash)
	// A password the operator chose is theirs to keep; a generated one is
	// one-time: the first SSH login changes it.
	f.AdminPasswordChosen = opts.AdminPassword != ""
	return config.Defaults(f), nil
}

func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b strings.Builder
	for range 16 {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String(), nil
}

// SocketPath is where the control socket of a data directory lives.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Session returns the options of a console session of user, the machine's
// owner (who may do everything), with its own pending copy; who and last
// list it from its first prompt.
func (a *Appliance) Session(user string) shell.Options {
	return a.session(user, "", "", KindConsole)
}

// session is a new shell session with its own pending copy, which who and
// last list: kind says how the user came in (KindConsole, KindSocket,
// KindSSH), from the client's address; role is the account's ("" for the
// machine's owner).
func (a *Appliance) session(user, role, from, kind string) shell.Options {
	var touch, end func()
	return shell.Options{
		Commands: commands.All(a.App),
		Pending:  a.Store.NewPending(),
		User:     user,
		Role:     role,
		Hostname: func() string { return a.Store.Current().Hostname },
		Start: func(*shell.Session) error {
			touch, end = a.sessions.begin(user, from, kind)
			return nil
		},
		Activity: func() { touch() },
		Done: func() {
			if end != nil {
				end()
			}
		},
	}
}

// ListenControl opens the owner-only control socket.
func (a *Appliance) ListenControl() (net.Listener, error) {
	path := SocketPath(a.dir)
	// We hold the directory lock, so a socket file left here is stale.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("opening the control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// ServeControl serves attached shells on ln until ctx ends.
func (a *Appliance) ServeControl(ctx context.Context, ln net.Listener) error {
	return shell.Serve(ctx, ln, func(shell.Hello) shell.Options {
		return a.session(config.DefaultAdminUser, "", "", KindSocket)
	})
}

// Close stops the appliance: the engine (idle sessions get 421, a message
// being received is finished, within ctx), delivery (a transaction past its
// final dot gets its reply, within smtpclient's stop bound) and the SSH
// sessions (each told goodbye) stop at the same time; the queue and the
// logs close after all three.
func (a *Appliance) Close(ctx context.Context) error {
	delivered := make(chan struct{})
	go func() { a.stopDelivery(); close(delivered) }()
	sshDone := make(chan error, 1)
	go func() { sshDone <- a.SSH.Shutdown(ctx) }()
	err := a.Engine.Close(ctx)
	a.directory.Close()
	<-delivered
	err = errors.Join(err, <-sshDone)
	err = errors.Join(err, a.Spool.Close(), a.Log.Close(), a.AuthLog.Close(), a.GUILog.Close())
	_ = os.Remove(SocketPath(a.dir))
	a.lock.Close()
	return err
}
