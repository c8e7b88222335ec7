package commands

import (
	"fmt"
	"strings"
	"time"

	"relaybox/config"
	"relaybox/shell"
)

const sshconfigForm = "sshconfig setup [max_sessions=N] [login_grace=SECONDS] [idle_timeout=SECONDS] | sshconfig userkeys print [USER] | sshconfig userkeys new USER KEY | sshconfig userkeys delete USER NUMBER"

// sshconfig is AsyncOS's home of the accounts' SSH public keys (USERKEYS)
// and, here, of the SSH server's limits (SETUP); the SSH port itself is an
// interface setting (interfaceconfig).
func sshconfig() shell.Command {
	return command("sshconfig", "Manage the SSH server's limits (SETUP) and the SSH public keys that log users in (USERKEYS).", `SETUP sets the SSH server's limits:
  the most SSH sessions open at once (over all interfaces), how long a client
  has to log in, and how long a session may sit without input before it is
  closed. They apply from the commit on: to new sessions, and the idle
  timeout to open ones too.
USERKEYS lists the SSH public keys of your account, then
  NEW     paste one authorized_keys line: type, base64 key, optional comment
          (ssh-ed25519, ecdsa-sha2-*, ssh-rsa of 2048 bits or more; no options)
  DELETE  remove a key (by number)
  PRINT   show a key's whole line
  USER    switch to another account's keys
A key lets its account log in over SSH without a password; an account whose
password login is off (userconfig EDIT PASSWORDLOGIN) logs in with its keys
only. Only administrators add or delete keys. The SSH port is set with
interfaceconfig. Changes are pending until commit.

Batch forms:
  sshconfig setup [max_sessions=N] [login_grace=SECONDS] [idle_timeout=SECONDS]
  sshconfig userkeys print [USER]
  sshconfig userkeys new USER TYPE BASE64 [COMMENT]
  sshconfig userkeys delete USER NUMBER`, func(s *shell.Session, args []string) error {
		switch {
		case strings.EqualFold(args[0], "userkeys"):
			return userKeysBatch(s, args[1:], sshconfigForm)
		case strings.EqualFold(args[0], "setup") && len(args) > 1:
			return sshSetupBatch(s, args[1:])
		}
		return usage("sshconfig", sshconfigForm)
	}, func(s *shell.Session) error {
		return loopMenu(s, func() { s.Printf("\nSSH: %s.\n", sshLine(s.Pending.Config().SSH)) }, fixed(
			menuOp{"SETUP", "Set the SSH server's limits: sessions, login time, idle timeout.", func() error { return sshSetup(s) }},
			menuOp{"USERKEYS", "Edit SSH User Key settings.", func() error {
				return userKeysMenu(s, keysOwner(s, s.Pending.Config()), true)
			}}))
	})
}

// sshLine says the SSH limits in one line.
func sshLine(l config.SSH) string {
	return fmt.Sprintf("at most %d sessions, %s to log in, sessions idle for %s are closed", l.MaxSessions, time.Duration(l.LoginGrace), time.Duration(l.IdleTimeout))
}

func sshSetup(s *shell.Session) error {
	c := s.Pending.Config()
	l := c.SSH
	var err error
	if l.MaxSessions, err = askInt(s, "Enter the maximum number of SSH sessions open at once.", l.MaxSessions, config.SSHSessionsRange); err != nil {
		return err
	}
	grace, err := askInt(s, "Enter how long a client has to log in, in seconds.", seconds(l.LoginGrace), config.SSHGraceSecondsRange)
	if err != nil {
		return err
	}
	idle, err := askInt(s, "Enter how long a session may sit without input before it is closed, in seconds.", seconds(l.IdleTimeout), config.SSHIdleSecondsRange)
	if err != nil {
		return err
	}
	l.LoginGrace, l.IdleTimeout = fromSeconds(grace), fromSeconds(idle)
	return c.SetSSH(l)
}

func sshSetupBatch(s *shell.Session, args []string) error {
	kv, err := parseKV(args, "max_sessions", "login_grace", "idle_timeout")
	if err != nil {
		return err
	}
	c := s.Pending.Config()
	l := c.SSH
	if v, ok := kv["max_sessions"]; ok {
		if l.MaxSessions, err = config.SSHSessionsRange.Parse(v); err != nil {
			return err
		}
	}
	for key, d := range map[string]struct {
		to *config.Duration
		r  config.Range
	}{"login_grace": {&l.LoginGrace, config.SSHGraceSecondsRange}, "idle_timeout": {&l.IdleTimeout, config.SSHIdleSecondsRange}} {
		if v, ok := kv[key]; ok {
			n, err := d.r.Parse(v)
			if err != nil {
				return err
			}
			*d.to = fromSeconds(n)
		}
	}
	return c.SetSSH(l)
}
