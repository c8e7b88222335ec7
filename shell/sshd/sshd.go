// Package sshd is the appliance's SSH front end: the same shell as on the
// console and the control socket, reached with any SSH client. It is built
// on golang.org/x/crypto/ssh directly (the channel and request loop is
// small, and the authentication callbacks are where lock-outs belong):
//
//   - `ssh -p 2222 admin@host` with a pty gets the interactive shell (line
//     editing, history, completion, Ctrl-C, window resizing);
//   - without a pty (`ssh -T … < script`, or a piped stdin) the shell runs in
//     script mode, and the exit status is the script's;
//   - `ssh host 'cmd; cmd'` runs the one-liner's commands (split at ';' and
//     line ends, outside quotes) in script mode and returns their status;
//     with `-t` the same, its output laid out for the terminal.
//
// Who may log in, with what, and what their session may do are the
// consumer's (Users, Sessions); this package knows no configuration.
package sshd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"relaybox/shell"
)

// Users decides logins. A refusal is an error; its text is not shown to the
// client (SSH only says "Permission denied").
type Users interface {
	// Password checks a password login from source (the client's address),
	// and logs it either way.
	Password(ctx context.Context, user, password, source string) error
	// PublicKey checks that key is one of user's authorized keys and that
	// the login may proceed; it logs nothing (a client tries its keys one
	// after another).
	PublicKey(ctx context.Context, user string, key ssh.PublicKey, source string) error
	// KeyLogin is told of a login with a key, once the connection is up.
	KeyLogin(user, source string)
	// KeysRefused is told once of a connection that offered keys, had them
	// all refused and did not log in: one failure, however many keys.
	KeysRefused(user, source string)
}

// Sessions builds the shell of a logged-in user.
type Sessions interface {
	// Session returns the shell options of a new session; Commands, Pending,
	// User and Hostname are used, the input and output are the server's.
	// end is called when the session is over.
	Session(user, source string) (opts shell.Options, end func(), err error)
}

// Options are the server's fixed settings.
type Options struct {
	HostKeys []ssh.Signer
	Users    Users
	Sessions Sessions
	// MaxSessions caps concurrent sessions over all connections (default 10).
	MaxSessions int
	// LoginGrace is how long a client has to authenticate (default 60 s).
	LoginGrace time.Duration
	// IdleTimeout closes a session without input for this long (default 30 min).
	IdleTimeout time.Duration
	// Limits, when set, overrides the three limits above with what it
	// returns (zero fields keep them): asked for each connection and
	// session, and by open sessions for their idle timeout, so a change
	// applies without a restart.
	Limits func() Limits
	// Goodbye is written to each session when the server shuts down.
	Goodbye string
	// ErrorLog receives connection errors; nil discards them.
	ErrorLog *log.Logger
}

// Limits are the settings an administrator changes while the server runs.
type Limits struct {
	MaxSessions int
	LoginGrace  time.Duration
	IdleTimeout time.Duration
}

// limits are the limits in force now.
func (s *Server) limits() Limits {
	l := Limits{MaxSessions: s.opts.MaxSessions, LoginGrace: s.opts.LoginGrace, IdleTimeout: s.opts.IdleTimeout}
	if s.opts.Limits != nil {
		now := s.opts.Limits()
		l.MaxSessions = cmp.Or(now.MaxSessions, l.MaxSessions)
		l.LoginGrace = cmp.Or(now.LoginGrace, l.LoginGrace)
		l.IdleTimeout = cmp.Or(now.IdleTimeout, l.IdleTimeout)
	}
	return l
}

// Server serves SSH on listeners.
type Server struct {
	opts Options
	cfg  *ssh.ServerConfig

	mu       sync.Mutex
	lns      map[net.Listener]struct{}
	conns    map[*ssh.ServerConn]struct{}
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup
}

// New returns a server; Serve starts it.
func New(opts Options) (*Server, error) {
	if len(opts.HostKeys) == 0 {
		return nil, errors.New("sshd: no host key")
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 10
	}
	if opts.LoginGrace <= 0 {
		opts.LoginGrace = time.Minute
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = log.New(io.Discard, "", 0)
	}
	s := &Server{opts: opts, lns: map[net.Listener]struct{}{}, conns: map[*ssh.ServerConn]struct{}{}, sessions: map[*session]struct{}{}}
	s.cfg = &ssh.ServerConfig{ServerVersion: "SSH-2.0-Relaybox", MaxAuthTries: 6}
	for _, k := range opts.HostKeys {
		s.cfg.AddHostKey(k)
	}
	return s, nil
}

// login is one connection's authentication: its own callbacks, so that
// refused keys are counted once per connection.
type login struct {
	srv         *Server
	keysRefused bool
	user, from  string
	grace       time.Duration // the login grace time when the connection came
}

// config is the server configuration of one connection.
func (l *login) config() *ssh.ServerConfig {
	cfg := *l.srv.cfg
	cfg.PasswordCallback = func(c ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
		ctx, cancel := context.WithTimeout(context.Background(), l.grace)
		defer cancel()
		if err := l.srv.opts.Users.Password(ctx, c.User(), string(password), hostOf(c.RemoteAddr())); err != nil {
			return nil, err
		}
		return &ssh.Permissions{Extensions: map[string]string{"method": "password"}}, nil
	}
	cfg.PublicKeyCallback = func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		ctx, cancel := context.WithTimeout(context.Background(), l.grace)
		defer cancel()
		l.user, l.from = c.User(), hostOf(c.RemoteAddr())
		if err := l.srv.opts.Users.PublicKey(ctx, c.User(), key, l.from); err != nil {
			l.keysRefused = true
			return nil, err
		}
		return &ssh.Permissions{Extensions: map[string]string{"method": "publickey", "key": ssh.FingerprintSHA256(key)}}, nil
	}
	return &cfg
}

// hostOf is an address without its port.
func hostOf(a net.Addr) string {
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// Serve accepts connections on ln until it is closed or the server stops.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(nc)
		}()
	}
}

// handle runs one connection: the handshake and authentication within
// LoginGrace, then its session channels.
func (s *Server) handle(nc net.Conn) {
	defer nc.Close()
	grace := s.limits().LoginGrace
	_ = nc.SetDeadline(time.Now().Add(grace))
	l := &login{srv: s, grace: grace}
	conn, chans, reqs, err := ssh.NewServerConn(nc, l.config())
	if err != nil {
		if l.keysRefused {
			s.opts.Users.KeysRefused(l.user, l.from)
		}
		// Refused logins are Users' to log; the rest (no common algorithm,
		// a client that went away) say why the connection got nowhere.
		var authErr *ssh.ServerAuthError
		if !errors.As(err, &authErr) {
			s.opts.ErrorLog.Printf("SSH connection from %s ended before a login: %v", nc.RemoteAddr(), err)
		}
		return
	}
	_ = nc.SetDeadline(time.Time{})
	if conn.Permissions != nil && conn.Permissions.Extensions["method"] == "publickey" {
		s.opts.Users.KeyLogin(conn.User(), hostOf(conn.RemoteAddr()))
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	go ssh.DiscardRequests(reqs) // keepalives and the like: no global requests are served
	var wg sync.WaitGroup
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(ssh.UnknownChannelType, "only shell sessions are offered")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		sess, err := s.openSession(conn)
		if err != nil {
			// Said on the session itself: a refused channel shows the
			// client only "open failed", at a log level it rarely prints.
			wg.Add(1)
			go func() {
				defer wg.Done()
				refuse(ch, chReqs, err)
			}()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.closeSession(sess)
			sess.run(ch, chReqs)
		}()
	}
	wg.Wait()
}

// refuse answers a session that may not run: its shell or exec request
// gets the reason on stderr and exit status 1.
func refuse(ch ssh.Channel, reqs <-chan *ssh.Request, why error) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "shell", "exec":
			_ = req.Reply(true, nil)
			fmt.Fprintf(ch.Stderr(), "relaybox: %v\r\n", why)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: 1}))
			return
		default:
			if req.WantReply {
				_ = req.Reply(req.Type == "pty-req" || req.Type == "env", nil)
			}
		}
	}
}

// openSession counts a session against MaxSessions.
func (s *Server) openSession(conn *ssh.ServerConn) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, errors.New("the appliance is shutting down")
	}
	if most := s.limits().MaxSessions; len(s.sessions) >= most {
		return nil, fmt.Errorf("too many sessions (at most %d): log out of another one", most)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sess := &session{srv: s, conn: conn, ctx: ctx, cancel: cancel}
	s.sessions[sess] = struct{}{}
	return sess, nil
}

func (s *Server) closeSession(sess *session) {
	sess.cancel()
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Shutdown stops accepting, tells every session goodbye and closes it,
// then waits for the connections to end (ctx bounds the wait).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.lns {
		_ = ln.Close()
	}
	for sess := range s.sessions {
		sess.goodbye(s.opts.Goodbye)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// SplitCommand turns an exec request's command ("cmd1; cmd2") into script
// lines: it splits at ';' and line ends outside single or double quotes
// (a backslash escapes the next character inside double quotes, as the
// shell's word splitter does), trims each line and drops empty ones.
func SplitCommand(cmd string) []string {
	var lines []string
	var cur strings.Builder
	var quote rune
	escaped := false
	flush := func() {
		if l := strings.TrimSpace(cur.String()); l != "" {
			lines = append(lines, l)
		}
		cur.Reset()
	}
	for _, r := range cmd {
		switch {
		case escaped:
			escaped = false
		case quote != 0 && r == quote:
			quote = 0
		case quote == '"' && r == '\\':
			escaped = true
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && (r == ';' || r == '\n' || r == '\r'):
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	return lines
}
