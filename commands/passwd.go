package commands

import (
	"errors"
	"fmt"

	"relaybox/config"
	"relaybox/shell"
)

func passwd(app *App) shell.Command {
	cmd := command("passwd", "Change your own password (it takes effect at once).", `Asks your old password, then the new one twice (never echoed), checks the
new one against the password policy (userconfig POLICY) and makes it
effective at once: passwd commits the new password by itself, as version N
"passwd: USER changed their password", without your other pending changes,
which stay pending. Any role may use it, operators included. It changes the
password of the account you logged in with (on the console and the control
socket: admin).

Batch form:
  passwd OLD NEW`, func(s *shell.Session, args []string) error {
		if len(args) != 2 {
			return usage("passwd", "passwd OLD NEW")
		}
		for _, a := range args {
			if err := checkBatchSecret("password", a); err != nil {
				return err
			}
		}
		if _, err := ownAccount(app, s); err != nil {
			return err
		}
		if err := checkOldPassword(app, s, args[0]); err != nil {
			return err
		}
		hash, err := app.Store.Current().NewPasswordHash(s.User, args[1])
		if err != nil {
			return err
		}
		return commitOwnPassword(s, app, hash, "passwd: %s changed their password")
	}, func(s *shell.Session) error {
		if _, err := ownAccount(app, s); err != nil {
			return err
		}
		s.Println()
		old, err := emptyGoesBack(func(check func(string) error) (string, error) { return s.Secret("Old password:", check) }, func(string) error { return nil })
		if err != nil {
			return err
		}
		if err := checkOldPassword(app, s, old); err != nil {
			return err
		}
		return changeOwnPassword(s, app, "passwd: %s changed their password")
	})
	cmd.Secrets = secretsFrom(0)
	return cmd
}

// ChangeOwnPassword asks the session's user (s.User) for a new password
// twice, never echoed, checks it against the password policy of the
// committed configuration, and makes it effective at once: it commits only
// the new password ("passwd: USER changed their password at login"),
// whatever else the session has pending, and clears must_change_password.
// The session is carried onto the new version (config.Pending.CommitEdit).
//
// It does not ask the old password: it is for a user who has just logged in
// with it, such as the SSH server's forced change for an account whose
// must_change_password is set, before the main prompt. On a terminal a
// refused answer is explained and asked again; in script mode it fails. It
// returns nil once the new password is committed; any error (Ctrl-C or
// Ctrl-D, the end of the input, Enter at the first question, an account that
// does not exist, a refused commit) means the password was not changed, and
// the caller should end the session.
func ChangeOwnPassword(s *shell.Session, app *App) error {
	if _, err := ownAccount(app, s); err != nil {
		return err
	}
	s.Printf("\nYou must choose a new password for %s before you continue.\n", shell.ShowInput(s.User))
	err := changeOwnPassword(s, app, "passwd: %s changed their password at login")
	if errors.Is(err, errBack) {
		return errors.New("no new password was chosen")
	}
	return err
}

// ownAccount is the session's account in the committed configuration.
func ownAccount(app *App, s *shell.Session) (*config.User, error) {
	u := app.Store.Current().LoginUser(s.User)
	if u == nil {
		return nil, fmt.Errorf("there is no account named %s: passwd changes the password of the account you logged in with; an administrator sets others with userconfig PASSWORD", shell.ShowInput(s.User))
	}
	return u, nil
}

func checkOldPassword(app *App, s *shell.Session, old string) error {
	u, err := ownAccount(app, s)
	if err != nil {
		return err
	}
	if !u.PasswordIs(old) {
		return errors.New("The old password is not correct: nothing was changed")
	}
	return nil
}

func changeOwnPassword(s *shell.Session, app *App, comment string) error {
	var hash string // made once, when the policy accepts the answer
	if _, err := askNewPassword(s, "New password:", func(p string) (err error) {
		hash, err = app.Store.Current().NewPasswordHash(s.User, p)
		return err
	}); err != nil {
		return err
	}
	return commitOwnPassword(s, app, hash, comment)
}

// commitOwnPassword commits the session user's new password hash (from
// config.NewPasswordHash) alone.
func commitOwnPassword(s *shell.Session, app *App, hash, comment string) error {
	c, err := s.Pending.CommitEdit(s.Context(), s.User, fmt.Sprintf(comment, s.User),
		func(c *config.Config) error { return c.SetOwnPasswordHash(s.User, hash) }, app.Engine)
	if err != nil {
		return err
	}
	s.Printf("\nPassword changed: it is in force now (committed as version %d, %s).\n", c.Version, stamp(c.Time))
	return nil
}
