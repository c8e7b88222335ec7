package appliance

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"relaybox/auth"
	"relaybox/commands"
	"relaybox/config"
	"relaybox/mailengine/maillog"
	"relaybox/shell"
	"relaybox/shell/sshd"
)

// sshService names SSH logins in the authentication log.
const sshService = "ssh"

// sshUsers decides SSH logins with the committed accounts and the
// appliance's one authenticator, so that failures over SSH and the GUI
// count together and lock out together.
type sshUsers struct {
	store *config.Store
	auth  *auth.Authenticator
}

func (u sshUsers) Password(ctx context.Context, user, password, source string) error {
	hash, cost := u.store.Current().LoginHash(user)
	return u.auth.Authenticate(ctx, auth.Attempt{Service: sshService, Source: source, User: user, Password: password, Hash: hash, Cost: cost})
}

var errKeyRefused = errors.New("the key is not one of the account's SSH keys")

func (u sshUsers) PublicKey(ctx context.Context, user string, key ssh.PublicKey, source string) error {
	if err := u.auth.Check(ctx, user, source, sshService); err != nil {
		return err
	}
	acc := u.store.Current().LoginUser(user)
	if acc == nil || !acc.AuthorizesKey(key) {
		return errKeyRefused
	}
	return nil
}

func (u sshUsers) KeyLogin(user, source string) {
	u.auth.Succeed(user, source, sshService, "publickey")
}

func (u sshUsers) KeysRefused(user, source string) {
	u.auth.Fail(user, source, sshService, "publickey")
}

// sshSessions gives each SSH login its shell: the account's role, fixed at
// login, and a forced password change first when the account has a one-time
// password.
type sshSessions struct{ a *Appliance }

func (s sshSessions) Session(user, source string) (shell.Options, func(), error) {
	acc := s.a.Store.Current().LoginUser(user)
	if acc == nil {
		return shell.Options{}, nil, fmt.Errorf("the account %s no longer exists", shell.ShowInput(user))
	}
	opts := s.a.session(user, acc.Role, source, KindSSH)
	opts.Start = chain(opts.Start, s.a.changeOneTimePassword)
	return opts, func() {}, nil
}

// changeOneTimePassword makes a user whose password is one-time (the first
// start's, or one an administrator set) choose a new one before the first
// prompt. Without a terminal there is no one to ask: the session ends and
// says how to log in.
func (a *Appliance) changeOneTimePassword(s *shell.Session) error {
	acc := a.Store.Current().LoginUser(s.User)
	if acc == nil || !acc.MustChangePassword {
		return nil
	}
	if !s.Interactive() {
		return fmt.Errorf("The password of %s is a one-time password and must be changed before anything else: log in with a terminal (ssh -t) and choose a new one.", shell.ShowInput(s.User))
	}
	return commands.ChangeOwnPassword(s, a.App)
}

// chain runs first and then next, stopping at an error.
func chain(first, next func(*shell.Session) error) func(*shell.Session) error {
	return func(s *shell.Session) error {
		if first != nil {
			if err := first(s); err != nil {
				return err
			}
		}
		return next(s)
	}
}

// newSSHServer makes the SSH front end; the engine gives it each
// interface's SSH socket.
func (a *Appliance) newSSHServer(keys []ssh.Signer) (*sshd.Server, error) {
	return sshd.New(sshd.Options{
		HostKeys: keys,
		Users:    sshUsers{store: a.Store, auth: a.Auth},
		Sessions: sshSessions{a: a},
		// sshconfig SETUP, as committed: a commit applies to the next
		// connection, and the idle timeout to open sessions too.
		Limits: func() sshd.Limits {
			l := a.Store.Current().SSH
			return sshd.Limits{MaxSessions: l.MaxSessions, LoginGrace: time.Duration(l.LoginGrace), IdleTimeout: time.Duration(l.IdleTimeout)}
		},
		Goodbye: "The appliance is shutting down: the session is closed.",
		// Handshakes that failed (no common algorithm, a client that gave
		// up) go to the authentication log, next to the refused logins.
		ErrorLog: log.New(infoLines{a.AuthLog}, "", 0),
	})
}

// infoLines writes each line given as an Info line of a log.
type infoLines struct{ l *maillog.Logger }

func (w infoLines) Write(p []byte) (int, error) {
	w.l.Infof("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
